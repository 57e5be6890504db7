import { Flags } from '@oclif/core';
import { type ApplyReport, applyReport, renderApplyReport } from '../cli/apply-render.js';
import { DatapathCommand } from '../cli/datapath-command.js';
import { executePlan, mapServiceStore } from '../core/apply-execute.js';
import { computePlan, type DesiredService, ownedServices } from '../core/apply-plan.js';
import { DatapathMaps } from '../core/maps.js';
import { listServices, readLiveRemovingOrphans, type ServiceView } from '../core/services.js';
import { RouteSources, snatFor } from '../core/snat.js';
import { type InstanceState, loadState, saveState, withInstanceLock } from '../core/state-file.js';
import { asLbctlError, LbctlError } from '../errors.js';
import type { ManifestService } from '../k8s/desired.js';
import { readManifest, readManifestText } from '../k8s/input.js';

export default class Apply extends DatapathCommand<typeof Apply> {
  static override summary =
    'Make the services match Kubernetes Service and EndpointSlice manifests (add, change, and with --prune delete).';

  static override description =
    `Reads Services of type LoadBalancer with the loxilb annotations (loxilb.io/useproxyprotov2, loxilb.io/lbmode, \
loxilb.io/liveness) and their backends from EndpointSlices (or Endpoints) in the same input, as kubectl prints \
them: multi-document YAML, JSON, List objects. The VIP comes from the lbctl.io/vip annotation, else \
spec.loadBalancerIP, else status.loadBalancer.ingress. Services of another loadBalancerClass, and other kinds, \
are ignored with a note.

Everything is validated first, and the apply then takes effect whole or not at all: a failed step undoes the \
ones before it. Applying the same input again changes nothing; a changed input updates live services in place \
(open connections keep their backend). --prune also deletes the services an earlier apply created that the \
input no longer has; services made with "lbctl service add" are never pruned. See "apply and export" in the \
README for the annotations, naming and VIP rules.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> -f services.yaml',
    'kubectl get svc,endpointslices -A -o yaml | <%= config.bin %> <%= command.id %> -f - --dry-run',
    '<%= config.bin %> <%= command.id %> -f services.yaml --prune --json | jq .summary',
    '<%= config.bin %> export > saved.yaml && <%= config.bin %> <%= command.id %> -f saved.yaml   # save and restore',
  ];

  static override flags = {
    filename: Flags.string({
      char: 'f',
      summary: 'Manifest file (YAML or JSON, several documents, List objects); "-" reads stdin.',
      required: true,
    }),
    prune: Flags.boolean({
      summary: 'Also delete services an earlier apply created that are not in the input.',
      default: false,
    }),
    'dry-run': Flags.boolean({ summary: 'Show the plan and change nothing.', default: false }),
  };

  public async run(): Promise<ApplyReport> {
    const { flags } = this;
    const reading = readManifest(await readManifestText(flags.filename));
    for (const i of reading.ignored) this.logToStderr(`note: ${i.doc}: ignored: ${i.reason}`);
    for (const note of reading.notes) this.logToStderr(`note: ${note}`);
    const desired = await withSnat(reading.services);
    const planFor = (live: readonly ServiceView[], state: InstanceState) =>
      computePlan(desired, live, ownedServices(state.appliedServices, live), { prune: flags.prune });
    const { plan, entries } = flags['dry-run']
      ? this.withMaps((maps) => {
          const state = loadState(this.instance);
          const plan = planFor(listServices(maps, state), state);
          return { plan, entries: plan.entries };
        })
      : await withInstanceLock(this.instance, async () =>
          this.withMaps((maps) => {
            const state = loadState(this.instance);
            const before = JSON.stringify(state);
            // Records an apply or add killed half-way left behind go first; see readLiveRemovingOrphans.
            const live = readLiveRemovingOrphans(maps, state);
            const plan = planFor(live, state);
            const entries = executePlan(plan, mapServiceStore(maps, state, live), state);
            if (JSON.stringify(state) !== before) saveState(this.instance, state);
            return { plan, entries };
          }),
        );
    for (const note of plan.notes) this.logToStderr(`note: ${note}`);
    const report = applyReport(entries, {
      dryRun: flags['dry-run'],
      ignored: reading.ignored,
      notes: [...reading.notes, ...plan.notes],
    });
    this.log(renderApplyReport(report));
    return report;
  }

  private withMaps<T>(fn: (maps: DatapathMaps) => T): T {
    const maps = DatapathMaps.open(this.instance);
    try {
      return fn(maps);
    } finally {
      maps.close();
    }
  }
}

/**
 * fullnat's source addresses: the one the manifest gives (checked), or the route's source towards each
 * backend. Every backend's route is looked up in one go first: one `ip` process, not one per service.
 */
async function withSnat(services: readonly ManifestService[]): Promise<DesiredService[]> {
  const routes = new RouteSources();
  await routes.load(
    services
      .filter((s) => s.spec.mode === 'fullnat' && s.snat === undefined)
      .flatMap((s) => s.spec.backends.map((b) => b.address)),
  );
  const desired: DesiredService[] = [];
  for (const s of services) {
    const snat = await snatFor(s.spec, s.snat, routes).catch((err: unknown) => {
      const cause = asLbctlError(err);
      throw new LbctlError(cause.kind, `${s.source}: ${cause.message}`, cause.hint, { cause: err });
    });
    desired.push({ spec: s.spec, snat, source: s.source, owner: s.owner });
  }
  return desired;
}
