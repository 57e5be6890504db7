/**
 * Fixed-width text columns for the dashboard's tables: the title line and every row come from the same
 * column list, so a heading cannot drift from its values. Endpoint columns shorten the address, not the port.
 */
import { fit, fitEndpoint } from './format.js';

export interface Column<T> {
  title: string;
  width: number;
  align: 'left' | 'right';
  cell: (row: T) => string;
  /** The cell is ADDR:PORT: shortened in the address when too long (fitEndpoint). */
  endpoint?: boolean;
}

const fitCell = <T>(col: Column<T>, text: string) =>
  col.endpoint ? fitEndpoint(text, col.width, col.align) : fit(text, col.width, col.align);

/** One row, the columns separated by a space, trailing blanks removed. */
export function renderRow<T>(columns: readonly Column<T>[], row: T): string {
  return columns
    .map((col) => fitCell(col, col.cell(row)))
    .join(' ')
    .trimEnd();
}

/** The column titles, aligned as the cells below them. */
export function renderTitles<T>(columns: readonly Column<T>[]): string {
  return columns
    .map((col) => fit(col.title, col.width, col.align))
    .join(' ')
    .trimEnd();
}

/** Total width of columns with their separators. */
export const columnsWidth = <T>(columns: readonly Column<T>[]): number =>
  columns.reduce((n, c) => n + c.width, 0) + Math.max(0, columns.length - 1);
