import { numPossibleCpus } from '../bpf/libbpf.js';
import { perCpuSlices } from '../bpf/map.js';
import {
  COUNTER_NAMES,
  type Counters,
  decodeStats,
  encodeServiceId,
  RECORD_SIZES,
  sumPerCpuStats,
} from '../bpf/records.js';
import type { DatapathMaps } from './maps.js';

/** Stats slot 0 holds the balancer-wide counters; slot N those of service id N. */
export const GLOBAL_SLOT = 0;

/** One slot's counters summed over every possible CPU. */
export function readCounters(maps: DatapathMaps, slot: number): Counters {
  const value = maps.get('stats').lookup(encodeServiceId(slot));
  if (!value) return zeroCounters();
  return sumPerCpuStats(value, numPossibleCpus());
}

/** One slot's counters per CPU (the dashboard's per-CPU breakdown). */
export function readCountersPerCpu(maps: DatapathMaps, slot: number): Counters[] {
  const value = maps.get('stats').lookup(encodeServiceId(slot));
  if (!value) return [];
  return perCpuSlices(value, RECORD_SIZES.stats).map((slice) => decodeStats(slice));
}

export function zeroCounters(): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0n])) as Counters;
}

/** Counters as JSON-safe numbers (exact up to 2^53, which a u64 packet counter will not reach). */
export function countersToJson(counters: Counters): Record<string, number> {
  return Object.fromEntries(Object.entries(counters).map(([name, value]) => [name, Number(value)]));
}

/** Names grouped for display: traffic, connections, PPv2, drops and failures. */
export function counterGroup(
  name: string,
): 'traffic' | 'connections' | 'ppv2' | 'failures' | 'drops' | 'other' {
  if (/^(fwd|rev)_/.test(name)) return 'traffic';
  if (name.startsWith('conn_')) return 'connections';
  if (name.startsWith('ppv2_fail')) return 'failures';
  if (name.startsWith('drop_')) return 'drops';
  if (name.startsWith('ppv2_') || name === 'mss_clamped' || name === 'sack_shifted') return 'ppv2';
  return 'other';
}
