/** One terminal for a test: the CLI runs in a real pty (tmux), the test reads the screen and types keys. */
import { run } from '../../src/sys/run.js';
import { waitFor } from './wait.js';

const SESSION = 'lbctl-test';

/**
 * A private tmux server on a socket in the test's scratch directory, so the test never touches anyone
 * else's sessions and leaves no socket behind.
 */
export class Tmux {
  private started = false;

  constructor(private readonly socket: string) {}

  async tmux(...args: string[]): Promise<string> {
    return (await run('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { timeoutMs: 10_000 })).stdout;
  }

  async start(command: string, columns: number, rows: number): Promise<void> {
    this.started = true;
    await this.tmux('new-session', '-d', '-s', SESSION, '-x', String(columns), '-y', String(rows), command);
  }

  capture(): Promise<string> {
    return this.tmux('capture-pane', '-p', '-t', SESSION);
  }

  /** tmux format variables of the pane, e.g. alternate_on and cursor_flag. */
  async pane(format: string): Promise<string> {
    return (await this.tmux('display-message', '-p', '-t', SESSION, format)).trim();
  }

  async keys(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', SESSION, ...keys);
  }

  async resize(columns: number, rows: number): Promise<void> {
    await this.tmux('resize-window', '-t', SESSION, '-x', String(columns), '-y', String(rows));
  }

  async waitFor(what: string, check: (screen: string) => boolean, ms = 25_000): Promise<string> {
    let screen = '';
    return waitFor(
      what,
      async () => {
        screen = await this.capture();
        return check(screen) && screen;
      },
      { timeoutMs: ms, intervalMs: 250, detail: () => `the screen was:\n${screen}` },
    );
  }

  /** Ends the server and with it the pane's processes (they get SIGHUP). */
  async close(): Promise<void> {
    if (this.started) await this.tmux('kill-server').catch(() => undefined);
  }
}
