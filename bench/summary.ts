/**
 * From raw measurements to the numbers the report shows: per contender and scenario the median and
 * min–max of every metric; the ratios of lbctl fullnat+PPv2 to each contender, pair by pair within a round;
 * the goals; the correctness record. Pure, so the report can be regenerated from the JSON.
 */
import type { Environment } from './env.js';
import type { Measurement } from './measure.js';
import {
  type BenchPlan,
  CONTENDERS,
  type ContenderId,
  contenderSpec,
  type ScenarioId,
  type ScenarioSpec,
  SUBJECT,
} from './plan.js';
import type { ProfileResult } from './profile.js';
import { pairwiseRatios, type RoundValue, type Spread, spread } from './stats.js';
import type { UdpMeasurement } from './udp-measure.js';
import { udpContenders } from './udp-plan.js';
import { summarizeUdp, type UdpSummary, udpFailureReasons } from './udp-summary.js';
import { formatTarget, judge, medianMeets, type Target, type Verdict } from './verdict.js';

/** A TCP scenario, or the UDP one. */
export type AnyScenarioId = ScenarioId | UdpMeasurement['scenario'];

export interface ContenderResult {
  contender: ContenderId;
  label: string;
  value: Spread;
  perRound: RoundValue[];
  p99Ms: Spread;
  /** Machine busy CPU per unit of work, µs. */
  cpuPerUnitUs: Spread;
  cpuPerRound: RoundValue[];
  /** The irq + softirq part of it (where the kernel forwards packets and runs tc programs), µs. */
  softirqPerUnitUs: Spread;
  /** CPU of the balancer namespace's processes per unit of work, µs. */
  balancerProcessPerUnitUs: Spread;
  /** Share of the machine other processes (not the benchmark's) used during these runs. */
  foreignShare: Spread;
  /** Rounds whose measurement failed: left out of every figure above (listed in `failedMeasurements`). */
  failedRounds: number[];
}

export interface RatioResult {
  /** The denominator: lbctl fullnat+PPv2 ÷ this contender. */
  contender: ContenderId;
  label: string;
  ratio: Spread;
  perRound: RoundValue[];
}

export interface ScenarioSummary {
  id: ScenarioId;
  title: string;
  unit: ScenarioSpec['unit'];
  workUnit: ScenarioSpec['workUnit'];
  connections: number;
  results: ContenderResult[];
  ratios: RatioResult[];
}

export interface GoalResult {
  goal: string;
  scenario: ScenarioId;
  /** e.g. "≥ 0.9×". */
  target: string;
  /** The target as data: which side is good, and where. */
  threshold: Target;
  actual: Spread;
  /** How `actual` reads: a ratio, or a cost in percent. */
  kind: 'ratio' | 'percent';
  /** Judged on the spread (bench/verdict.ts): met only when every round clears the target. */
  verdict: Verdict;
  /** Whether the median alone clears it (undefined when not measured). */
  medianMeets: boolean | undefined;
}

/** A measurement that did not count: it did not complete, gave no value, or failed a check. */
export interface FailedMeasurement {
  /** 0 for the profiling pass. */
  round: number;
  contender: ContenderId;
  scenario: AnyScenarioId;
  reasons: string[];
}

export interface CorrectnessFailure {
  round: number;
  contender: ContenderId;
  scenario: AnyScenarioId;
  check: string;
  detail: string;
}

export interface BenchSummary {
  meta: {
    startedAt: string;
    finishedAt: string;
    elapsedS: number;
    argv: string[];
    quick: boolean;
    rounds: number;
    durationS: number;
    threads: number;
    env: Environment;
  };
  subject: ContenderId;
  contenders: Array<{ id: ContenderId; label: string; proxyHeader: string | null }>;
  scenarios: ScenarioSummary[];
  /** The UDP scenario, when it ran (bench/udp-summary.ts). */
  udp?: UdpSummary;
  goals: GoalResult[];
  profile: ProfileResult | undefined;
  correctness: { checks: number; failures: CorrectnessFailure[] };
  /** Every measurement left out of the figures, and why; the figures' n counts the others. */
  failedMeasurements: FailedMeasurement[];
  /** What else ran: other processes' share of the machine per run, and runs with BPF statistics on. */
  load: { foreignShare: Spread; bpfStatsOnRuns: number };
  measurements: Measurement[];
}

function series(ms: readonly Measurement[], pick: (m: Measurement) => number): RoundValue[] {
  return ms.map((m) => ({ round: m.round, value: pick(m) }));
}

/** Why a measurement does not count; empty when it does (completed, has a value, passed every check). */
export function failureReasons(m: Measurement): string[] {
  const reasons = m.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  // Not `isNaN`: JSON turns NaN into null, so a re-rendered run's missing value is null.
  if (reasons.length === 0 && !Number.isFinite(m.value)) reasons.push('no result');
  return reasons;
}

export function failedMeasurements(
  measurements: readonly Measurement[],
  udp: readonly UdpMeasurement[] = [],
): FailedMeasurement[] {
  return [...measurements, ...udp].flatMap((m) => {
    const reasons = 'dnsperf' in m ? udpFailureReasons(m) : failureReasons(m);
    return reasons.length === 0
      ? []
      : [{ round: m.round, contender: m.contender, scenario: m.scenario, reasons }];
  });
}

export function summarizeScenario(
  scenario: ScenarioSpec,
  contenders: readonly ContenderId[],
  measurements: readonly Measurement[],
): ScenarioSummary {
  const mine = measurements.filter((m) => m.scenario === scenario.id);
  const failed = (m: Measurement) => failureReasons(m).length > 0;
  // Only successful measurements make the figures; the failed ones are listed, and n shows what is left.
  const of = (id: ContenderId) => mine.filter((m) => m.contender === id && !failed(m));
  const results = contenders.map((id): ContenderResult => {
    const ms = of(id);
    return {
      contender: id,
      label: contenderSpec(id).label,
      value: spread(ms.map((m) => m.value)),
      perRound: series(ms, (m) => m.value),
      p99Ms: spread(ms.map((m) => (m.wrk.latencyUs.p99 ?? Number.NaN) / 1000)),
      cpuPerUnitUs: spread(ms.map((m) => m.cpu.perUnitUs)),
      cpuPerRound: series(ms, (m) => m.cpu.perUnitUs),
      softirqPerUnitUs: spread(ms.map((m) => (m.work > 0 ? m.cpu.softirqUs / m.work : Number.NaN))),
      balancerProcessPerUnitUs: spread(ms.map((m) => m.cpu.balancerProcessPerUnitUs)),
      foreignShare: spread(ms.map((m) => m.cpu.foreignShare)),
      failedRounds: mine.filter((m) => m.contender === id && failed(m)).map((m) => m.round),
    };
  });
  const subject = series(of(SUBJECT), (m) => m.value);
  const ratios = contenders
    .filter((id) => id !== SUBJECT)
    .map((id): RatioResult => {
      const perRound = pairwiseRatios(
        subject,
        series(of(id), (m) => m.value),
      );
      return {
        contender: id,
        label: contenderSpec(id).label,
        ratio: spread(perRound.map((r) => r.value)),
        perRound,
      };
    });
  return {
    id: scenario.id,
    title: scenario.title,
    unit: scenario.unit,
    workUnit: scenario.workUnit,
    connections: scenario.connections,
    results,
    ratios,
  };
}

function goal(
  name: string,
  scenario: ScenarioId,
  threshold: Target,
  kind: GoalResult['kind'],
  actual: Spread,
): GoalResult {
  return {
    goal: name,
    scenario,
    target: formatTarget(threshold, kind === 'ratio' ? '×' : '%'),
    threshold,
    actual,
    kind,
    verdict: judge(actual, threshold),
    medianMeets: medianMeets(actual, threshold),
  };
}

/** The goals, judged on the spread of per-round ratios (bench/verdict.ts). */
export function evaluateGoals(scenarios: readonly ScenarioSummary[]): GoalResult[] {
  const ratio = (s: ScenarioSummary, id: ContenderId) =>
    s.ratios.find((r) => r.contender === id)?.ratio ?? spread([]);
  const atMost3Percent: Target = { bound: 'at most', value: 3 };
  const goals = scenarios.map((s) =>
    goal(
      'lbctl fullnat+PPv2 vs plain forwarding',
      s.id,
      { bound: 'at least', value: 0.9 },
      'ratio',
      ratio(s, 'plain'),
    ),
  );
  const short = scenarios.find((s) => s.id === 'short');
  goals.push(
    goal(
      'lbctl fullnat+PPv2 vs HAProxy, connections/s',
      'short',
      { bound: 'at least', value: 3 },
      'ratio',
      short ? ratio(short, 'haproxy') : spread([]),
    ),
  );
  for (const s of scenarios) {
    // The cost of PPv2 per round: 1 - on/off, in percent (negative = PPv2 on was faster that round).
    const off = s.ratios.find((r) => r.contender === 'lbctl-fullnat');
    const cost = spread((off?.perRound ?? []).map((r) => (1 - r.value) * 100));
    goals.push(
      goal('cost of PPv2 on vs off (lbctl fullnat), throughput', s.id, atMost3Percent, 'percent', cost),
    );
  }
  for (const s of scenarios) {
    // The same cost read from the CPU each unit of work took: steadier than throughput on a shared machine.
    const cpu = (id: ContenderId) => s.results.find((r) => r.contender === id)?.cpuPerRound ?? [];
    const cost = spread(pairwiseRatios(cpu(SUBJECT), cpu('lbctl-fullnat')).map((r) => (r.value - 1) * 100));
    goals.push(
      goal(
        'cost of PPv2 on vs off (lbctl fullnat), CPU per unit of work',
        s.id,
        atMost3Percent,
        'percent',
        cost,
      ),
    );
  }
  return goals;
}

export function correctnessFailures(
  measurements: ReadonlyArray<
    Pick<Measurement, 'round' | 'contender' | 'checks'> & { scenario: AnyScenarioId }
  >,
): CorrectnessFailure[] {
  return measurements.flatMap((m) =>
    m.checks
      .filter((c) => !c.ok)
      .map((c) => ({
        round: m.round,
        contender: m.contender,
        scenario: m.scenario,
        check: c.name,
        detail: c.detail,
      })),
  );
}

export function summarize(input: {
  plan: BenchPlan;
  measurements: Measurement[];
  /** The UDP scenario's measurements (none when it did not run). */
  udpMeasurements?: UdpMeasurement[];
  profile: ProfileResult | undefined;
  env: Environment;
  startedAt: Date;
  finishedAt: Date;
  argv: string[];
}): BenchSummary {
  const { plan, measurements, profile } = input;
  const contenders = plan.contenderSpecs.map((c) => c.id);
  const scenarios = plan.scenarioSpecs.map((s) => summarizeScenario(s, contenders, measurements));
  const udpMeasurements = input.udpMeasurements ?? [];
  const all = [...measurements, ...(profile?.measurements ?? [])];
  const udp = plan.udp ? summarizeUdp(udpContenders(plan.contenders), udpMeasurements) : undefined;
  return {
    meta: {
      startedAt: input.startedAt.toISOString(),
      finishedAt: input.finishedAt.toISOString(),
      elapsedS: (input.finishedAt.getTime() - input.startedAt.getTime()) / 1000,
      argv: input.argv,
      quick: plan.quick,
      rounds: plan.rounds,
      durationS: plan.durationS,
      threads: plan.threads,
      env: input.env,
    },
    subject: SUBJECT,
    contenders: CONTENDERS.filter((c) => contenders.includes(c.id)).map((c) => ({
      id: c.id,
      label: c.label,
      proxyHeader: c.proxyHeader,
    })),
    scenarios,
    udp,
    goals: evaluateGoals(scenarios),
    profile,
    correctness: {
      checks: [...all, ...udpMeasurements].reduce((n, m) => n + m.checks.length, 0),
      failures: correctnessFailures([...all, ...udpMeasurements]),
    },
    failedMeasurements: failedMeasurements(all, udpMeasurements),
    load: {
      foreignShare: spread(measurements.map((m) => m.cpu.foreignShare)),
      bpfStatsOnRuns: measurements.filter((m) => m.bpfStatsOn).length,
    },
    measurements,
  };
}
