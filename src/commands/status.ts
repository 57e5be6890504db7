import { type RunTimeStatsSources, runTimeStatsSources } from '../bpf/prog-info.js';
import { describeSnatPorts } from '../cli/config-render.js';
import { DatapathCommand } from '../cli/datapath-command.js';
import { renderKeyValue, renderTable } from '../cli/output.js';
import { type DatapathStatus, readDatapathStatus } from '../core/datapath-status.js';
import { detectFeatures, type FeatureReport } from '../core/features.js';
import { healthSummary } from '../core/service-summary.js';

/** The instance as `status --json` reports it: which one, what the kernel offers, and its datapath. */
export interface StatusOutput extends DatapathStatus {
  instance: string;
  netns: string | null;
  /** The inode of the instance's network namespace (its identity, as `lsns` shows it); null when unknown. */
  netnsInode: number | null;
  pinDir: string;
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
      netnsInode: this.instance.netnsId?.ino ?? null,
      pinDir: this.instance.pinDir,
      attached: false,
      runTimeStats: runTimeStatsSources(),
      interfaces: [],
      maps: [],
      conntrack: null,
      config: null,
      services: [],
      features,
    };
    // Before any attach there are no pinned maps: the defaults above say so.
    // One scan of the processes for who keeps BPF statistics on, whether attached or not.
    const datapath = readDatapathStatus(this.instance, output.runTimeStats);
    if (datapath) Object.assign(output, datapath);
    this.log(render(output));
    return output;
  }
}

/** On and why, or off and what that means for the run counts. */
function runTimeStatsText(r: RunTimeStatsSources): string {
  if (!r.enabled)
    return 'off: program run counts are unavailable (lbctl top turns the statistics on while it runs; or sysctl kernel.bpf_stats_enabled=1)';
  const why = [
    r.sysctl ? 'sysctl kernel.bpf_stats_enabled=1' : '',
    r.holders.length > 0 ? `held by pid ${r.holders.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return `on (${why})`;
}

const formatMiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function render(s: StatusOutput): string {
  const yes = (v: boolean) => (v ? 'yes' : 'no');
  const parts = [
    renderKeyValue([
      [
        'instance',
        `${s.instance} (${s.netns ? 'network namespace' : 'the host'}, net:[${s.netnsInode ?? '?'}])`,
      ],
      ['pinned maps', s.pinDir],
      [
        'attached',
        s.config?.detaching === 'hold'
          ? 'yes, holding (detach --keep-maps): run attach to resume'
          : yes(s.attached),
      ],
      ['kernel', s.features.kernel],
      ['BPF run-time stats', runTimeStatsText(s.runTimeStats)],
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
          i.program ? (i.program.runCount ?? 'n/a (BPF stats off)') : '-',
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
        ['map', 'entries', 'max', 'fill', 'memory'],
        s.maps.map((m) => [
          m.map,
          m.entries,
          m.maxEntries,
          `${((100 * m.entries) / m.maxEntries).toFixed(1)}%`,
          formatMiB(m.memoryBytes),
        ]),
      ),
    );
  }
  if (s.conntrack) {
    const ct = s.conntrack;
    parts.push(
      `connections: ${ct.connections} of ${ct.capacityConnections}; ${ct.bytesPerConnection} B per connection ` +
        `(two conntrack entries), ${formatMiB(ct.memoryBytes)} preallocated`,
    );
  }
  if (s.config)
    parts.push(`SNAT ports (fullnat): ${describeSnatPorts(s.config.snatPorts)}, reserved from the host`);
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
    const fullnat = s.services.filter((svc) => svc.mode === 'fullnat');
    if (fullnat.length > 0) {
      parts.push(
        renderTable(
          ['service', 'backend', 'source address', 'chosen by'],
          fullnat.flatMap((svc) =>
            svc.sources.map((b) => [svc.key, b.backend, b.source ?? '-', svc.snat ? '--snat' : 'route']),
          ),
        ),
      );
    }
  }
  return parts.join('\n');
}
