/**
 * The `top` dashboard's data source: one `collect()` per tick reads what the dashboard shows from the pinned
 * maps, the events ring buffer and the kernel's program statistics, and returns it as plain JSON-safe data.
 *
 * Cost is what shapes it. Counters and program statistics are a handful of syscalls and are read every
 * tick. The conntrack table is the expensive part (a batch pass plus decoding every entry: about 0.4 s of
 * CPU for 100,000 entries), so it is re-read at a bounded rate: after a pass that cost C ms of CPU, the next
 * one waits at least C / budget ms (budget 0.02 = at most 2% of one core). A small table is therefore
 * re-read every tick, a full one about every 20 s. Services and interfaces change rarely and are re-read every few seconds.
 * Events are drained every tick into a bounded ring, so a burst costs one copy per record and no decoding.
 */

import { readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MAP_NAMES } from '../bpf/abi.js';
import { mapPinPath } from '../bpf/object.js';
import { enableRunTimeStats, progInfoById } from '../bpf/prog-info.js';
import { type DetachingMode, decodeEvent, type EventType } from '../bpf/records.js';
import { RingBufferReader } from '../bpf/ringbuf.js';
import { LbctlError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { attachedInterfaces } from './attach.js';
import { readConfigRecord } from './config.js';
import { type ConnectionView, listConnections } from './connections.js';
import { type CountersJson, counterReadingToJson, readCounterReading } from './counter-snapshot.js';
import type { Instance } from './instance.js';
import { DatapathMaps } from './maps.js';
import { findService, listServices, type ServiceView } from './services.js';
import { loadState } from './state-file.js';
import { countersToJson, GLOBAL_SLOT, readCountersPerCpu } from './stats.js';

export interface InterfaceSample {
  interface: string;
  ifindex: number;
  /** The tc program id now on the interface; null when the filter is gone. */
  progId: number | null;
  attachedAt: string;
}

/** Cumulative kernel statistics of one attached program (they only grow while run-time stats are on). */
export interface ProgramSample {
  progId: number;
  name: string;
  interfaces: string[];
  runCount: number;
  runTimeNs: number;
}

export interface ConnectionsSample {
  /** Matching connections (every one up to `maxRows`), in map order. */
  rows: ConnectionView[];
  /** Matching connections, including any beyond `maxRows`. */
  total: number;
  /** Wall-clock time of the pass (ms since the epoch). */
  readAtMs: number;
  /** Wall time the pass took. */
  scanMs: number;
  /** CPU time the pass took (this process, all threads): what the budget is charged. */
  scanCpuMs: number;
  /** Milliseconds from this pass until the next one is allowed. */
  nextInMs: number;
}

/** One ring-buffer event, with its header bytes still encoded (the UI decodes only what it shows). */
export interface EventSample {
  type: EventType;
  /** Failures: the counter that counted it. */
  reason: string | null;
  serviceId: number;
  /** Wall-clock time of the event (ms since the epoch), from its CLOCK_MONOTONIC stamp. */
  timeMs: number;
  client: string;
  vip: string;
  /** The injected PPv2 header as lowercase hex ("" for failures). */
  headerHex: string;
}

export interface RunTimeStatsState {
  /** True while this collector holds a BPF_ENABLE_STATS reference (stats are on for its lifetime). */
  heldByTop: boolean;
  /** /proc/sys/kernel/bpf_stats_enabled when the collector opened (the sysctl's own setting); null if unreadable. */
  sysctl: number | null;
  /** Why stats could not be enabled (e.g. missing CAP_SYS_ADMIN); ns/packet is then unavailable. */
  error: string | null;
}

export interface DatapathSnapshot {
  takenAtMs: number;
  /**
   * False once the maps this collector read are no longer pinned (detach, or a new attach pinned others
   * and none are there yet): everything below is then empty, never the last reading of a datapath that
   * is gone.
   */
  attached: boolean;
  /** performance.now() at collection: rates divide by differences of this. */
  monotonicMs: number;
  instance: { name: string; netns: string | null };
  /** The service key `--service` selected (its counters are the focused ones); null = the whole balancer. */
  focusService: string | null;
  interfaces: InterfaceSample[];
  programs: ProgramSample[];
  runTimeStats: RunTimeStatsState;
  /** The services shown: all of them, or the one `--service` names. */
  services: ServiceView[];
  /** Same shape and same reading code as `lbctl stats --json`. */
  counters: CountersJson;
  /** Per-CPU counters of the focused slot (the service with --service, else global); null when off. */
  perCpu: Array<Record<string, number>> | null;
  /** The latest conntrack pass (possibly from an earlier tick); null until the first one. */
  connections: ConnectionsSample | null;
  /** Events that arrived since the previous collect, oldest first, at most `eventCapacity`. */
  events: EventSample[];
  /** Events that arrived since the previous collect but did not fit in `eventCapacity`. */
  eventsSkipped: number;
  /** Why there are no events to read (no ring buffer pinned, events off); null when there are. */
  eventsError: string | null;
  /** "hold" after detach --keep-maps (service traffic parked until attach), "drain" while detach resets. */
  detaching: DetachingMode | null;
}

export interface CollectorOptions {
  /** Only this service (id, name or VIP:PORT): its counters, connections and events. */
  service?: string;
  /** Only connections whose client, VIP or backend is this ADDR or ADDR:PORT. */
  address?: string;
  /** Read per-CPU counters of the focused slot. */
  perCpu?: boolean;
  /** Enable the kernel's BPF run-time statistics while the collector is open (default true). */
  runTimeStats?: boolean;
  /** Fraction of one core the conntrack passes may use on average (default 0.02). */
  connectionBudget?: number;
  /** Most connection rows kept per pass (default: all). */
  maxConnectionRows?: number;
  /** Events kept per collect (default 256). */
  eventCapacity?: number;
  /** How often services and interfaces are re-read (default 5000 ms). */
  refreshMs?: number;
}

export type ConnectionPolicy = 'auto' | 'force' | 'skip';

const SYSCTL_PATH = '/proc/sys/kernel/bpf_stats_enabled';

export class DatapathCollector {
  /** Fails (NOT_FOUND) when nothing is attached, or when --service names no service. */
  static open(instance: Instance, options: CollectorOptions = {}): DatapathCollector {
    const pinned = pinIdentity(instance);
    // Nothing attached yet: NOT_FOUND with the fix, before anything is shown (later, top waits for one).
    if (pinned === null) DatapathMaps.open(instance).close();
    const collector = new DatapathCollector(instance, options);
    try {
      collector.openMaps(pinned);
      // Resolve --service now, so a wrong name fails before anything is shown (NOT_FOUND lists the services).
      if (options.service && collector.maps)
        collector.serviceKey = findService(collector.maps, loadState(instance), options.service).key;
      return collector;
    } catch (err) {
      collector.close();
      throw err;
    }
  }

  private readonly budget: number;
  private readonly eventCapacity: number;
  private readonly refreshMs: number;
  private serviceKey: string | undefined;
  /** The maps of the datapath being shown; undefined while nothing is pinned. */
  private maps: DatapathMaps | undefined;
  /** Which pinned maps `maps` are (pinIdentity), so a detach or a new attach is noticed. */
  private pinned: string | null = null;
  private readonly perCpuEnabled: boolean;
  /** lb_config's events switch is off: the datapath reports no headers at all. */
  private eventsOff = false;
  private detaching: DetachingMode | null = null;
  private services: ServiceView[] = [];
  private interfaces: InterfaceSample[] = [];
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private connections: ConnectionsSample | null = null;
  private nextScanAt = Number.NEGATIVE_INFINITY;
  private readonly pending: Buffer[] = [];
  private skipped = 0;
  private events: RingBufferReader | undefined;
  private eventsError: string | null = null;
  private readonly runTimeStats: RunTimeStatsState;
  private disableRunTimeStats: (() => void) | undefined;

  private constructor(
    private readonly instance: Instance,
    private readonly options: CollectorOptions,
  ) {
    this.budget = options.connectionBudget ?? 0.02;
    this.eventCapacity = options.eventCapacity ?? 256;
    this.refreshMs = options.refreshMs ?? 5000;
    this.perCpuEnabled = options.perCpu ?? false;
    this.runTimeStats = { heldByTop: false, sysctl: readSysctl(), error: null };
    if (options.runTimeStats ?? true) {
      try {
        this.disableRunTimeStats = enableRunTimeStats();
        this.runTimeStats.heldByTop = true;
      } catch (err) {
        this.runTimeStats.error = err instanceof Error ? err.message : String(err);
      }
    }
  }

  /** Open the pinned maps and the events ring; `pinned` is their identity (null: nothing is pinned). */
  private openMaps(pinned: string | null): void {
    this.pinned = pinned;
    if (pinned === null) return;
    const maps = DatapathMaps.open(this.instance);
    this.maps = maps;
    this.eventsError = null;
    try {
      this.events = RingBufferReader.open(maps.eventsPinPath(), (record) => this.enqueue(record));
      // Whatever waited in the ring since the last reader is history: keep its newest records for the
      // feed, but it is no burst, so do not report what did not fit as skipped.
      this.events.drain();
      this.skipped = 0;
    } catch (err) {
      this.eventsError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Forget everything read from the maps, and close them. */
  private closeMaps(): void {
    this.events?.close();
    this.events = undefined;
    this.maps?.close();
    this.maps = undefined;
    this.services = [];
    this.interfaces = [];
    this.connections = null;
    this.pending.length = 0;
    this.skipped = 0;
    this.detaching = null;
    this.eventsOff = false;
    this.lastRefreshAt = Number.NEGATIVE_INFINITY;
    this.nextScanAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * Follow the datapath: maps that are no longer pinned are dropped (detach), other maps pinned in their
   * place are opened (a new attach). One stat() per tick.
   */
  private followPins(): void {
    const pinned = pinIdentity(this.instance);
    if (pinned === this.pinned) return;
    this.closeMaps();
    try {
      this.openMaps(pinned);
    } catch {
      this.closeMaps(); // half-pinned (an attach in progress): try again next tick
      this.pinned = null;
    }
  }

  /**
   * Read one snapshot. `connections`: 'auto' re-reads the conntrack table when the budget allows, 'force'
   * always (a scripted snapshot must be current), 'skip' never (a baseline only needs counters).
   */
  collect(connections: ConnectionPolicy = 'auto'): DatapathSnapshot {
    this.followPins();
    const maps = this.maps;
    if (!maps) return this.detachedSnapshot();
    const now = performance.now();
    if (now - this.lastRefreshAt >= this.refreshMs) {
      this.refreshServicesAndInterfaces(maps);
      this.lastRefreshAt = now;
    }
    if (connections === 'force' || (connections === 'auto' && now >= this.nextScanAt))
      this.scanConnections(maps);
    const events = this.drainEvents();
    const eventsSkipped = this.skipped;
    this.skipped = 0;
    const focusSlot = this.serviceKey ? this.services[0]?.id : GLOBAL_SLOT;
    return {
      ...this.snapshotBase(true),
      interfaces: this.interfaces,
      programs: this.readPrograms(),
      services: this.services,
      counters: counterReadingToJson(readCounterReading(maps, this.services)),
      perCpu:
        this.perCpuEnabled && focusSlot !== undefined
          ? readCountersPerCpu(maps, focusSlot).map(countersToJson)
          : null,
      connections: this.connections,
      events,
      eventsSkipped,
      eventsError:
        this.eventsError ??
        (this.eventsOff ? 'the datapath emits no events (the events flag in lb_config is off)' : null),
      detaching: this.detaching,
    };
  }

  /** Free the ring buffer and maps, and drop the run-time statistics reference. Safe to call twice. */
  close(): void {
    this.closeMaps();
    this.disableRunTimeStats?.();
    this.disableRunTimeStats = undefined;
    this.runTimeStats.heldByTop = false;
  }

  private snapshotBase(attached: boolean) {
    return {
      takenAtMs: Date.now(),
      monotonicMs: performance.now(),
      attached,
      instance: { name: this.instance.name, netns: this.instance.netns ?? null },
      focusService: this.serviceKey ?? null,
      runTimeStats: { ...this.runTimeStats },
    };
  }

  /** What a datapath that is gone shows: nothing of what it had. */
  private detachedSnapshot(): DatapathSnapshot {
    return {
      ...this.snapshotBase(false),
      interfaces: [],
      programs: [],
      services: [],
      counters: { global: {}, services: [] },
      perCpu: null,
      connections: null,
      events: [],
      eventsSkipped: 0,
      eventsError: 'not attached',
      detaching: null,
    };
  }

  private refreshServicesAndInterfaces(maps: DatapathMaps): void {
    const all = listServices(maps, loadState(this.instance));
    // Re-found by key each time: a service deleted and added again gets a new id.
    this.services = this.serviceKey ? all.filter((s) => s.key === this.serviceKey) : all;
    this.interfaces = attachedInterfaces(this.instance).map((i) => ({
      interface: i.interface,
      ifindex: i.ifindex,
      progId: i.progId ?? null,
      attachedAt: i.attachedAt,
    }));
    const decoded = readConfigRecord(maps);
    this.eventsOff = decoded !== undefined && !decoded.events;
    this.detaching = decoded?.detaching ?? null;
  }

  private scanConnections(maps: DatapathMaps): void {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const service = this.serviceKey ? this.services[0] : undefined;
    if (this.serviceKey && !service) {
      this.connections = { rows: [], total: 0, readAtMs: Date.now(), scanMs: 0, scanCpuMs: 0, nextInMs: 0 };
      return;
    }
    const { connections, total } = listConnections(
      maps,
      this.services,
      { service, address: this.options.address },
      this.options.maxConnectionRows,
    );
    const scanMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const scanCpuMs = (cpu.user + cpu.system) / 1000;
    // Charged in CPU time: on a busy machine the wall time of a pass grows, but not what it costs.
    const nextInMs = scanCpuMs / this.budget;
    this.nextScanAt = started + nextInMs;
    this.connections = { rows: connections, total, readAtMs: Date.now(), scanMs, scanCpuMs, nextInMs };
  }

  private enqueue(record: Buffer): void {
    this.pending.push(record);
    if (this.pending.length > this.eventCapacity) {
      this.pending.shift();
      this.skipped++;
    }
  }

  private drainEvents(): EventSample[] {
    if (!this.events) return [];
    this.events.drain();
    const monoNowNs = process.hrtime.bigint();
    const wallNowMs = Date.now();
    const wanted = this.serviceKey ? this.services[0]?.id : undefined;
    const out: EventSample[] = [];
    for (const record of this.pending.splice(0)) {
      let event: ReturnType<typeof decodeEvent>;
      try {
        event = decodeEvent(record);
      } catch {
        continue; // a record from a newer datapath with an event type this build does not know
      }
      if (this.serviceKey && event.serviceId !== wanted) continue;
      out.push({
        type: event.type,
        reason: event.reason,
        serviceId: event.serviceId,
        timeMs: wallNowMs - Number(monoNowNs - event.timestampNs) / 1e6,
        client: hostPort(event.client.addr, event.client.port),
        vip: hostPort(event.vip.addr, event.vip.port),
        headerHex: event.header.toString('hex'),
      });
    }
    return out;
  }

  private readPrograms(): ProgramSample[] {
    const byId = new Map<number, string[]>();
    for (const i of this.interfaces) {
      if (i.progId === null) continue;
      byId.set(i.progId, [...(byId.get(i.progId) ?? []), i.interface]);
    }
    const programs: ProgramSample[] = [];
    for (const [progId, interfaces] of byId) {
      try {
        const info = progInfoById(progId);
        programs.push({
          progId,
          name: info.name,
          interfaces,
          runCount: Number(info.runCnt),
          runTimeNs: Number(info.runTimeNs),
        });
      } catch (err) {
        // Detached or replaced since the last interface refresh: gone from the header until the next one.
        if (!(err instanceof LbctlError && err.kind === 'NOT_FOUND')) throw err;
      }
    }
    return programs;
  }
}

function readSysctl(): number | null {
  try {
    return Number(readFileSync(SYSCTL_PATH, 'utf8').trim());
  } catch {
    return null;
  }
}

/**
 * Which maps are pinned for the instance: the device and inode of the services map's pin, which a new
 * attach (new maps, new pins) changes; null when nothing is pinned.
 */
function pinIdentity(instance: Instance): string | null {
  try {
    const st = statSync(mapPinPath(instance.pinDir, MAP_NAMES.services));
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}
