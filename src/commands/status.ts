import type { BpfMap } from '../bpf/map.js';
import { type ProgInfo, progInfoById } from '../bpf/prog-info.js';
import { DatapathCommand } from '../cli/datapath-command.js';
import { renderKeyValue, renderTable } from '../cli/output.js';
import { attachedInterfaces } from '../core/attach.js';
import type { ServiceHealth } from '../core/backend-health.js';
import { bootIdHex, readConfigRecord } from '../core/config.js';
import { detectFeatures, type FeatureReport } from '../core/features.js';
import { DatapathMaps } from '../core/maps.js';
import { healthSummary } from '../core/service-summary.js';
import { listServices } from '../core/services.js';
import { loadState } from '../core/state-file.js';

interface InterfaceStatus {
  interface: string;
  ifindex: number;
  attached: boolean;
  progId: number | null;
  program: { name: string; runCount: number; runTimeNs: number } | null;
  createdQdisc: boolean;
  attachedAt: string;
}

/** Per service: how many backends there are and, with liveness on, how many are up. */
interface ServiceStatus {
  id: number;
  key: string;
  name: string | null;
  backends: number;
  health: ServiceHealth;
}

interface MapFill {
  map: string;
  entries: number;
  maxEntries: number;
}

export interface StatusOutput {
  instance: string;
  netns: string | null;
  pinDir: string;
  attached: boolean;
  interfaces: InterfaceStatus[];
  maps: MapFill[];
  config: {
    bootId: string;
    events: boolean;
    /** "hold" after detach --keep-maps (traffic parked until attach), "drain" while detach resets connections. */
    detaching: 'hold' | 'drain' | null;
    timeoutsSeconds: Record<string, number>;
  } | null;
  services: ServiceStatus[];
  features: FeatureReport;
}

export default class Status extends DatapathCommand<typeof Status> {
  static override summary =
    'Show attached interfaces, program ids, map fill levels, backend health per service and the kernel features found.';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> --netns lb <%= command.id %> --json',
  ];

  public async run(): Promise<StatusOutput> {
    const features = detectFeatures();
    const output: StatusOutput = {
      instance: this.instance.name,
      netns: this.instance.netns ?? null,
      pinDir: this.instance.pinDir,
      attached: false,
      interfaces: [],
      maps: [],
      config: null,
      services: [],
      features,
    };
    if (DatapathMaps.exists(this.instance)) {
      output.interfaces = attachedInterfaces(this.instance).map((i) => ({
        interface: i.interface,
        ifindex: i.ifindex,
        attached: i.progId !== undefined,
        progId: i.progId ?? null,
        program: i.progId !== undefined ? programSummary(progInfoById(i.progId)) : null,
        createdQdisc: i.createdClsact,
        attachedAt: i.attachedAt,
      }));
      output.attached = output.interfaces.some((i) => i.attached);
      const maps = DatapathMaps.open(this.instance);
      try {
        output.maps = (['services', 'backends', 'conntrack'] as const).map((name) =>
          fill(name, maps.get(name)),
        );
        output.services = listServices(maps, loadState(this.instance)).map((svc) => ({
          id: svc.id,
          key: svc.key,
          name: svc.name,
          backends: svc.backends.length,
          health: svc.health,
        }));
        const decoded = readConfigRecord(maps);
        if (decoded) {
          output.config = {
            bootId: bootIdHex(decoded),
            events: decoded.events,
            detaching: decoded.detaching,
            timeoutsSeconds: decoded.timeouts,
          };
        }
      } finally {
        maps.close();
      }
    }
    this.log(render(output));
    return output;
  }
}

function programSummary(info: ProgInfo): InterfaceStatus['program'] {
  return { name: info.name, runCount: Number(info.runCnt), runTimeNs: Number(info.runTimeNs) };
}

function fill(name: string, map: BpfMap): MapFill {
  let entries = 0;
  for (const _ of map.keys()) entries++;
  return { map: name, entries, maxEntries: map.info.maxEntries };
}

function render(s: StatusOutput): string {
  const yes = (v: boolean) => (v ? 'yes' : 'no');
  const parts = [
    renderKeyValue([
      ['instance', s.netns ? `${s.instance} (network namespace)` : s.instance],
      ['pinned maps', s.pinDir],
      [
        'attached',
        s.config?.detaching === 'hold'
          ? 'yes, holding (detach --keep-maps): run attach to resume'
          : yes(s.attached),
      ],
      ['kernel', s.features.kernel],
      [
        'BTF / bpffs / libbpf',
        `${yes(s.features.btf)} / ${yes(s.features.bpffsMounted)} / ${yes(s.features.libbpf)}`,
      ],
      ['bpf_timer / redirect_neigh', `${yes(s.features.bpfTimer)} / ${yes(s.features.redirectNeigh)}`],
      ['forwarding IPv4 / IPv6', `${yes(s.features.forwarding.ipv4)} / ${yes(s.features.forwarding.ipv6)}`],
    ]),
  ];
  if (s.interfaces.length > 0) {
    parts.push(
      renderTable(
        ['interface', 'ifindex', 'program id', 'runs', 'qdisc created by lbctl'],
        s.interfaces.map((i) => [
          i.interface,
          i.ifindex,
          i.progId ?? 'missing',
          i.program?.runCount ?? '-',
          yes(i.createdQdisc),
        ]),
      ),
    );
  } else {
    parts.push('not attached (run: lbctl attach IFACE...)');
  }
  if (s.maps.length > 0) {
    parts.push(
      renderTable(
        ['map', 'entries', 'max', 'fill'],
        s.maps.map((m) => [
          m.map,
          m.entries,
          m.maxEntries,
          `${((100 * m.entries) / m.maxEntries).toFixed(1)}%`,
        ]),
      ),
    );
  }
  if (s.services.length > 0) {
    parts.push(
      renderTable(
        ['service', 'backends', 'health (lbctl agent)'],
        s.services.map((svc) => [
          svc.name ? `${svc.name} (${svc.key})` : svc.key,
          svc.backends,
          svc.health.probed ? healthSummary(svc.health) : 'not probed (liveness off)',
        ]),
      ),
    );
  }
  return parts.join('\n');
}
