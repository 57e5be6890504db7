/**
 * The statistics the report is made of: medians with their min–max spread, and ratios taken pair by pair
 * within one round (so a slow round slows both sides of the ratio) before the median is taken.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Number of samples. */
  n: number;
}

/** Median of the finite values; NaN when there are none. An even count averages the middle two. */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] as number;
  return ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Median, min and max of the finite values (all NaN and n 0 when there are none). */
export function spread(values: readonly number[]): Spread {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

/** One sample of one metric: which round it was measured in. */
export interface RoundValue {
  round: number;
  value: number;
}

/**
 * `numerator / denominator` for every round both were measured in (and the denominator is non-zero),
 * in round order. Rounds where either side is missing are skipped, not guessed.
 */
export function pairwiseRatios(
  numerator: readonly RoundValue[],
  denominator: readonly RoundValue[],
): RoundValue[] {
  const byRound = new Map(denominator.map((d) => [d.round, d.value]));
  const ratios: RoundValue[] = [];
  for (const n of [...numerator].sort((a, b) => a.round - b.round)) {
    const d = byRound.get(n.round);
    if (d === undefined || d === 0 || !Number.isFinite(d) || !Number.isFinite(n.value)) continue;
    ratios.push({ round: n.round, value: n.value / d });
  }
  return ratios;
}

/** The spread of the per-round ratios. */
export function ratioSpread(numerator: readonly RoundValue[], denominator: readonly RoundValue[]): Spread {
  return spread(pairwiseRatios(numerator, denominator).map((r) => r.value));
}

/** A number for a table: 3 significant digits, thousands separated; "–" for NaN. */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 10 ** digits) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/** "median (min–max)". */
export function formatSpread(s: Spread, digits = 3, suffix = ''): string {
  if (s.n === 0) return '–';
  if (s.n === 1 || s.min === s.max) return `${formatNumber(s.median, digits)}${suffix}`;
  return `${formatNumber(s.median, digits)}${suffix} (${formatNumber(s.min, digits)}–${formatNumber(s.max, digits)})`;
}

/**
 * A table cell: "median (min–max; n=5)", where n is the number of successful measurements (or rounds
 * paired) it was computed from: "– (n=0)" when there is none, so a missing figure is never silent.
 */
export function formatCell(s: Spread, digits = 3, suffix = ''): string {
  if (s.n === 0) return '– (n=0)';
  const median = `${formatNumber(s.median, digits)}${suffix}`;
  if (s.n === 1 || s.min === s.max) return `${median} (n=${s.n})`;
  return `${median} (${formatNumber(s.min, digits)}–${formatNumber(s.max, digits)}; n=${s.n})`;
}

/** A spread of shares (0..1) in percent. */
export function percentSpread(s: Spread): Spread {
  return { ...s, median: s.median * 100, min: s.min * 100, max: s.max * 100 };
}

/** A Markdown table; `|` inside a cell is escaped. */
export function markdownTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}
