import { Box, Text } from 'ink';
import { healthSummary, ppv2Summary } from '../core/service-summary.js';
import type { ServiceView } from '../core/services.js';
import { hostPort } from '../host-port.js';
import { type LiveCounts, pageRows } from './connection-table.js';
import type { CounterView } from './dashboard-state.js';
import { bitsPerSecond, clip, fit, si } from './format.js';

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
 * A backend's share: of live connections when the conntrack table has some for the service, otherwise the
 * share of new connections the Maglev table gives it (marked "~").
 */
export function backendShare(backend: ServiceView['backends'][number], stats: ServiceStats | null): string {
  if (stats && stats.liveTotal > 0) {
    const n = stats.live.get(hostPort(backend.address, backend.port)) ?? 0;
    return `${Math.round((100 * n) / stats.liveTotal)}%`;
  }
  return `~${Math.round(backend.share * 100)}%`;
}

/**
 * A backend in the summary line: its share, or "down" once the agent took it out of the table (with the
 * share it keeps when every backend is down and the table keeps them all).
 */
function backendCell(
  service: ServiceView,
  b: ServiceView['backends'][number],
  stats: ServiceStats | null,
): string {
  if (b.health !== 'down') return `${hostPort(b.address, b.port)} ${backendShare(b, stats)}`;
  return `${hostPort(b.address, b.port)} down${service.health.failOpen ? ` ${backendShare(b, stats)}` : ''}`;
}

const COLUMNS = 'SERVICE           MODE      CONN/S   HDR/S   BITS/S  LIVE  BACKENDS (share)  PPV2';

function summaryLine(
  service: ServiceView,
  view: CounterView | undefined,
  stats: ServiceStats | null,
): string {
  const r = view?.rateSummary;
  const backends = service.backends.map((b) => backendCell(service, b, stats)).join(', ');
  return [
    fit(service.name ?? service.key, 17),
    fit(service.mode, 7),
    fit(si(r?.connections ?? 0), 8, 'right'),
    fit(si(r?.headers ?? 0), 7, 'right'),
    fit(bitsPerSecond(r?.bytes ?? 0).replace('b/s', ''), 8, 'right'),
    fit(stats ? si(stats.liveTotal) : '-', 5, 'right'),
    ` ${backends || 'no backends'}  ${ppv2Summary(service)}`,
  ].join(' ');
}

function detailLines(
  service: ServiceView,
  view: CounterView | undefined,
  stats: ServiceStats | null,
): string[] {
  const t = view?.totalSummary;
  const r = view?.rateSummary;
  return [
    `${service.name ?? '-'}  ${service.key}  ${service.mode}${service.snat ? ` snat ${service.snat}` : ''}  ppv2 ${ppv2Summary(service)}` +
      (service.health.probed ? `  liveness ${healthSummary(service.health)}` : ''),
    `   rate conn/s ${si(r?.connections ?? 0)}  hdr/s ${si(r?.headers ?? 0)}  bits/s ${bitsPerSecond(r?.bytes ?? 0).replace('/s', '')}` +
      `   total conns ${si(t?.connections ?? 0)}  headers ${si(t?.headers ?? 0)}  failures ${si(t?.failures ?? 0)}  drops ${si(t?.drops ?? 0)}` +
      `  live ${stats ? si(stats.liveTotal) : '-'}`,
    ...service.backends.map(
      (b) =>
        `   -> ${hostPort(b.address, b.port)}${service.health.probed ? `  ${b.health}` : ''}  weight ${b.weight}  table ${(b.share * 100).toFixed(1)}%` +
        `  live ${stats ? (stats.live.get(hostPort(b.address, b.port)) ?? 0) : '-'} (${backendShare(b, stats)})`,
    ),
  ];
}

/** The services table: per-service rates, backends with their share of connections, PPv2 settings. */
export function ServicesPanel(props: ServicesPanelProps) {
  const { services, counters, live, width } = props;
  const lines = services.flatMap((s) => {
    const stats = liveStats(s, live);
    return props.detailed ? detailLines(s, counters[s.id], stats) : [summaryLine(s, counters[s.id], stats)];
  });
  const page = pageRows(lines, props.scroll, props.rows);
  const more = page.above + page.below;
  const title = props.detailed
    ? `SERVICES ${services.length}${more > 0 ? `  lines ${page.offset + 1}-${page.offset + page.rows.length} of ${lines.length}` : ''}`
    : `${COLUMNS}${page.below > 0 ? `  (+${page.below} more: tab to the services pane)` : ''}`;
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
    </Box>
  );
}
