import type { UpdateFlag } from '../bpf/map.js';
import {
  type ConfigRecord,
  DEFAULT_SNAT_PORTS,
  DEFAULT_TIMEOUTS_S,
  decodeConfig,
  encodeArrayIndex,
  encodeConfig,
  type PortRange,
} from '../bpf/records.js';
import { notFoundError, usageError } from '../errors.js';
import type { DatapathMaps } from './maps.js';

/**
 * The balancer-wide settings in `lb_config`: the conntrack idle timeouts per TCP state. The datapath's
 * janitor reads them at every sweep (once a second), so a change applies to every connection at once.
 */

export type TimeoutName = keyof ConfigRecord['timeouts'];
export type Timeouts = ConfigRecord['timeouts'];

/** 0 in the map means "the datapath default"; more than a day is never what anyone wants for TCP state. */
export const MAX_TIMEOUT_S = 86_400;

export interface ConfigView {
  bootId: string;
  events: boolean;
  /** Seconds in force per state (a stored 0 shown as the default it stands for). */
  timeoutsSeconds: Timeouts;
  defaultsSeconds: Timeouts;
  /** fullnat's SNAT source ports, both inclusive (reserved in the namespace: src/core/snat-ports.ts). */
  snatPorts: PortRange;
  snatPortsDefault: PortRange;
}

const KEY = encodeArrayIndex(0);

/** The lb_config record, or undefined before an attach wrote it. Every reader of lb_config goes through here. */
export function readConfigRecord(maps: DatapathMaps): ConfigRecord | undefined {
  const value = maps.get('config').lookup(KEY);
  return value ? decodeConfig(value) : undefined;
}

/** Replaces the whole record in one map update, so the datapath never sees half a change. */
export function writeConfigRecord(
  maps: DatapathMaps,
  record: ConfigRecord,
  flag: UpdateFlag = 'exist',
): void {
  maps.get('config').update(KEY, encodeConfig(record), flag);
}

/** The SNAT port range the datapath uses: a stored 0-0 (a record from before the range existed) is the default. */
export function snatPortsInForce(record: ConfigRecord | undefined): PortRange {
  return record && record.snatPorts.min !== 0 ? { ...record.snatPorts } : { ...DEFAULT_SNAT_PORTS };
}

/** The boot id as shown to users: 16 hex digits. */
export function bootIdHex(record: ConfigRecord): string {
  return record.bootId.toString(16).padStart(16, '0');
}

function readRecord(maps: DatapathMaps): ConfigRecord {
  const record = readConfigRecord(maps);
  if (!record)
    throw notFoundError('the balancer has no configuration record', 'attach again: lbctl attach IFACE...');
  return record;
}

function view(record: ConfigRecord): ConfigView {
  const effective = { ...record.timeouts };
  for (const name of Object.keys(effective) as TimeoutName[]) {
    if (effective[name] === 0) effective[name] = DEFAULT_TIMEOUTS_S[name];
  }
  return {
    bootId: bootIdHex(record),
    events: record.events,
    timeoutsSeconds: effective,
    defaultsSeconds: { ...DEFAULT_TIMEOUTS_S },
    snatPorts: snatPortsInForce(record),
    snatPortsDefault: { ...DEFAULT_SNAT_PORTS },
  };
}

export function readConfig(maps: DatapathMaps): ConfigView {
  return view(readRecord(maps));
}

/** The TCP state (or UDP flows) each timeout belongs to, as `conn list` and the docs name it. */
export const TIMEOUT_STATES: Record<TimeoutName, string> = {
  synSentS: 'SYN_SENT',
  establishedS: 'ESTABLISHED',
  finS: 'FIN',
  closedS: 'CLOSED',
  udpS: 'UDP',
};

/** Whole seconds, 1..MAX_TIMEOUT_S, or 0 for the default. */
export function validateTimeout(name: TimeoutName, seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TIMEOUT_S) {
    throw usageError(
      `invalid ${TIMEOUT_STATES[name]} timeout: ${seconds}`,
      `use whole seconds from 1 to ${MAX_TIMEOUT_S}, or 0 for the default`,
    );
  }
}

/**
 * Change some timeouts; the others, the boot id (first half of every UNIQUE_ID) and the events switch stay
 * as they are. One map update, so the datapath never sees half a change.
 */
export function updateTimeouts(maps: DatapathMaps, changes: Partial<Timeouts>): ConfigView {
  for (const [name, seconds] of Object.entries(changes) as Array<[TimeoutName, number | undefined]>) {
    if (seconds !== undefined) validateTimeout(name, seconds);
  }
  const record = readRecord(maps);
  const timeouts = { ...record.timeouts };
  for (const name of Object.keys(timeouts) as TimeoutName[]) {
    const seconds = changes[name];
    if (seconds !== undefined) timeouts[name] = seconds === 0 ? DEFAULT_TIMEOUTS_S[name] : seconds;
  }
  const next = { ...record, timeouts };
  writeConfigRecord(maps, next);
  return view(next);
}

/** Change the SNAT port range (validated and reserved by the caller: src/core/snat-ports.ts). */
export function updateSnatPorts(maps: DatapathMaps, snatPorts: PortRange): ConfigView {
  const next = { ...readRecord(maps), snatPorts };
  writeConfigRecord(maps, next);
  return view(next);
}
