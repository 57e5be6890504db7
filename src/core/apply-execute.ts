import { asLbctlError, LbctlError } from '../errors.js';
import { changesFor, type Plan, type PlanEntry, specOfView } from './apply-plan.js';
import type { DatapathMaps } from './maps.js';
import type { ServiceSpec } from './service-spec.js';
import {
  addService,
  deleteService,
  type ServiceChanges,
  type ServiceView,
  snatPlanOfView,
  updateService,
} from './services.js';
import type { SnatPlan } from './snat-plan.js';
import type { InstanceState } from './state-file.js';
import { type UndoJournal, withRollback } from './transaction.js';

/**
 * Carry out a plan all or nothing. Steps run deletes first (freeing names and table slots), then changes,
 * then adds; before each step its undo is journalled. If a step fails, the journal is replayed backwards
 * (an add is deleted, a change is set back to the previous spec, a delete is added again), the state
 * object is restored, and the error is rethrown saying what happened. The caller holds the instance lock
 * and saves the state only on success.
 */
export interface ServiceStore {
  find(key: string): ServiceView | undefined;
  add(spec: ServiceSpec, snat: SnatPlan): ServiceView;
  update(current: ServiceView, changes: ServiceChanges): ServiceView;
  remove(service: ServiceView): void;
}

/**
 * The store over the instance's pinned maps (the functions `lbctl service ...` uses). `live` is what the
 * caller read under the instance lock (`readLiveRemovingOrphans`); the store keeps it up to date itself
 * instead of reading every map again per step, which made a large apply quadratic. Services it adds are
 * marked as apply's in the kernel (LB_SVC_F_APPLIED), in the same write that makes them live.
 */
export function mapServiceStore(
  maps: DatapathMaps,
  state: InstanceState,
  live: readonly ServiceView[],
): ServiceStore {
  const byKey = new Map(live.map((s) => [s.key, s]));
  const keep = (view: ServiceView) => {
    byKey.set(view.key, view);
    return view;
  };
  return {
    find: (key) => byKey.get(key),
    add: (spec, snat) =>
      keep(addService(maps, state, spec, snat, { applied: true, live: [...byKey.values()] })),
    update: (current, changes) =>
      keep(updateService(maps, state, current, changes, { live: [...byKey.values()] })),
    remove: (service) => {
      deleteService(maps, state, service);
      byKey.delete(service.key);
    },
  };
}

const ORDER: Record<PlanEntry['action'], number> = { delete: 0, change: 1, add: 2, unchanged: 3 };

/** Runs the plan; returns its entries with the ids the services have afterwards. */
export function executePlan(plan: Plan, store: ServiceStore, state: InstanceState): PlanEntry[] {
  const saved = structuredClone({ names: state.serviceNames, owned: state.appliedServices });
  const results = new Map<PlanEntry, PlanEntry>();
  const steps = [...plan.entries].sort((a, b) => ORDER[a.action] - ORDER[b.action]);
  let current: PlanEntry | undefined;
  withRollback(
    (journal) => {
      for (const entry of steps) {
        current = entry;
        results.set(entry, runStep(entry, store, state, journal));
      }
    },
    (err, journal, failures) => {
      state.serviceNames = saved.names;
      state.appliedServices = saved.owned;
      return stepError(err, current, journal.size, failures);
    },
  );
  const owned = { ...state.appliedServices };
  for (const key of plan.staleOwnership) delete owned[key];
  for (const entry of plan.entries) {
    if (entry.action === 'delete') delete owned[entry.key];
    else if (entry.owner !== null) owned[entry.key] = entry.owner;
  }
  state.appliedServices = owned;
  return plan.entries.map((e) => results.get(e) ?? e);
}

function runStep(
  entry: PlanEntry,
  store: ServiceStore,
  state: InstanceState,
  journal: UndoJournal,
): PlanEntry {
  const { key } = entry;
  switch (entry.action) {
    case 'unchanged':
      return entry;
    case 'delete': {
      const previous = entry.current as ServiceView;
      journal.record(`re-add ${key}`, () => {
        if (!store.find(key)) store.add(specOfView(previous), snatPlanOfView(previous));
      });
      store.remove(previous);
      return entry;
    }
    case 'add': {
      const desired = entry.desired as NonNullable<PlanEntry['desired']>;
      journal.record(`delete ${key}`, () => {
        const added = store.find(key);
        if (added) store.remove(added);
      });
      const added = store.add(desired.spec, desired.snat);
      return { ...entry, id: added.id };
    }
    case 'change': {
      const previous = entry.current as ServiceView;
      const spec = specOfView(previous);
      journal.record(`restore ${key}`, () => {
        const now = store.find(key);
        if (!now) return;
        const { backends, mode, ppv2, liveness } = spec;
        store.update(now, { backends, mode, ppv2, liveness, snat: snatPlanOfView(previous) });
      });
      const changes = changesFor(entry);
      // A rename alone is state only: no map write.
      if (Object.keys(changes).length > 0) store.update(previous, changes);
      if (entry.changes.some((c) => c.field === 'name')) {
        if (entry.name === null) delete state.serviceNames[key];
        else state.serviceNames[key] = entry.name;
      }
      return entry;
    }
  }
}

function stepError(
  err: unknown,
  entry: PlanEntry | undefined,
  journalled: number,
  failures: string[],
): LbctlError {
  const cause = asLbctlError(err);
  const what = entry ? `${entry.action} ${entry.name ? `${entry.name} (${entry.key})` : entry.key}` : 'apply';
  const from = entry?.source ? ` from ${entry.source}` : '';
  // The failed step journalled its own undo first, so the completed steps are one fewer.
  const completed = Math.max(0, journalled - 1);
  const outcome =
    failures.length === 0
      ? `the ${completed} completed step(s) were undone, nothing was applied`
      : `undoing failed (${failures.join('; ')}): check lbctl service list`;
  return new LbctlError(
    cause.kind,
    `apply failed at ${what}${from}: ${cause.message}; ${outcome}`,
    cause.hint,
    {
      cause: err,
    },
  );
}
