import { LB_LIMITS } from '../bpf/records.js';
import { conflictError, invalidDataError } from '../errors.js';
import { bytesToHex } from '../ppv2/hex.js';
import { formatEndpoint } from './endpoint.js';
import type { BackendSpec, Ppv2Spec, ServiceSpec } from './service-spec.js';
import { type ServiceChanges, type ServiceView, serviceKeyText, snatPlanOfView } from './services.js';
import { type SnatPlan, snatPlanText } from './snat-plan.js';

/**
 * What `lbctl apply` would do: the desired services (from manifests) against the live ones, matched by
 * their key (VIP:PORT/tcp or /udp). Pure: no I/O, so it is computed and checked whole before anything is written,
 * and `--dry-run` shows exactly what a real run does.
 */
export interface DesiredService {
  spec: ServiceSpec;
  /** fullnat: the given SNAT address, or the route's source towards each backend (core/snat.ts). */
  snat: SnatPlan;
  /** Where it was described, e.g. "document 1 (Service default/web) spec.ports[0]". */
  source: string;
  /** What ownership is recorded under for --prune, e.g. "Service default/web". */
  owner: string;
}

export type PlanAction = 'add' | 'change' | 'delete' | 'unchanged';
export type ChangedField = 'name' | 'mode' | 'snat' | 'backends' | 'ppv2' | 'liveness';

export interface FieldChange {
  field: ChangedField;
  from: string;
  to: string;
}

export interface PlanEntry {
  action: PlanAction;
  /** "203.0.113.10:80/tcp". */
  key: string;
  name: string | null;
  /** The live service id; for an add, the id it got once applied (null before). */
  id: number | null;
  source: string | null;
  /** The apply that owns it after this one ("Service default/web"), or null: never pruned. */
  owner: string | null;
  changes: FieldChange[];
  desired: DesiredService | undefined;
  current: ServiceView | undefined;
}

export interface Plan {
  entries: PlanEntry[];
  /** Ownership records of services that no longer exist (deleted by hand): dropped by the apply. */
  staleOwnership: string[];
  notes: string[];
}

export interface PlanOptions {
  prune: boolean;
}

/** The owner shown for a service the kernel marks as apply's but the state file does not name. */
export const UNRECORDED_OWNER = 'an apply that did not finish';

/**
 * Which live services `apply` owns (may prune), with the manifest object each came from: those the state
 * file records, and those whose kernel record carries LB_SVC_F_APPLIED. The kernel bit is written with the
 * service itself, so an apply killed before it saved the state file still owns what it created.
 */
export function ownedServices(
  recorded: Readonly<Record<string, string>> | undefined,
  live: readonly Pick<ServiceView, 'key' | 'applied'>[],
): Record<string, string> {
  const owned: Record<string, string> = { ...recorded };
  for (const s of live) if (s.applied && owned[s.key] === undefined) owned[s.key] = UNRECORDED_OWNER;
  return owned;
}

export function computePlan(
  desired: readonly DesiredService[],
  live: readonly ServiceView[],
  owned: Readonly<Record<string, string>>,
  options: PlanOptions,
): Plan {
  checkDistinct(desired);
  const liveByKey = new Map(live.map((s) => [s.key, s]));
  const desiredKeys = new Set(desired.map((d) => serviceKeyText(d.spec.vip, d.spec.protocol)));
  const entries: PlanEntry[] = desired.map((d) => {
    const key = serviceKeyText(d.spec.vip, d.spec.protocol);
    const current = liveByKey.get(key);
    const base = { key, name: d.spec.name ?? null, source: d.source, desired: d, current };
    if (!current) return { ...base, action: 'add', id: null, owner: d.owner, changes: [] };
    const changes = diffService(d, current);
    const owner = owned[key] !== undefined ? d.owner : null;
    return { ...base, action: changes.length > 0 ? 'change' : 'unchanged', id: current.id, owner, changes };
  });

  const leftOver = live.filter((s) => !desiredKeys.has(s.key) && owned[s.key] !== undefined);
  if (options.prune) {
    for (const current of leftOver) {
      entries.push({
        action: 'delete',
        key: current.key,
        name: current.name,
        id: current.id,
        source: null,
        owner: owned[current.key] ?? null,
        changes: [],
        desired: undefined,
        current,
      });
    }
  }
  checkCapacityAndNames(entries, live);
  const notes =
    !options.prune && leftOver.length > 0
      ? [
          `${leftOver.length} service(s) created by an earlier apply are not in this input (${leftOver.map(label).join(', ')}); --prune deletes them`,
        ]
      : [];
  const liveKeys = new Set(live.map((s) => s.key));
  return { entries, staleOwnership: Object.keys(owned).filter((k) => !liveKeys.has(k)), notes };
}

/** The update that turns `current` into the desired service (only what differs). */
export function changesFor(entry: PlanEntry): ServiceChanges {
  const desired = entry.desired;
  if (!desired) return {};
  const fields = new Set(entry.changes.map((c) => c.field));
  const changes: ServiceChanges = {};
  if (fields.has('backends')) changes.backends = desired.spec.backends;
  if (fields.has('mode')) changes.mode = desired.spec.mode;
  if (fields.has('ppv2')) changes.ppv2 = desired.spec.ppv2;
  if (fields.has('liveness')) changes.liveness = desired.spec.liveness ?? false;
  if (fields.has('snat') || (desired.spec.mode === 'fullnat' && Object.keys(changes).length > 0)) {
    changes.snat = desired.snat;
  }
  return changes;
}

/** Compare field by field; each difference as text a person can read in a table. */
export function diffService(desired: DesiredService, current: ServiceView): FieldChange[] {
  // Over the backends both sides have: a route that changed for one of them is a change of its own, while
  // a different backend set alone shows only as a backends change.
  const desiredAddresses = new Set(desired.spec.backends.map((b) => b.address));
  const both = current.backends.map((b) => b.address).filter((a) => desiredAddresses.has(a));
  const from = new Map(serviceFields(specOfView(current), snatPlanOfView(current), both));
  return serviceFields(desired.spec, desired.snat, both).flatMap(([field, to]) => {
    const was = from.get(field) ?? '-';
    return was === to ? [] : [{ field, from: was, to }];
  });
}

/**
 * A service's settings as text, field by field ("-": unset): what plans compare and show. The source
 * address is spelled over `snatBackends` (see snatPlanText).
 */
export function serviceFields(
  spec: ServiceSpec,
  snat: SnatPlan,
  snatBackends: readonly string[],
): Array<[ChangedField, string]> {
  return [
    ['name', spec.name ?? '-'],
    ['mode', spec.mode],
    ...(spec.mode === 'fullnat'
      ? [['snat', snatPlanText(snat, snatBackends)] as [ChangedField, string]]
      : []),
    ['backends', backendsText(spec.backends)],
    ['ppv2', ppv2Text(spec.ppv2)],
    ['liveness', spec.liveness ? 'on' : 'off'],
  ];
}

/** "198.51.100.2:80, 198.51.100.3:80:3": the --backend syntax, weight shown when not 1, sorted. */
export function backendsText(backends: readonly BackendSpec[]): string {
  return backends
    .map((b) => (b.weight === 1 ? formatEndpoint(b) : `${formatEndpoint(b)}:${b.weight}`))
    .sort()
    .join(', ');
}

/** "off", "v1", or "v2 unique-id crc32c 0x02=6578..." with static TLVs by type and hex, in header order. */
export function ppv2Text(ppv2: Ppv2Spec): string {
  if (!ppv2.enabled) return 'off';
  if (ppv2.version === 1) return 'v1';
  const tlvs = ppv2.tlvs.map((t) => `0x${t.type.toString(16).padStart(2, '0')}=${bytesToHex(t.value)}`);
  return ['v2', ppv2.uniqueId && 'unique-id', ppv2.crc32c && 'crc32c', ...tlvs].filter(Boolean).join(' ');
}

/** A live service as the spec that would create it again (for comparison and for undo). */
export function specOfView(view: ServiceView): ServiceSpec {
  return {
    name: view.name ?? undefined,
    vip: { family: view.family, address: view.vip, port: view.port },
    mode: view.mode,
    backends: viewBackends(view),
    ppv2: viewPpv2(view),
    liveness: view.liveness,
  };
}

function viewBackends(view: ServiceView): BackendSpec[] {
  return view.backends.map(({ address, port, weight }) => ({ family: view.family, address, port, weight }));
}

function viewPpv2(view: ServiceView): Ppv2Spec {
  const { enabled, version, uniqueId, crc32c } = view.ppv2;
  return {
    enabled,
    version,
    uniqueId,
    crc32c,
    tlvs: view.ppv2.tlvs.map((t) => ({ type: t.type, value: Buffer.from(t.hex, 'hex') })),
  };
}

const label = (s: { name: string | null; key: string }) => (s.name ? `${s.name} (${s.key})` : s.key);

/**
 * The most backend records the backends map holds at any moment of the apply, in the order executePlan
 * runs the steps: deletes free theirs first; a change writes its new backends before it removes the old
 * ones (so both are there for a moment); adds come last.
 */
export function peakBackendRecords(
  entries: readonly PlanEntry[],
  live: readonly ServiceView[],
): { count: number; when: string } {
  let count = live.reduce((sum, s) => sum + s.backends.length, 0);
  let peak = { count, when: 'before any step' };
  const step = (next: number, when: string) => {
    if (next > peak.count) peak = { count: next, when };
  };
  for (const e of entries) if (e.action === 'delete') count -= e.current?.backends.length ?? 0;
  for (const e of entries) {
    if (e.action !== 'change' || !e.current || !e.desired) continue;
    const old = new Set(e.current.backends.map((b) => `${b.address}|${b.port}`));
    const added = e.desired.spec.backends.filter((b) => !old.has(`${b.address}|${b.port}`)).length;
    step(count + added, `while changing ${e.key}`);
    count += e.desired.spec.backends.length - e.current.backends.length;
  }
  for (const e of entries) if (e.action === 'add') count += e.desired?.spec.backends.length ?? 0;
  step(count, 'after the adds');
  return peak;
}

/** Two parts of the input must not describe the same VIP:PORT or the same name. */
function checkDistinct(desired: readonly DesiredService[]): void {
  const byKey = new Map<string, DesiredService>();
  const byName = new Map<string, DesiredService>();
  for (const d of desired) {
    const key = serviceKeyText(d.spec.vip, d.spec.protocol);
    const sameKey = byKey.get(key);
    if (sameKey) {
      throw invalidDataError(
        `${d.source} describes service ${key} again (already described by ${sameKey.source})`,
        'each VIP:PORT may appear once in the input',
      );
    }
    byKey.set(key, d);
    if (d.spec.name === undefined) continue;
    const sameName = byName.get(d.spec.name);
    if (sameName) {
      throw invalidDataError(
        `${d.source} gets the lbctl name "${d.spec.name}", like ${sameName.source}`,
        'give one of them another name (lbctl.io/name annotation)',
      );
    }
    byName.set(d.spec.name, d);
  }
}

/**
 * After the apply, names must stay unique and the services must fit the datapath's tables: checked here,
 * before the first write, so an input that cannot fit is refused whole and fast.
 */
function checkCapacityAndNames(entries: readonly PlanEntry[], live: readonly ServiceView[]): void {
  const touched = new Set(entries.map((e) => e.key));
  const kept = live.filter((s) => !touched.has(s.key));
  const finalCount = kept.length + entries.filter((e) => e.action !== 'delete').length;
  const capacity = LB_LIMITS.maxServices - 1;
  if (finalCount > capacity) {
    throw conflictError(
      `the apply would leave ${finalCount} services, more than the ${capacity} a balancer holds`,
      'apply fewer services, or delete some (--prune deletes those an earlier apply created)',
    );
  }
  const peak = peakBackendRecords(entries, live);
  if (peak.count > LB_LIMITS.maxBackends) {
    throw conflictError(
      `the apply needs ${peak.count} backend records at once (${peak.when}), more than the ${LB_LIMITS.maxBackends} a balancer holds`,
      'apply fewer backends, or delete services you no longer need (--prune deletes those an earlier apply created)',
    );
  }
  for (const entry of entries) {
    if (entry.action === 'delete' || entry.name === null) continue;
    const holder = kept.find((s) => s.name === entry.name);
    if (holder) {
      throw conflictError(
        `${entry.source}: the lbctl name "${entry.name}" is taken by service ${holder.key}, which the input does not describe`,
        'rename one of them (lbctl.io/name annotation), or delete that service',
      );
    }
  }
}
