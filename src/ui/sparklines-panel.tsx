import { Box, Text } from 'ink';
import type { History } from './dashboard-state.js';
import { fit, si, sparkline } from './format.js';

export interface SparklinesPanelProps {
  history: History;
  width: number;
}

type Series = [label: string, values: number[], format: (v: number) => string];

/** Two lines of two charts each: the main rates over the kept history (about a minute). */
export function SparklinesPanel({ history, width }: SparklinesPanelProps) {
  const half = Math.floor((width - 1) / 2);
  const cell = ([label, values, format]: Series) => {
    const last = format(values[values.length - 1] ?? 0);
    const chart = Math.max(4, half - label.length - 10);
    return fit(`${label} ${sparkline(values, chart)} ${last}`, half);
  };
  const rows: Array<[Series, Series]> = [
    [
      ['pkts/s', history.packets, si],
      ['bits/s', history.bits, si],
    ],
    [
      ['conn/s', history.connections, si],
      [' hdr/s', history.headers, si],
    ],
  ];
  return (
    <Box flexDirection="column">
      {rows.map(([left, right]) => (
        <Text key={left[0]} color="cyan" wrap="truncate-end">
          {`${cell(left)} ${cell(right)}`}
        </Text>
      ))}
    </Box>
  );
}
