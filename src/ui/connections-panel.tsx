import { Box, Text } from 'ink';
import type { ConnectionView } from '../core/connections.js';
import type { ConnectionsSample } from '../core/datapath-snapshot.js';
import { renderRow, renderTitles, type Column as TableColumn } from './columns.js';
import { type Page, ppv2Cell, type SortOrder, STATE_SHORT } from './connection-table.js';
import { bytes, clip, duration, si } from './format.js';

export interface ConnectionsPanelProps {
  /** The page of sorted, filtered rows to show. */
  page: Page<ConnectionView>;
  /** Rows matching the filter among those loaded. */
  matching: number;
  sample: ConnectionsSample | null;
  sort: SortOrder;
  filter: string;
  /** Wall-clock now, for "read 3s ago". */
  now: number;
  width: number;
  /** The highlighted row (index in the sorted list), where rows can be opened. */
  selected?: number | null;
}

type Column = TableColumn<ConnectionView>;

/** Compact age for a 4-character column: 45s, 12m, 5h, 3d. */
function age(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * Columns for a width: at 80 the addresses share what the fixed columns leave; from 110 columns the
 * service and idle time are added.
 */
export function connectionColumns(width: number): Column[] {
  const wide = width >= 110;
  const fixed: Column[] = [
    { title: 'ST', width: 3, align: 'left', cell: (c) => STATE_SHORT[c.state] },
    { title: 'PPV2', width: 4, align: 'left', cell: ppv2Cell },
    // Bytes from the client and from the backend, with their unit in every cell.
    { title: 'IN', width: 6, align: 'right', cell: (c) => bytes(c.bytesFromClient) },
    { title: 'OUT', width: 6, align: 'right', cell: (c) => bytes(c.bytesFromBackend) },
    { title: 'AGE', width: 4, align: 'right', cell: (c) => age(c.ageSeconds) },
    ...(wide
      ? [
          {
            title: 'IDLE',
            width: 4,
            align: 'right' as const,
            cell: (c: ConnectionView) => age(c.idleSeconds),
          },
        ]
      : []),
  ];
  const service: Column[] = wide
    ? [{ title: 'SERVICE', width: 12, align: 'left', cell: (c) => c.service ?? String(c.serviceId) }]
    : [];
  const used = [...fixed, ...service].reduce((n, c) => n + c.width + 1, 0);
  const rest = Math.max(30, width - used - 2);
  const client = Math.floor(rest * 0.35);
  const vip = Math.floor(rest * 0.3);
  return [
    { title: 'CLIENT', width: client, align: 'left', cell: (c) => c.client, endpoint: true },
    { title: 'VIP', width: vip, align: 'left', cell: (c) => c.vip, endpoint: true },
    { title: 'BACKEND', width: rest - client - vip, align: 'left', cell: (c) => c.backend, endpoint: true },
    ...service,
    ...fixed,
  ];
}

/**
 * The live-connections table: the page of rows, and a title that says how many exist, which are shown,
 * how many are not, the sort, the filter and how old the conntrack reading is.
 */
export function ConnectionsPanel(props: ConnectionsPanelProps) {
  const { page, sample, width } = props;
  const columns = connectionColumns(width);
  const notLoaded = sample ? sample.total - sample.rows.length : 0;
  const notShown = props.matching - page.rows.length + notLoaded;
  const range = page.rows.length > 0 ? `${page.offset + 1}-${page.offset + page.rows.length}` : '0';
  const title = sample
    ? [
        `CONNECTIONS ${si(sample.total)}`,
        `rows ${range} of ${props.matching}, ${notShown} not shown`,
        `sort ${props.sort.key}${props.sort.reverse ? ' (reversed)' : ''}`,
        props.filter ? `filter "${props.filter}"` : '',
        `read ${duration(Math.max(0, (props.now - sample.readAtMs) / 1000))} ago`,
      ]
        .filter(Boolean)
        .join('  ')
    : 'CONNECTIONS  reading the conntrack table...';
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {clip(title, width)}
      </Text>
      <Text dimColor wrap="truncate-end">
        {clip(renderTitles(columns), width)}
      </Text>
      {page.rows.map((c, i) => (
        <Text key={`${c.client}>${c.vip}`} inverse={page.offset + i === props.selected} wrap="truncate-end">
          {clip(renderRow(columns, c), width)}
        </Text>
      ))}
    </Box>
  );
}
