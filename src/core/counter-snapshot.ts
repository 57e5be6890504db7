import type { Counters } from '../bpf/records.js';
import type { DatapathMaps } from './maps.js';
import type { ServiceView } from './services.js';
import { countersToJson, GLOBAL_SLOT, readCounters } from './stats.js';

/**
 * The balancer-wide counters and those of each service, read back to back so they describe one moment.
 * `lbctl stats` and `lbctl top` both read counters through here, so their JSON agrees field for field.
 */
export interface CounterReading {
  global: Counters;
  services: Array<{ service: ServiceView; counters: Counters }>;
}

/** The JSON shape of a CounterReading (`lbctl stats --json`, and `counters` in `lbctl top --json`). */
export interface CountersJson {
  global: Record<string, number>;
  services: Array<{ id: number; key: string; name: string | null; counters: Record<string, number> }>;
}

export function readCounterReading(maps: DatapathMaps, services: readonly ServiceView[]): CounterReading {
  return {
    global: readCounters(maps, GLOBAL_SLOT),
    services: services.map((service) => ({ service, counters: readCounters(maps, service.id) })),
  };
}

export function counterReadingToJson(reading: CounterReading): CountersJson {
  return {
    global: countersToJson(reading.global),
    services: reading.services.map(({ service, counters }) => ({
      id: service.id,
      key: service.key,
      name: service.name,
      counters: countersToJson(counters),
    })),
  };
}
