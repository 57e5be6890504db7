/**
 * What the current pane shows, derived from the model state and the view state: the connection rows after
 * the filter and sort, the header lines after the filter, the layout, and the scroll bounds of the pane's
 * list. Pure, so the Ink app and the tests compute exactly the same thing.
 */
import type { ConnectionView } from '../core/connections.js';
import type { DatapathSnapshot } from '../core/datapath-snapshot.js';
import type { ServiceView } from '../core/services.js';
import { filterConnections, type SortOrder, sortConnections } from './connection-table.js';
import type { ScrollBounds, UiState } from './dashboard-reducer.js';
import type { DashboardState } from './dashboard-state.js';
import type { HeaderLine } from './header-feed.js';
import { type Layout, planLayout, type TerminalSize } from './layout.js';

/** What "BPF stats" means right now: who keeps the kernel's run-time accounting on. */
export function runTimeStatsText(snapshot: DatapathSnapshot): string {
  const s = snapshot.runTimeStats;
  if (s.heldByTop) return s.sysctl === 1 ? 'on (sysctl)' : 'on while top runs';
  if (s.sysctl === 1) return 'on (sysctl)';
  return s.error ? `off (${s.error})` : 'off';
}

export function serviceNames(services: readonly ServiceView[]): Map<number, string> {
  return new Map(services.map((s) => [s.id, s.name ?? s.key]));
}

export function visibleConnections(
  rows: readonly ConnectionView[],
  sort: SortOrder,
  filter: string,
): ConnectionView[] {
  return sortConnections(filterConnections(rows, filter), sort);
}

/** Header lines where every filter word occurs in the client, VIP, service or decoded header text. */
export function visibleHeaders(
  lines: readonly HeaderLine[],
  filter: string,
  names: ReadonlyMap<number, string>,
): HeaderLine[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...lines];
  return lines.filter((line) => {
    const haystack = [
      line.client,
      line.vip,
      names.get(line.serviceId) ?? '',
      line.kind,
      line.header?.src ?? '',
      line.header?.dst ?? '',
      line.error ?? '',
    ]
      .join(' ')
      .toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

/** Lines the services pane has: per service a summary, a rates line and one line per backend. */
export function serviceLineCount(services: readonly ServiceView[]): number {
  return services.reduce((n, s) => n + 2 + s.backends.length, 0);
}

export function layoutFor(state: DashboardState, ui: UiState, size: TerminalSize): Layout {
  return planLayout(size, ui.view, { services: state.snapshot?.services.length ?? 0 });
}

/**
 * How far the arrow keys may scroll the current pane's list (or the open detail view), how far a page is,
 * and how many rows the list has.
 */
export function scrollBoundsFor(
  state: DashboardState,
  ui: UiState,
  layout: Layout,
  lists: { connections: number; headers: number; detailLines?: number },
): ScrollBounds {
  const [length, page] = (() => {
    if (ui.detail) return [lists.detailLines ?? 0, detailRows(layout)];
    switch (ui.view) {
      case 'overview':
      case 'connections':
        return [lists.connections, layout.connectionRows];
      case 'headers':
        return [lists.headers, layout.headerRows];
      case 'services':
        return [serviceLineCount(state.snapshot?.services ?? []), layout.serviceRows];
      case 'cpus':
        return [state.perCpu?.length ?? 0, layout.cpuRows];
    }
  })();
  return { pageSize: Math.max(1, page), maxScroll: Math.max(0, length - page), length };
}

/** Lines of the detail view: the body less its title line. */
export const detailRows = (layout: Layout): number => Math.max(1, layout.height - 4);

/** What top shows once the datapath it showed is gone (it picks up a new attach by itself). */
export const NOT_ATTACHED_TEXT =
  'not attached: no datapath is pinned for this instance (lbctl attach IFACE... starts one; top follows it)';

/** What top says while detach holds or drains the datapath (lb_config), where it shows the instance. */
export const DETACHING_TEXT = {
  hold: 'HOLDING (detach --keep-maps: service traffic dropped until lbctl attach)',
  drain: 'DRAINING (detach is resetting connections)',
} as const;
