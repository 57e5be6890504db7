import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long; default 10 s. */
  timeoutMs?: number;
  /** Pause between two checks; default 100 ms. */
  intervalMs?: number;
  /** Appended to the failure message, e.g. the last state seen, so a timeout says why. */
  detail?: () => string;
}

/**
 * Poll `check` until it returns a value other than undefined or false, and return that value. Tests wait
 * for the condition they depend on instead of sleeping a guessed time: fast when the machine is fast, and
 * a clear failure ("timed out after N ms waiting for <what>") when the condition never comes.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 100, detail } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const more = detail ? `; ${detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${more}`);
    }
    await sleep(intervalMs);
  }
}
