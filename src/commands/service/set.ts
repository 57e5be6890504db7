import { Args, Flags } from '@oclif/core';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { backendFlag, serviceFlags } from '../../cli/service-flags.js';
import { renderServiceDetail } from '../../cli/service-render.js';
import { formatEndpoint } from '../../core/endpoint.js';
import { DatapathMaps } from '../../core/maps.js';
import { type BackendSpec, parseBackend, parsePpv2Options } from '../../core/service-spec.js';
import { findService, type ServiceChanges, type ServiceView, updateService } from '../../core/services.js';
import { snatFor } from '../../core/snat.js';
import { loadState, withInstanceLock } from '../../core/state-file.js';
import { usageError } from '../../errors.js';

export default class ServiceSet extends DatapathCommand<typeof ServiceSet> {
  static override summary =
    'Change a live service: its backends, weights, mode, SNAT address, PPv2 options or liveness.';

  static override description =
    `New connections follow the new configuration at once. Open connections are not broken: they keep the
backend, NAT and PPv2 state conntrack recorded at their SYN, so a removed backend keeps serving the
connections it has (while it runs), and --no-ppv2 does not take a header away from a stream that was promised
one. Backends that stay keep their place in the Maglev table, so few new connections move, and their health
(one the agent marked down stays out until it recovers). See "Live changes" in the README.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80 --add-backend 198.51.100.4:80',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80 --remove-backend 198.51.100.2:80',
    '<%= config.bin %> <%= command.id %> web6 --backend [2001:db8:b::2]:443:1 --backend [2001:db8:b::3]:443:4',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80 --no-ppv2',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80 --ppv2 --ppv2-tlv unique-id --ppv2-tlv crc32c',
    '<%= config.bin %> <%= command.id %> web --liveness',
  ];

  static override args = {
    service: Args.string({ description: 'Service name or VIP:PORT.', required: true }),
  };

  static override flags = {
    ...serviceFlags,
    backend: backendFlag(false),
    'add-backend': Flags.string({
      summary: 'Add (or re-weight) a backend ADDR:PORT[:WEIGHT]; repeatable.',
      multiple: true,
    }),
    'remove-backend': Flags.string({ summary: 'Remove a backend ADDR:PORT; repeatable.', multiple: true }),
    ppv2: Flags.boolean({
      summary: 'Turn PPv2 injection on (--no-ppv2: off) for new connections.',
      allowNo: true,
    }),
  };

  public async run(): Promise<ServiceView> {
    const { flags } = this;
    if (flags.backend && (flags['add-backend'] || flags['remove-backend'])) {
      throw usageError(
        '--backend replaces the whole set; do not combine it with --add-backend/--remove-backend',
      );
    }
    const updated = await withInstanceLock(this.instance, async () => {
      const maps = DatapathMaps.open(this.instance);
      try {
        const current = findService(maps, loadState(this.instance), this.args.service);
        const changes = this.changes(current);
        if (Object.keys(changes).length === 0) {
          throw usageError(
            'nothing to change',
            'pass --backend, --add-backend, --remove-backend, --mode, --snat, --ppv2, --ppv2-tlv or --[no-]liveness',
          );
        }
        const mode = changes.mode ?? current.mode;
        // A new backend set or mode takes a new SNAT address (the given one, or the route's source).
        if (changes.backends || changes.mode || flags.snat !== undefined) {
          const vip = { family: current.family, address: current.vip, port: current.port };
          const backends = changes.backends ?? backendSpecs(current);
          changes.snat = await snatFor({ mode, vip, backends }, flags.snat);
        }
        return updateService(maps, loadState(this.instance), current, changes);
      } finally {
        maps.close();
      }
    });
    // The table costs about 0.35 ms a backend (cli-table3): --json output skips building it.
    if (!this.jsonEnabled()) this.log(renderServiceDetail(updated));
    return updated;
  }

  private changes(current: ServiceView): ServiceChanges {
    const { flags } = this;
    const changes: ServiceChanges = {};
    if (flags.backend) changes.backends = flags.backend.map(parseBackend);
    if (flags['add-backend'] || flags['remove-backend']) {
      changes.backends = editBackends(
        backendSpecs(current),
        flags['add-backend'] ?? [],
        flags['remove-backend'] ?? [],
      );
    }
    if (flags.mode && flags.mode !== current.mode) changes.mode = flags.mode;
    if (flags.liveness !== undefined) changes.liveness = flags.liveness;
    if (flags.snat !== undefined) changes.snat = flags.snat; // checked and resolved in run()
    if (flags.ppv2 !== undefined || flags['ppv2-tlv']) {
      const enabled = flags.ppv2 ?? current.ppv2.enabled;
      const options = flags['ppv2-tlv']
        ? parsePpv2Options(flags['ppv2-tlv'])
        : enabled
          ? { uniqueId: current.ppv2.uniqueId, crc32c: current.ppv2.crc32c, tlvs: currentTlvs(current) }
          : { uniqueId: false, crc32c: false, tlvs: [] };
      changes.ppv2 = { enabled, ...options };
    }
    return changes;
  }
}

function backendSpecs(service: ServiceView): BackendSpec[] {
  return service.backends.map((b) => ({
    family: service.family,
    address: b.address,
    port: b.port,
    weight: b.weight,
  }));
}

function currentTlvs(service: ServiceView) {
  return service.ppv2.tlvs.map((t) => ({ type: t.type, value: Buffer.from(t.hex, 'hex') }));
}

function editBackends(current: BackendSpec[], add: string[], remove: string[]): BackendSpec[] {
  const byKey = new Map(current.map((b) => [formatEndpoint(b), b]));
  for (const text of remove) {
    const key = formatEndpoint(parseBackend(text));
    if (!byKey.delete(key))
      throw usageError(`backend ${key} is not in the service`, `backends: ${[...byKey.keys()].join(', ')}`);
  }
  for (const text of add) {
    const backend = parseBackend(text);
    byKey.set(formatEndpoint(backend), backend);
  }
  return [...byKey.values()];
}
