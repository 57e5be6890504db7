import { usageError } from '../errors.js';
import type { Thresholds } from './tracker.js';

/** How the agent probes; see `lbctl agent --help` and the README for what the defaults add up to. */
export interface AgentOptions extends Thresholds {
  intervalMs: number;
  timeoutMs: number;
}

export const AGENT_DEFAULTS = { interval: '2', timeout: '1', rise: 2, fall: 3 } as const;

const MAX_THRESHOLD = 100;

/**
 * Check the agent's flags together. The timeout may not exceed the interval: a round of probes then always
 * ends before the next one is due, so rounds never overlap and `fall` rounds take fall x interval.
 */
export function parseAgentOptions(flags: {
  interval: string;
  timeout: string;
  rise: number;
  fall: number;
}): AgentOptions {
  const intervalMs = seconds('--interval', flags.interval, 0.1, 3600);
  const timeoutMs = seconds('--timeout', flags.timeout, 0.01, 3600);
  if (timeoutMs > intervalMs) {
    throw usageError(
      `--timeout ${flags.timeout} is longer than --interval ${flags.interval}`,
      'a probe must end before the next round starts: lower --timeout or raise --interval',
    );
  }
  return {
    intervalMs,
    timeoutMs,
    rise: threshold('--rise', flags.rise),
    fall: threshold('--fall', flags.fall),
  };
}

/**
 * The longest time from a backend's failure to its removal from selection: it may fail just after a good
 * probe, then `fall` rounds must fail, the last one by timing out.
 */
export function detectionWindowMs(o: AgentOptions): number {
  return o.fall * o.intervalMs + o.timeoutMs;
}

function seconds(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw usageError(
      `${flag} "${text}" is not a number of seconds from ${min} to ${max}`,
      `e.g. ${flag} 0.5`,
    );
  }
  return Math.round(value * 1000);
}

function threshold(flag: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_THRESHOLD) {
    throw usageError(
      `${flag} ${value} is not a whole number of probes from 1 to ${MAX_THRESHOLD}`,
      `e.g. ${flag} 3`,
    );
  }
  return value;
}
