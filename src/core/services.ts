import type { BpfMap } from '../bpf/map.js';
import {
  decodeBackend,
  decodeMaglevRing,
  decodeService,
  decodeServiceKey,
  encodeBackend,
  encodeBackendId,
  encodeMaglevRing,
  encodeService,
  encodeServiceId,
  encodeServiceKey,
  LB_LIMITS,
  ppv2HeaderLength,
  proxyV1LongestHeader,
  RECORD_SIZES,
  type ServiceKey,
  type ServiceRecord,
} from '../bpf/records.js';
import { conflictError, notFoundError, usageError } from '../errors.js';
import { describeTlv, type TlvDescription } from '../ppv2/describe.js';
import { decodeV2 } from '../ppv2/index.js';
import type { Tlv } from '../ppv2/types.js';
import { type BackendHealth, ringMembers, type ServiceHealth, summarizeHealth } from './backend-health.js';
import { type Endpoint, formatEndpoint, parseEndpoint } from './endpoint.js';
import { buildMaglevRing } from './maglev.js';
import type { DatapathMaps } from './maps.js';
import {
  type BackendSpec,
  encodeStaticTlvs,
  type Mode,
  PROTOCOLS,
  type Protocol,
  type ProxyVersion,
  type ServiceSpec,
  validateService,
} from './service-spec.js';
import { type SnatPlan, storedSource } from './snat-plan.js';
import type { InstanceState } from './state-file.js';
import { withRollback } from './transaction.js';

/** A service as commands show it: the kernel's records joined with the name from the state file. */
export interface ServiceView {
  id: number;
  name: string | null;
  /** "203.0.113.10:80/tcp" or ".../udp": the identity users type and the state file keys names by. */
  key: string;
  vip: string;
  port: number;
  family: 4 | 6;
  protocol: Protocol;
  mode: Mode;
  /**
   * fullnat: the one source address towards every backend (`--snat`); null when each backend has its own
   * (the route's source, `BackendView.source`), and for dnat.
   */
  snat: string | null;
  liveness: boolean;
  /**
   * `lbctl apply` created it (the LB_SVC_F_APPLIED bit of its record), so `apply --prune` may delete it.
   * Optional only so that views built without a kernel need not say it; listServices always sets it.
   */
  applied?: boolean;
  /** Backends up and down; `probed` equals `liveness`. */
  health: ServiceHealth;
  ppv2: {
    enabled: boolean;
    /** PROXY protocol version of the header: 2, or 1 (the text line). */
    version: ProxyVersion;
    uniqueId: boolean;
    crc32c: boolean;
    tlvs: TlvDescription[];
    /** The header's length; for v1, which varies with the client's address and port, the longest. */
    headerBytes: number;
  };
  backends: BackendView[];
}

export interface BackendView {
  id: number;
  address: string;
  port: number;
  weight: number;
  /**
   * 'down' once `lbctl agent` saw it fail its liveness probes (the LB_BE_F_DOWN bit of its record); then it
   * has no share, unless every backend is down (ServiceHealth.failOpen). Always 'up' without liveness.
   */
  health: BackendHealth;
  /** Fraction of new connections the Maglev table sends to it. */
  share: number;
  /** fullnat: the balancer's source address towards it (the service's `snat`, else its route's); dnat: null. */
  source: string | null;
}

/**
 * Backend ids are (service id << 16 | slot): a backend's owner is derivable from its id, so the kernel's
 * maps alone say which backends belong to which service, and ids stay stable across updates.
 */
const BACKEND_SLOT_BITS = 16;
const serviceOfBackend = (id: number) => id >>> BACKEND_SLOT_BITS;
const backendId = (serviceId: number, slot: number) => ((serviceId << BACKEND_SLOT_BITS) | slot) >>> 0;
/** A backend id as users see it: 0x10001 is slot 1 of service 1. */
const hexId = (id: number) => `0x${id.toString(16)}`;

export function serviceKeyText(
  vip: Endpoint | { address: string; port: number; family: 4 | 6 },
  protocol: Protocol = 'tcp',
): string {
  return `${formatEndpoint(vip)}/${protocol}`;
}

/** "VIP:PORT" or "VIP:PORT/tcp|udp": the endpoint and the protocol if one is named (case-insensitive). */
function parseServiceRef(ref: string): { vip: Endpoint; protocol: Protocol | undefined } {
  const suffix = /\/(tcp|udp)$/i.exec(ref);
  const protocol = suffix ? ((suffix[1] ?? '').toLowerCase() as Protocol) : undefined;
  return { vip: parseEndpoint(suffix ? ref.slice(0, suffix.index) : ref), protocol };
}

export function listServices(maps: DatapathMaps, state: InstanceState): ServiceView[] {
  const backendsByService = readBackends(maps.get('backends'));
  const views: ServiceView[] = [];
  for (const [keyBuf, valueBuf] of maps.get('services').entries()) {
    const key = decodeServiceKey(keyBuf);
    const record = decodeService(valueBuf, key.family);
    views.push(toView(key, record, backendsByService.get(record.id) ?? [], readRing(maps, record.id), state));
  }
  return views.sort((a, b) => a.id - b.id);
}

/** A service by its id, its name or "VIP:PORT" (see resolveService); NOT_FOUND lists what exists. */
export function findService(maps: DatapathMaps, state: InstanceState, ref: string): ServiceView {
  return resolveService(listServices(maps, state), ref);
}

/**
 * The service a user means by `ref`: the id `service list` shows ("7"), a name, or "VIP:PORT" (with or
 * without "/tcp"). Names may be all digits, so a number that is one service's id and another's name is
 * refused as ambiguous rather than guessed.
 */
export function resolveService(services: readonly ServiceView[], ref: string): ServiceView {
  const byName = services.find((s) => s.name === ref);
  const byId = /^[1-9][0-9]*$/.test(ref) ? services.find((s) => s.id === Number(ref)) : undefined;
  if (byName && byId && byName !== byId) {
    throw usageError(
      `"${ref}" is the id of ${byId.key} and the name of ${byName.key}`,
      `name the service by its VIP:PORT: ${byId.key} or ${byName.key}`,
    );
  }
  const found = byName ?? byId;
  if (found) return found;
  const byKey = services.filter((s) => keysOfRef(ref).includes(s.key));
  if (byKey.length > 1) {
    throw usageError(
      `"${ref}" is both ${byKey.map((s) => s.key).join(' and ')}`,
      'add /tcp or /udp to name one',
    );
  }
  if (byKey[0]) return byKey[0];
  const known = services.map((s) => `${s.id} (${s.name ?? s.key})`).join(', ');
  throw notFoundError(
    `no service "${ref}"`,
    known
      ? `existing services (id and name): ${known}`
      : 'there are no services; add one with lbctl service add',
  );
}

/** The keys a VIP:PORT reference can mean: its own protocol's, or (without /tcp or /udp) either's. */
function keysOfRef(ref: string): string[] {
  try {
    const { vip, protocol } = parseServiceRef(ref);
    return (protocol ? [protocol] : PROTOCOLS).map((p) => serviceKeyText(vip, p));
  } catch {
    return [];
  }
}

export interface AddOptions {
  /** Mark it as created by `lbctl apply` (LB_SVC_F_APPLIED), in the same write as the record. */
  applied?: boolean;
  /**
   * The live services, when the caller already read them under the instance lock (apply adds many services
   * and keeps this list itself) and removed orphaned records (`removeOrphans`). Absent: both are done here.
   */
  live?: readonly ServiceView[];
}

/**
 * Add a service. Everything is validated, the limits checked and every record prepared before the first
 * write; the service key is written last, so the service goes live only when its backends and table are in
 * place, and a failed write removes what this call wrote. A process killed half-way leaves only records no
 * service points at, which the next add or apply removes (`removeOrphans`) before it allocates ids.
 * Returns the new service's view, built from what was written (no second read of the maps).
 */
export function addService(
  maps: DatapathMaps,
  state: InstanceState,
  spec: ServiceSpec,
  snat: SnatPlan,
  options: AddOptions = {},
): ServiceView {
  const services = options.live ?? readLiveRemovingOrphans(maps, state);
  checkAddable(services, spec);
  const key = serviceKeyText(spec.vip, spec.protocol);
  checkBackendRoom(backendsInUse(services), spec.backends.length, `service ${key}`);
  const id = freeServiceId(services, state.lastServiceId ?? 0);
  const record = { ...serviceRecord(id, spec, snat), applied: options.applied ?? false };
  // Backends start up: the agent takes out the ones that fail their probes.
  const backends = spec.backends.map((b, slot) => ({ id: backendId(id, slot + 1), spec: b, down: false }));
  const records = backends.map((b) => ({ id: b.id, record: backendRecord(b.spec, b.down, spec.mode, snat) }));
  const table = ring(backends);

  withRollback((journal) => {
    resetStatsSlot(maps, id);
    for (const b of records) {
      maps.get('backends').update(encodeBackendId(b.id), encodeBackend(b.record), 'noexist');
      journal.record(`delete backend ${hexId(b.id)}`, () =>
        maps.get('backends').delete(encodeBackendId(b.id)),
      );
    }
    maps.get('maglev').update(encodeServiceId(id), encodeMaglevRing(table), 'noexist');
    journal.record(`delete the table of service ${id}`, () => maps.get('maglev').delete(encodeServiceId(id)));
    maps
      .get('services')
      .update(
        encodeServiceKey({ vip: spec.vip.address, port: spec.vip.port, protocol: spec.protocol }),
        encodeService(record),
        'noexist',
      );
  });
  state.lastServiceId = id;
  if (spec.name) state.serviceNames[key] = spec.name;
  return toView(keyOf(spec.vip, spec.protocol ?? 'tcp'), record, records, table, state);
}

/** Why `spec` cannot be added next to `services` (invalid, duplicate key or name), thrown; else nothing. */
export function checkAddable(services: readonly ServiceView[], spec: ServiceSpec): void {
  validateService(spec);
  const key = serviceKeyText(spec.vip, spec.protocol);
  if (services.some((s) => s.key === key)) {
    throw conflictError(
      `service ${key} already exists`,
      'change it with lbctl service set, or delete it first',
    );
  }
  if (spec.name && services.some((s) => s.name === spec.name)) {
    throw conflictError(`a service named "${spec.name}" already exists`, 'pick another --name');
  }
}

export interface ServiceChanges {
  backends?: BackendSpec[];
  mode?: Mode;
  ppv2?: ServiceSpec['ppv2'];
  /** How fullnat picks source addresses; needed whenever the backends or the mode change (core/snat.ts). */
  snat?: SnatPlan;
  liveness?: boolean;
}

/**
 * Change a live service. New connections see the change; established ones keep the backend conntrack
 * pinned them to (their NAT state lives in conntrack). Backends that stay keep their ids, so Maglev moves
 * as few new connections as possible, and their health (a down backend stays out of the table until the
 * agent sees it recover); new backends start up. Turning liveness off marks every backend up, since nothing
 * would ever bring them back. Order: new backend records, then the table, then the service value, then old
 * backend records are removed; a failure before the table write removes the new records.
 */
export function updateService(
  maps: DatapathMaps,
  state: InstanceState,
  current: ServiceView,
  changes: ServiceChanges,
  options: { live?: readonly ServiceView[] } = {},
): ServiceView {
  const spec = changedSpec(current, changes);
  const existing = new Map(current.backends.map((b) => [`${b.address}|${b.port}`, b.id]));
  const usedSlots = new Set(current.backends.map((b) => b.id & 0xffff));
  let nextSlot = 1;
  const allocate = () => {
    while (usedSlots.has(nextSlot)) nextSlot++;
    usedSlots.add(nextSlot);
    return backendId(current.id, nextSlot);
  };
  const wasDown = new Set(current.backends.filter((b) => b.health === 'down').map((b) => b.id));
  const backends = spec.backends.map((b) => {
    const id = existing.get(`${b.address}|${b.port}`) ?? allocate();
    return { id, spec: b, down: spec.liveness === true && wasDown.has(id) };
  });
  const keep = new Set(backends.map((b) => b.id));
  const currentIds = new Set(current.backends.map((c) => c.id));
  const added = backends.filter((b) => !currentIds.has(b.id));
  // New records are written before the old ones go: both sets are in the map for a moment. A change that
  // adds none (weights, a source address) needs no room, and no read of every service to know it.
  if (added.length > 0) {
    checkBackendRoom(
      backendsInUse(options.live ?? listServices(maps, state)),
      added.length,
      `the change of service ${current.key}`,
    );
  }
  const snat = changes.snat ?? snatPlanOfView(current);
  const records = backends.map((b) => ({ id: b.id, record: backendRecord(b.spec, b.down, spec.mode, snat) }));
  const table = ring(backends);
  withRollback((journal) => {
    for (const b of records) {
      const isNew = !currentIds.has(b.id);
      maps
        .get('backends')
        .update(encodeBackendId(b.id), encodeBackend(b.record), isNew ? 'noexist' : 'exist');
      if (isNew)
        journal.record(`delete backend ${hexId(b.id)}`, () =>
          maps.get('backends').delete(encodeBackendId(b.id)),
        );
    }
    maps.get('maglev').update(encodeServiceId(current.id), encodeMaglevRing(table), 'exist');
  });
  // Ownership by apply is kept: a change is not a new creator.
  const record = { ...serviceRecord(current.id, spec, snat), applied: current.applied ?? false };
  maps
    .get('services')
    .update(
      encodeServiceKey({ vip: current.vip, port: current.port, protocol: current.protocol }),
      encodeService(record),
      'exist',
    );
  for (const old of current.backends) {
    if (!keep.has(old.id)) maps.get('backends').delete(encodeBackendId(old.id));
  }
  return toView(keyOf(spec.vip, spec.protocol ?? 'tcp'), record, records, table, state);
}

/**
 * Read the live services and delete the records no service points at: backends and Maglev tables of a
 * service id that has no service record. Only an add killed before its service write (or a delete killed
 * after its service write) leaves them; left alone they would make the next add of that id fail. Run it
 * holding the instance lock.
 */
export function readLiveRemovingOrphans(maps: DatapathMaps, state: InstanceState): ServiceView[] {
  const live = listServices(maps, state);
  removeOrphans(maps, new Set(live.map((s) => s.id)));
  return live;
}

function removeOrphans(maps: DatapathMaps, serviceIds: ReadonlySet<number>): void {
  // Batched reads for the backends (thousands of keys); the tables are few, but 16 KiB each: keys only.
  const orphanBackends = [...maps.get('backends').entries()]
    .map(([key]) => Buffer.from(key))
    .filter((key) => !serviceIds.has(serviceOfBackend(key.readUInt32LE(0))));
  for (const key of orphanBackends) maps.get('backends').delete(key);
  const orphanTables = [...maps.get('maglev').keys()].filter((key) => !serviceIds.has(key.readUInt32LE(0)));
  for (const key of orphanTables) maps.get('maglev').delete(key);
}

/** Backend records the services use: together they must fit the backends map. */
function backendsInUse(services: readonly ServiceView[]): number {
  return services.reduce((sum, s) => sum + s.backends.length, 0);
}

/**
 * CONFLICT unless `adding` more backend records fit next to `inUse`: checked before the first write, so a
 * service that cannot fit writes nothing (the kernel would refuse the record that overflows the map).
 */
function checkBackendRoom(inUse: number, adding: number, what: string): void {
  if (inUse + adding <= LB_LIMITS.maxBackends) return;
  throw conflictError(
    `${what} needs ${adding} new backend record(s), but ${inUse} of the ${LB_LIMITS.maxBackends} the balancer holds are in use`,
    'use fewer backends, or delete services you no longer need',
  );
}

const keyOf = (
  vip: { address: string; port: number; family: 4 | 6 },
  protocol: ServiceKey['protocol'],
): ServiceKey => ({ vip: vip.address, port: vip.port, protocol, family: vip.family });

/** The service `current` becomes with `changes`, validated (USAGE errors, before anything is resolved or written). */
export function changedSpec(current: ServiceView, changes: Omit<ServiceChanges, 'snat'>): ServiceSpec {
  return validateService({
    name: current.name ?? undefined,
    vip: { family: current.family, address: current.vip, port: current.port },
    protocol: current.protocol,
    mode: changes.mode ?? current.mode,
    backends:
      changes.backends ??
      current.backends.map((b) => ({
        family: current.family,
        address: b.address,
        port: b.port,
        weight: b.weight,
      })),
    ppv2: changes.ppv2 ?? specPpv2(current),
    liveness: changes.liveness ?? current.liveness,
  });
}

/**
 * Mark one backend of a service down (out of its Maglev ring) or up again; see `setBackendsHealth`.
 */
export function setBackendHealth(
  maps: DatapathMaps,
  state: InstanceState,
  service: ServiceView,
  backendId: number,
  down: boolean,
): ServiceView {
  return setBackendsHealth(maps, state, service, [{ backendId, down }]);
}

/**
 * Mark backends of a service down or up and rebuild its Maglev ring once, without the backends that are
 * down (all of them while every one is down: see `ringMembers`). Only the records' flag and the ring
 * change: conntrack keeps each live connection on the backend it started with, so this moves new
 * connections only. Run it holding the instance lock, with `service` read under that lock. A backend that
 * is not in the service is NOT_FOUND; marking one down needs liveness on (CONFLICT), so that a service
 * nobody probes never keeps a backend out for good.
 */
export function setBackendsHealth(
  maps: DatapathMaps,
  state: InstanceState,
  service: ServiceView,
  changes: ReadonlyArray<{ backendId: number; down: boolean }>,
): ServiceView {
  const wanted = new Map(changes.map((c) => [c.backendId, c.down]));
  for (const [id, down] of wanted) {
    if (!service.backends.some((b) => b.id === id)) {
      throw notFoundError(
        `backend ${hexId(id)} is not in service ${service.key}`,
        `its backends: ${service.backends.map((b) => hexId(b.id)).join(', ') || 'none'}`,
      );
    }
    if (down && !service.liveness) {
      throw conflictError(
        `service ${service.key} has liveness off, so its backends cannot be marked down`,
        `turn it on with: lbctl service set ${service.name ?? service.key} --liveness`,
      );
    }
  }
  const snat = snatPlanOfView(service);
  const next = service.backends.map((b) => ({
    id: b.id,
    spec: { family: service.family, address: b.address, port: b.port, weight: b.weight },
    down: wanted.get(b.id) ?? b.health === 'down',
    was: b.health === 'down',
  }));
  withRollback((journal) => {
    for (const b of next.filter((x) => x.down !== x.was)) {
      const key = encodeBackendId(b.id);
      const record = (down: boolean) => encodeBackend(backendRecord(b.spec, down, service.mode, snat));
      maps.get('backends').update(key, record(b.down), 'exist');
      journal.record(`mark backend ${hexId(b.id)} ${b.was ? 'down' : 'up'} again`, () =>
        maps.get('backends').update(key, record(b.was), 'exist'),
      );
    }
    maps.get('maglev').update(encodeServiceId(service.id), encodeMaglevRing(ring(next)), 'exist');
  });
  return findService(maps, state, service.key);
}

/**
 * Delete a service: its key first (no new connection can match it), then its table and backends. Existing
 * connections are not cut here; their conntrack entries expire by the idle timeouts.
 */
export function deleteService(maps: DatapathMaps, state: InstanceState, service: ServiceView): void {
  maps
    .get('services')
    .delete(encodeServiceKey({ vip: service.vip, port: service.port, protocol: service.protocol }));
  maps.get('maglev').delete(encodeServiceId(service.id));
  for (const b of service.backends) maps.get('backends').delete(encodeBackendId(b.id));
  delete state.serviceNames[service.key];
  // A later service at the same VIP:PORT was not made by apply, so --prune must not inherit it.
  if (state.appliedServices) delete state.appliedServices[service.key];
}

/** The first id after `last` (wrapping around) that no service has; see InstanceState.lastServiceId. */
export function freeServiceId(services: readonly ServiceView[], last: number): number {
  const used = new Set(services.map((s) => s.id));
  const count = LB_LIMITS.maxServices - 1; // ids 1..count
  for (let step = 1; step <= count; step++) {
    const id = ((last + step - 1) % count) + 1;
    if (!used.has(id)) return id;
  }
  throw conflictError(`all ${LB_LIMITS.maxServices - 1} service slots are in use`, 'delete a service first');
}

function serviceRecord(id: number, spec: ServiceSpec, snat: SnatPlan): ServiceRecord {
  return {
    id,
    mode: spec.mode,
    ppv2: spec.ppv2.enabled,
    uniqueId: spec.ppv2.uniqueId,
    crc32c: spec.ppv2.crc32c,
    proxyV1: spec.ppv2.enabled && spec.ppv2.version === 1,
    liveness: spec.liveness ?? false,
    snatAddr: spec.mode === 'fullnat' ? snat.override : null,
    tlvs: encodeStaticTlvs(spec.ppv2.tlvs),
  };
}

/** A backend's record; fullnat without an override stores its route source (checked to be resolved). */
function backendRecord(b: BackendSpec, down: boolean, mode: Mode, snat: SnatPlan) {
  return {
    addr: b.address,
    port: b.port,
    weight: b.weight,
    family: b.family,
    down,
    srcAddr: storedSource(snat, mode, b.address),
  };
}

/** The plan a live service was written with: its override, or its backends' stored sources. */
export function snatPlanOfView(view: ServiceView): SnatPlan {
  if (view.mode !== 'fullnat' || view.snat !== null) return { override: view.snat, sources: new Map() };
  const sources = new Map<string, string>();
  for (const b of view.backends) if (b.source !== null) sources.set(b.address, b.source);
  return { override: null, sources };
}

/** The service's Maglev table over the backends that are up (see `ringMembers` for all down). */
function ring(backends: ReadonlyArray<{ id: number; spec: BackendSpec; down: boolean }>): Uint32Array {
  const { members } = ringMembers(backends.map((b) => ({ ...b, weight: b.spec.weight })));
  return buildMaglevRing(members.map((b) => ({ id: b.id, weight: b.weight, key: formatEndpoint(b.spec) })));
}

/** Zero the service's per-CPU counter slot, which a deleted service with the same id may have used. */
function resetStatsSlot(maps: DatapathMaps, id: number): void {
  const stats = maps.get('stats');
  stats.update(encodeServiceId(id), stats.fillPerCpu(Buffer.alloc(RECORD_SIZES.stats)));
}

function readBackends(
  map: BpfMap,
): Map<number, Array<{ id: number; record: ReturnType<typeof decodeBackend> }>> {
  const grouped = new Map<number, Array<{ id: number; record: ReturnType<typeof decodeBackend> }>>();
  for (const [key, value] of map.entries()) {
    const id = key.readUInt32LE(0);
    const list = grouped.get(serviceOfBackend(id)) ?? [];
    list.push({ id, record: decodeBackend(value) });
    grouped.set(serviceOfBackend(id), list);
  }
  return grouped;
}

function readRing(maps: DatapathMaps, serviceId: number): Uint32Array | undefined {
  const value = maps.get('maglev').lookup(encodeServiceId(serviceId));
  return value ? decodeMaglevRing(value) : undefined;
}

function toView(
  key: ServiceKey,
  record: ServiceRecord,
  backends: ReadonlyArray<{ id: number; record: ReturnType<typeof decodeBackend> }>,
  ringSlots: Uint32Array | undefined,
  state: InstanceState,
): ServiceView {
  const keyText = serviceKeyText({ address: key.vip, port: key.port, family: key.family }, key.protocol);
  const slots = new Map<number, number>();
  for (const id of ringSlots ?? []) if (id !== 0) slots.set(id, (slots.get(id) ?? 0) + 1);
  const total = ringSlots?.length ?? 1;
  return {
    id: record.id,
    name: state.serviceNames[keyText] ?? null,
    key: keyText,
    vip: key.vip,
    port: key.port,
    family: key.family,
    protocol: key.protocol,
    mode: record.mode,
    snat: record.snatAddr,
    liveness: record.liveness,
    applied: record.applied ?? false,
    health: summarizeHealth(
      record.liveness,
      backends.map((b) => b.record),
    ),
    ppv2: {
      enabled: record.ppv2,
      version: record.proxyV1 ? 1 : 2,
      uniqueId: record.uniqueId,
      crc32c: record.crc32c,
      tlvs: decodeStaticTlvs(record.tlvs).map(describeTlv),
      headerBytes: !record.ppv2
        ? 0
        : record.proxyV1
          ? proxyV1LongestHeader(key.vip, key.port)
          : ppv2HeaderLength(record, key.family),
    },
    backends: backends
      .map((b) => ({
        id: b.id,
        address: b.record.addr,
        port: b.record.port,
        weight: b.record.weight,
        health: b.record.down ? ('down' as const) : ('up' as const),
        share: (slots.get(b.id) ?? 0) / total,
        source: record.mode === 'fullnat' ? (record.snatAddr ?? b.record.srcAddr) : null,
      }))
      .sort((a, b) => a.id - b.id),
  };
}

/** The stored TLV bytes are a plain TLV sequence; reuse the codec by framing them in a LOCAL header. */
function decodeStaticTlvs(bytes: Buffer): Tlv[] {
  if (bytes.length === 0) return [];
  const frame = Buffer.alloc(16 + bytes.length);
  Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex').copy(frame);
  frame.writeUInt16BE(bytes.length, 14);
  bytes.copy(frame, 16);
  const decoded = decodeV2(frame);
  return decoded.status === 'complete' ? [...decoded.header.tlvs] : [];
}

function specPpv2(view: ServiceView): ServiceSpec['ppv2'] {
  return {
    enabled: view.ppv2.enabled,
    version: view.ppv2.version,
    uniqueId: view.ppv2.uniqueId,
    crc32c: view.ppv2.crc32c,
    tlvs: view.ppv2.tlvs.map((t) => ({ type: t.type, value: Buffer.from(t.hex, 'hex') })),
  };
}
