import {
  type CtEntry,
  type CtKey,
  ctEntryPeerId,
  decodeCtEntry,
  decodeCtKey,
  isOrigCtEntry,
  replyShare,
} from '../bpf/records.js';
import type { DatapathMaps } from './maps.js';
import type { ServiceView } from './services.js';

/** One live connection, from its original-direction conntrack entry. */
export interface ConnectionView {
  client: string;
  vip: string;
  backend: string;
  /** fullnat: the balancer's address and port the backend sees; dnat: the client itself. */
  backendSees: string;
  service: string | null;
  serviceId: number;
  state: CtEntry['state'];
  mode: CtEntry['mode'];
  ppv2: { expected: boolean; injected: boolean; headerBytes: number; reinjections: number };
  packetsFromClient: number;
  bytesFromClient: number;
  packetsFromBackend: number;
  bytesFromBackend: number;
  ageSeconds: number;
  idleSeconds: number;
}

export interface ConnectionFilter {
  service?: ServiceView;
  /** Matches client, VIP or backend address (with or without port). */
  address?: string;
  state?: CtEntry['state'];
}

const hostPort = (addr: string, port: number) =>
  addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;

/** What a connection's reply-direction entry adds to it: that direction's counters and last packet. */
interface ReplyShare {
  packets: bigint;
  bytes: bigint;
  lastSeenNs: bigint;
}

/**
 * Live connections. Each connection has two conntrack entries (one per direction); each is listed once, from
 * its original-direction entry, with the backend -> client counters and last-seen time of its reply entry
 * added (the datapath counts that direction there, so backend segments need one lookup, not two). Times use
 * CLOCK_MONOTONIC like the kernel (process.hrtime is the same clock on Linux).
 */
export function listConnections(
  maps: DatapathMaps,
  services: readonly ServiceView[],
  filter: ConnectionFilter = {},
  limit = Number.POSITIVE_INFINITY,
): { connections: ConnectionView[]; total: number } {
  const names = new Map(services.map((s) => [s.id, s.name ?? s.key]));
  const now = process.hrtime.bigint();
  const origs: Array<[CtKey, CtEntry, string]> = [];
  const replies = new Map<string, ReplyShare>();
  for (const [keyBuf, valueBuf] of maps.get('conntrack').entries()) {
    // Reply entries: only the few fields they add, read in place (no full decode).
    if (!isOrigCtEntry(valueBuf)) {
      replies.set(ctEntryPeerId(valueBuf), replyShare(valueBuf));
      continue;
    }
    origs.push([decodeCtKey(keyBuf), decodeCtEntry(valueBuf), keyBuf.toString('hex')]);
  }
  const connections: ConnectionView[] = [];
  let total = 0;
  for (const [key, entry, id] of origs) {
    const view = toView(key, entry, replies.get(id), names, now);
    if (!matches(view, entry, filter)) continue;
    total++;
    if (connections.length < limit) connections.push(view);
  }
  return { connections, total };
}

/**
 * Connections still in use: SYN_SENT, ESTABLISHED or FIN (half-closed). CLOSED ones only wait for their
 * timer. What `detach` reports before it takes the datapath away from them.
 */
export function countLiveConnections(maps: DatapathMaps): number {
  let live = 0;
  for (const [, valueBuf] of maps.get('conntrack').entries()) {
    if (!isOrigCtEntry(valueBuf)) continue;
    const entry = decodeCtEntry(valueBuf);
    if (entry.state !== 'closed' && entry.state !== 'none') live++;
  }
  return live;
}

function toView(
  key: CtKey,
  e: CtEntry,
  reply: ReplyShare | undefined,
  names: Map<number, string>,
  now: bigint,
): ConnectionView {
  const lastSeenNs = reply && reply.lastSeenNs > e.lastSeenNs ? reply.lastSeenNs : e.lastSeenNs;
  return {
    client: hostPort(key.saddr, key.sport),
    vip: hostPort(key.daddr, key.dport),
    // The reply-direction key is (backend -> balancer-or-client).
    backend: hostPort(e.peer.saddr, e.peer.sport),
    backendSees: hostPort(e.peer.daddr, e.peer.dport),
    service: names.get(e.serviceId) ?? null,
    serviceId: e.serviceId,
    state: e.state,
    mode: e.mode,
    ppv2: {
      expected: e.flags.ppv2,
      injected: e.flags.headerSent,
      headerBytes: e.ppv2Len,
      reinjections: e.reinjections,
    },
    packetsFromClient: Number(e.packetsFromClient),
    bytesFromClient: Number(e.bytesFromClient),
    packetsFromBackend: Number(e.packetsFromBackend + (reply?.packets ?? 0n)),
    bytesFromBackend: Number(e.bytesFromBackend + (reply?.bytes ?? 0n)),
    ageSeconds: seconds(now - e.createdNs),
    idleSeconds: seconds(now - lastSeenNs),
  };
}

function seconds(ns: bigint): number {
  return ns > 0n ? Number(ns / 1_000_000n) / 1000 : 0;
}

function matches(view: ConnectionView, entry: CtEntry, filter: ConnectionFilter): boolean {
  if (filter.service && entry.serviceId !== filter.service.id) return false;
  if (filter.state && entry.state !== filter.state) return false;
  if (filter.address) {
    const wanted = filter.address.replace(/^\[|\](?=:|$)/g, '');
    const fields = [view.client, view.vip, view.backend].map((f) => f.replace(/^\[|\](?=:|$)/g, ''));
    if (!fields.some((f) => f === wanted || f.startsWith(`${wanted}:`))) return false;
  }
  return true;
}
