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
  /** e.g. ">= 0.9×". */
  target: string;
  actual: Spread;
  /** How `actual` reads: a ratio, or a cost in percent. */
  kind: 'ratio' | 'percent';
  /** Judged on the median; undefined when a side was not measured. */
  pass: boolean | undefined;
}

export interface CorrectnessFailure {
  round: number;
  contender: ContenderId;
  scenario: ScenarioId;
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
  goals: GoalResult[];
  profile: ProfileResult | undefined;
  correctness: { checks: number; failures: CorrectnessFailure[] };
  /** What else ran: other processes' share of the machine per run, and runs with BPF statistics on. */
  load: { foreignShare: Spread; bpfStatsOnRuns: number };
  measurements: Measurement[];
}

function series(ms: readonly Measurement[], pick: (m: Measurement) => number): RoundValue[] {
  return ms.map((m) => ({ round: m.round, value: pick(m) }));
}

export function summarizeScenario(
  scenario: ScenarioSpec,
  contenders: readonly ContenderId[],
  measurements: readonly Measurement[],
): ScenarioSummary {
  const of = (id: ContenderId) =>
    measurements.filter((m) => m.scenario === scenario.id && m.contender === id);
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

/** The goals, judged on medians of per-round ratios. */
export function evaluateGoals(scenarios: readonly ScenarioSummary[]): GoalResult[] {
  const goals: GoalResult[] = [];
  const ratio = (s: ScenarioSummary, id: ContenderId) => s.ratios.find((r) => r.contender === id);
  for (const s of scenarios) {
    const plain = ratio(s, 'plain');
    goals.push({
      goal: 'lbctl fullnat+PPv2 vs plain forwarding',
      scenario: s.id,
      target: '≥ 0.9×',
      actual: plain?.ratio ?? spread([]),
      kind: 'ratio',
      pass: plain && plain.ratio.n > 0 ? plain.ratio.median >= 0.9 : undefined,
    });
  }
  const short = scenarios.find((s) => s.id === 'short');
  const haproxy = short ? ratio(short, 'haproxy') : undefined;
  goals.push({
    goal: 'lbctl fullnat+PPv2 vs HAProxy, connections/s',
    scenario: 'short',
    target: '≥ 3×',
    actual: haproxy?.ratio ?? spread([]),
    kind: 'ratio',
    pass: haproxy && haproxy.ratio.n > 0 ? haproxy.ratio.median >= 3 : undefined,
  });
  for (const s of scenarios) {
    // The cost of PPv2 per round: 1 - on/off, in percent (negative = PPv2 on was faster that round).
    const off = ratio(s, 'lbctl-fullnat');
    const cost = spread((off?.perRound ?? []).map((r) => (1 - r.value) * 100));
    goals.push({
      goal: 'cost of PPv2 on vs off (lbctl fullnat), throughput',
      scenario: s.id,
      target: '≤ 3%',
      actual: cost,
      kind: 'percent',
      pass: cost.n > 0 ? cost.median <= 3 : undefined,
    });
  }
  for (const s of scenarios) {
    // The same cost read from the CPU each unit of work took: steadier than throughput on a shared machine.
    const cpu = (id: ContenderId) => s.results.find((r) => r.contender === id)?.cpuPerRound ?? [];
    const cost = spread(pairwiseRatios(cpu(SUBJECT), cpu('lbctl-fullnat')).map((r) => (r.value - 1) * 100));
    goals.push({
      goal: 'cost of PPv2 on vs off (lbctl fullnat), CPU per unit of work',
      scenario: s.id,
      target: '≤ 3%',
      actual: cost,
      kind: 'percent',
      pass: cost.n > 0 ? cost.median <= 3 : undefined,
    });
  }
  return goals;
}

export function correctnessFailures(measurements: readonly Measurement[]): CorrectnessFailure[] {
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
  profile: ProfileResult | undefined;
  env: Environment;
  startedAt: Date;
  finishedAt: Date;
  argv: string[];
}): BenchSummary {
  const { plan, measurements, profile } = input;
  const contenders = plan.contenderSpecs.map((c) => c.id);
  const scenarios = plan.scenarioSpecs.map((s) => summarizeScenario(s, contenders, measurements));
  const all = [...measurements, ...(profile?.measurements ?? [])];
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
    goals: evaluateGoals(scenarios),
    profile,
    correctness: {
      checks: all.reduce((n, m) => n + m.checks.length, 0),
      failures: correctnessFailures(all),
    },
    load: {
      foreignShare: spread(measurements.map((m) => m.cpu.foreignShare)),
      bpfStatsOnRuns: measurements.filter((m) => m.bpfStatsOn).length,
    },
    measurements,
  };
}
