/**
 * Whether a benchmark goal is met, judged on the whole spread of the rounds, not on their median.
 *
 * The rule: a goal is met only when every successful round's value (min..max) is on the right side of the
 * target, not met when every one misses it, and inconclusive otherwise. With n independent rounds, the
 * interval from the smallest to the largest value holds the true median with probability 1 − 2^(1−n)
 * (a distribution-free confidence interval: the median lies outside only if all n values fall on one side
 * of it, chance 2 × 2^−n): 75% with 3 rounds, 93.75% with 5. Fewer than MIN_ROUNDS_FOR_VERDICT rounds
 * decide nothing. A median on the right side of the target with a spread across it is therefore reported as
 * inconclusive, never as met.
 */
import type { Spread } from './stats.js';

export type Verdict = 'met' | 'not met' | 'inconclusive' | 'not measured';

export interface Target {
  /** Higher is better (`at least`) or lower is better (`at most`). */
  bound: 'at least' | 'at most';
  value: number;
}

/** Rounds needed before the spread can decide a goal (3: the min..max interval then has 75% coverage). */
export const MIN_ROUNDS_FOR_VERDICT = 3;

/** Confidence that min..max of n independent samples holds their distribution's median. */
export function spreadConfidence(n: number): number {
  return n < 2 ? 0 : 1 - 2 ** (1 - n);
}

const meets = (value: number, target: Target): boolean =>
  target.bound === 'at least' ? value >= target.value : value <= target.value;

export function judge(actual: Spread, target: Target): Verdict {
  if (actual.n === 0) return 'not measured';
  if (actual.n < MIN_ROUNDS_FOR_VERDICT) return 'inconclusive';
  const minMeets = meets(actual.min, target);
  const maxMeets = meets(actual.max, target);
  if (minMeets && maxMeets) return 'met';
  if (!minMeets && !maxMeets) return 'not met';
  return 'inconclusive';
}

/** Whether the median alone is on the right side (what an inconclusive verdict leans towards). */
export function medianMeets(actual: Spread, target: Target): boolean | undefined {
  return actual.n === 0 ? undefined : meets(actual.median, target);
}

/** "≥ 0.9×", "≤ 3%". */
export function formatTarget(target: Target, suffix: string): string {
  return `${target.bound === 'at least' ? '≥' : '≤'} ${target.value}${suffix}`;
}
