/**
 * The live-connections table as data: sort, filter, page and per-backend shares. Pure functions over the
 * rows a conntrack pass produced, so the dashboard can re-sort and re-filter on a key press without
 * touching the kernel.
 */
import { CT_STATES } from '../bpf/records.js';
import type { ConnectionView } from '../core/connections.js';

/** Sort keys, each with its natural direction (the one `s` selects; `r` reverses it). */
export const SORT_KEYS = [
  'age',
  'bytes',
  'bytes-in',
  'bytes-out',
  'idle',
  'client',
  'backend',
  'service',
  'state',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface SortOrder {
  key: SortKey;
  reverse: boolean;
}

type Compare = (a: ConnectionView, b: ConnectionView) => number;

const byNumber =
  (f: (c: ConnectionView) => number, descending: boolean): Compare =>
  (a, b) =>
    descending ? f(b) - f(a) : f(a) - f(b);

const byText =
  (f: (c: ConnectionView) => string): Compare =>
  (a, b) => {
    const x = f(a);
    const y = f(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

/**
 * "192.0.2.9:80" must sort before "192.0.2.10:80": IPv4 octets and ports are zero-padded into a key that
 * compares as text; IPv6 sorts after IPv4, by its text.
 */
export function addressSortKey(hostPort: string): string {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+):(\d+)$/.exec(hostPort);
  if (v4) {
    const [, a = '', b = '', c = '', d = '', port = ''] = v4;
    return `4 ${[a, b, c, d].map((o) => o.padStart(3, '0')).join('.')}:${port.padStart(5, '0')}`;
  }
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(hostPort);
  if (v6) return `6 ${v6[1]}:${(v6[2] ?? '').padStart(5, '0')}`;
  return `9 ${hostPort}`;
}

const COMPARE: Record<SortKey, Compare> = {
  age: byNumber((c) => c.ageSeconds, false),
  bytes: byNumber((c) => c.bytesFromClient + c.bytesFromBackend, true),
  'bytes-in': byNumber((c) => c.bytesFromClient, true),
  'bytes-out': byNumber((c) => c.bytesFromBackend, true),
  idle: byNumber((c) => c.idleSeconds, false),
  client: byText((c) => addressSortKey(c.client)),
  backend: byText((c) => addressSortKey(c.backend)),
  service: byText((c) => c.service ?? `~${c.serviceId}`),
  state: byNumber((c) => CT_STATES.indexOf(c.state), false),
};

/** A sorted copy; ties keep a stable order by client address so rows do not jump between ticks. */
export function sortConnections(rows: readonly ConnectionView[], order: SortOrder): ConnectionView[] {
  const primary = COMPARE[order.key];
  const tie = COMPARE.client;
  const sign = order.reverse ? -1 : 1;
  return [...rows].sort((a, b) => sign * primary(a, b) || tie(a, b));
}

/**
 * Rows where every word of `text` (case-insensitive) occurs in the client, VIP, backend, service name or
 * state: "web 192.0.2.10" finds that client's connections to service web.
 */
export function filterConnections(rows: readonly ConnectionView[], text: string): ConnectionView[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...rows];
  return rows.filter((c) => {
    const haystack = `${c.client} ${c.vip} ${c.backend} ${c.service ?? ''} ${c.state}`.toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

export interface Page<T> {
  rows: T[];
  /** The first row shown (clamped so the page is as full as possible). */
  offset: number;
  /** Rows before and after the page. */
  above: number;
  below: number;
}

export function pageRows<T>(rows: readonly T[], offset: number, height: number): Page<T> {
  const size = Math.max(0, height);
  const start = Math.max(0, Math.min(offset, rows.length - size));
  const page = rows.slice(start, start + size);
  return { rows: page, offset: start, above: start, below: rows.length - start - page.length };
}

/** Live connections per service and, within it, per backend ("198.51.100.2:80"). */
export interface LiveCounts {
  byService: Map<number, { total: number; byBackend: Map<string, number> }>;
}

/** One pass over the rows of a conntrack reading; the services table reads shares from it every frame. */
export function liveConnectionCounts(rows: readonly ConnectionView[]): LiveCounts {
  const byService: LiveCounts['byService'] = new Map();
  for (const row of rows) {
    let service = byService.get(row.serviceId);
    if (!service) {
      service = { total: 0, byBackend: new Map() };
      byService.set(row.serviceId, service);
    }
    service.total++;
    service.byBackend.set(row.backend, (service.byBackend.get(row.backend) ?? 0) + 1);
  }
  return { byService };
}

/** Short state names for narrow columns. */
export const STATE_SHORT: Record<ConnectionView['state'], string> = {
  none: '-',
  syn_sent: 'syn',
  established: 'est',
  fin: 'fin',
  closed: 'cls',
  udp: 'udp',
};

/** The PPv2 column: "yes" (injected), "wait" (expected, not yet sent), "off". */
export function ppv2Cell(c: ConnectionView): string {
  if (!c.ppv2.expected) return 'off';
  return c.ppv2.injected ? (c.ppv2.reinjections > 0 ? `re${c.ppv2.reinjections}` : 'yes') : 'wait';
}
