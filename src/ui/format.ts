/**
 * Compact number, time and chart formatting for the dashboard, where a column is 5-9 characters wide.
 * Pure functions; the non-TTY tables use them too so both outputs read the same.
 */

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

/** 0, 0.5, 12.3, 123, 1.2k, 12.3k, 123k, 1.2M ... (at most 5 characters for non-negative values). */
export function si(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const sign = value < 0 ? '-' : '';
  let n = Math.abs(value);
  if (n === 0) return '0';
  let unit = 0;
  while (n >= 999.5 && unit < SI.length - 1) {
    n /= 1000;
    unit++;
  }
  const digits = unit === 0 ? (Number.isInteger(n) || n >= 100 ? 0 : 1) : n < 100 ? 1 : 0;
  let text = n.toFixed(digits);
  if (digits > 0 && unit === 0 && text.endsWith('.0')) text = text.slice(0, -2);
  return `${sign}${text}${SI[unit]}`;
}

/** Bits per second from bytes per second: "3.4Mb/s". */
export const bitsPerSecond = (bytesPerSecond: number): string => `${si(bytesPerSecond * 8)}b/s`;

/** A byte count: "512B", "1.2kB", "3.4MB". */
export const bytes = (value: number): string => `${si(value)}B`;

/** A duration in seconds: "45s", "12m03s", "5h12m", "3d04h". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** "14:03:04" in local time, as the clock on the wall says. */
export function clock(timeMs: number): string {
  const d = new Date(timeMs);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** "14:03:04.123": the header feed, where several headers share a second. */
export function clockMs(timeMs: number): string {
  return `${clock(timeMs)}.${String(Math.floor(timeMs) % 1000).padStart(3, '0')}`;
}

const BARS = '▁▂▃▄▅▆▇█';

/**
 * A sparkline of the last `width` values, scaled to the largest of them (so a quiet minute still shows its
 * shape), right-aligned: missing history is blank on the left. Zero, and only zero, is the lowest bar.
 */
export function sparkline(values: readonly number[], width: number): string {
  if (width <= 0) return '';
  const shown = values.slice(-width);
  const max = Math.max(0, ...shown);
  const bars = shown.map((v) => {
    if (!(v > 0) || max === 0) return BARS[0];
    // Any non-zero value rises above the zero bar, so a trickle is not mistaken for silence.
    return BARS[Math.max(1, Math.round((v / max) * (BARS.length - 1)))];
  });
  return ' '.repeat(width - shown.length) + bars.join('');
}

/**
 * Cut text to `width` columns with "…", without padding: a frame's cost in Ink grows with every character
 * it holds, trailing spaces included, so only bars that must span the width are padded (fit).
 */
export function clip(text: string, width: number): string {
  return text.length > width ? fit(text, width) : text.trimEnd();
}

/** Fit text into `width` columns: pad, or cut with "…". */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

/**
 * An endpoint ("192.0.2.10:51234", "[2001:db8::10]:443") fitted into `width` columns. When it is too long
 * the address is shortened in the middle ("[2001:db8:c…:10]:443"), never the port: a port cut off reads as
 * another port.
 */
export function fitEndpoint(endpoint: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (endpoint.length <= width) return fit(endpoint, width, align);
  const parts = /^(\[?)(.+?)(\]?:\d+)$/.exec(endpoint);
  const open = parts?.[1] ?? '';
  const address = parts?.[2] ?? '';
  const portPart = parts?.[3] ?? '';
  const room = width - open.length - portPart.length - 1; // 1 for the ellipsis
  if (!parts || room < 2) return fit(endpoint, width, align);
  const head = address.slice(0, Math.ceil(room / 2));
  const tail = address.slice(address.length - Math.floor(room / 2));
  return `${open}${head}…${tail}${portPart}`;
}

/**
 * Whole percentages of `counts` that add up to exactly 100 (largest remainders get the rounding), so a
 * column of shares never sums to 99% or 101%. All zero when the counts are.
 */
export function percentages(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + Math.max(0, b), 0);
  if (total <= 0) return counts.map(() => 0);
  const exact = counts.map((c) => (Math.max(0, c) * 100) / total);
  const floors = exact.map(Math.floor);
  let left = 100 - floors.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, i) => [e - Math.floor(e), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    floors[i] = (floors[i] ?? 0) + 1;
    left -= 1;
  }
  return floors;
}

/** Items joined with ", " up to `width` columns, then "+N more" for the ones that did not fit. */
export function fitList(items: readonly string[], width: number): string {
  const all = items.join(', ');
  if (all.length <= width) return all;
  let shown = '';
  for (let i = 0; i < items.length; i += 1) {
    const more = ` +${items.length - i} more`;
    const next = shown ? `${shown}, ${items[i]}` : (items[i] ?? '');
    const restAfter = i + 1 < items.length ? ` +${items.length - i - 1} more` : '';
    if (next.length + restAfter.length > width) return clip(`${shown}${more}`.trimStart(), width);
    shown = next;
  }
  return clip(shown, width);
}
