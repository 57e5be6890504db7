/**
 * A busy balancer's conntrack table for the large-table contender: established connections that nothing
 * sends on, written straight into the pinned table before a run (an ORIG and a REPLY entry each, as the
 * datapath writes them) and deleted again before `detach`, which would otherwise spend its drain timeout
 * probing clients that do not exist.
 *
 * Their tuples never meet the run's traffic: clients 192.0.2.100 and up (the load comes from the lab's
 * client address), and reply tuples towards 198.51.100.200 and up, which is no address of the balancer, so
 * the run's own fullnat connections (whose reply tuples use the SNAT address and the client's port) find
 * every tuple they want free, as they would on an empty table.
 */
import {
  CT_ENTRY_PEER_OFFSET,
  type CtEntry,
  encodeCtEntry,
  encodeCtKey,
  RECORD_SIZES,
} from '../src/bpf/records.js';
import type { DatapathMaps } from '../src/core/maps.js';

/** What the held connections claim to belong to: a real service and one of its backends. */
export interface HeldConnectionTarget {
  serviceId: number;
  vip: string;
  port: number;
  backendId: number;
  backendAddress: string;
  backendPort: number;
  headerBytes: number;
}

const CONNECTIONS_PER_CLIENT = 60_000;
const FIRST_CLIENT_HOST = 100;
const FIRST_PORT = 1024;
/** Connections per batch call: 2 × 8,192 entries, 2.3 MB of buffers. */
const BATCH = 8192;

interface Tuple {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

function tuplesOf(i: number, t: HeldConnectionTarget): { orig: Tuple; reply: Tuple } {
  const host = FIRST_CLIENT_HOST + Math.floor(i / CONNECTIONS_PER_CLIENT);
  if (host > 254) throw new RangeError(`at most ${155 * CONNECTIONS_PER_CLIENT} held connections`);
  const port = FIRST_PORT + (i % CONNECTIONS_PER_CLIENT);
  return {
    orig: { saddr: `192.0.2.${host}`, daddr: t.vip, sport: port, dport: t.port },
    reply: { saddr: t.backendAddress, daddr: `198.51.100.${host + 100}`, sport: t.backendPort, dport: port },
  };
}

/** An entry of a held connection; only its peer key differs from one connection to the next. */
export function entryTemplate(kind: CtEntry['kind'], t: HeldConnectionTarget, nowNs: bigint): Buffer {
  const { orig, reply } = tuplesOf(0, t);
  return encodeCtEntry({
    kind,
    peer: { ...(kind === 'orig' ? reply : orig), family: 4, protocol: 'tcp' },
    state: 'established',
    mode: 'fullnat',
    flags: {
      ppv2: t.headerBytes > 0,
      headerSent: t.headerBytes > 0,
      headerAcked: t.headerBytes > 0,
      dataSent: true,
      finFromClient: false,
      finFromBackend: false,
      mirror: kind === 'reply',
    },
    ppv2Len: t.headerBytes,
    serviceId: t.serviceId,
    backendId: t.backendId,
    clientIsn: 0,
    reinjections: 0,
    createdNs: nowNs,
    lastSeenNs: nowNs,
    packetsFromClient: 0n,
    bytesFromClient: 0n,
    packetsFromBackend: 0n,
    bytesFromBackend: 0n,
    uniqueId: Buffer.alloc(16),
  });
}

/** Keys (and, with templates, entries) of connections [first, first + n), back to back, ORIG then REPLY. */
export function encodeChunk(
  first: number,
  n: number,
  t: HeldConnectionTarget,
  templates?: { orig: Buffer; reply: Buffer },
): { keys: Buffer; values: Buffer } {
  const keySize = RECORD_SIZES.ctKey;
  const valueSize = RECORD_SIZES.ctEntry;
  const keys = Buffer.alloc(2 * n * keySize);
  const values = Buffer.alloc(templates ? 2 * n * valueSize : 0);
  for (let j = 0; j < n; j += 1) {
    const { orig, reply } = tuplesOf(first + j, t);
    const origKey = encodeCtKey(orig);
    const replyKey = encodeCtKey(reply);
    origKey.copy(keys, 2 * j * keySize);
    replyKey.copy(keys, (2 * j + 1) * keySize);
    if (!templates) continue;
    templates.orig.copy(values, 2 * j * valueSize);
    replyKey.copy(values, 2 * j * valueSize + CT_ENTRY_PEER_OFFSET);
    templates.reply.copy(values, (2 * j + 1) * valueSize);
    origKey.copy(values, (2 * j + 1) * valueSize + CT_ENTRY_PEER_OFFSET);
  }
  return { keys, values };
}

/**
 * Write `count` held connections. Their last-seen time is now, so the janitor keeps them for the
 * established timeout (15 minutes by default), longer than any run.
 */
export function holdConnections(maps: DatapathMaps, count: number, target: HeldConnectionTarget): void {
  // CLOCK_MONOTONIC, the datapath's bpf_ktime_get_ns().
  const now = process.hrtime.bigint();
  const templates = { orig: entryTemplate('orig', target, now), reply: entryTemplate('reply', target, now) };
  const conntrack = maps.get('conntrack');
  for (let first = 0; first < count; first += BATCH) {
    const { keys, values } = encodeChunk(first, Math.min(BATCH, count - first), target, templates);
    conntrack.updateBatch(keys, values);
  }
}

/** How many of the held connections' ORIG entries are in the table. */
export function countHeldConnections(
  maps: DatapathMaps,
  count: number,
  target: HeldConnectionTarget,
): number {
  const conntrack = maps.get('conntrack');
  let found = 0;
  for (let i = 0; i < count; i += 1) if (conntrack.lookup(encodeCtKey(tuplesOf(i, target).orig))) found += 1;
  return found;
}

/** Delete what holdConnections wrote (what the janitor already took is skipped). */
export function releaseConnections(maps: DatapathMaps, count: number, target: HeldConnectionTarget): void {
  const conntrack = maps.get('conntrack');
  const keySize = RECORD_SIZES.ctKey;
  for (let first = 0; first < count; first += BATCH) {
    const { keys } = encodeChunk(first, Math.min(BATCH, count - first), target);
    // A batch delete stops at the first missing key: go on one by one from there.
    const deleted = conntrack.deleteBatch(keys);
    for (let k = deleted; k < keys.length / keySize; k += 1)
      conntrack.delete(keys.subarray(k * keySize, (k + 1) * keySize));
  }
}
