/**
 * Byte layouts of the datapath's map records and ring-buffer events: the only place on the TypeScript side
 * that knows them. Mirrors bpf/lbctl_abi.h and bpf/stats.h; bpf/ABI.md documents every byte.
 *
 * Conventions (as in the C structs): addresses take 16 bytes, IPv4 in the first 4; ports are big-endian
 * (network order, as on the wire); every other integer is little-endian (host order on x86_64 and arm64).
 */
import { formatIPv4, formatIPv6, parseIpAddress } from '../ppv2/ip-address.js';

/** Limits compiled into the datapath (bpf/lbctl_abi.h). */
export const LB_LIMITS = {
  maxServices: 256, // service ids 1..255; stats slot 0 is global
  maxBackends: 4096,
  maglevSize: 4093, // entries per service lookup ring (prime)
  tlvMax: 128, // bytes of custom TLVs per service
  ppv2MaxLen: 209, // longest header the datapath builds
  eventHeaderMax: 212,
  conntrackEntries: 131072,
} as const;

/** Pinned map names (one bpffs directory per lbctl instance). */
export const MAP_NAMES = {
  services: 'lb_services',
  backends: 'lb_backends',
  maglev: 'lb_maglev',
  conntrack: 'lb_conntrack',
  stats: 'lb_stats',
  config: 'lb_config',
  connSeq: 'lb_conn_seq',
  events: 'lb_events',
  janitor: 'lb_janitor',
} as const;

/** The program in the object and its ELF section. */
export const PROGRAM = { name: 'lbctl_ingress', section: 'tc' } as const;

/**
 * Per-CPU counters in lb_stats, in enum lb_counter order (bpf/stats.h). Slot 0 of the map is global, slot
 * <service id> per service. Append only; a unit test checks this list against the C enum.
 */
export const COUNTER_NAMES = [
  'fwd_packets',
  'fwd_bytes',
  'rev_packets',
  'rev_bytes',
  'conn_new',
  'conn_recycled',
  'conn_expired',
  'ppv2_injected',
  'ppv2_reinjected',
  'ppv2_gso_trimmed',
  'ppv2_fail_too_big',
  'ppv2_fail_grow',
  'ppv2_fail_write',
  'ppv2_no_service',
  'ppv2_tlvs_changed',
  'ppv2_syn_data',
  'mss_clamped',
  'sack_shifted',
  'snat_port_collision',
  'drop_snat_exhausted',
  'drop_no_backend',
  'drop_no_conntrack',
  'drop_ct_insert',
  'drop_reply_collision',
  'drop_ct_orphan',
  'drop_fib_unreachable',
  'drop_fib_fwd_disabled',
  'drop_fib_frag_needed',
  'drop_fib_other',
  'events_lost',
  'drain_resets',
  'drop_detaching',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, bigint>;

export const RECORD_SIZES = {
  serviceKey: 20,
  service: 152,
  backend: 24,
  maglevRing: 4 * LB_LIMITS.maglevSize,
  ctKey: 40,
  ctEntry: 144,
  config: 32,
  event: 272,
  stats: 8 * COUNTER_NAMES.length,
} as const;

export type Family = 4 | 6;
export type Mode = 'fullnat' | 'dnat';

const PROTO_TCP = 6;
const MODES: Record<Mode, number> = { fullnat: 1, dnat: 2 };
const SVC_F_PPV2 = 0x01;
const SVC_F_UNIQUE_ID = 0x02;
const SVC_F_CRC32C = 0x04;
const SVC_F_LIVENESS = 0x08;

// ---------------------------------------------------------------------------------------------------------
// addresses

/** 4 or 6 for an IP address literal; throws RangeError otherwise. */
export function familyOf(addr: string): Family {
  const parsed = parseIpAddress(addr);
  if (!parsed) throw new RangeError(`not an IP address: ${addr}`);
  return parsed.family;
}

/** Write an address into its 16-byte field (IPv4 in the first 4 bytes, zeros after). */
export function encodeAddr(addr: string, buf: Buffer, offset: number): Family {
  const parsed = parseIpAddress(addr);
  if (!parsed) throw new RangeError(`not an IP address: ${addr}`);
  buf.fill(0, offset, offset + 16);
  buf.set(parsed.bytes, offset);
  return parsed.family;
}

/** Read a 16-byte address field; IPv6 comes back in RFC 5952 form (the codec's canonical text). */
export function decodeAddr(buf: Buffer, offset: number, family: Family): string {
  return family === 4 ? formatIPv4(buf, offset) : formatIPv6(buf, offset);
}

function familyByte(buf: Buffer, offset: number, what: string): Family {
  const f = buf[offset];
  if (f !== 4 && f !== 6) throw new RangeError(`${what}: bad family byte ${f}`);
  return f;
}

function checkSize(buf: Buffer, size: number, what: string): void {
  if (buf.length < size) throw new RangeError(`${what}: need ${size} bytes, got ${buf.length}`);
}

// ---------------------------------------------------------------------------------------------------------
// services

/** lb_services key: VIP, port, protocol. */
export interface ServiceKey {
  vip: string;
  port: number;
  protocol: 'tcp';
  family: Family;
}

/** lb_services value. `tlvs` are custom TLVs (types 0xE0-0xEF) already encoded, at most 128 bytes. */
export interface ServiceRecord {
  id: number;
  mode: Mode;
  ppv2: boolean;
  uniqueId: boolean;
  crc32c: boolean;
  /** `lbctl agent` probes this service's backends; the datapath ignores the bit. */
  liveness: boolean;
  /** fullnat: the balancer's address facing the backends; null for dnat. */
  snatAddr: string | null;
  tlvs: Buffer;
}

export function encodeServiceKey(key: { vip: string; port: number }): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.serviceKey);
  const family = encodeAddr(key.vip, buf, 0);
  buf.writeUInt16BE(key.port, 16);
  buf[18] = PROTO_TCP;
  buf[19] = family;
  return buf;
}

export function decodeServiceKey(buf: Buffer): ServiceKey {
  checkSize(buf, RECORD_SIZES.serviceKey, 'service key');
  const family = familyByte(buf, 19, 'service key');
  return { vip: decodeAddr(buf, 0, family), port: buf.readUInt16BE(16), protocol: 'tcp', family };
}

export function encodeService(svc: ServiceRecord): Buffer {
  if (!Number.isInteger(svc.id) || svc.id < 1 || svc.id >= LB_LIMITS.maxServices) {
    throw new RangeError(`service id ${svc.id} outside 1..${LB_LIMITS.maxServices - 1}`);
  }
  if (svc.tlvs.length > LB_LIMITS.tlvMax) {
    throw new RangeError(`custom TLVs take ${svc.tlvs.length} bytes, at most ${LB_LIMITS.tlvMax} fit`);
  }
  const buf = Buffer.alloc(RECORD_SIZES.service);
  buf.writeUInt32LE(svc.id, 0);
  buf[4] = MODES[svc.mode];
  buf[5] =
    (svc.ppv2 ? SVC_F_PPV2 : 0) |
    (svc.uniqueId ? SVC_F_UNIQUE_ID : 0) |
    (svc.crc32c ? SVC_F_CRC32C : 0) |
    (svc.liveness ? SVC_F_LIVENESS : 0);
  buf.writeUInt16LE(svc.tlvs.length, 6);
  if (svc.snatAddr) encodeAddr(svc.snatAddr, buf, 8);
  svc.tlvs.copy(buf, 24);
  return buf;
}

/** `family` is the service key's: the SNAT address field does not say. */
export function decodeService(buf: Buffer, family: Family): ServiceRecord {
  checkSize(buf, RECORD_SIZES.service, 'service');
  const mode = buf[4] === MODES.dnat ? 'dnat' : 'fullnat';
  const flags = buf[5] ?? 0;
  const tlvLen = Math.min(buf.readUInt16LE(6), LB_LIMITS.tlvMax);
  const snatSet = buf.subarray(8, 24).some((b) => b !== 0);
  return {
    id: buf.readUInt32LE(0),
    mode,
    ppv2: (flags & SVC_F_PPV2) !== 0,
    uniqueId: (flags & SVC_F_UNIQUE_ID) !== 0,
    crc32c: (flags & SVC_F_CRC32C) !== 0,
    liveness: (flags & SVC_F_LIVENESS) !== 0,
    snatAddr: snatSet ? decodeAddr(buf, 8, family) : null,
    tlvs: Buffer.from(buf.subarray(24, 24 + tlvLen)),
  };
}

/**
 * Length of the PPv2 header the datapath builds for a service, which is also the sequence shift of its
 * connections and the amount the SYN-ACK's MSS is lowered by.
 */
export function ppv2HeaderLength(
  svc: Pick<ServiceRecord, 'uniqueId' | 'crc32c' | 'tlvs'>,
  family: Family,
): number {
  let n = 16 + (family === 4 ? 12 : 36) + (svc.uniqueId ? 19 : 0) + (svc.crc32c ? 7 : 0) + svc.tlvs.length;
  if (n % 2 === 1) n += 3; // NOOP TLV keeps the length even
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// backends and the Maglev ring

/** lb_backends value, keyed by a u32 backend id (1..). */
export interface BackendRecord {
  addr: string;
  port: number;
  weight: number;
  family: Family;
  /** Failed its liveness probes (LB_BE_F_DOWN): left out of the Maglev ring. Control plane only. */
  down: boolean;
}

const BE_F_DOWN = 0x01;

export function encodeBackendId(id: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(id, 0);
  return buf;
}

export function encodeBackend(be: { addr: string; port: number; weight: number; down?: boolean }): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.backend);
  const family = encodeAddr(be.addr, buf, 0);
  buf.writeUInt16BE(be.port, 16);
  buf[18] = family;
  buf[19] = be.down ? BE_F_DOWN : 0;
  buf.writeUInt32LE(be.weight, 20);
  return buf;
}

export function decodeBackend(buf: Buffer): BackendRecord {
  checkSize(buf, RECORD_SIZES.backend, 'backend');
  const family = familyByte(buf, 18, 'backend');
  return {
    addr: decodeAddr(buf, 0, family),
    port: buf.readUInt16BE(16),
    weight: buf.readUInt32LE(20),
    family,
    down: ((buf[19] ?? 0) & BE_F_DOWN) !== 0,
  };
}

/** lb_maglev key: the service id. */
export const encodeServiceId = encodeBackendId;

export function encodeMaglevRing(ring: ArrayLike<number>): Buffer {
  if (ring.length !== LB_LIMITS.maglevSize) {
    throw new RangeError(
      `Maglev ring has ${ring.length} entries, the datapath expects ${LB_LIMITS.maglevSize}`,
    );
  }
  const buf = Buffer.alloc(RECORD_SIZES.maglevRing);
  for (let i = 0; i < ring.length; i++) buf.writeUInt32LE(ring[i] ?? 0, i * 4);
  return buf;
}

export function decodeMaglevRing(buf: Buffer): Uint32Array {
  checkSize(buf, RECORD_SIZES.maglevRing, 'Maglev ring');
  const out = new Uint32Array(LB_LIMITS.maglevSize);
  for (let i = 0; i < out.length; i++) out[i] = buf.readUInt32LE(i * 4);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// conntrack

export interface CtKey {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  protocol: 'tcp';
  family: Family;
}

export const CT_STATES = ['none', 'syn_sent', 'established', 'fin', 'closed'] as const;
export type CtState = (typeof CT_STATES)[number];

export interface CtEntry {
  /** orig: keyed by client -> VIP, holds the state; reply: keyed by backend -> SNAT/client, points at orig. */
  kind: 'orig' | 'reply';
  /** orig: the reply-direction key; reply: the original key. */
  peer: CtKey;
  state: CtState;
  mode: Mode;
  flags: {
    ppv2: boolean;
    headerSent: boolean;
    finFromClient: boolean;
    finFromBackend: boolean;
    /** The header carries UNIQUE_ID / CRC32C TLVs (the service's choice at SYN time); default false. */
    uniqueIdTlv?: boolean;
    crc32cTlv?: boolean;
    /** Set only by older datapaths, whose entries had their own expiry timer (now the janitor's sweep). */
    timer?: boolean;
    /**
     * reply entries: mirrors the PPv2 fields and holds the backend -> client counters and last-seen time
     * itself (see bpf/ABI.md); the connection's figures are the sum of both entries. Default false.
     */
    mirror?: boolean;
  };
  /** PPv2 header length = sequence shift (0 without PPv2). */
  ppv2Len: number;
  serviceId: number;
  backendId: number;
  clientIsn: number;
  reinjections: number;
  /** CLOCK_MONOTONIC nanoseconds (process.hrtime.bigint() uses the same clock on Linux). */
  createdNs: bigint;
  lastSeenNs: bigint;
  packetsFromClient: bigint;
  bytesFromClient: bigint;
  packetsFromBackend: bigint;
  bytesFromBackend: bigint;
  /** PP2_TYPE_UNIQUE_ID value: boot id (8 bytes) + connection sequence (8 bytes), big-endian. */
  uniqueId: Buffer;
}

const CT_F_PPV2 = 0x01;
const CT_F_HDR_SENT = 0x02;
const CT_F_FIN_ORIG = 0x04;
const CT_F_FIN_REPLY = 0x08;
const CT_F_UNIQUE_ID = 0x10;
const CT_F_CRC32C = 0x20;
const CT_F_TIMER = 0x40;
const CT_F_MIRROR = 0x80;

function writeCtKey(key: Omit<CtKey, 'family' | 'protocol'>, buf: Buffer, offset: number): void {
  const family = encodeAddr(key.saddr, buf, offset);
  if (encodeAddr(key.daddr, buf, offset + 16) !== family)
    throw new RangeError('conntrack key mixes families');
  buf.writeUInt16BE(key.sport, offset + 32);
  buf.writeUInt16BE(key.dport, offset + 34);
  buf[offset + 36] = PROTO_TCP;
  buf[offset + 37] = family;
  buf.writeUInt16LE(0, offset + 38);
}

function readCtKey(buf: Buffer, offset: number): CtKey {
  const family = familyByte(buf, offset + 37, 'conntrack key');
  return {
    saddr: decodeAddr(buf, offset, family),
    daddr: decodeAddr(buf, offset + 16, family),
    sport: buf.readUInt16BE(offset + 32),
    dport: buf.readUInt16BE(offset + 34),
    protocol: 'tcp',
    family,
  };
}

export function encodeCtKey(key: Omit<CtKey, 'family' | 'protocol'>): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.ctKey);
  writeCtKey(key, buf, 0);
  return buf;
}

export function decodeCtKey(buf: Buffer): CtKey {
  checkSize(buf, RECORD_SIZES.ctKey, 'conntrack key');
  return readCtKey(buf, 0);
}

const CT_KIND_OFFSET = 56;
const CT_KIND_ORIG = 1;
const CT_KIND_REPLY = 2;

/** Mostly for tests: the datapath writes entries, user space reads (and may delete) them. */
export function encodeCtEntry(e: CtEntry): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.ctEntry); // bytes 0..15: bpf_timer, opaque
  writeCtKey(e.peer, buf, 16);
  buf[CT_KIND_OFFSET] = e.kind === 'orig' ? CT_KIND_ORIG : CT_KIND_REPLY;
  buf[57] = CT_STATES.indexOf(e.state);
  buf[58] = MODES[e.mode];
  buf[59] =
    (e.flags.ppv2 ? CT_F_PPV2 : 0) |
    (e.flags.headerSent ? CT_F_HDR_SENT : 0) |
    (e.flags.finFromClient ? CT_F_FIN_ORIG : 0) |
    (e.flags.finFromBackend ? CT_F_FIN_REPLY : 0) |
    (e.flags.uniqueIdTlv ? CT_F_UNIQUE_ID : 0) |
    (e.flags.crc32cTlv ? CT_F_CRC32C : 0) |
    (e.flags.timer ? CT_F_TIMER : 0) |
    (e.flags.mirror ? CT_F_MIRROR : 0);
  buf.writeUInt16LE(e.ppv2Len, 60);
  buf.writeUInt32LE(e.serviceId, 64);
  buf.writeUInt32LE(e.backendId, 68);
  buf.writeUInt32LE(e.clientIsn >>> 0, 72);
  buf.writeUInt32LE(e.reinjections, 76);
  buf.writeBigUInt64LE(e.createdNs, 80);
  buf.writeBigUInt64LE(e.lastSeenNs, 88);
  buf.writeBigUInt64LE(e.packetsFromClient, 96);
  buf.writeBigUInt64LE(e.bytesFromClient, 104);
  buf.writeBigUInt64LE(e.packetsFromBackend, 112);
  buf.writeBigUInt64LE(e.bytesFromBackend, 120);
  e.uniqueId.copy(buf, 128, 0, 16);
  return buf;
}

/** Whether a conntrack value is a connection's original-direction entry, without decoding the rest. */
export function isOrigCtEntry(buf: Buffer): boolean {
  return buf[CT_KIND_OFFSET] === CT_KIND_ORIG;
}

/** Where a conntrack value holds its peer key: for a reply entry, its orig entry's key. */
export const CT_ENTRY_PEER_OFFSET = 16;

/** A 31-bit hash of the conntrack key at `offset` (a key, or a value's peer), for joining the two entries. */
export function ctKeyHash(buf: Buffer, offset: number): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < RECORD_SIZES.ctKey; i += 4) {
    h = Math.imul(h ^ buf.readUInt32LE(offset + i), 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h & 0x7fffffff;
}

/** A u64 as a number (exact below 2^53, which counters and CLOCK_MONOTONIC ns stay under for years). */
const u64Number = (buf: Buffer, offset: number) =>
  buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * 0x1_0000_0000;

/**
 * A reply entry's backend -> client packets, bytes and last-seen time (ns), without decoding the rest: as
 * numbers, since listing tens of thousands of connections reads one per connection.
 */
export function replyShare(buf: Buffer): { packets: number; bytes: number; lastSeenNs: number } {
  checkSize(buf, RECORD_SIZES.ctEntry, 'conntrack entry');
  return { packets: u64Number(buf, 112), bytes: u64Number(buf, 120), lastSeenNs: u64Number(buf, 88) };
}

export function decodeCtEntry(buf: Buffer): CtEntry {
  checkSize(buf, RECORD_SIZES.ctEntry, 'conntrack entry');
  const flags = buf[59] ?? 0;
  return {
    kind: buf[CT_KIND_OFFSET] === CT_KIND_ORIG ? 'orig' : 'reply',
    peer: readCtKey(buf, 16),
    state: CT_STATES[buf[57] ?? 0] ?? 'none',
    mode: buf[58] === MODES.dnat ? 'dnat' : 'fullnat',
    flags: {
      ppv2: (flags & CT_F_PPV2) !== 0,
      headerSent: (flags & CT_F_HDR_SENT) !== 0,
      finFromClient: (flags & CT_F_FIN_ORIG) !== 0,
      finFromBackend: (flags & CT_F_FIN_REPLY) !== 0,
      uniqueIdTlv: (flags & CT_F_UNIQUE_ID) !== 0,
      crc32cTlv: (flags & CT_F_CRC32C) !== 0,
      timer: (flags & CT_F_TIMER) !== 0,
      mirror: (flags & CT_F_MIRROR) !== 0,
    },
    ppv2Len: buf.readUInt16LE(60),
    serviceId: buf.readUInt32LE(64),
    backendId: buf.readUInt32LE(68),
    clientIsn: buf.readUInt32LE(72),
    reinjections: buf.readUInt32LE(76),
    createdNs: buf.readBigUInt64LE(80),
    lastSeenNs: buf.readBigUInt64LE(88),
    packetsFromClient: buf.readBigUInt64LE(96),
    bytesFromClient: buf.readBigUInt64LE(104),
    packetsFromBackend: buf.readBigUInt64LE(112),
    bytesFromBackend: buf.readBigUInt64LE(120),
    uniqueId: Buffer.from(buf.subarray(128, 144)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// config

export interface ConfigRecord {
  /** Random per balancer instance: first 8 bytes of every UNIQUE_ID. */
  bootId: bigint;
  events: boolean;
  /**
   * Set by detach while it takes the datapath away (bpf/detaching.h): "hold" drops the traffic of services and
   * tracked connections until attach clears it; "drain" turns tracked packets into resets to both ends.
   */
  detaching: DetachingMode | null;
  /** Idle timeouts in seconds per connection state; 0 = datapath default (30, 900, 60, 10). */
  timeouts: { synSentS: number; establishedS: number; finS: number; closedS: number };
}

export const DEFAULT_TIMEOUTS_S = { synSentS: 30, establishedS: 900, finS: 60, closedS: 10 } as const;

const CFG_F_EVENTS = 0x01;
const CFG_F_HOLD = 0x02;
const CFG_F_DRAIN = 0x04;

export type DetachingMode = 'hold' | 'drain';

/** lb_config and lb_conn_seq are arrays with one entry: key 0. */
export const encodeArrayIndex = encodeBackendId;

export function encodeConfig(cfg: ConfigRecord): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.config);
  buf.writeBigUInt64LE(cfg.bootId, 0);
  const detaching = cfg.detaching === 'hold' ? CFG_F_HOLD : cfg.detaching === 'drain' ? CFG_F_DRAIN : 0;
  buf.writeUInt32LE((cfg.events ? CFG_F_EVENTS : 0) | detaching, 8);
  buf.writeUInt32LE(cfg.timeouts.synSentS, 12);
  buf.writeUInt32LE(cfg.timeouts.establishedS, 16);
  buf.writeUInt32LE(cfg.timeouts.finS, 20);
  buf.writeUInt32LE(cfg.timeouts.closedS, 24);
  return buf;
}

export function decodeConfig(buf: Buffer): ConfigRecord {
  checkSize(buf, RECORD_SIZES.config, 'config');
  const flags = buf.readUInt32LE(8);
  return {
    bootId: buf.readBigUInt64LE(0),
    events: (flags & CFG_F_EVENTS) !== 0,
    detaching: flags & CFG_F_DRAIN ? 'drain' : flags & CFG_F_HOLD ? 'hold' : null,
    timeouts: {
      synSentS: buf.readUInt32LE(12),
      establishedS: buf.readUInt32LE(16),
      finS: buf.readUInt32LE(20),
      closedS: buf.readUInt32LE(24),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// counters

function emptyCounters(): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0n])) as Counters;
}

/** One CPU's lb_stats value. */
export function decodeStats(buf: Buffer, offset = 0): Counters {
  checkSize(buf, offset + RECORD_SIZES.stats, 'stats');
  const out = emptyCounters();
  COUNTER_NAMES.forEach((name, i) => {
    out[name] = buf.readBigUInt64LE(offset + i * 8);
  });
  return out;
}

/**
 * A per-CPU lookup of one lb_stats slot returns one value per possible CPU, each rounded up to 8 bytes;
 * sum them.
 */
export function sumPerCpuStats(buf: Buffer, possibleCpus: number): Counters {
  const stride = Math.ceil(RECORD_SIZES.stats / 8) * 8;
  checkSize(buf, stride * possibleCpus, 'per-CPU stats');
  const out = emptyCounters();
  for (let cpu = 0; cpu < possibleCpus; cpu++) {
    const one = decodeStats(buf, cpu * stride);
    for (const name of COUNTER_NAMES) out[name] += one[name];
  }
  return out;
}

/** Mostly for tests. */
export function encodeStats(counters: Partial<Counters>): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.stats);
  COUNTER_NAMES.forEach((name, i) => {
    buf.writeBigUInt64LE(counters[name] ?? 0n, i * 8);
  });
  return buf;
}

// ---------------------------------------------------------------------------------------------------------
// events

export const EVENT_TYPES = { 1: 'header_injected', 2: 'header_reinjected', 3: 'failure' } as const;
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

export interface LbEvent {
  type: EventType;
  /** failure: the counter that counted it; null otherwise. */
  reason: CounterName | null;
  serviceId: number;
  /** CLOCK_MONOTONIC nanoseconds. */
  timestampNs: bigint;
  family: Family;
  client: { addr: string; port: number };
  vip: { addr: string; port: number };
  /** The injected PPv2 header bytes (empty for failures). */
  header: Buffer;
}

export function decodeEvent(buf: Buffer): LbEvent {
  checkSize(buf, RECORD_SIZES.event, 'event');
  const typeCode = buf.readUInt16LE(8);
  const type = EVENT_TYPES[typeCode as keyof typeof EVENT_TYPES];
  if (!type) throw new RangeError(`event: unknown type ${typeCode}`);
  const reasonCode = buf.readUInt16LE(10);
  const family = familyByte(buf, 16, 'event');
  const hdrLen = Math.min(buf.readUInt16LE(22), LB_LIMITS.eventHeaderMax);
  return {
    type,
    reason: type === 'failure' ? (COUNTER_NAMES[reasonCode] ?? null) : null,
    serviceId: buf.readUInt32LE(12),
    timestampNs: buf.readBigUInt64LE(0),
    family,
    client: { addr: decodeAddr(buf, 24, family), port: buf.readUInt16BE(18) },
    vip: { addr: decodeAddr(buf, 40, family), port: buf.readUInt16BE(20) },
    header: Buffer.from(buf.subarray(56, 56 + hdrLen)),
  };
}

/** Mostly for tests and dashboard fixtures. */
export function encodeEvent(ev: LbEvent): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.event);
  const typeCode = Number(Object.entries(EVENT_TYPES).find(([, t]) => t === ev.type)?.[0] ?? 0);
  buf.writeBigUInt64LE(ev.timestampNs, 0);
  buf.writeUInt16LE(typeCode, 8);
  buf.writeUInt16LE(ev.reason === null ? 0 : COUNTER_NAMES.indexOf(ev.reason), 10);
  buf.writeUInt32LE(ev.serviceId, 12);
  buf[16] = ev.family;
  buf.writeUInt16BE(ev.client.port, 18);
  buf.writeUInt16BE(ev.vip.port, 20);
  buf.writeUInt16LE(ev.header.length, 22);
  encodeAddr(ev.client.addr, buf, 24);
  encodeAddr(ev.vip.addr, buf, 40);
  ev.header.copy(buf, 56, 0, LB_LIMITS.eventHeaderMax);
  return buf;
}
