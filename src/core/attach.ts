import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { removePinDir } from '../bpf/bpffs.js';
import { BpfMap } from '../bpf/map.js';
import { currentNetnsId } from '../bpf/netns.js';
import { type LoadedObject, loadObject, mapPinPath } from '../bpf/object.js';
import { DEFAULT_TIMEOUTS_S, LB_LIMITS, MAP_NAMES, type PortRange, PROGRAM } from '../bpf/records.js';
import { attachTc, detachTc, ifindexByName, queryTc, removeClsact } from '../bpf/tc.js';
import { conflictError, notFoundError, usageError } from '../errors.js';
import { refuseForeignDatapath } from './attach-guard.js';
import { readConfigRecord, snatPortsInForce, writeConfigRecord } from './config.js';
import { liveConnectionKeys } from './connections.js';
import { type DrainResult, drainConnections, setDetachingMode } from './detaching.js';
import type { Instance } from './instance.js';
import { DatapathMaps, datapathObjectPath } from './maps.js';
import { readLocalPortRange, releaseSnatPorts, reserveSnatPorts, validateSnatPorts } from './snat-ports.js';
import {
  type AttachedInterface,
  type InstanceState,
  loadState,
  removeState,
  saveState,
} from './state-file.js';
import { withRollback } from './transaction.js';

export interface AttachOutcome {
  interface: string;
  ifindex: number;
  progId: number;
  /**
   * "attached" the first time, "replaced" when this instance's filter was already there (idempotent re-run).
   * A filter of another instance, or one whose maps are no longer pinned, is refused (attach-guard.ts).
   */
  action: 'attached' | 'replaced';
}

/** Entries per connection in lb_conntrack: ORIG and REPLY (bpf/conntrack.h). */
const CT_ENTRIES_PER_CONNECTION = 2;
export const DEFAULT_MAX_CONNECTIONS = LB_LIMITS.conntrackEntries / CT_ENTRIES_PER_CONNECTION;
/** Small tables are for tests and tiny hosts; the top keeps the entry count within a u32 with room to spare. */
export const MAX_CONNECTIONS_RANGE = { min: 16, max: 16 * 1024 * 1024 } as const;

export function validateMaxConnections(n: number): number {
  const { min, max } = MAX_CONNECTIONS_RANGE;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw usageError(`--max-connections ${n}: must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/**
 * The connection table's size for this attach, in conntrack entries. A live instance keeps its table: its size
 * is fixed when the maps are created, and changing it means dropping every connection, which only an explicit
 * detach may do.
 */
function conntrackEntries(instance: Instance, hadState: boolean, maxConnections: number | undefined): number {
  const wanted = maxConnections === undefined ? undefined : validateMaxConnections(maxConnections);
  if (!hadState) return (wanted ?? DEFAULT_MAX_CONNECTIONS) * CT_ENTRIES_PER_CONNECTION;
  const map = BpfMap.open(mapPinPath(instance.pinDir, MAP_NAMES.conntrack));
  const current = map.info.maxEntries;
  map.close();
  if (wanted !== undefined && wanted * CT_ENTRIES_PER_CONNECTION !== current) {
    throw conflictError(
      `the connection table of this instance holds ${current / CT_ENTRIES_PER_CONNECTION} connections; ` +
        'its size cannot change while the instance has state',
      `resizing drops every connection: lbctl detach --all, then lbctl attach --max-connections ${wanted} IFACE...`,
    );
  }
  return current;
}

export interface AttachOptions {
  /** Connections the table holds (two conntrack entries each); default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
  /** fullnat's SNAT ports; default: the instance's current range, or DEFAULT_SNAT_PORTS the first time. */
  snatPorts?: PortRange;
}

/**
 * Load the datapath (reusing the instance's pinned maps, so services and live connections survive a
 * re-attach) and put it on tc ingress of every interface. All or nothing: interfaces are resolved before
 * anything is loaded, and if one attach fails the interfaces this call attached are detached again.
 */
export function attachInterfaces(
  instance: Instance,
  ifnames: readonly string[],
  options: AttachOptions = {},
): AttachOutcome[] {
  const unique = [...new Set(ifnames)];
  if (unique.length === 0) throw usageError('no interface given', 'e.g. lbctl attach eth0 eth1');
  const ifindexes = unique.map((ifname) => ifindexByName(ifname));
  refuseForeignDatapath(
    instance,
    unique.map((name, i) => ({ name, ifindex: ifindexes[i] ?? 0 })),
  );

  const hadState = DatapathMaps.exists(instance);
  const ctEntries = conntrackEntries(instance, hadState, options.maxConnections);
  const state = loadState(instance);
  // Checked before anything is loaded: an overlap is refused with nothing changed.
  const localPorts = readLocalPortRange();
  if (options.snatPorts) validateSnatPorts(options.snatPorts, localPorts);
  const objectPath = datapathObjectPath();
  let object: LoadedObject | undefined;
  try {
    return withRollback((journal) => {
      if (!hadState) {
        journal.record(`remove ${instance.pinDir}`, () => {
          if (existsSync(instance.pinDir)) removePinDir(instance.pinDir);
        });
      }
      const loaded = loadObject(objectPath, {
        pinDir: instance.pinDir,
        maxEntries: { [MAP_NAMES.conntrack]: ctEntries },
      });
      object = loaded;
      // Reserved before the datapath may use the range, so the host never picks one of its ports meanwhile.
      const snatPorts = snatPortsFor(instance, options.snatPorts, localPorts);
      journal.record('give back the reserved SNAT ports', reserveSnatPorts(state, snatPorts));
      journal.record('restore the SNAT port range', initialiseConfig(instance, snatPorts));
      const progFd = loaded.programFd(PROGRAM.name);
      const done: AttachOutcome[] = [];
      unique.forEach((ifname, i) => {
        const ifindex = ifindexes[i] ?? 0;
        const before = queryTc({ dev: ifindex, direction: 'ingress' });
        const result = attachTc({ dev: ifindex, direction: 'ingress', progFd });
        const previous = state.interfaces[ifname];
        const record: AttachedInterface = {
          ifindex,
          // Ownership of the qdisc is decided once, by the attach that found no clsact.
          createdClsact: previous?.createdClsact ?? result.createdClsact,
          progId: result.progId,
          attachedAt: previous?.attachedAt ?? new Date().toISOString(),
        };
        state.interfaces[ifname] = record;
        // Only a filter this attach created is taken away again; a replaced one was an earlier attach's.
        if (!before) journal.record(`detach ${ifname}`, () => undoAttach(ifindex, record));
        done.push({
          interface: ifname,
          ifindex,
          progId: result.progId,
          action: before ? 'replaced' : 'attached',
        });
      });
      state.netnsId = currentNetnsId();
      saveState(instance, state);
      return done;
    });
  } finally {
    object?.close();
  }
}

/**
 * The SNAT port range for this attach: the one asked for, else the instance's, else the default. It must stay
 * clear of the namespace's ephemeral ports (`local`) even on a re-attach, since those can have changed since.
 */
function snatPortsFor(instance: Instance, wanted: PortRange | undefined, local: PortRange): PortRange {
  const maps = DatapathMaps.open(instance);
  try {
    return validateSnatPorts(wanted ?? snatPortsInForce(readConfigRecord(maps)), local);
  } finally {
    maps.close();
  }
}

/**
 * A random boot id makes UNIQUE_IDs unique across instances and re-creations; kept across re-attaches. An
 * attach also ends a hold left by `detach --keep-maps` (or an interrupted drain): the datapath works again.
 * Returns the undo of a SNAT range change, for a rollback.
 */
function initialiseConfig(instance: Instance, snatPorts: PortRange): () => void {
  const maps = DatapathMaps.open(instance);
  try {
    const current = readConfigRecord(maps);
    if (current && current.bootId !== 0n) {
      setDetachingMode(maps, null);
      if (current.snatPorts.min === snatPorts.min && current.snatPorts.max === snatPorts.max) return () => {};
      writeConfigRecord(maps, { ...current, detaching: null, snatPorts });
      return () => restoreSnatPorts(instance, current.snatPorts);
    }
    const bootId = randomBytes(8).readBigUInt64BE(0) || 1n;
    writeConfigRecord(
      maps,
      { bootId, events: true, detaching: null, timeouts: { ...DEFAULT_TIMEOUTS_S }, snatPorts },
      'any',
    );
    return () => {}; // a new instance's maps go altogether
  } finally {
    maps.close();
  }
}

function restoreSnatPorts(instance: Instance, snatPorts: PortRange): void {
  const maps = DatapathMaps.open(instance);
  try {
    const record = readConfigRecord(maps);
    if (record) writeConfigRecord(maps, { ...record, snatPorts });
  } finally {
    maps.close();
  }
}

function undoAttach(ifindex: number, record: AttachedInterface): void {
  detachTc({ dev: ifindex, direction: 'ingress' });
  if (record.createdClsact) removeClsact(ifindex);
}

export interface DetachOutcome {
  interface: string;
  removedFilter: boolean;
  removedQdisc: boolean;
  /** --keep-maps with nothing else attached: the filter stays and holds the service traffic. */
  held: boolean;
}

export interface DetachReport {
  interfaces: DetachOutcome[];
  /** True when no interface is left and the pinned maps and state were removed. */
  removedState: boolean;
  /**
   * When no interface is left: connections conntrack still held in use (SYN_SENT, ESTABLISHED or FIN).
   * 0 while some interface stays attached.
   */
  liveConnections: number;
  /** True when --keep-maps left the filters holding the traffic of services and live connections. */
  held: boolean;
  /** When the maps were removed: how the live connections were reset before that (null: none were live). */
  drain: DrainResult | null;
}

export interface DetachOptions {
  keepMaps?: boolean;
  /** How long the drain may take to reset live connections before the maps go (0: cut them at once). */
  drainTimeoutMs?: number;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 3000;

/** What a detach would do, read without changing anything (`detach --dry-run`, and its confirmation). */
export interface DetachPlan {
  interfaces: string[];
  /** No interface would stay attached: the datapath holds (--keep-maps) or goes with its maps and state. */
  nothingLeft: boolean;
  /** The pinned maps and the state file would be removed: every service is deleted. */
  removesState: boolean;
  /** With nothing left: services that hold (--keep-maps) or are deleted; 0 otherwise. */
  services: number;
  /** With nothing left: connections in use, that are held or reset (drained); 0 otherwise. */
  liveConnections: number;
}

export function planDetach(
  instance: Instance,
  target: { all: true } | { interfaces: readonly string[] },
  options: DetachOptions = {},
): DetachPlan {
  const state = loadState(instance);
  const names = targetInterfaces(state, target);
  const nothingLeft = Object.keys(state.interfaces).every((n) => names.includes(n));
  const plan = { interfaces: names, nothingLeft, removesState: nothingLeft && !options.keepMaps };
  if (!nothingLeft || !DatapathMaps.exists(instance)) return { ...plan, services: 0, liveConnections: 0 };
  const maps = DatapathMaps.open(instance);
  try {
    const services = [...maps.get('services').entries()].length;
    return { ...plan, services, liveConnections: liveConnectionKeys(maps).length };
  } finally {
    maps.close();
  }
}

/** The interfaces a detach names (all attached ones for --all); NOT_FOUND for one that is not attached. */
function targetInterfaces(
  state: InstanceState,
  target: { all: true } | { interfaces: readonly string[] },
): string[] {
  if ('all' in target) return Object.keys(state.interfaces);
  const names = [...new Set(target.interfaces)];
  if (names.length === 0) throw usageError('no interface given', 'name interfaces, or use --all');
  const unknown = names.filter((n) => !state.interfaces[n]);
  if (unknown.length > 0) {
    throw notFoundError(
      `lbctl is not attached to ${unknown.join(', ')}`,
      `attached: ${Object.keys(state.interfaces).join(', ') || 'none'}`,
    );
  }
  return names;
}

/**
 * Take lbctl off interfaces. Only qdiscs lbctl created are removed. When no interface would stay attached:
 *  - with `keepMaps`, the filters stay and the datapath holds (drops) the traffic of services and live
 *    connections until the next attach, so TCP retransmits it afterwards and nothing is reset meanwhile;
 *  - otherwise live connections are drained (reset at both ends) first, then the filters, the pinned maps
 *    and the state file go (nothing left behind).
 */
export async function detachInterfaces(
  instance: Instance,
  target: { all: true } | { interfaces: readonly string[] },
  options: DetachOptions = {},
): Promise<DetachReport> {
  const state = loadState(instance);
  const names = targetInterfaces(state, target);
  const nothingLeft = Object.keys(state.interfaces).every((n) => names.includes(n));
  const report = { liveConnections: 0, held: false, drain: null as DrainResult | null };
  if (nothingLeft && DatapathMaps.exists(instance)) {
    const maps = DatapathMaps.open(instance);
    try {
      report.liveConnections = liveConnectionKeys(maps).length;
      if (options.keepMaps) {
        setDetachingMode(maps, 'hold');
        report.held = true;
      } else if (report.liveConnections > 0) {
        report.drain = await drainConnections(maps, options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      }
    } finally {
      maps.close();
    }
  }
  if (report.held) {
    const outcomes = names.map((name) => ({
      interface: name,
      removedFilter: false,
      removedQdisc: false,
      held: true,
    }));
    return { interfaces: outcomes, removedState: false, ...report };
  }
  const outcomes = names.map((name) => detachOne(name, state));
  if (nothingLeft && !options.keepMaps) {
    if (existsSync(instance.pinDir)) removePinDir(instance.pinDir);
    releaseSnatPorts(state);
    removeState(instance);
    return { interfaces: outcomes, removedState: true, ...report };
  }
  saveState(instance, state);
  return { interfaces: outcomes, removedState: false, ...report };
}

function detachOne(name: string, state: InstanceState): DetachOutcome {
  const record = state.interfaces[name];
  delete state.interfaces[name];
  // The interface may be gone (a deleted veth takes its qdisc and filter with it): nothing left to do.
  let ifindex: number;
  try {
    ifindex = ifindexByName(name);
  } catch {
    return { interface: name, removedFilter: false, removedQdisc: false, held: false };
  }
  const removedFilter = detachTc({ dev: ifindex, direction: 'ingress' });
  const removedQdisc = record?.createdClsact ? removeClsact(ifindex) : false;
  return { interface: name, removedFilter, removedQdisc, held: false };
}

/** Attached interfaces as the kernel sees them now (a filter can vanish with its interface). */
export function attachedInterfaces(instance: Instance): Array<{
  interface: string;
  ifindex: number;
  progId: number | undefined;
  createdClsact: boolean;
  attachedAt: string;
}> {
  const state = loadState(instance);
  return Object.entries(state.interfaces).map(([name, record]) => {
    let progId: number | undefined;
    try {
      progId = queryTc({ dev: ifindexByName(name), direction: 'ingress' })?.progId;
    } catch {
      progId = undefined;
    }
    return {
      interface: name,
      ifindex: record.ifindex,
      progId,
      createdClsact: record.createdClsact,
      attachedAt: record.attachedAt,
    };
  });
}
