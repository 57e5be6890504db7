import chalk from 'chalk';
import Table from 'cli-table3';
import { type ColumnFit, fitRows, textWidth, truncateText } from './table-fit.js';

export interface TableOptions {
  /** The line width to fit (see BaseCommand.listing); values are cut with an ellipsis. Default: no limit. */
  maxWidth?: number;
  /** Per column: how it gives up width (see fitColumnWidths). */
  fit?: readonly ColumnFit[];
}

/** How a listing is laid out: cut to a width (the default table) or every column whole (`-o wide`). */
export type ListingOptions = TableOptions & { wide?: boolean };

/**
 * Tables for humans. Colour comes only from chalk's decision for stdout (TTY, FORCE_COLOR, NO_COLOR via
 * color-env.ts); cli-table3 would otherwise colour headers and borders on its own, even into a pipe.
 */
export function renderTable(
  head: string[],
  rows: Array<Array<string | number>>,
  options: TableOptions = {},
): string {
  const cells = rows.map((row) => row.map((cell) => String(cell)));
  const fitted = fitRows(head, cells, options.maxWidth ?? Number.POSITIVE_INFINITY, options.fit);
  return drawTable(head, fitted);
}

/**
 * cli-table3 lays a table out in time quadratic in its rows (every cell is checked against each row above
 * it for spans): 400 rows take 0.16 s, 4,000 rows (a service's backends) 4 s. A longer table is drawn in
 * blocks of this many rows with the same column widths, and the blocks are joined without the borders
 * between them: the same lines, 4,000 rows in 0.9 s.
 */
export const ROWS_PER_BLOCK = 50;

/** The rows (already fitted) drawn as one compact table; `rowsPerBlock` is a parameter for the tests. */
export function drawTable(head: string[], rows: string[][], rowsPerBlock = ROWS_PER_BLOCK): string {
  if (rows.length <= rowsPerBlock) return drawBlock(head, rows);
  // cli-table3's widths include one space of padding on each side.
  const colWidths = head.map((h, i) => Math.max(textWidth(h), ...rows.map((r) => textWidth(r[i] ?? ''))) + 2);
  const lines: string[] = [];
  for (let start = 0; start < rows.length; start += rowsPerBlock) {
    const first = start === 0;
    const last = start + rowsPerBlock >= rows.length;
    const block = drawBlock(first ? head : undefined, rows.slice(start, start + rowsPerBlock), colWidths);
    const blockLines = block.split('\n');
    lines.push(...blockLines.slice(first ? 0 : 1, last ? blockLines.length : -1));
  }
  return lines.join('\n');
}

function drawBlock(head: string[] | undefined, rows: string[][], colWidths?: number[]): string {
  const colored = chalk.level > 0;
  const table = new Table({
    ...(head ? { head: colored ? head.map((h) => chalk.bold(h)) : head } : {}),
    ...(colWidths ? { colWidths } : {}),
    style: { head: [], border: [], compact: true },
  });
  for (const row of rows) table.push(row);
  return table.toString();
}

/**
 * One column of a table of items: adding a column to a listing is adding one of these. `wide` columns
 * appear only with `-o wide`; `fit` says how it gives up width on a narrow terminal (a column of numbers
 * is never cut).
 */
export interface Column<T> {
  head: string;
  cell: (item: T) => string | number;
  wide?: boolean;
  fit?: ColumnFit;
}

export function renderColumns<T>(
  columns: ReadonlyArray<Column<T>>,
  items: readonly T[],
  options: ListingOptions = {},
): string {
  const shown = columns.filter((c) => options.wide || !c.wide);
  const rows = items.map((item) => shown.map((c) => c.cell(item)));
  const fit = shown.map(
    (c, i): ColumnFit => c.fit ?? (rows.every((r) => typeof r[i] === 'number') ? 'whole' : 'normal'),
  );
  return renderTable(
    shown.map((c) => c.head),
    rows,
    { ...options, fit },
  );
}

/** Two-column "field  value" listing, used by `show`-style commands; values are cut to fit maxWidth. */
export function renderKeyValue(pairs: Array<[string, string | number]>, options: TableOptions = {}): string {
  const colored = chalk.level > 0;
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  const valueWidth = (options.maxWidth ?? Number.POSITIVE_INFINITY) - width - 2;
  return pairs
    .map(([key, value]) => {
      const label = colored ? chalk.bold(key.padEnd(width)) : key.padEnd(width);
      return `${label}  ${truncateText(String(value), Math.max(valueWidth, 1))}`;
    })
    .join('\n');
}
