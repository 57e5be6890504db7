import chalk from 'chalk';
import Table from 'cli-table3';
import { type ColumnFit, fitRows, truncateText } from './table-fit.js';

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
  const colored = chalk.level > 0;
  const table = new Table({
    head: colored ? head.map((h) => chalk.bold(h)) : head,
    style: { head: [], border: [], compact: true },
  });
  const cells = rows.map((row) => row.map((cell) => String(cell)));
  const fitted = fitRows(head, cells, options.maxWidth ?? Number.POSITIVE_INFINITY, options.fit);
  for (const row of fitted) table.push(row);
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
