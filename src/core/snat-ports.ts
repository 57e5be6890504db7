import { readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_SNAT_PORTS, type PortRange } from '../bpf/records.js';
import { errnoError, usageError } from '../errors.js';
import { type ConfigView, updateSnatPorts } from './config.js';
import type { Instance } from './instance.js';
import type { DatapathMaps } from './maps.js';
import {
  formatPortRange,
  formatPortSet,
  type PortSet,
  parsePortRange,
  parsePortSet,
  portSetIntersect,
  portSetMinus,
  portSetUnion,
  rangesOverlap,
} from './port-ranges.js';
import { type InstanceState, loadState, saveState } from './state-file.js';

/**
 * The ports fullnat takes as SNAT source ports (DESIGN.md fact 10). They must never be ports the balancer
 * namespace's own sockets pick, or a REPLY conntrack entry would capture the replies of the host's
 * connections (health probes, a co-located proxy). Two guards, both per network namespace:
 *  - the range is disjoint from net.ipv4.ip_local_port_range, where the host picks ephemeral ports;
 *  - it is added to net.ipv4.ip_local_reserved_ports (which covers IPv6 too), so even a later widening of
 *    the ephemeral range leaves these ports alone. lbctl adds to what is there and records what it added in
 *    the state file, so `detach --all` takes back exactly that.
 * The sysctls are read and written on the calling thread, so after `--netns` they are the balancer's.
 */

const LOCAL_PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';
const RESERVED_PORTS = '/proc/sys/net/ipv4/ip_local_reserved_ports';

/** SNAT ports are unprivileged ports: below 1024 is for services the host runs itself. */
export const SNAT_PORTS_BOUNDS: PortRange = { min: 1024, max: 65_535 };

/** The namespace's ephemeral port range (net.ipv4.ip_local_port_range, "32768\t60999"). */
export function readLocalPortRange(): PortRange {
  const [min, max] = readSysctl(LOCAL_PORT_RANGE).trim().split(/\s+/).map(Number);
  return { min: min ?? 0, max: max ?? 0 };
}

export function readReservedPorts(): PortSet {
  return parsePortSet(readSysctl(RESERVED_PORTS));
}

function readSysctl(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw errnoError(`read ${path}`, e.errno ?? -5);
  }
}

function writeReservedPorts(set: PortSet): void {
  try {
    // A write replaces the whole list; "\n" alone clears it (an empty write changes nothing).
    writeFileSync(RESERVED_PORTS, `${formatPortSet(set)}\n`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw errnoError(`write ${RESERVED_PORTS}`, e.errno ?? -5);
  }
}

/**
 * A usable SNAT range: unprivileged, and outside the ephemeral range `local`. Exit 2 otherwise, with the
 * two ways out.
 */
export function validateSnatPorts(range: PortRange, local: PortRange): PortRange {
  const { min, max } = SNAT_PORTS_BOUNDS;
  if (range.min < min || range.max > max || range.min > range.max) {
    throw usageError(
      `SNAT port range ${formatPortRange(range)} is not within ${min}-${max}`,
      `e.g. --snat-ports ${formatPortRange(DEFAULT_SNAT_PORTS)}`,
    );
  }
  if (rangesOverlap(range, local)) {
    const narrow = 'narrow net.ipv4.ip_local_port_range (sysctl -w) in the balancer namespace';
    const roomLeft = local.min > min || local.max < max;
    throw usageError(
      `SNAT port range ${formatPortRange(range)} overlaps this namespace's ephemeral ports ` +
        `(net.ipv4.ip_local_port_range ${formatPortRange(local)}), so the host's own connections could be ` +
        'taken for balanced ones',
      roomLeft
        ? `pick a range outside ${formatPortRange(local)} with --snat-ports MIN-MAX, or ${narrow}`
        : `${narrow}, e.g. to 32768 60999`,
    );
  }
  return range;
}

/** `--snat-ports MIN-MAX` parsed and checked against this namespace's ephemeral range. */
export function checkSnatPortsFlag(text: string): PortRange {
  return validateSnatPorts(parsePortRange(text), readLocalPortRange());
}

/**
 * Reserve `range` in ip_local_reserved_ports and record in `state` which ports lbctl added. Ports lbctl
 * reserved for an earlier range and no longer needs are released; ports someone else reserved stay.
 * Returns the undo, for a rollback.
 */
export function reserveSnatPorts(state: InstanceState, range: PortRange): () => void {
  const previous = state.reservedSnatPorts;
  const reserved = readReservedPorts();
  const ours = parsePortSet(previous ?? '');
  const wanted: PortSet = [range];
  const stale = portSetMinus(ours, wanted);
  const added = portSetMinus(wanted, reserved);
  updateReservedPorts((now) => portSetUnion(portSetMinus(now, stale), wanted), reserved);
  state.reservedSnatPorts = formatPortSet(portSetUnion(portSetIntersect(ours, wanted), added));
  return () => {
    updateReservedPorts((now) => portSetUnion(portSetMinus(now, added), stale));
    if (previous === undefined) delete state.reservedSnatPorts;
    else state.reservedSnatPorts = previous;
  };
}

function updateReservedPorts(change: (now: PortSet) => PortSet, now = readReservedPorts()): void {
  const next = change(now);
  if (formatPortSet(next) !== formatPortSet(now)) writeReservedPorts(next);
}

/** Take back the ports lbctl reserved (detach --all); what others reserved meanwhile stays. */
export function releaseSnatPorts(state: InstanceState): void {
  const ours = parsePortSet(state.reservedSnatPorts ?? '');
  delete state.reservedSnatPorts;
  if (ours.length === 0) return;
  updateReservedPorts((now) => portSetMinus(now, ours));
}

/**
 * `config set --snat-ports`: reserve the new range first, then switch the datapath to it, so no moment has
 * the datapath on ports the host may pick. New connections take ports from the new range; live ones keep
 * theirs. Run under the instance lock.
 */
export function changeSnatPorts(instance: Instance, maps: DatapathMaps, range: PortRange): ConfigView {
  validateSnatPorts(range, readLocalPortRange());
  const state = loadState(instance);
  const undo = reserveSnatPorts(state, range);
  try {
    const view = updateSnatPorts(maps, range);
    saveState(instance, state);
    return view;
  } catch (err) {
    undo();
    throw err;
  }
}
