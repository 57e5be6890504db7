/**
 * Codecs of the datapath's map records and ring-buffer events. Every offset, flag and size comes from the ABI
 * declaration (src/bpf/abi.ts), from which bpf/lbctl_abi.h and bpf/ABI.md's tables are generated.
 *
 * Conventions (as in the C structs): addresses take 16 bytes, IPv4 in the first 4; ports are big-endian
 * (network order, as on the wire); every other integer is little-endian (host order on x86_64 and arm64).
 */
import { formatIPv4, formatIPv6, parseIpAddress } from '../ppv2/ip-address.js';
import {
  ppv2HeaderLength as abiHeaderLength,
  proxyV1HeaderLength as abiProxyV1HeaderLength,
  BACKEND_FLAGS,
  CFG_FLAGS,
  COUNTER_NAMES,
  type CounterName,
  CT_FLAGS,
  CT_KIND,
  CT_STATE,
  DERIVED_LIMITS,
  EVENT_TYPE,
  LIMITS,
  MAP_NAMES,
  MODE,
  PROGRAM,
  PROTO,
  SNAT_PORT_DEFAULTS,
  STRUCT_LAYOUTS,
  SVC_FLAGS,
  TIMEOUT_DEFAULTS,
} from './abi.js';

/** Limits compiled into the datapath (src/bpf/abi.ts). */
export const LB_LIMITS = {
  maxServices: LIMITS.values.MAX_SERVICES, // service ids 1..255; stats slot 0 is global
  maxBackends: LIMITS.values.MAX_BACKENDS,
  maglevSize: LIMITS.values.MAGLEV_SIZE, // entries per service lookup ring (prime)
  tlvMax: LIMITS.values.TLV_MAX, // bytes of custom TLVs per service
  ppv2MaxLen: DERIVED_LIMITS.values.PPV2_MAX_LEN, // longest header the datapath builds
  eventHeaderMax: DERIVED_LIMITS.values.EVENT_HDR_MAX,
  conntrackEntries: LIMITS.values.CT_MAX_ENTRIES,
} as const;

export { COUNTER_NAMES, type CounterName, MAP_NAMES, PROGRAM };
export type Counters = Record<CounterName, bigint>;

const L = STRUCT_LAYOUTS;
export const RECORD_SIZES = {
  serviceKey: L.lb_svc_key.size,
  service: L.lb_service.size,
  backend: L.lb_backend.size,
  maglevRing: L.lb_maglev_ring.size,
  ctKey: L.lb_ct_key.size,
  ctEntry: L.lb_ct_entry.size,
  config: L.lb_config.size,
  event: L.lb_event.size,
  stats: L.lb_stats.size,
} as const;

export type Family = 4 | 6;
export type Mode = 'fullnat' | 'dnat';

/** The transport protocol of a service, a flow or a connection. */
export type Protocol = 'tcp' | 'udp';
const PROTOCOLS: Record<Protocol, number> = { tcp: PROTO.values.TCP, udp: PROTO.values.UDP };
const protocolOf = (byte: number | undefined): Protocol => (byte === PROTOCOLS.udp ? 'udp' : 'tcp');
const MODES: Record<Mode, number> = { fullnat: MODE.values.FULLNAT, dnat: MODE.values.DNAT };
const modeOf = (byte: number | undefined): Mode => (byte === MODES.dnat ? 'dnat' : 'fullnat');

/** A record's flag bits as booleans, by a table of (property, bit). */
function readFlags<K extends string>(byte: number, bits: Record<K, number>): Record<K, boolean> {
  return Object.fromEntries(
    Object.entries<number>(bits).map(([k, bit]) => [k, (byte & bit) !== 0]),
  ) as Record<K, boolean>;
}

function writeFlags<K extends string>(
  set: { readonly [P in NoInfer<K>]?: boolean | undefined },
  bits: Record<K, number>,
): number {
  let byte = 0;
  for (const [k, bit] of Object.entries<number>(bits)) if (set[k as K]) byte |= bit;
  return byte;
}

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

/** An unset 16-byte address field. */
function isZero(buf: Buffer, offset: number): boolean {
  return buf.subarray(offset, offset + 16).every((b) => b === 0);
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
  protocol: Protocol;
  family: Family;
}

/** lb_services value. `tlvs` are custom TLVs (types 0xE0-0xEF) already encoded, at most 128 bytes. */
export interface ServiceRecord {
  id: number;
  mode: Mode;
  ppv2: boolean;
  uniqueId: boolean;
  crc32c: boolean;
  /** With ppv2: the header is the PROXY v1 text line (no TLVs). */
  proxyV1: boolean;
  /** `lbctl agent` probes this service's backends; the datapath ignores the bit. */
  liveness: boolean;
  /**
   * `lbctl apply` created it (LB_SVC_F_APPLIED): ownership for `apply --prune` lives in the kernel, written
   * with the record itself, so it survives an apply killed before it saved the state file. Absent = false.
   */
  applied?: boolean;
  /**
   * fullnat: the one source address towards every backend (`--snat`); null for dnat, and for fullnat that
   * takes each backend's own source (BackendRecord.srcAddr).
   */
  snatAddr: string | null;
  tlvs: Buffer;
}

const SK = L.lb_svc_key.off;
const SV = L.lb_service.off;
const SERVICE_FLAG_BITS = {
  ppv2: SVC_FLAGS.values.PPV2,
  uniqueId: SVC_FLAGS.values.UNIQUE_ID,
  crc32c: SVC_FLAGS.values.CRC32C,
  liveness: SVC_FLAGS.values.LIVENESS,
  proxyV1: SVC_FLAGS.values.PPV1,
  applied: SVC_FLAGS.values.APPLIED,
};

/** `protocol` defaults to TCP. */
export function encodeServiceKey(key: { vip: string; port: number; protocol?: Protocol }): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.serviceKey);
  const family = encodeAddr(key.vip, buf, SK.addr);
  buf.writeUInt16BE(key.port, SK.port);
  buf[SK.proto] = PROTOCOLS[key.protocol ?? 'tcp'];
  buf[SK.family] = family;
  return buf;
}

export function decodeServiceKey(buf: Buffer): ServiceKey {
  checkSize(buf, RECORD_SIZES.serviceKey, 'service key');
  const family = familyByte(buf, SK.family, 'service key');
  return {
    vip: decodeAddr(buf, SK.addr, family),
    port: buf.readUInt16BE(SK.port),
    protocol: protocolOf(buf[SK.proto]),
    family,
  };
}

export function encodeService(svc: ServiceRecord): Buffer {
  if (!Number.isInteger(svc.id) || svc.id < 1 || svc.id >= LB_LIMITS.maxServices) {
    throw new RangeError(`service id ${svc.id} outside 1..${LB_LIMITS.maxServices - 1}`);
  }
  if (svc.tlvs.length > LB_LIMITS.tlvMax) {
    throw new RangeError(`custom TLVs take ${svc.tlvs.length} bytes, at most ${LB_LIMITS.tlvMax} fit`);
  }
  const buf = Buffer.alloc(RECORD_SIZES.service);
  buf.writeUInt32LE(svc.id, SV.id);
  buf[SV.mode] = MODES[svc.mode];
  buf[SV.flags] = writeFlags(svc, SERVICE_FLAG_BITS);
  buf.writeUInt16LE(svc.tlvs.length, SV.tlv_len);
  if (svc.snatAddr) encodeAddr(svc.snatAddr, buf, SV.snat_addr);
  svc.tlvs.copy(buf, SV.tlvs);
  return buf;
}

/** `family` is the service key's: the SNAT address field does not say. */
export function decodeService(buf: Buffer, family: Family): ServiceRecord {
  checkSize(buf, RECORD_SIZES.service, 'service');
  const tlvLen = Math.min(buf.readUInt16LE(SV.tlv_len), LB_LIMITS.tlvMax);
  return {
    id: buf.readUInt32LE(SV.id),
    mode: modeOf(buf[SV.mode]),
    ...readFlags(buf[SV.flags] ?? 0, SERVICE_FLAG_BITS),
    snatAddr: isZero(buf, SV.snat_addr) ? null : decodeAddr(buf, SV.snat_addr, family),
    tlvs: Buffer.from(buf.subarray(SV.tlvs, SV.tlvs + tlvLen)),
  };
}

/**
 * Length of the PPv2 header the datapath builds for a service, which is also the sequence shift of its
 * connections and the amount the SYN-ACK's MSS is lowered by (the rule lives in src/bpf/abi.ts).
 */
export function ppv2HeaderLength(
  svc: Pick<ServiceRecord, 'uniqueId' | 'crc32c' | 'tlvs'>,
  family: Family,
): number {
  return abiHeaderLength({ uniqueId: svc.uniqueId, crc32c: svc.crc32c, tlvBytes: svc.tlvs.length }, family);
}

/**
 * The longest PROXY v1 line the datapath writes for a service at `vip`:`port` (the client's address and port
 * set the rest of its length, per connection: proxyV1HeaderLength in src/bpf/abi.ts).
 */
export function proxyV1LongestHeader(vip: string, port: number): number {
  const dst = Buffer.alloc(16);
  const family = encodeAddr(vip, dst, 0);
  const longestSource = Buffer.alloc(16, 0xff); // 255.255.255.255, or eight 4-digit groups
  return abiProxyV1HeaderLength(family, longestSource, dst, 65535, port);
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
  /**
   * fullnat: the balancer's source address towards it (the route's preferred source), used unless the
   * service has its own SNAT address; null when unset.
   */
  srcAddr: string | null;
}

const BE = L.lb_backend.off;
const BACKEND_FLAG_BITS = { down: BACKEND_FLAGS.values.DOWN };

/** A u32 map key (backend id, service id, array index), in host order. */
export function encodeBackendId(id: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(id, 0);
  return buf;
}

export function encodeBackend(be: {
  addr: string;
  port: number;
  weight: number;
  down?: boolean;
  srcAddr?: string | null;
}): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.backend);
  const family = encodeAddr(be.addr, buf, BE.addr);
  buf.writeUInt16BE(be.port, BE.port);
  buf[BE.family] = family;
  buf[BE.flags] = writeFlags(be, BACKEND_FLAG_BITS);
  buf.writeUInt32LE(be.weight, BE.weight);
  if (be.srcAddr) {
    if (encodeAddr(be.srcAddr, buf, BE.src_addr) !== family) {
      throw new RangeError(`backend ${be.addr}: source address ${be.srcAddr} is of another family`);
    }
  }
  return buf;
}

export function decodeBackend(buf: Buffer): BackendRecord {
  checkSize(buf, RECORD_SIZES.backend, 'backend');
  const family = familyByte(buf, BE.family, 'backend');
  return {
    addr: decodeAddr(buf, BE.addr, family),
    port: buf.readUInt16BE(BE.port),
    weight: buf.readUInt32LE(BE.weight),
    family,
    ...readFlags(buf[BE.flags] ?? 0, BACKEND_FLAG_BITS),
    srcAddr: isZero(buf, BE.src_addr) ? null : decodeAddr(buf, BE.src_addr, family),
  };
}

/** lb_maglev key: the service id. */
export const encodeServiceId = encodeBackendId;

const RING = L.lb_maglev_ring.off;

export function encodeMaglevRing(ring: ArrayLike<number>): Buffer {
  if (ring.length !== LB_LIMITS.maglevSize) {
    throw new RangeError(
      `Maglev ring has ${ring.length} entries, the datapath expects ${LB_LIMITS.maglevSize}`,
    );
  }
  const buf = Buffer.alloc(RECORD_SIZES.maglevRing);
  for (let i = 0; i < ring.length; i++) buf.writeUInt32LE(ring[i] ?? 0, RING.backend_ids + i * 4);
  return buf;
}

export function decodeMaglevRing(buf: Buffer): Uint32Array {
  checkSize(buf, RECORD_SIZES.maglevRing, 'Maglev ring');
  const out = new Uint32Array(LB_LIMITS.maglevSize);
  for (let i = 0; i < out.length; i++) out[i] = buf.readUInt32LE(RING.backend_ids + i * 4);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// conntrack

export interface CtKey {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  protocol: Protocol;
  family: Family;
}

/** Index = the state byte (LB_CT_*); 0 is an entry without a state (reply entries). */
export const CT_STATES = ['none', 'syn_sent', 'established', 'fin', 'closed', 'udp'] as const;
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
    /** The header is the PROXY v1 text line (the service's choice at SYN time); default false. */
    proxyV1?: boolean;
    /** The backend acknowledged the header bytes; default false. */
    headerAcked?: boolean;
    /** orig entries: the client's first data went to the backend; default false. */
    dataSent?: boolean;
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

const CK = L.lb_ct_key.off;
const CE = L.lb_ct_entry.off;
const CT_FLAG_BITS = {
  ppv2: CT_FLAGS.values.PPV2,
  headerSent: CT_FLAGS.values.HDR_SENT,
  finFromClient: CT_FLAGS.values.FIN_ORIG,
  finFromBackend: CT_FLAGS.values.FIN_REPLY,
  uniqueIdTlv: CT_FLAGS.values.UNIQUE_ID,
  crc32cTlv: CT_FLAGS.values.CRC32C,
  headerAcked: CT_FLAGS.values.HDR_ACKED,
  mirror: CT_FLAGS.values.MIRROR,
  dataSent: CT_FLAGS.values.DATA_SENT,
  proxyV1: CT_FLAGS.values.PPV1,
};
// CT_STATES must spell the ABI's state values at their indexes.
for (const [key, value] of Object.entries(CT_STATE.values)) {
  if (CT_STATES[value] !== key.toLowerCase()) throw new Error(`CT_STATES[${value}] is not ${key}`);
}

/** A key to encode: `protocol` defaults to TCP. */
export type CtKeyInput = Omit<CtKey, 'family' | 'protocol'> & { protocol?: Protocol };

function writeCtKey(key: CtKeyInput, buf: Buffer, offset: number): void {
  const family = encodeAddr(key.saddr, buf, offset + CK.saddr);
  if (encodeAddr(key.daddr, buf, offset + CK.daddr) !== family)
    throw new RangeError('conntrack key mixes families');
  buf.writeUInt16BE(key.sport, offset + CK.sport);
  buf.writeUInt16BE(key.dport, offset + CK.dport);
  buf[offset + CK.proto] = PROTOCOLS[key.protocol ?? 'tcp'];
  buf[offset + CK.family] = family;
  buf.writeUInt16LE(0, offset + CK.pad);
}

function readCtKey(buf: Buffer, offset: number): CtKey {
  const family = familyByte(buf, offset + CK.family, 'conntrack key');
  return {
    saddr: decodeAddr(buf, offset + CK.saddr, family),
    daddr: decodeAddr(buf, offset + CK.daddr, family),
    sport: buf.readUInt16BE(offset + CK.sport),
    dport: buf.readUInt16BE(offset + CK.dport),
    protocol: protocolOf(buf[offset + CK.proto]),
    family,
  };
}

export function encodeCtKey(key: CtKeyInput): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.ctKey);
  writeCtKey(key, buf, 0);
  return buf;
}

export function decodeCtKey(buf: Buffer): CtKey {
  checkSize(buf, RECORD_SIZES.ctKey, 'conntrack key');
  return readCtKey(buf, 0);
}

/** Mostly for tests: the datapath writes entries, user space reads (and may delete) them. */
export function encodeCtEntry(e: CtEntry): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.ctEntry);
  writeCtKey(e.peer, buf, CE.peer);
  buf[CE.kind] = e.kind === 'orig' ? CT_KIND.values.ORIG : CT_KIND.values.REPLY;
  buf[CE.state] = CT_STATES.indexOf(e.state);
  buf[CE.mode] = MODES[e.mode];
  buf.writeUInt16LE(writeFlags(e.flags, CT_FLAG_BITS), CE.flags);
  buf.writeUInt16LE(e.ppv2Len, CE.ppv2_len);
  buf.writeUInt32LE(e.serviceId, CE.svc_id);
  buf.writeUInt32LE(e.backendId, CE.backend_id);
  buf.writeUInt32LE(e.clientIsn >>> 0, CE.client_isn);
  buf.writeUInt32LE(e.reinjections, CE.reinjections);
  buf.writeBigUInt64LE(e.createdNs, CE.created_ns);
  buf.writeBigUInt64LE(e.lastSeenNs, CE.last_seen_ns);
  buf.writeBigUInt64LE(e.packetsFromClient, CE.packets_orig);
  buf.writeBigUInt64LE(e.bytesFromClient, CE.bytes_orig);
  buf.writeBigUInt64LE(e.packetsFromBackend, CE.packets_reply);
  buf.writeBigUInt64LE(e.bytesFromBackend, CE.bytes_reply);
  e.uniqueId.copy(buf, CE.unique_id, 0, 16);
  return buf;
}

/** Whether a conntrack value is a connection's original-direction entry, without decoding the rest. */
export function isOrigCtEntry(buf: Buffer): boolean {
  return buf[CE.kind] === CT_KIND.values.ORIG;
}

/** Where a conntrack value holds its peer key: for a reply entry, its orig entry's key. */
export const CT_ENTRY_PEER_OFFSET = CE.peer;

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
  return {
    packets: u64Number(buf, CE.packets_reply),
    bytes: u64Number(buf, CE.bytes_reply),
    lastSeenNs: u64Number(buf, CE.last_seen_ns),
  };
}

export function decodeCtEntry(buf: Buffer): CtEntry {
  checkSize(buf, RECORD_SIZES.ctEntry, 'conntrack entry');
  return {
    kind: isOrigCtEntry(buf) ? 'orig' : 'reply',
    peer: readCtKey(buf, CE.peer),
    state: CT_STATES[buf[CE.state] ?? 0] ?? 'none',
    mode: modeOf(buf[CE.mode]),
    flags: readFlags(buf.readUInt16LE(CE.flags), CT_FLAG_BITS),
    ppv2Len: buf.readUInt16LE(CE.ppv2_len),
    serviceId: buf.readUInt32LE(CE.svc_id),
    backendId: buf.readUInt32LE(CE.backend_id),
    clientIsn: buf.readUInt32LE(CE.client_isn),
    reinjections: buf.readUInt32LE(CE.reinjections),
    createdNs: buf.readBigUInt64LE(CE.created_ns),
    lastSeenNs: buf.readBigUInt64LE(CE.last_seen_ns),
    packetsFromClient: buf.readBigUInt64LE(CE.packets_orig),
    bytesFromClient: buf.readBigUInt64LE(CE.bytes_orig),
    packetsFromBackend: buf.readBigUInt64LE(CE.packets_reply),
    bytesFromBackend: buf.readBigUInt64LE(CE.bytes_reply),
    uniqueId: Buffer.from(buf.subarray(CE.unique_id, CE.unique_id + 16)),
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
  /** Idle timeouts in seconds per connection state; 0 = the datapath's default (DEFAULT_TIMEOUTS_S). */
  timeouts: { synSentS: number; establishedS: number; finS: number; closedS: number; udpS: number };
  /** Ports fullnat picks its SNAT ports from, both inclusive; 0-0 = the datapath's default (DEFAULT_SNAT_PORTS). */
  snatPorts: PortRange;
}

/** A range of ports, both ends inclusive. */
export interface PortRange {
  min: number;
  max: number;
}

const T = TIMEOUT_DEFAULTS.values;
export const DEFAULT_TIMEOUTS_S = {
  synSentS: T.SYN_DEFAULT_S,
  establishedS: T.EST_DEFAULT_S,
  finS: T.FIN_DEFAULT_S,
  closedS: T.CLOSED_DEFAULT_S,
  udpS: T.UDP_DEFAULT_S,
} as const;

export const DEFAULT_SNAT_PORTS: PortRange = {
  min: SNAT_PORT_DEFAULTS.values.MIN_DEFAULT,
  max: SNAT_PORT_DEFAULTS.values.MAX_DEFAULT,
};

export type DetachingMode = 'hold' | 'drain';

const CF = L.lb_config.off;
const CFG = CFG_FLAGS.values;

/** lb_config and lb_conn_seq are arrays with one entry: key 0. */
export const encodeArrayIndex = encodeBackendId;

export function encodeConfig(cfg: ConfigRecord): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.config);
  buf.writeBigUInt64LE(cfg.bootId, CF.boot_id);
  const detaching = cfg.detaching === 'hold' ? CFG.HOLD : cfg.detaching === 'drain' ? CFG.DRAIN : 0;
  buf.writeUInt32LE((cfg.events ? CFG.EVENTS : 0) | detaching, CF.flags);
  buf.writeUInt32LE(cfg.timeouts.synSentS, CF.timeout_syn_s);
  buf.writeUInt32LE(cfg.timeouts.establishedS, CF.timeout_est_s);
  buf.writeUInt32LE(cfg.timeouts.finS, CF.timeout_fin_s);
  buf.writeUInt32LE(cfg.timeouts.closedS, CF.timeout_closed_s);
  buf.writeUInt16LE(cfg.snatPorts.min, CF.snat_port_min);
  buf.writeUInt16LE(cfg.snatPorts.max, CF.snat_port_max);
  buf.writeUInt32LE(cfg.timeouts.udpS, CF.timeout_udp_s);
  return buf;
}

export function decodeConfig(buf: Buffer): ConfigRecord {
  checkSize(buf, RECORD_SIZES.config, 'config');
  const flags = buf.readUInt32LE(CF.flags);
  return {
    bootId: buf.readBigUInt64LE(CF.boot_id),
    events: (flags & CFG.EVENTS) !== 0,
    detaching: flags & CFG.DRAIN ? 'drain' : flags & CFG.HOLD ? 'hold' : null,
    timeouts: {
      synSentS: buf.readUInt32LE(CF.timeout_syn_s),
      establishedS: buf.readUInt32LE(CF.timeout_est_s),
      finS: buf.readUInt32LE(CF.timeout_fin_s),
      closedS: buf.readUInt32LE(CF.timeout_closed_s),
      udpS: buf.readUInt32LE(CF.timeout_udp_s),
    },
    snatPorts: { min: buf.readUInt16LE(CF.snat_port_min), max: buf.readUInt16LE(CF.snat_port_max) },
  };
}

// ---------------------------------------------------------------------------------------------------------
// counters

const STATS_C = L.lb_stats.off.c;

function emptyCounters(): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0n])) as Counters;
}

/** One CPU's lb_stats value. */
export function decodeStats(buf: Buffer, offset = 0): Counters {
  checkSize(buf, offset + RECORD_SIZES.stats, 'stats');
  const out = emptyCounters();
  COUNTER_NAMES.forEach((name, i) => {
    out[name] = buf.readBigUInt64LE(offset + STATS_C + i * 8);
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
    buf.writeBigUInt64LE(counters[name] ?? 0n, STATS_C + i * 8);
  });
  return buf;
}

// ---------------------------------------------------------------------------------------------------------
// events

export const EVENT_TYPES = {
  [EVENT_TYPE.values.HDR_INJECTED]: 'header_injected',
  [EVENT_TYPE.values.HDR_REINJECTED]: 'header_reinjected',
  [EVENT_TYPE.values.FAILURE]: 'failure',
} as const;
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

const EV = L.lb_event.off;

export function decodeEvent(buf: Buffer): LbEvent {
  checkSize(buf, RECORD_SIZES.event, 'event');
  const typeCode = buf.readUInt16LE(EV.type);
  const type = EVENT_TYPES[typeCode as keyof typeof EVENT_TYPES];
  if (!type) throw new RangeError(`event: unknown type ${typeCode}`);
  const reasonCode = buf.readUInt16LE(EV.reason);
  const family = familyByte(buf, EV.family, 'event');
  const hdrLen = Math.min(buf.readUInt16LE(EV.hdr_len), LB_LIMITS.eventHeaderMax);
  return {
    type,
    reason: type === 'failure' ? (COUNTER_NAMES[reasonCode] ?? null) : null,
    serviceId: buf.readUInt32LE(EV.svc_id),
    timestampNs: buf.readBigUInt64LE(EV.ts_ns),
    family,
    client: { addr: decodeAddr(buf, EV.saddr, family), port: buf.readUInt16BE(EV.sport) },
    vip: { addr: decodeAddr(buf, EV.daddr, family), port: buf.readUInt16BE(EV.dport) },
    header: Buffer.from(buf.subarray(EV.hdr, EV.hdr + hdrLen)),
  };
}

/** Mostly for tests and dashboard fixtures. */
export function encodeEvent(ev: LbEvent): Buffer {
  const buf = Buffer.alloc(RECORD_SIZES.event);
  const typeCode = Number(Object.entries(EVENT_TYPES).find(([, t]) => t === ev.type)?.[0] ?? 0);
  buf.writeBigUInt64LE(ev.timestampNs, EV.ts_ns);
  buf.writeUInt16LE(typeCode, EV.type);
  buf.writeUInt16LE(ev.reason === null ? 0 : COUNTER_NAMES.indexOf(ev.reason), EV.reason);
  buf.writeUInt32LE(ev.serviceId, EV.svc_id);
  buf[EV.family] = ev.family;
  buf.writeUInt16BE(ev.client.port, EV.sport);
  buf.writeUInt16BE(ev.vip.port, EV.dport);
  buf.writeUInt16LE(ev.header.length, EV.hdr_len);
  encodeAddr(ev.client.addr, buf, EV.saddr);
  encodeAddr(ev.vip.addr, buf, EV.daddr);
  ev.header.copy(buf, EV.hdr, 0, LB_LIMITS.eventHeaderMax);
  return buf;
}
