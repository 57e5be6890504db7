import { Box, Text } from 'ink';
import { healthSummary, ppv2Summary } from '../core/service-summary.js';
import type { ServiceView } from '../core/services.js';
import { hostPort } from '../host-port.js';
import { type Column, columnsWidth, renderRow, renderTitles } from './columns.js';
import { type LiveCounts, type Page, pageRows } from './connection-table.js';
import type { CounterView } from './dashboard-state.js';
import { bitsPerSecond, clip, fitList, percentages, si } from './format.js';

export interface ServicesPanelProps {
  services: readonly ServiceView[];
  /** Per service id. */
  counters: Readonly<Record<number, CounterView>>;
  /** Live connections per service and backend (last conntrack reading), for each backend's share. */
  live: LiveCounts | null;
  /** Lines available below the title. */
  rows: number;
  scroll: number;
  width: number;
  /** The services pane: every backend and the PPv2 settings on lines of their own. */
  detailed: boolean;
}

interface ServiceStats {
  live: ReadonlyMap<string, number>;
  liveTotal: number;
}

function liveStats(service: ServiceView, live: LiveCounts | null): ServiceStats | null {
  if (!live) return null;
  const counts = live.byService.get(service.id);
  return { live: counts?.byBackend ?? new Map(), liveTotal: counts?.total ?? 0 };
}

/**
 * Each backend's share as whole percentages that add up to 100: of live connections when the conntrack
 * table has some for the service, otherwise of new connections as the Maglev table gives them (marked "~").
 */
export function backendShares(service: ServiceView, stats: ServiceStats | null): string[] {
  const byLive = stats !== null && stats.liveTotal > 0;
  const counts = service.backends.map((b) =>
    byLive ? (stats.live.get(hostPort(b.address, b.port)) ?? 0) : b.share,
  );
  // Live connections of backends no longer listed count too, so listed shares are of the service's total.
  const others = byLive ? Math.max(0, stats.liveTotal - counts.reduce((a, b) => a + b, 0)) : 0;
  const shares = percentages([...counts, others]);
  return service.backends.map((_, i) => `${byLive ? '' : '~'}${shares[i] ?? 0}%`);
}

/**
 * Each backend in the summary line: its share, or "down" once the agent took it out of the table (with the
 * share it keeps when every backend is down and the table keeps them all).
 */
function backendCells(service: ServiceView, stats: ServiceStats | null): string[] {
  const shares = backendShares(service, stats);
  return service.backends.map((b, i) => {
    const at = hostPort(b.address, b.port);
    if (b.health !== 'down') return `${at} ${shares[i]}`;
    return `${at} down${service.health.failOpen ? ` ${shares[i]}` : ''}`;
  });
}

export interface ServiceRow {
  service: ServiceView;
  rates: CounterView['rateSummary'] | undefined;
  stats: ServiceStats | null;
}

/** "v2", "v2+" (with TLVs or options) or "off": the PPV2 column where the terminal is narrow. */
const ppv2Short = (s: ServiceView) =>
  !s.ppv2.enabled ? 'off' : s.ppv2.uniqueId || s.ppv2.crc32c || s.ppv2.tlvs.length > 0 ? 'v2+' : 'v2';

/**
 * The summary table's columns for a width: narrow terminals get the short PPV2 form; BACKENDS takes what
 * is left and says how many backends it could not show.
 */
export function serviceColumns(width: number): Column<ServiceRow>[] {
  const wide = width >= 120;
  const fixed: Column<ServiceRow>[] = [
    { title: 'SERVICE', width: wide ? 20 : 12, align: 'left', cell: (r) => r.service.name ?? r.service.key },
    { title: 'MODE', width: 7, align: 'left', cell: (r) => r.service.mode },
    { title: 'CONN/S', width: 6, align: 'right', cell: (r) => si(r.rates?.connections ?? 0) },
    { title: 'HDR/S', width: 6, align: 'right', cell: (r) => si(r.rates?.headers ?? 0) },
    { title: 'BIT/S', width: 6, align: 'right', cell: (r) => si((r.rates?.bytes ?? 0) * 8) },
    { title: 'LIVE', width: 5, align: 'right', cell: (r) => (r.stats ? si(r.stats.liveTotal) : '-') },
    {
      title: 'PPV2',
      width: wide ? 26 : 4,
      align: 'left',
      cell: (r) => (wide ? ppv2Summary(r.service) : ppv2Short(r.service)),
    },
  ];
  const rest = Math.max(12, width - columnsWidth(fixed) - 1);
  return [
    ...fixed,
    {
      title: 'BACKENDS (share)',
      width: rest,
      align: 'left',
      cell: (r) => fitList(backendCells(r.service, r.stats), rest) || 'no backends',
    },
  ];
}

function detailLines(
  service: ServiceView,
  view: CounterView | undefined,
  stats: ServiceStats | null,
): string[] {
  const t = view?.totalSummary;
  const r = view?.rateSummary;
  const shares = backendShares(service, stats);
  return [
    `${service.name ?? '-'}  ${service.key}  ${service.mode}${service.snat ? ` snat ${service.snat}` : ''}  ppv2 ${ppv2Summary(service)}` +
      (service.health.probed ? `  liveness ${healthSummary(service.health)}` : ''),
    `   rate conn/s ${si(r?.connections ?? 0)}  hdr/s ${si(r?.headers ?? 0)}  bits/s ${bitsPerSecond(r?.bytes ?? 0).replace('/s', '')}` +
      `   total conns ${si(t?.connections ?? 0)}  headers ${si(t?.headers ?? 0)}  failures ${si(t?.failures ?? 0)}  drops ${si(t?.drops ?? 0)}` +
      `  live ${stats ? si(stats.liveTotal) : '-'}`,
    ...service.backends.map(
      (b, i) =>
        `   -> ${hostPort(b.address, b.port)}${service.health.probed ? `  ${b.health}` : ''}  weight ${b.weight}  table ${(b.share * 100).toFixed(1)}%` +
        `  live ${stats ? (stats.live.get(hostPort(b.address, b.port)) ?? 0) : '-'} (${shares[i]})`,
    ),
  ];
}

/**
 * The services table: per-service rates, backends with their share of connections, PPv2 settings. When the
 * rows do not all fit, the last one says how many are hidden.
 */
export function ServicesPanel(props: ServicesPanelProps) {
  const { services, counters, live, width } = props;
  const columns = serviceColumns(width);
  const lines = services.flatMap((s) => {
    const stats = liveStats(s, live);
    return props.detailed
      ? detailLines(s, counters[s.id], stats)
      : [renderRow(columns, { service: s, rates: counters[s.id]?.rateSummary, stats })];
  });
  const { page, hidden } = visibleLines(lines, props.scroll, props.rows);
  const range = page.rows.length === 0 ? '0' : `${page.offset + 1}-${page.offset + page.rows.length}`;
  const title = props.detailed
    ? `SERVICES ${services.length}  lines ${range} of ${lines.length}`
    : renderTitles(columns);
  const moreText = props.detailed
    ? `+${hidden} more lines (scroll: ↑↓ PgUp PgDn)`
    : `+${hidden} more services (tab: the services pane)`;
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {clip(title, width)}
      </Text>
      {services.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {clip('no services (add one with: lbctl service add VIP:PORT --backend ADDR:PORT)', width)}
        </Text>
      ) : (
        page.rows.map((line, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: lines are positional
          <Text key={i} wrap="truncate-end">
            {clip(line, width)}
          </Text>
        ))
      )}
      {hidden > 0 ? (
        <Text dimColor wrap="truncate-end">
          {clip(moreText, width)}
        </Text>
      ) : null}
    </Box>
  );
}

/** The page of lines that fits in `rows`, keeping the last row for "+N more" when some are hidden. */
function visibleLines(
  lines: readonly string[],
  scroll: number,
  rows: number,
): { page: Page<string>; hidden: number } {
  const all = pageRows(lines, scroll, rows);
  if (all.above + all.below === 0) return { page: all, hidden: 0 };
  const page = pageRows(lines, scroll, Math.max(0, rows - 1));
  return { page, hidden: lines.length - page.rows.length };
}
