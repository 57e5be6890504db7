import { type DesiredService, diffService, type PlanEntry, serviceFields } from './apply-plan.js';
import type { ServiceSpec } from './service-spec.js';
import {
  changedSpec,
  checkAddable,
  freeServiceId,
  type ServiceChanges,
  type ServiceView,
  serviceKeyText,
  snatPlanOfView,
} from './services.js';
import type { SnatPlan } from './snat-plan.js';

/**
 * What `service add|set|delete --dry-run` would do, as the same plan entries `lbctl apply` shows, computed
 * with the same checks a real run makes first (so a dry run fails where the real run would) and without
 * writing anything.
 */

const manual = (spec: ServiceSpec, snat: SnatPlan): DesiredService => ({
  spec,
  snat,
  source: 'command line',
  owner: '',
});

export function planAdd(
  live: readonly ServiceView[],
  spec: ServiceSpec,
  snat: SnatPlan,
  lastServiceId: number,
): PlanEntry {
  checkAddable(live, spec);
  const id = freeServiceId(live, lastServiceId);
  const addresses = spec.backends.map((b) => b.address);
  const changes = serviceFields(spec, snat, addresses)
    .filter(([, to]) => to !== '-')
    .map(([field, to]) => ({ field, from: '-', to }));
  return entry(
    'add',
    serviceKeyText(spec.vip),
    spec.name ?? null,
    id,
    changes,
    manual(spec, snat),
    undefined,
  );
}

export function planChange(current: ServiceView, changes: ServiceChanges): PlanEntry {
  const desired = manual(
    changedSpec(current, changes),
    changes.snat !== undefined ? changes.snat : snatPlanOfView(current),
  );
  const fields = diffService(desired, current);
  const action = fields.length > 0 ? 'change' : 'unchanged';
  return entry(action, current.key, current.name, current.id, fields, desired, current);
}

export function planDelete(current: ServiceView): PlanEntry {
  return entry('delete', current.key, current.name, current.id, [], undefined, current);
}

function entry(
  action: PlanEntry['action'],
  key: string,
  name: string | null,
  id: number,
  changes: PlanEntry['changes'],
  desired: DesiredService | undefined,
  current: ServiceView | undefined,
): PlanEntry {
  return { action, key, name, id, source: null, owner: null, changes, desired, current };
}
