import { Flags } from '@oclif/core';
import type { ApplyReport } from '../../cli/apply-render.js';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { dryRunFlag } from '../../cli/guard-flags.js';
import { serviceArg } from '../../cli/service-arg.js';
import { backendFlag, serviceFlags } from '../../cli/service-flags.js';
import { renderServiceDetail } from '../../cli/service-render.js';
import { formatEndpoint } from '../../core/endpoint.js';
import { planChange } from '../../core/service-plan.js';
import {
  type BackendSpec,
  type ProxyVersion,
  parseBackend,
  parsePpv2Options,
  proxyVersionFromFlags,
} from '../../core/service-spec.js';
import {
  changedSpec,
  findService,
  type ServiceChanges,
  type ServiceView,
  updateService,
} from '../../core/services.js';
import { snatFor } from '../../core/snat.js';
import { NO_SNAT } from '../../core/snat-plan.js';
import { withInstanceLock } from '../../core/state-file.js';
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
    '<%= config.bin %> <%= command.id %> 203.0.113.10:25 --proxy-protocol v1',
    '<%= config.bin %> <%= command.id %> web --liveness',
    '<%= config.bin %> <%= command.id %> 2 --remove-backend 198.51.100.2:80 --dry-run',
  ];

  static override args = serviceArg;

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
    ...dryRunFlag,
  };

  public async run(): Promise<ServiceView | ApplyReport> {
    const { flags } = this;
    if (flags.backend && (flags['add-backend'] || flags['remove-backend'])) {
      throw usageError(
        '--backend replaces the whole set; do not combine it with --add-backend/--remove-backend',
      );
    }
    // Contradicting header flags are refused before the datapath is touched.
    const asked = proxyVersionFromFlags(flags.ppv2, flags['proxy-protocol']);
    if (flags['dry-run']) {
      const plan = await this.withDatapath(async (maps, state) => {
        const current = findService(maps, state, this.args.service);
        return planChange(current, await this.resolvedChanges(current, asked));
      });
      return this.printPlan([plan]);
    }
    const updated = await withInstanceLock(this.instance, () =>
      this.withDatapath(async (maps, state) => {
        const current = findService(maps, state, this.args.service);
        return updateService(maps, state, current, await this.resolvedChanges(current, asked));
      }),
    );
    // The table costs about 0.35 ms a backend (cli-table3): --json output skips building it.
    if (!this.jsonEnabled()) this.log(renderServiceDetail(updated, this.listing()));
    return updated;
  }

  /** The changes the flags ask for, with the SNAT address resolved; USAGE when they change nothing. */
  private async resolvedChanges(
    current: ServiceView,
    asked: ProxyVersion | undefined,
  ): Promise<ServiceChanges> {
    const { flags } = this;
    const changes = this.changes(current, asked);
    if (Object.keys(changes).length === 0) {
      throw usageError(
        'nothing to change',
        'pass --backend, --add-backend, --remove-backend, --mode, --snat, --ppv2, --proxy-protocol, --ppv2-tlv or --[no-]liveness',
      );
    }
    // Validated first, so that a bad backend is refused for what it is before its route is looked up.
    const spec = changedSpec(current, changes);
    // Every change re-reads the routes: a fullnat service keeps its --snat override (unless a new one or
    // "auto" is given), and otherwise each backend gets the route's source as it is now.
    if (spec.mode === 'fullnat' || flags.snat !== undefined) {
      const keep = spec.mode === 'fullnat' ? (current.snat ?? undefined) : undefined;
      changes.snat = await snatFor(spec, flags.snat ?? keep);
    }
    return changes;
  }

  private changes(current: ServiceView, asked: ProxyVersion | undefined): ServiceChanges {
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
    if (flags.snat !== undefined) changes.snat = NO_SNAT; // a placeholder: checked and resolved in run()
    if (flags.ppv2 !== undefined || asked !== undefined || flags['ppv2-tlv']) {
      const enabled = flags.ppv2 === false ? false : asked !== undefined || current.ppv2.enabled;
      const version = asked ?? current.ppv2.version;
      // TLVs carry over only into a v2 header that had them; v1 has none.
      const keepTlvs = enabled && version === 2 && current.ppv2.version === 2;
      const options = flags['ppv2-tlv']
        ? parsePpv2Options(flags['ppv2-tlv'])
        : keepTlvs
          ? { uniqueId: current.ppv2.uniqueId, crc32c: current.ppv2.crc32c, tlvs: currentTlvs(current) }
          : { uniqueId: false, crc32c: false, tlvs: [] };
      changes.ppv2 = { enabled, version, ...options };
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
