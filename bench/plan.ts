/**
 * What a benchmark run measures: the contenders, the scenarios, and how long and how often. Pure data and
 * argument parsing, so the rest of the harness (and the unit tests) share one definition.
 */

import { UDP_SCENARIO_ID } from './udp-plan.js';

export type ContenderId =
  | 'lbctl-fullnat-ppv2'
  | 'lbctl-fullnat'
  | 'lbctl-dnat-ppv2'
  | 'lbctl-fullnat-ppv2-1m'
  | 'haproxy'
  | 'nginx-stream'
  | 'plain';

export type ContenderKind = 'lbctl' | 'haproxy' | 'nginx-stream' | 'plain';

export interface ContenderSpec {
  id: ContenderId;
  label: string;
  kind: ContenderKind;
  /** The PROXY header the backend receives, if any (nginx stream can only send v1). */
  proxyHeader: 'v2' | 'v1' | null;
  /** lbctl service mode. */
  mode?: 'fullnat' | 'dnat';
  /** lbctl: a conntrack table other than attach's default, and what it holds before each run. */
  table?: ConntrackTableSpec;
  /** lbctl: measured through this contender's service (same VIP and backends), on its own attach. */
  serviceOf?: ContenderId;
}

export interface ConntrackTableSpec {
  /** `attach --max-connections`. */
  maxConnections: number;
  /** Established connections that nothing sends on, written into the table before each run. */
  heldConnections: number;
}

/**
 * In measuring order: lbctl's contenders stay together, so the datapath is attached once a round for the
 * default table and once more for the large one.
 */
export const CONTENDERS: readonly ContenderSpec[] = [
  {
    id: 'lbctl-fullnat-ppv2',
    label: 'lbctl fullnat+PPv2',
    kind: 'lbctl',
    proxyHeader: 'v2',
    mode: 'fullnat',
  },
  { id: 'lbctl-fullnat', label: 'lbctl fullnat', kind: 'lbctl', proxyHeader: null, mode: 'fullnat' },
  { id: 'lbctl-dnat-ppv2', label: 'lbctl dnat+PPv2', kind: 'lbctl', proxyHeader: 'v2', mode: 'dnat' },
  // Production-sized: the subject's service on a 1,000,000-connection table that already holds 100,000.
  // Last of lbctl's, so reversed rounds keep it next to the others and a round attaches twice, not more.
  {
    id: 'lbctl-fullnat-ppv2-1m',
    label: 'lbctl fullnat+PPv2, 1M table, 100k held',
    kind: 'lbctl',
    proxyHeader: 'v2',
    mode: 'fullnat',
    table: { maxConnections: 1_000_000, heldConnections: 100_000 },
    serviceOf: 'lbctl-fullnat-ppv2',
  },
  { id: 'haproxy', label: 'HAProxy send-proxy-v2', kind: 'haproxy', proxyHeader: 'v2' },
  { id: 'nginx-stream', label: 'nginx stream proxy_protocol', kind: 'nginx-stream', proxyHeader: 'v1' },
  { id: 'plain', label: 'plain forwarding', kind: 'plain', proxyHeader: null },
];

/** The contender every ratio is computed for. */
export const SUBJECT: ContenderId = 'lbctl-fullnat-ppv2';

export type ScenarioId = 'short' | 'keepalive' | 'download' | 'upload';

export interface ScenarioSpec {
  id: ScenarioId;
  title: string;
  /** The primary metric (higher is better). */
  unit: 'conn/s' | 'req/s' | 'MB/s';
  /** What one unit of CPU-per-work is counted in. */
  workUnit: 'connection' | 'request' | 'MB';
  /** wrk connections (-c). */
  connections: number;
  method: 'GET' | 'POST';
  path: string;
  /** Send `Connection: close`: one request per connection. */
  close: boolean;
  /** Request body size (uploads). */
  bodyBytes?: number;
}

export const MIB = 1024 * 1024;

export const SCENARIOS: readonly ScenarioSpec[] = [
  {
    id: 'short',
    title: 'Short connections (1 request each)',
    unit: 'conn/s',
    workUnit: 'connection',
    connections: 32,
    method: 'GET',
    path: '/whoami',
    close: true,
  },
  {
    id: 'keepalive',
    title: 'Keep-alive small requests',
    unit: 'req/s',
    workUnit: 'request',
    connections: 32,
    method: 'GET',
    path: '/whoami',
    close: false,
  },
  {
    id: 'download',
    title: 'Bulk 1 MiB responses',
    unit: 'MB/s',
    workUnit: 'MB',
    connections: 8,
    method: 'GET',
    path: `/bytes/${MIB}`,
    close: false,
  },
  {
    id: 'upload',
    title: 'Bulk 1 MiB uploads',
    unit: 'MB/s',
    workUnit: 'MB',
    connections: 8,
    method: 'POST',
    path: '/upload',
    close: false,
    bodyBytes: MIB,
  },
];

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  /** Seconds of load per measurement. */
  durationS: number;
  /** Only these contenders / scenarios (for development); default all. */
  contenders: ContenderId[];
  scenarios: ScenarioId[];
  /** Run the UDP scenario (bench/udp-plan.ts), picked with `--scenarios udp` or by default. */
  udp: boolean;
  /** Run the profiling pass (BPF run-time statistics, perf). */
  profile: boolean;
  /** Where reports go. */
  outDir: string;
  /** Copy the run to latest.{md,json,svg}; default: full runs of every contender and scenario only. */
  updateLatest: boolean;
}

export interface BenchPlan extends BenchOptions {
  /** wrk threads: one per core, as HAProxy's nbthread and nginx's worker_processes. */
  threads: number;
  contenderSpecs: ContenderSpec[];
  scenarioSpecs: ScenarioSpec[];
}

export const FULL_DEFAULTS = { rounds: 5, durationS: 3 } as const;
export const QUICK_DEFAULTS = { rounds: 3, durationS: 1 } as const;

const USAGE = `usage: npm run bench [-- [--quick] [--rounds N] [--duration SECONDS] [--contenders a,b] [--scenarios a,b]
                        [--no-profile] [--out DIR]]`;

export class UsageError extends Error {}

/** Parse the runner's arguments (everything after `npm run bench --`). */
export function parseArgs(argv: readonly string[], defaultOutDir: string): BenchOptions {
  let quick = false;
  let rounds: number | undefined;
  let durationS: number | undefined;
  let contenders: ContenderId[] | undefined;
  let scenarios: Array<ScenarioId | typeof UDP_SCENARIO_ID> | undefined;
  let profile = true;
  let outDir = defaultOutDir;
  const args = [...argv];
  const value = (flag: string): string => {
    const v = args.shift();
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  while (args.length > 0) {
    const arg = args.shift() as string;
    switch (arg) {
      case '--quick':
        quick = true;
        break;
      case '--rounds':
        rounds = positiveInt('--rounds', value(arg));
        break;
      case '--duration':
        durationS = positiveInt('--duration', value(arg));
        break;
      case '--contenders':
        contenders = pickList(
          value(arg),
          CONTENDERS.map((c) => c.id),
          '--contenders',
        );
        break;
      case '--scenarios':
        scenarios = pickList(value(arg), [...SCENARIOS.map((s) => s.id), UDP_SCENARIO_ID], '--scenarios');
        break;
      case '--no-profile':
        profile = false;
        break;
      case '--out':
        outDir = value(arg);
        break;
      case '--help':
      case '-h':
        throw new UsageError(USAGE);
      default:
        throw new UsageError(`unknown argument: ${arg}\n${USAGE}`);
    }
  }
  const defaults = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const complete = contenders === undefined && scenarios === undefined;
  return {
    quick,
    rounds: rounds ?? defaults.rounds,
    durationS: durationS ?? defaults.durationS,
    contenders: contenders ?? CONTENDERS.map((c) => c.id),
    scenarios: (scenarios ?? SCENARIOS.map((s) => s.id)).filter(
      (id): id is ScenarioId => id !== UDP_SCENARIO_ID,
    ),
    udp: scenarios === undefined || scenarios.includes(UDP_SCENARIO_ID),
    profile,
    outDir,
    // Only a complete full-length run stands for "the latest numbers".
    updateLatest: !quick && complete && rounds === undefined && durationS === undefined,
  };
}

export function makePlan(options: BenchOptions, cores: number): BenchPlan {
  return {
    ...options,
    threads: Math.max(1, cores),
    contenderSpecs: CONTENDERS.filter((c) => options.contenders.includes(c.id)),
    scenarioSpecs: SCENARIOS.filter((s) => options.scenarios.includes(s.id)),
  };
}

export interface Step {
  round: number;
  scenario: ScenarioSpec;
  contender: ContenderSpec;
}

/**
 * The order of the measurements. Every round measures every contender once per scenario, contenders taking
 * turns, in the listed order in odd rounds and in reverse in even ones (A B C, C B A, …): a contender that
 * always went first or last would carry whatever comes with its place (the previous run's TIME_WAITs and
 * backlog, a drift of the shared machine's load) into every one of its ratios. Reversing keeps lbctl's three
 * contenders next to each other. Full runs go scenario by scenario, so the two sides of a ratio are measured
 * seconds apart; quick runs go contender by contender, so lbctl is set up once a round instead of once a
 * scenario (what keeps them under two minutes).
 */
export function measurementOrder(
  plan: Pick<BenchPlan, 'rounds' | 'quick' | 'contenderSpecs' | 'scenarioSpecs'>,
): Step[] {
  const steps: Step[] = [];
  for (let round = 1; round <= plan.rounds; round += 1) {
    const contenders = turnOrder(plan.contenderSpecs, round);
    if (plan.quick) {
      for (const contender of contenders)
        for (const scenario of plan.scenarioSpecs) steps.push({ round, scenario, contender });
    } else {
      for (const scenario of plan.scenarioSpecs)
        for (const contender of contenders) steps.push({ round, scenario, contender });
    }
  }
  return steps;
}

/** The contenders in the order they take their turns in one round: as listed in odd rounds, reversed in even. */
export function turnOrder<T>(contenders: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? [...contenders].reverse() : contenders;
}

export function contenderSpec(id: ContenderId): ContenderSpec {
  const spec = CONTENDERS.find((c) => c.id === id);
  if (!spec) throw new Error(`unknown contender ${id}`);
  return spec;
}

export function scenarioSpec(id: ScenarioId): ScenarioSpec {
  const spec = SCENARIOS.find((s) => s.id === id);
  if (!spec) throw new Error(`unknown scenario ${id}`);
  return spec;
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got ${text}`);
  return n;
}

function pickList<T extends string>(text: string, allowed: readonly T[], flag: string): T[] {
  const picked = text.split(',').map((s) => s.trim());
  for (const p of picked) {
    if (!(allowed as readonly string[]).includes(p))
      throw new UsageError(`${flag}: unknown value ${p} (one of ${allowed.join(', ')})`);
  }
  return picked as T[];
}
