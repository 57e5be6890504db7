import { Box, Text } from 'ink';
import type { Page } from './connection-table.js';
import type { CounterView } from './dashboard-state.js';
import { bitsPerSecond, bytes, clip, fit, si } from './format.js';

export interface CpuPanelProps {
  page: Page<CounterView>;
  width: number;
}

const COLUMNS: Array<[title: string, width: number, cell: (c: CounterView) => string]> = [
  ['PKTS/S', 8, (c) => si(c.rateSummary.packets)],
  ['BITS/S', 9, (c) => bitsPerSecond(c.rateSummary.bytes).replace('b/s', '')],
  ['CONN/S', 8, (c) => si(c.rateSummary.connections)],
  ['HDR/S', 7, (c) => si(c.rateSummary.headers)],
  ['PKTS', 7, (c) => si(c.totalSummary.packets)],
  ['BYTES', 7, (c) => bytes(c.totalSummary.bytes)],
  ['CONNS', 7, (c) => si(c.totalSummary.connections)],
  ['FAIL+DROP', 9, (c) => si(c.totalSummary.failures + c.totalSummary.drops)],
];

/** The focused counters per CPU (one row per possible CPU): how the load spreads over cores. */
export function CpuPanel({ page, width }: CpuPanelProps) {
  const line = (first: string, cells: string[]) =>
    clip(
      `${clip(first, 5)} ${cells.map((cell, i) => fit(cell, COLUMNS[i]?.[1] ?? 8, 'right')).join(' ')}`,
      width,
    );
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {clip(`PER-CPU  ${page.above + page.rows.length + page.below} CPUs`, width)}
      </Text>
      <Text dimColor wrap="truncate-end">
        {line(
          'CPU',
          COLUMNS.map(([title]) => title),
        )}
      </Text>
      {page.rows
        .map((view, i) => ({ cpu: page.offset + i, view }))
        .map(({ cpu, view }) => (
          <Text key={cpu} wrap="truncate-end">
            {line(
              `cpu${cpu}`,
              COLUMNS.map(([, , cell]) => cell(view)),
            )}
          </Text>
        ))}
    </Box>
  );
}
