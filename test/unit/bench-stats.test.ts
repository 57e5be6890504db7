import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Measurement } from '../../bench/measure.js';
import { SCENARIOS } from '../../bench/plan.js';
import {
  formatCell,
  formatNumber,
  formatSpread,
  median,
  pairwiseRatios,
  ratioSpread,
  spread,
} from '../../bench/stats.js';
import { evaluateGoals, failedMeasurements, failureReasons, summarizeScenario } from '../../bench/summary.js';
import {
  judge,
  MIN_ROUNDS_FOR_VERDICT,
  medianMeets,
  spreadConfidence,
  type Target,
} from '../../bench/verdict.js';

describe('median and spread', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
  });

  it('ignores NaN and infinities; empty input gives NaN', () => {
    assert.equal(median([1, Number.NaN, 3, Number.POSITIVE_INFINITY]), 2);
    assert.ok(Number.isNaN(median([])));
    assert.deepEqual(spread([]), { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 });
  });

  it('reports min and max next to the median', () => {
    assert.deepEqual(spread([10, 30, 20, Number.NaN]), { median: 20, min: 10, max: 30, n: 3 });
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });
});

describe('pairwise ratios', () => {
  it('divides within each round, then the spread is taken over rounds', () => {
    const lbctl = [
      { round: 1, value: 100 },
      { round: 2, value: 90 },
      { round: 3, value: 120 },
    ];
    const other = [
      { round: 1, value: 50 },
      { round: 2, value: 60 },
      { round: 3, value: 40 },
    ];
    assert.deepEqual(pairwiseRatios(lbctl, other), [
      { round: 1, value: 2 },
      { round: 2, value: 1.5 },
      { round: 3, value: 3 },
    ]);
    assert.deepEqual(ratioSpread(lbctl, other), { median: 2, min: 1.5, max: 3, n: 3 });
  });

  it('differs from the ratio of medians when rounds disagree', () => {
    // A slow round slows both sides: per-round ratios stay 1, the ratio of medians would not.
    const a = [
      { round: 1, value: 10 },
      { round: 2, value: 100 },
      { round: 3, value: 1000 },
    ];
    const b = [
      { round: 1, value: 10 },
      { round: 2, value: 100 },
      { round: 3, value: 1000 },
    ];
    assert.equal(ratioSpread(a, b).median, 1);
    assert.equal(ratioSpread(a, b).max, 1);
  });

  it('skips rounds missing on either side and zero denominators, in round order', () => {
    const ratios = pairwiseRatios(
      [
        { round: 3, value: 9 },
        { round: 1, value: 4 },
        { round: 2, value: 5 },
        { round: 4, value: 1 },
      ],
      [
        { round: 1, value: 2 },
        { round: 3, value: 3 },
        { round: 4, value: 0 },
      ],
    );
    assert.deepEqual(ratios, [
      { round: 1, value: 2 },
      { round: 3, value: 3 },
    ]);
  });
});

describe('number formatting', () => {
  it('keeps three significant digits and separates thousands', () => {
    assert.equal(formatNumber(0.91234), '0.912');
    assert.equal(formatNumber(12345.6), '12,346');
    assert.equal(formatNumber(Number.NaN), '–');
    assert.equal(formatSpread({ median: 1.5, min: 1.25, max: 2, n: 3 }, 3, '×'), '1.5× (1.25–2)');
    assert.equal(formatSpread({ median: 2, min: 2, max: 2, n: 1 }), '2');
  });
});

/** A minimal measurement: only what the summary reads. */
function m(
  round: number,
  contender: Measurement['contender'],
  scenario: Measurement['scenario'],
  value: number,
) {
  return {
    round,
    contender,
    scenario,
    value,
    wrk: { latencyUs: { p99: 2000 } },
    cpu: { perUnitUs: 10, balancerProcessPerUnitUs: 0, foreignShare: 0 },
    checks: [],
  } as unknown as Measurement;
}

describe('scenario summary and goals', () => {
  const short = SCENARIOS.find((s) => s.id === 'short');
  assert.ok(short);
  const contenders = ['lbctl-fullnat-ppv2', 'lbctl-fullnat', 'haproxy', 'plain'] as const;
  const values: Record<(typeof contenders)[number], number[]> = {
    'lbctl-fullnat-ppv2': [100, 80, 120],
    'lbctl-fullnat': [102, 81, 121],
    haproxy: [30, 20, 50],
    plain: [105, 90, 125],
  };
  const ms = contenders.flatMap((c) => values[c].map((v, i) => m(i + 1, c, 'short', v)));
  const summary = summarizeScenario(short, [...contenders], ms);

  it('gives each contender its median and min–max', () => {
    const plain = summary.results.find((r) => r.contender === 'plain');
    assert.deepEqual(plain?.value, { median: 105, min: 90, max: 125, n: 3 });
    assert.equal(plain?.p99Ms.median, 2);
  });

  it('computes ratios of lbctl fullnat+PPv2 to every other contender, round by round', () => {
    assert.deepEqual(
      summary.ratios.map((r) => r.contender),
      ['lbctl-fullnat', 'haproxy', 'plain'],
    );
    const haproxy = summary.ratios.find((r) => r.contender === 'haproxy');
    assert.deepEqual(
      haproxy?.perRound.map((r) => r.value),
      [100 / 30, 80 / 20, 120 / 50],
    );
    assert.equal(haproxy?.ratio.median, 100 / 30);
  });

  it('judges the goals on the spread: a median that clears the target with rounds that do not is inconclusive', () => {
    const goals = evaluateGoals([summary]);
    // Per round 100/105, 80/90, 120/125: the median (0.952×) clears 0.9×, round 2 (0.889×) does not.
    const plain = goals.find((g) => g.goal.endsWith('plain forwarding'));
    assert.ok(plain && plain.actual.median >= 0.9 && plain.actual.min < 0.9);
    assert.equal(plain.verdict, 'inconclusive');
    assert.equal(plain.medianMeets, true);
    // 3.33×, 4×, 2.4× HAProxy: median above 3×, one round below.
    const haproxy = goals.find((g) => g.goal.includes('HAProxy'));
    assert.equal(haproxy?.verdict, 'inconclusive');
    const cost = goals.find((g) => g.goal.startsWith('cost of PPv2') && g.goal.endsWith('throughput'));
    assert.equal(cost?.kind, 'percent');
    // Per round: 1.96%, 1.23%, 0.83%: every round within 3%.
    assert.ok(cost && Math.abs(cost.actual.median - (1 - 80 / 81) * 100) < 1e-9);
    assert.equal(cost?.verdict, 'met');
    const cpuCost = goals.find((g) => g.goal.endsWith('CPU per unit of work'));
    assert.deepEqual(cpuCost?.actual, { median: 0, min: 0, max: 0, n: 3 }, 'every run took 10 µs per unit');
    assert.equal(cpuCost?.verdict, 'met');
  });

  it('leaves a goal undecided when a side was not measured', () => {
    const partial = summarizeScenario(short, ['lbctl-fullnat-ppv2'], ms);
    const goals = evaluateGoals([partial]);
    assert.ok(goals.every((g) => g.verdict === 'not measured' && g.medianMeets === undefined));
  });
});

describe('goal verdicts: met only when the whole spread clears the target', () => {
  const atMost3: Target = { bound: 'at most', value: 3 };
  const atLeast09: Target = { bound: 'at least', value: 0.9 };

  it('calls the PPv2 cost of -6.97% (-12% to +17.5%) inconclusive, not met', () => {
    const cost = { median: -6.97, min: -12, max: 17.5, n: 5 };
    assert.equal(medianMeets(cost, atMost3), true, 'the median alone would have passed');
    assert.equal(judge(cost, atMost3), 'inconclusive');
  });

  it('is met when every round clears the target, not met when every round misses it', () => {
    assert.equal(
      judge({ median: 0.95, min: 0.9, max: 1.1, n: 5 }, atLeast09),
      'met',
      'the bound itself counts',
    );
    assert.equal(judge({ median: 0.8, min: 0.7, max: 0.89, n: 5 }, atLeast09), 'not met');
    assert.equal(judge({ median: 1, min: -2, max: 3, n: 5 }, atMost3), 'met');
    assert.equal(judge({ median: 5, min: 3.1, max: 9, n: 5 }, atMost3), 'not met');
  });

  it('is inconclusive when the spread straddles the target, whichever side the median is on', () => {
    assert.equal(judge({ median: 0.868, min: 0.851, max: 1.01, n: 5 }, atLeast09), 'inconclusive');
    assert.equal(medianMeets({ median: 0.868, min: 0.851, max: 1.01, n: 5 }, atLeast09), false);
    assert.equal(judge({ median: 0.95, min: 0.85, max: 1.2, n: 5 }, atLeast09), 'inconclusive');
  });

  it(`decides nothing on fewer than ${MIN_ROUNDS_FOR_VERDICT} rounds, and says when nothing was measured`, () => {
    assert.equal(judge({ median: 2, min: 2, max: 2, n: 1 }, atLeast09), 'inconclusive');
    assert.equal(judge({ median: 2, min: 1.9, max: 2.1, n: 2 }, atLeast09), 'inconclusive');
    assert.equal(judge({ median: 2, min: 1.9, max: 2.1, n: 3 }, atLeast09), 'met');
    assert.equal(judge(spread([]), atLeast09), 'not measured');
  });

  it('states the confidence of a min–max interval for the median: 1 - 2^(1-n)', () => {
    assert.equal(spreadConfidence(1), 0);
    assert.equal(spreadConfidence(3), 0.75);
    assert.equal(spreadConfidence(5), 0.9375);
  });
});

describe('failed measurements: left out of the figures, counted and listed', () => {
  const short = SCENARIOS.find((s) => s.id === 'short');
  assert.ok(short);
  const failedCheck = (round: number, contender: Measurement['contender'], value: number) => ({
    ...m(round, contender, 'short', value),
    checks: [{ name: 'wrk: no socket errors', ok: false, detail: 'connect 0, read 3, write 0, timeout 0' }],
  });
  const ms = [
    ...[100, 80, 120, 110].map((v, i) => m(i + 1, 'lbctl-fullnat-ppv2', 'short', v)),
    m(1, 'plain', 'short', 100),
    // Round 2: a wild value from a run that failed its checks; round 3: no value and no failed check.
    failedCheck(2, 'plain', 1_000_000),
    m(3, 'plain', 'short', Number.NaN),
    m(4, 'plain', 'short', 110),
  ];
  const summary = summarizeScenario(short, ['lbctl-fullnat-ppv2', 'plain'], ms);
  const plain = summary.results.find((r) => r.contender === 'plain');

  it('keeps a failed run out of the median and min–max, and n says how many runs are left', () => {
    assert.deepEqual(plain?.value, { median: 105, min: 100, max: 110, n: 2 });
    assert.deepEqual(plain?.failedRounds, [2, 3]);
    assert.equal(summary.results.find((r) => r.contender === 'lbctl-fullnat-ppv2')?.value.n, 4);
  });

  it('pairs ratios only over rounds where both sides succeeded', () => {
    const ratio = summary.ratios.find((r) => r.contender === 'plain');
    assert.deepEqual(
      ratio?.perRound.map((r) => r.round),
      [1, 4],
    );
    assert.equal(ratio?.ratio.n, 2);
  });

  it('lists every failed measurement with its round, contender, scenario and why', () => {
    assert.deepEqual(failedMeasurements(ms), [
      {
        round: 2,
        contender: 'plain',
        scenario: 'short',
        reasons: ['wrk: no socket errors: connect 0, read 3, write 0, timeout 0'],
      },
      { round: 3, contender: 'plain', scenario: 'short', reasons: ['no result'] },
    ]);
  });

  it('treats a value JSON turned into null (a re-rendered run) as no result', () => {
    const fromJson = JSON.parse(JSON.stringify(m(1, 'plain', 'short', Number.NaN))) as Measurement;
    assert.deepEqual(failureReasons(fromJson), ['no result']);
  });
});

describe('table cells', () => {
  it('show n next to the median and spread, also when nothing is left', () => {
    assert.equal(formatCell({ median: 1.5, min: 1.25, max: 2, n: 5 }, 3, '×'), '1.5× (1.25–2; n=5)');
    assert.equal(formatCell({ median: 2, min: 2, max: 2, n: 1 }), '2 (n=1)');
    assert.equal(formatCell(spread([])), '– (n=0)');
  });
});
