import {
  CT_ENTRY_PEER_OFFSET,
  type CtEntry,
  type CtKey,
  ctKeyHash,
  decodeCtEntry,
  decodeCtKey,
  isOrigCtEntry,
  RECORD_SIZES,
  replyShare,
} from '../bpf/records.js';
import { hostPort } from '../host-port.js';
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
  protocol: CtKey['protocol'];
  /** TCP state, or 'udp' for a UDP flow. */
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

/** What a connection's reply-direction entry adds to it: that direction's counters and last packet. */
type ReplyShare = ReturnType<typeof replyShare>;

/**
 * Live connections. Each connection has two conntrack entries (one per direction); each is listed once, from
 * its original-direction entry, with the backend -> client counters and last-seen time of its reply entry
 * added (the datapath counts that direction there, so backend segments need one lookup, not two). The two
 * entries come in any order: a reply entry's share is applied to its connection's view when that exists, or
 * kept until it does. Times use CLOCK_MONOTONIC like the kernel (process.hrtime is the same clock on Linux).
 */
export function listConnections(
  maps: DatapathMaps,
  services: readonly ServiceView[],
  filter: ConnectionFilter = {},
  limit = Number.POSITIVE_INFINITY,
): { connections: ConnectionView[]; total: number } {
  const names = new Map(services.map((s) => [s.id, s.name ?? s.key]));
  const now = process.hrtime.bigint();
  const nowNs = Number(now);
  const connections: ConnectionView[] = [];
  const pairs = new PairTable();
  let total = 0;
  for (const [keyBuf, valueBuf] of maps.get('conntrack').entries()) {
    if (!isOrigCtEntry(valueBuf)) {
      // Reply entries: only the few fields they add, read in place (no full decode).
      const n = pairs.slot(valueBuf, CT_ENTRY_PEER_OFFSET);
      const view = pairs.views[n];
      if (view) addReplyShare(view, replyShare(valueBuf), nowNs);
      else pairs.shares[n] = replyShare(valueBuf);
      continue;
    }
    const entry = decodeCtEntry(valueBuf);
    const view = toView(decodeCtKey(keyBuf), entry, names, now);
    if (!matches(view, entry, filter)) continue;
    total++;
    if (connections.length >= limit) continue;
    connections.push(view);
    const n = pairs.slot(keyBuf, 0);
    const share = pairs.shares[n];
    if (share) addReplyShare(view, share, nowNs);
    else pairs.views[n] = view;
  }
  return { connections, total };
}

const KEY_WORDS = RECORD_SIZES.ctKey / 4;

/**
 * Orig entries and reply entries met so far, by orig key (a reply entry names it as its peer): open
 * addressing over typed arrays, the key's words kept for the exact comparison. Per-entry strings, Buffer views
 * or Map entries cost more than the decoding they serve (and views would keep every batch of map values alive
 * until the listing ends).
 */
class PairTable {
  private index = new Int32Array(1 << 12); // slot number + 1; 0 = free
  private words = new Uint32Array(KEY_WORDS << 11);
  readonly views: Array<ConnectionView | undefined> = [];
  readonly shares: Array<ReplyShare | undefined> = [];

  /** The slot number of the key at `offset` in `buf`, added if new. */
  slot(buf: Buffer, offset: number): number {
    if ((this.views.length + 1) * 2 > this.index.length) this.grow();
    const mask = this.index.length - 1;
    for (let i = ctKeyHash(buf, offset) & mask; ; i = (i + 1) & mask) {
      const n = this.index[i] as number;
      if (n === 0) return this.add(i, buf, offset);
      if (this.matches(n - 1, buf, offset)) return n - 1;
    }
  }

  private add(at: number, buf: Buffer, offset: number): number {
    const n = this.views.length;
    if ((n + 1) * KEY_WORDS > this.words.length) {
      const words = new Uint32Array(this.words.length * 2);
      words.set(this.words);
      this.words = words;
    }
    for (let w = 0; w < KEY_WORDS; w++) this.words[n * KEY_WORDS + w] = buf.readUInt32LE(offset + w * 4);
    this.views.push(undefined);
    this.shares.push(undefined);
    this.index[at] = n + 1;
    return n;
  }

  private matches(n: number, buf: Buffer, offset: number): boolean {
    for (let w = 0; w < KEY_WORDS; w++) {
      if (this.words[n * KEY_WORDS + w] !== buf.readUInt32LE(offset + w * 4)) return false;
    }
    return true;
  }

  private grow(): void {
    const old = this.index;
    this.index = new Int32Array(old.length * 2);
    const mask = this.index.length - 1;
    for (const v of old) {
      if (v === 0) continue;
      let i = wordsHash(this.words, (v - 1) * KEY_WORDS) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = v;
    }
  }
}

/** ctKeyHash of a key held as words. */
function wordsHash(words: Uint32Array, at: number): number {
  const buf = Buffer.from(words.buffer, words.byteOffset + at * 4, RECORD_SIZES.ctKey);
  return ctKeyHash(buf, 0);
}

function addReplyShare(view: ConnectionView, share: ReplyShare, nowNs: number): void {
  view.packetsFromBackend += share.packets;
  view.bytesFromBackend += share.bytes;
  const idleNs = nowNs - share.lastSeenNs;
  view.idleSeconds = Math.min(view.idleSeconds, idleNs > 0 ? Math.floor(idleNs / 1e6) / 1000 : 0);
}

/** A live connection's two conntrack keys: client -> VIP, and backend -> balancer (fullnat) or client (dnat). */
export interface LiveConnectionKeys {
  client: CtKey;
  backend: CtKey;
  serviceId: number;
}

/**
 * Connections still in use: SYN_SENT, ESTABLISHED or FIN (half-closed). CLOSED ones only wait for the
 * janitor's sweep. What `detach` reports, and drains, before it takes the datapath away from them, and
 * what `service delete` counts before it asks.
 */
export function liveConnectionKeys(maps: DatapathMaps): LiveConnectionKeys[] {
  const live: LiveConnectionKeys[] = [];
  for (const [keyBuf, valueBuf] of maps.get('conntrack').entries()) {
    if (!isOrigCtEntry(valueBuf)) continue;
    const entry = decodeCtEntry(valueBuf);
    if (entry.state !== 'closed' && entry.state !== 'none')
      live.push({ client: decodeCtKey(keyBuf), backend: entry.peer, serviceId: entry.serviceId });
  }
  return live;
}

function toView(key: CtKey, e: CtEntry, names: Map<number, string>, now: bigint): ConnectionView {
  return {
    client: hostPort(key.saddr, key.sport),
    vip: hostPort(key.daddr, key.dport),
    // The reply-direction key is (backend -> balancer-or-client).
    backend: hostPort(e.peer.saddr, e.peer.sport),
    backendSees: hostPort(e.peer.daddr, e.peer.dport),
    service: names.get(e.serviceId) ?? null,
    serviceId: e.serviceId,
    protocol: key.protocol,
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
    packetsFromBackend: Number(e.packetsFromBackend),
    bytesFromBackend: Number(e.bytesFromBackend),
    ageSeconds: seconds(now - e.createdNs),
    idleSeconds: seconds(now - e.lastSeenNs),
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
