import { useApp, useInput, useStdin } from 'ink';
import { useMemo, useRef, useState } from 'react';
import { Dashboard } from './dashboard.js';
import { handleKey, initialUi, splitKeys, type UiState } from './dashboard-reducer.js';
import { type DashboardState, DEFAULT_MODEL_OPTIONS, type ModelOptions } from './dashboard-state.js';
import { type DetailItem, detailItemFor, detailLines } from './detail-view.js';
import type { TerminalSize } from './layout.js';
import { type SnapshotSource, useDashboard } from './use-dashboard.js';
import { useTerminalSize } from './use-terminal-size.js';
import {
  layoutFor,
  scrollBoundsFor,
  serviceNames,
  visibleConnections,
  visibleHeaders,
} from './view-model.js';

export interface TopAppProps {
  source: SnapshotSource;
  intervalMs: number;
  model?: ModelOptions;
  initialUi?: Partial<UiState>;
  /** A fixed terminal size instead of the real one (tests). */
  size?: TerminalSize;
}

/**
 * The interactive dashboard: the polling hook feeds the model, keys go through the pure reducer, and `q`
 * (or Ctrl+C) ends the app through Ink's exit, which restores raw mode; the caller restores the screen.
 * Keys are only read when stdin can be put in raw mode (Ink's useInput throws otherwise).
 */
export function TopApp(props: TopAppProps) {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const size = useTerminalSize(props.size);
  const { state, error } = useDashboard(props.source, props.intervalMs, props.model ?? DEFAULT_MODEL_OPTIONS);
  const [ui, setUi] = useState(() => initialUi(props.initialUi));
  // Keys can arrive faster than React re-renders; the reducer always sees the latest view state.
  const uiRef = useRef(ui);
  const [frozen, setFrozen] = useState<DashboardState | null>(null);
  const shown = ui.paused && frozen ? frozen : state;

  const sample = shown.snapshot?.connections ?? null;
  const connections = useMemo(
    () => visibleConnections(sample?.rows ?? [], ui.sort, ui.filter),
    [sample, ui.sort, ui.filter],
  );
  const services = shown.snapshot?.services;
  const headers = useMemo(
    () => visibleHeaders(shown.headers, ui.filter, serviceNames(services ?? [])),
    [shown.headers, ui.filter, services],
  );
  const layout = layoutFor(shown, ui, size);
  // The row Enter opened, as it was then: rows move and vanish under a live reading.
  const [detail, setDetail] = useState<DetailItem | null>(null);
  const detailLineCount = detail ? detailLines(detail, '', layout.width).length : 0;

  useInput(
    (input, key) => {
      for (const one of splitKeys(input, key, uiRef.current.editing !== null)) {
        const current = uiRef.current;
        const bounds = scrollBoundsFor(shown, current, layout, {
          connections: connections.length,
          headers: headers.length,
          detailLines: detailLineCount,
        });
        const result = handleKey(current, one, key, bounds);
        if (result.quit) {
          exit();
          return;
        }
        if (result.ui.paused !== current.paused) setFrozen(result.ui.paused ? state : null);
        if (result.ui.detail && !current.detail) {
          // The selected row, as it is now; when it has gone (the list shrank), the view stays closed.
          const item =
            current.view === 'connections' || current.view === 'headers'
              ? detailItemFor(current.view, current.selected, connections, headers)
              : null;
          setDetail(item);
          if (!item) result.ui = { ...result.ui, detail: false };
        } else if (!result.ui.detail && current.detail) {
          setDetail(null);
        }
        uiRef.current = result.ui;
      }
      setUi(uiRef.current);
    },
    { isActive: isRawModeSupported === true },
  );

  return (
    <Dashboard
      state={shown}
      ui={ui}
      layout={layout}
      connections={connections}
      headers={headers}
      intervalSeconds={props.intervalMs / 1000}
      error={error}
      detail={detail}
    />
  );
}
