import { useEffect, useState } from 'react';
import type { DatapathSnapshot } from '../core/datapath-snapshot.js';
import {
  advance,
  type DashboardState,
  DEFAULT_MODEL_OPTIONS,
  initialState,
  type ModelOptions,
} from './dashboard-state.js';

/** Where snapshots come from: the DatapathCollector, or a fixture in tests. */
export interface SnapshotSource {
  collect(): DatapathSnapshot;
}

/**
 * The dashboard's one polling hook: collect a snapshot now and then every `intervalMs`, and fold each into
 * the model. Collection keeps running while the display is paused, so rates stay per interval and the
 * events ring buffer keeps being drained. A failed collection is reported and retried on the next tick.
 */
export function useDashboard(
  source: SnapshotSource,
  intervalMs: number,
  options: ModelOptions = DEFAULT_MODEL_OPTIONS,
): { state: DashboardState; error: string | null } {
  const [state, setState] = useState(initialState);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      try {
        const snapshot = source.collect();
        setState((current) => advance(current, snapshot, options));
        setError(null);
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
      }
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [source, intervalMs, options]);
  return { state, error };
}
