import type { PortRange } from '../bpf/records.js';
import { usageError } from '../errors.js';

/**
 * Sets of ports as sorted, disjoint, non-adjacent ranges, in the text form the kernel's port sysctls use
 * ("8080,9000-9002"; net.ipv4.ip_local_reserved_ports reads and writes it). Pure: no I/O.
 */
export type PortSet = PortRange[];

export const MAX_PORT = 65_535;

/** "MIN-MAX" (or one port) as a user types it, e.g. `--snat-ports 10000-32767`. */
export function parsePortRange(text: string): PortRange {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5}))?\s*$/.exec(text);
  const min = Number(m?.[1]);
  const max = m?.[2] === undefined ? min : Number(m[2]);
  if (!m || min > max || max > MAX_PORT) {
    throw usageError(`invalid port range "${text}"`, 'write it as MIN-MAX, e.g. 10000-32767');
  }
  return { min, max };
}

export const formatPortRange = (r: PortRange) => (r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`);

export const portRangeSize = (r: PortRange) => r.max - r.min + 1;

export const rangesOverlap = (a: PortRange, b: PortRange) => a.min <= b.max && b.min <= a.max;

/** The sysctl's list: comma-separated ports and ranges; empty for none. */
export function parsePortSet(text: string): PortSet {
  const items = text
    .split(/[,\s]+/)
    .filter((s) => s.length > 0)
    .map(parsePortRange);
  return normalise(items);
}

export const formatPortSet = (set: PortSet) => set.map(formatPortRange).join(',');

function normalise(ranges: PortRange[]): PortSet {
  const sorted = [...ranges].sort((a, b) => a.min - b.min);
  const out: PortSet = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.min <= last.max + 1) last.max = Math.max(last.max, r.max);
    else out.push({ ...r });
  }
  return out;
}

export const portSetUnion = (a: PortSet, b: PortSet): PortSet => normalise([...a, ...b]);

/** The ports of `a` that are not in `b`. */
export function portSetMinus(a: PortSet, b: PortSet): PortSet {
  let rest = normalise(a);
  for (const cut of normalise(b)) {
    rest = rest.flatMap((r) => {
      if (!rangesOverlap(r, cut)) return [r];
      const pieces: PortRange[] = [];
      if (r.min < cut.min) pieces.push({ min: r.min, max: cut.min - 1 });
      if (r.max > cut.max) pieces.push({ min: cut.max + 1, max: r.max });
      return pieces;
    });
  }
  return rest;
}

export const portSetIntersect = (a: PortSet, b: PortSet): PortSet => portSetMinus(a, portSetMinus(a, b));
