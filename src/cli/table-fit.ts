/**
 * Fitting a table into a terminal's width: pure functions, so the rules are tested without a terminal.
 *
 * Widths count code points, which is the display width of the ASCII that addresses, counters and PPv2
 * summaries are made of (a TLV value that holds wide characters may end up a column or two off; it is
 * still cut, never lost: -o wide and the JSON keep it whole).
 */

export const ELLIPSIS = '…';

/**
 * What a compact cli-table3 table adds around its cells: one space of padding on each side of a cell and
 * one border character before, between and after the columns.
 */
export function tableFrameWidth(columns: number): number {
  return columns === 0 ? 0 : 3 * columns + 1;
}

export const textWidth = (text: string): number => [...text].length;

/** `text` cut to `width` code points, its last one replaced by an ellipsis when something was cut. */
export function truncateText(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 0) return '';
  return `${chars.slice(0, width - 1).join('')}${ELLIPSIS}`;
}

/** How a column gives up width: 'whole' never (numbers: a cut number reads as another number), 'first'
 * before the others (a free-text summary), 'normal' otherwise. */
export type ColumnFit = 'whole' | 'normal' | 'first';

/**
 * Column widths that fit `maxWidth` (the whole rendered line, borders included). Columns are narrowed one
 * character at a time, 'first' columns before 'normal' ones and the widest first among those, so a single
 * long value (a static TLV, an IPv6 address) gives up its width before the short ones are touched. No
 * column gets narrower than its header, and 'whole' ones are not narrowed at all: a table that cannot fit
 * stays wider than `maxWidth`, since cutting headers or numbers would make it wrong, not just short.
 */
export function fitColumnWidths(
  head: readonly string[],
  rows: readonly string[][],
  maxWidth: number,
  fit: readonly ColumnFit[] = [],
): number[] {
  const widths = head.map((h, i) => Math.max(textWidth(h), ...rows.map((r) => textWidth(r[i] ?? ''))));
  const floors = head.map((h, i) => (fit[i] === 'whole' ? (widths[i] ?? 0) : textWidth(h)));
  const rank = (i: number) => (fit[i] === 'first' ? 1 : 0);
  let excess = widths.reduce((a, b) => a + b, 0) + tableFrameWidth(head.length) - maxWidth;
  while (excess > 0) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      const room = (widths[i] ?? 0) - (floors[i] ?? 0);
      if (room <= 0) continue;
      const better =
        widest < 0 ||
        rank(i) > rank(widest) ||
        (rank(i) === rank(widest) && (widths[i] ?? 0) > (widths[widest] ?? 0));
      if (better) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    excess--;
  }
  return widths;
}

/** The rows with every cell cut to its column's width (see fitColumnWidths). */
export function fitRows(
  head: readonly string[],
  rows: readonly string[][],
  maxWidth: number,
  fit: readonly ColumnFit[] = [],
): string[][] {
  if (!Number.isFinite(maxWidth)) return rows.map((r) => [...r]);
  const widths = fitColumnWidths(head, rows, maxWidth, fit);
  return rows.map((row) => row.map((cell, i) => truncateText(cell, widths[i] ?? textWidth(cell))));
}

/**
 * The width tables must fit: a terminal's, when stdout is one (COLUMNS, when a positive integer, overrides
 * what the terminal reports, as in other CLIs); Infinity otherwise, so piped output is never cut.
 */
export function outputWidth(stdout: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): number {
  if (!stdout.isTTY) return Number.POSITIVE_INFINITY;
  const fromEnv = Number(env.COLUMNS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return stdout.columns && stdout.columns > 0 ? stdout.columns : Number.POSITIVE_INFINITY;
}
