/**
 * How many terminal lines each pane gets. The whole frame stays one line shorter than the terminal: Ink
 * clears the screen on every frame that fills it, which flickers. At 80x24 every pane still gets rows;
 * larger terminals give the extra lines to the connection table and the header feed.
 */
import type { View } from './dashboard-reducer.js';

export interface TerminalSize {
  columns: number;
  rows: number;
}

export interface Layout {
  width: number;
  /** Lines of the frame (terminal rows minus one). */
  height: number;
  showCounters: boolean;
  showSparklines: boolean;
  /** Rows of the services table (without its title line). */
  serviceRows: number;
  /** Rows of the connection table (without its title and column-header lines). */
  connectionRows: number;
  /** Rows of the header feed (without its title line). */
  headerRows: number;
  /** Rows of the per-CPU table (without its title and column-header lines). */
  cpuRows: number;
}

export const MIN_SIZE: TerminalSize = { columns: 60, rows: 16 };

const HEADER_LINES = 2;
const COUNTER_LINES = 3;
const SPARK_LINES = 2;
const FOOTER_LINES = 1;

export function planLayout(size: TerminalSize, view: View, counts: { services: number }): Layout {
  const width = Math.max(MIN_SIZE.columns, size.columns);
  const height = Math.max(MIN_SIZE.rows, size.rows) - 1;
  const base: Layout = {
    width,
    height,
    showCounters: false,
    showSparklines: false,
    serviceRows: 0,
    connectionRows: 0,
    headerRows: 0,
    cpuRows: 0,
  };
  const body = height - HEADER_LINES - FOOTER_LINES;
  switch (view) {
    case 'overview': {
      // Titles: services (1), connections (title and column header: 2), headers (1).
      let free = body - COUNTER_LINES - 4;
      // Below about 19 rows the sparklines give their lines to the tables.
      const showSparklines = free >= 6;
      if (showSparklines) free -= SPARK_LINES;
      const serviceRows = Math.max(1, Math.min(counts.services, Math.floor(free / 4)));
      free -= serviceRows;
      const connectionRows = Math.max(1, Math.ceil(free * 0.6));
      return {
        ...base,
        showCounters: true,
        showSparklines,
        serviceRows,
        connectionRows,
        headerRows: Math.max(1, free - connectionRows),
      };
    }
    case 'connections':
      return { ...base, connectionRows: Math.max(1, body - 2) };
    case 'headers':
      return { ...base, headerRows: Math.max(1, body - 1) };
    case 'services':
      return { ...base, serviceRows: Math.max(1, body - 1) };
    case 'cpus':
      return { ...base, showCounters: true, cpuRows: Math.max(1, body - COUNTER_LINES - 2) };
  }
}
