/**
 * The dashboard's state over time: pure functions that turn successive snapshots into what `top` shows.
 * Rates are deltas per interval (the difference of two cumulative counters over the time between readings),
 * sparkline history is a bounded series per rate, and the header feed a bounded list of decoded lines.
 * Both the Ink dashboard and the scripted (--json/--once) output are built from this state.
 */
import type { DatapathSnapshot, ProgramSample } from '../core/datapath-snapshot.js';
import { counterGroup } from '../core/stats.js';
import { type LiveCounts, liveConnectionCounts } from './connection-table.js';
import { type HeaderLine, toHeaderLine } from './header-feed.js';

/** The headline figures of a set of counters (totals, or per-second rates of them). */
export interface Summary {
  packets: number;
  bytes: number;
  connections: number;
  headers: number;
  reinjections: number;
  failures: number;
  drops: number;
}

export interface CounterView {
  /** Cumulative counters. */
  totals: Record<string, number>;
  /** Per second over the last interval; all zero on the first snapshot. */
  rates: Record<string, number>;
  totalSummary: Summary;
  rateSummary: Summary;
}

export interface DatapathCost {
  /** Average run time of the datapath program per packet over the interval; null when unknown. */
  nsPerPacket: number | null;
  /** Time spent in the datapath as a percentage of one CPU over the interval; null when unknown. */
  cpuPercent: number | null;
}

export interface History {
  packets: number[];
  bits: number[];
  connections: number[];
  headers: number[];
}

export interface DashboardState {
  snapshot: DatapathSnapshot | null;
  /** Seconds between the last two snapshots (0 until there are two). */
  seconds: number;
  /** The balancer-wide counters. */
  global: CounterView;
  /** The focused counters: the balancer's, or the one service's with --service. */
  focus: CounterView;
  /** Per service id. */
  services: Record<number, CounterView>;
  /** Per-CPU rates of the focused counters, when the snapshot has per-CPU counters. */
  perCpu: CounterView[] | null;
  cost: DatapathCost;
  /** Live connections per service and backend, from the latest conntrack reading. */
  live: LiveCounts | null;
  history: History;
  /** Recent headers, newest first. */
  headers: HeaderLine[];
  /** The headers that arrived with the latest snapshot, newest first. */
  latestHeaders: HeaderLine[];
  /** Events the collector had to skip because they came faster than it keeps them. */
  headersSkipped: number;
  ticks: number;
}

export interface ModelOptions {
  /** Samples kept per sparkline (e.g. a minute's worth). */
  historySize: number;
  /** Header lines kept. */
  headerCapacity: number;
}

export const DEFAULT_MODEL_OPTIONS: ModelOptions = { historySize: 60, headerCapacity: 200 };

const emptySummary = (): Summary => ({
  packets: 0,
  bytes: 0,
  connections: 0,
  headers: 0,
  reinjections: 0,
  failures: 0,
  drops: 0,
});

const emptyView = (): CounterView => ({
  totals: {},
  rates: {},
  totalSummary: emptySummary(),
  rateSummary: emptySummary(),
});

export function initialState(): DashboardState {
  return {
    snapshot: null,
    seconds: 0,
    global: emptyView(),
    focus: emptyView(),
    services: {},
    perCpu: null,
    cost: { nsPerPacket: null, cpuPercent: null },
    live: null,
    history: { packets: [], bits: [], connections: [], headers: [] },
    headers: [],
    latestHeaders: [],
    headersSkipped: 0,
    ticks: 0,
  };
}

/**
 * Per-second rates of each counter between two readings. A counter that went down (its slot was reset:
 * a service deleted and added again) counts as 0 for that interval rather than as a negative rate.
 */
export function counterRates(
  previous: Record<string, number> | undefined,
  current: Record<string, number>,
  seconds: number,
): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const [name, value] of Object.entries(current)) {
    const before = previous?.[name];
    rates[name] = before === undefined || seconds <= 0 ? 0 : Math.max(0, value - before) / seconds;
  }
  return rates;
}

/** Headline figures of a counter set: packets and bytes both ways, new connections, headers, problems. */
export function summarize(values: Record<string, number>): Summary {
  const v = (name: string) => values[name] ?? 0;
  const summary: Summary = {
    packets: v('fwd_packets') + v('rev_packets'),
    bytes: v('fwd_bytes') + v('rev_bytes'),
    connections: v('conn_new'),
    headers: v('ppv2_injected'),
    reinjections: v('ppv2_reinjected'),
    failures: 0,
    drops: 0,
  };
  for (const [name, value] of Object.entries(values)) {
    const group = counterGroup(name);
    if (group === 'failures') summary.failures += value;
    if (group === 'drops') summary.drops += value;
  }
  return summary;
}

function counterView(
  previous: Record<string, number> | undefined,
  current: Record<string, number>,
  seconds: number,
): CounterView {
  const rates = counterRates(previous, current, seconds);
  return { totals: current, rates, totalSummary: summarize(current), rateSummary: summarize(rates) };
}

/**
 * The datapath's own cost from the kernel's run-time statistics of its programs (matched by id, so a
 * re-attached program starts a new series): ns per run (one run = one packet at tc ingress) and the share
 * of one CPU spent in it.
 */
export function datapathCost(
  previous: readonly ProgramSample[],
  current: readonly ProgramSample[],
  seconds: number,
): DatapathCost {
  let runs = 0;
  let ns = 0;
  let matched = false;
  for (const program of current) {
    const before = previous.find((p) => p.progId === program.progId);
    if (!before) continue;
    matched = true;
    runs += Math.max(0, program.runCount - before.runCount);
    ns += Math.max(0, program.runTimeNs - before.runTimeNs);
  }
  if (!matched || seconds <= 0) return { nsPerPacket: null, cpuPercent: null };
  return { nsPerPacket: runs > 0 ? ns / runs : null, cpuPercent: (ns / (seconds * 1e9)) * 100 };
}

const push = (series: readonly number[], value: number, size: number): number[] =>
  [...series, value].slice(-size);

/** The counters the dashboard focuses on: the one service's with --service, else the balancer's. */
export function focusCounters(snapshot: DatapathSnapshot): Record<string, number> {
  if (snapshot.focusService === null) return snapshot.counters.global;
  return snapshot.counters.services.find((s) => s.key === snapshot.focusService)?.counters ?? {};
}

/** Fold the next snapshot into the state. */
export function advance(
  state: DashboardState,
  snapshot: DatapathSnapshot,
  options: ModelOptions = DEFAULT_MODEL_OPTIONS,
): DashboardState {
  const previous = state.snapshot;
  const seconds = previous ? Math.max(0, (snapshot.monotonicMs - previous.monotonicMs) / 1000) : 0;
  const global = counterView(previous?.counters.global, snapshot.counters.global, seconds);
  const focus =
    snapshot.focusService === null
      ? global
      : counterView(previous ? focusCounters(previous) : undefined, focusCounters(snapshot), seconds);

  const services: Record<number, CounterView> = {};
  for (const s of snapshot.counters.services) {
    const before = previous?.counters.services.find((p) => p.id === s.id && p.key === s.key);
    services[s.id] = counterView(before?.counters, s.counters, seconds);
  }

  const perCpu = snapshot.perCpu
    ? snapshot.perCpu.map((cpu, i) => counterView(previous?.perCpu?.[i], cpu, seconds))
    : null;

  let history = state.history;
  if (previous) {
    const r = focus.rateSummary;
    history = {
      packets: push(history.packets, r.packets, options.historySize),
      bits: push(history.bits, r.bytes * 8, options.historySize),
      connections: push(history.connections, r.connections, options.historySize),
      headers: push(history.headers, r.headers, options.historySize),
    };
  }

  // Counted once per conntrack reading (the collector hands back the same object until the next one).
  const live =
    snapshot.connections === previous?.connections
      ? state.live
      : snapshot.connections
        ? liveConnectionCounts(snapshot.connections.rows)
        : null;

  // Only the newest events can be shown; decoding more than the feed keeps would be wasted work.
  const fresh = snapshot.events.slice(-options.headerCapacity).map(toHeaderLine).reverse();
  const headers = [...fresh, ...state.headers].slice(0, options.headerCapacity);

  return {
    snapshot,
    seconds,
    global,
    focus,
    services,
    perCpu,
    cost: previous
      ? datapathCost(previous.programs, snapshot.programs, seconds)
      : { nsPerPacket: null, cpuPercent: null },
    live,
    history,
    headers,
    latestHeaders: fresh,
    headersSkipped: state.headersSkipped + snapshot.eventsSkipped,
    ticks: state.ticks + 1,
  };
}
