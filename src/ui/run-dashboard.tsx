/**
 * Mount the dashboard on the terminal and give the terminal back exactly as it was. Only called when
 * stdout is a TTY (the command prints snapshots otherwise).
 */
import { type Instance, render } from 'ink';
import type { UiState } from './dashboard-reducer.js';
import type { ModelOptions } from './dashboard-state.js';
import { TopApp } from './top-app.js';
import type { SnapshotSource } from './use-dashboard.js';

const ENTER_ALTERNATE_SCREEN = '\u001b[?1049h\u001b[H';
const LEAVE_ALTERNATE_SCREEN = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

export interface DashboardOptions {
  intervalMs: number;
  model?: ModelOptions;
  initialUi?: Partial<UiState>;
}

/**
 * Runs until `q`, Ctrl+C, SIGINT, SIGTERM or SIGHUP. The dashboard draws on the alternate screen, so the
 * shell's scrollback is untouched; on the way out the alternate screen is left, the cursor shown, and
 * (through Ink's unmount) raw mode switched off, whatever ended it.
 */
export async function runDashboard(source: SnapshotSource, options: DashboardOptions): Promise<void> {
  const stdout = process.stdout;
  stdout.write(ENTER_ALTERNATE_SCREEN);
  let instance: Instance | undefined;
  const stop = () => instance?.unmount();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, stop);
  try {
    instance = render(
      <TopApp
        source={source}
        intervalMs={options.intervalMs}
        model={options.model}
        initialUi={options.initialUi}
      />,
      { exitOnCtrlC: true, patchConsole: true },
    );
    await instance.waitUntilExit();
  } finally {
    for (const signal of signals) process.off(signal, stop);
    stdout.write(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);
  }
}
