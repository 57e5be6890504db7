import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Measurement } from '../../bench/measure.js';
import { SCENARIOS } from '../../bench/plan.js';
import {
  formatNumber,
  formatSpread,
  median,
  pairwiseRatios,
  ratioSpread,
  spread,
} from '../../bench/stats.js';
import { evaluateGoals, summarizeScenario } from '../../bench/summary.js';

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

  it('judges the goals on medians: 0.9× plain, 3× HAProxy, PPv2 cost at most 3%', () => {
    const goals = evaluateGoals([summary]);
    const plain = goals.find((g) => g.goal.endsWith('plain forwarding'));
    assert.equal(plain?.pass, true, `median ${plain?.actual.median}`);
    const haproxy = goals.find((g) => g.goal.includes('HAProxy'));
    assert.equal(haproxy?.pass, true);
    const cost = goals.find((g) => g.goal.startsWith('cost of PPv2') && g.goal.endsWith('throughput'));
    assert.equal(cost?.kind, 'percent');
    // Per round: 1.96%, 1.23%, 0.83%: the median is the middle round.
    assert.ok(cost && Math.abs(cost.actual.median - (1 - 80 / 81) * 100) < 1e-9);
    assert.equal(cost?.pass, true);
    const cpuCost = goals.find((g) => g.goal.endsWith('CPU per unit of work'));
    assert.deepEqual(cpuCost?.actual, { median: 0, min: 0, max: 0, n: 3 }, 'every run took 10 µs per unit');
    assert.equal(cpuCost?.pass, true);
  });

  it('leaves a goal undecided when a side was not measured', () => {
    const partial = summarizeScenario(short, ['lbctl-fullnat-ppv2'], ms);
    const goals = evaluateGoals([partial]);
    assert.ok(goals.every((g) => g.pass === undefined));
  });
});
