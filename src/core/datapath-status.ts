import type { BpfMap } from '../bpf/map.js';

import {
  type ProgInfo,
  progInfoById,
  type RunTimeStatsSources,
  runTimeStatsSources,
} from '../bpf/prog-info.js';
import type { PortRange } from '../bpf/records.js';
import { hostPort } from '../host-port.js';
import { attachedInterfaces } from './attach.js';
import type { ServiceHealth } from './backend-health.js';
import { bootIdHex, readConfigRecord, snatPortsInForce } from './config.js';
import type { Instance } from './instance.js';
import { DatapathMaps } from './maps.js';
import type { Mode } from './service-spec.js';
import { listServices } from './services.js';
import { loadState } from './state-file.js';

/**
 * What `lbctl status` reports of one instance's datapath: the interfaces and their programs, how full the
 * tables are, the services with their health, and lb_config. Read in one pass over the pinned maps.
 */
export interface InterfaceStatus {
  interface: string;
  ifindex: number;
  attached: boolean;
  progId: number | null;
  /**
   * runCount and runTimeNs are null while the kernel's run-time statistics are off: the counts then stand
   * still and would be read as packets.
   */
  program: { name: string; runCount: number | null; runTimeNs: number | null } | null;
  createdQdisc: boolean;
  attachedAt: string;
}

/**
 * Per service: how many backends there are and, with liveness on, how many are up; for fullnat, the
 * `--snat` override (null: each backend's route source) and the source address each backend gets.
 */
export interface ServiceStatus {
  id: number;
  key: string;
  name: string | null;
  mode: Mode;
  backends: number;
  health: ServiceHealth;
  snat: string | null;
  sources: Array<{ backend: string; source: string | null }>;
}

export interface MapFill {
  map: string;
  entries: number;
  maxEntries: number;
  /** What the kernel charges for the map (its fd's memlock): preallocated tables pay it from attach on. */
  memoryBytes: number;
}

/** The connection table in connections: each takes two entries (ORIG and REPLY) and nothing else. */
export interface ConntrackStatus {
  connections: number;
  capacityConnections: number;
  memoryBytes: number;
  bytesPerConnection: number;
}

/** Entries per connection in lb_conntrack (bpf/conntrack.h): ORIG and REPLY. */
const CT_ENTRIES_PER_CONNECTION = 2;

export function conntrackStatus(fill: MapFill): ConntrackStatus {
  return {
    connections: Math.floor(fill.entries / CT_ENTRIES_PER_CONNECTION),
    capacityConnections: Math.floor(fill.maxEntries / CT_ENTRIES_PER_CONNECTION),
    memoryBytes: fill.memoryBytes,
    bytesPerConnection: Math.round((CT_ENTRIES_PER_CONNECTION * fill.memoryBytes) / fill.maxEntries),
  };
}

export interface ConfigStatus {
  bootId: string;
  events: boolean;
  /** "hold" after detach --keep-maps (traffic parked until attach), "drain" while detach resets connections. */
  detaching: 'hold' | 'drain' | null;
  timeoutsSeconds: Record<string, number>;
  /** fullnat's SNAT source ports, both inclusive; reserved in the namespace (ip_local_reserved_ports). */
  snatPorts: PortRange;
}

export interface DatapathStatus {
  attached: boolean;
  /** Whether program run counts are being counted, and who keeps them on (see runTimeStatsSources). */
  runTimeStats: RunTimeStatsSources;
  interfaces: InterfaceStatus[];
  maps: MapFill[];
  conntrack: ConntrackStatus | null;
  config: ConfigStatus | null;
  services: ServiceStatus[];
}

/** The maps whose fill level status shows: the ones a full table makes refuse services or connections. */
const FILL_MAPS = ['services', 'backends', 'conntrack'] as const;

/** The instance's datapath as status shows it; undefined when nothing was ever attached (no pinned maps). */
export function readDatapathStatus(
  instance: Instance,
  runTimeStats: RunTimeStatsSources = runTimeStatsSources(),
): DatapathStatus | undefined {
  if (!DatapathMaps.exists(instance)) return undefined;
  const interfaces = attachedInterfaces(instance).map((i) => ({
    interface: i.interface,
    ifindex: i.ifindex,
    attached: i.progId !== undefined,
    progId: i.progId ?? null,
    program: i.progId !== undefined ? programSummary(progInfoById(i.progId), runTimeStats.enabled) : null,
    createdQdisc: i.createdClsact,
    attachedAt: i.attachedAt,
  }));
  const maps = DatapathMaps.open(instance);
  try {
    const config = readConfigRecord(maps);
    const fills = FILL_MAPS.map((name) => fill(name, maps.get(name)));
    const conntrack = fills.find((f) => f.map === 'conntrack');
    return {
      attached: interfaces.some((i) => i.attached),
      runTimeStats,
      interfaces,
      maps: fills,
      conntrack: conntrack ? conntrackStatus(conntrack) : null,
      services: listServices(maps, loadState(instance)).map((svc) => ({
        id: svc.id,
        key: svc.key,
        name: svc.name,
        mode: svc.mode,
        backends: svc.backends.length,
        health: svc.health,
        snat: svc.snat,
        sources: svc.backends.map((b) => ({ backend: hostPort(b.address, b.port), source: b.source })),
      })),
      config: config
        ? {
            bootId: bootIdHex(config),
            events: config.events,
            detaching: config.detaching,
            timeoutsSeconds: config.timeouts,
            snatPorts: snatPortsInForce(config),
          }
        : null,
    };
  } finally {
    maps.close();
  }
}

function programSummary(info: ProgInfo, counting: boolean): InterfaceStatus['program'] {
  if (!counting) return { name: info.name, runCount: null, runTimeNs: null };
  return { name: info.name, runCount: Number(info.runCnt), runTimeNs: Number(info.runTimeNs) };
}

/**
 * Entries counted through batched reads (a few syscalls per 4096 entries, like `conn list`) rather than
 * one get_next_key per key: a busy conntrack table holds hundreds of thousands.
 */
function fill(name: string, map: BpfMap): MapFill {
  let entries = 0;
  for (const _ of map.entries()) entries++;
  return { map: name, entries, maxEntries: map.info.maxEntries, memoryBytes: map.memlockBytes() };
}
