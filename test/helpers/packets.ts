/**
 * Crafting and parsing Ethernet + IPv4/IPv6 + TCP frames for packet-level datapath tests. Deliberately
 * independent of the datapath: its own Internet checksum (RFC 1071, summed byte by byte over the pseudo
 * header and the segment), its own option encoding, so a wrong checksum or a wrong option rewrite in the
 * datapath cannot be mirrored here.
 */

import { formatIPv4, formatIPv6 } from '../../src/ppv2/index.js';
import { parseIpAddress } from '../../src/ppv2/ip-address.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

const ETH_HLEN = 14;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const IPPROTO_TCP = 6;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const IPPROTO_UDP = 17;

export type TcpOption =
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'timestamps'; value: number; echo: number }
  | { kind: 'sack'; blocks: ReadonlyArray<readonly [number, number]> }
  | { kind: 'nop' };

export interface Segment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window?: number;
  options?: readonly TcpOption[];
  payload?: Buffer;
}

export interface ParsedFrame extends Required<Omit<Segment, 'options' | 'payload'>> {
  family: 4 | 6;
  ethertype: number;
  /** IPv4 only: the header checksum verifies (always true for IPv6, which has none). */
  ipChecksumOk: boolean;
  tcpChecksumOk: boolean;
  /** The IP header bytes that no rewrite should touch (TTL/hop limit, ToS, id, flow label, ...). */
  ipInvariant: Buffer;
  options: TcpOption[];
  payload: Buffer;
}

/** RFC 1071 Internet checksum of the concatenated parts (each part summed as if contiguous). */
export function internetChecksum(...parts: Buffer[]): number {
  const all = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < all.length; i += 1) sum += i % 2 === 0 ? (all[i] ?? 0) << 8 : (all[i] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function addressBytes(addr: string): { family: 4 | 6; bytes: Buffer } {
  const parsed = parseIpAddress(addr);
  if (!parsed) throw new RangeError(`not an IP address: ${addr}`);
  return { family: parsed.family, bytes: Buffer.from(parsed.bytes) };
}

function encodeOptions(options: readonly TcpOption[]): Buffer {
  const out: number[] = [];
  for (const o of options) {
    switch (o.kind) {
      case 'nop':
        out.push(1);
        break;
      case 'mss':
        out.push(2, 4, o.value >> 8, o.value & 0xff);
        break;
      case 'wscale':
        out.push(3, 3, o.shift);
        break;
      case 'sackPermitted':
        out.push(4, 2);
        break;
      case 'timestamps': {
        const b = Buffer.alloc(10);
        b[0] = 8;
        b[1] = 10;
        b.writeUInt32BE(o.value >>> 0, 2);
        b.writeUInt32BE(o.echo >>> 0, 6);
        out.push(...b);
        break;
      }
      case 'sack': {
        const b = Buffer.alloc(2 + 8 * o.blocks.length);
        b[0] = 5;
        b[1] = b.length;
        o.blocks.forEach(([left, right], i) => {
          b.writeUInt32BE(left >>> 0, 2 + 8 * i);
          b.writeUInt32BE(right >>> 0, 6 + 8 * i);
        });
        out.push(...b);
        break;
      }
    }
  }
  while (out.length % 4 !== 0) out.push(0); // EOL padding
  if (out.length > 40) throw new RangeError(`TCP options take ${out.length} bytes, at most 40 fit`);
  return Buffer.from(out);
}

function decodeOptions(raw: Buffer): TcpOption[] {
  const out: TcpOption[] = [];
  let i = 0;
  while (i < raw.length) {
    const kind = raw[i] ?? 0;
    if (kind === 0) break;
    if (kind === 1) {
      out.push({ kind: 'nop' });
      i += 1;
      continue;
    }
    const len = raw[i + 1] ?? 0;
    if (len < 2 || i + len > raw.length) throw new RangeError(`malformed TCP option ${kind} at ${i}`);
    const body = raw.subarray(i + 2, i + len);
    if (kind === 2) out.push({ kind: 'mss', value: body.readUInt16BE(0) });
    else if (kind === 3) out.push({ kind: 'wscale', shift: body[0] ?? 0 });
    else if (kind === 4) out.push({ kind: 'sackPermitted' });
    else if (kind === 8)
      out.push({ kind: 'timestamps', value: body.readUInt32BE(0), echo: body.readUInt32BE(4) });
    else if (kind === 5) {
      const blocks: Array<[number, number]> = [];
      for (let b = 0; b + 8 <= body.length; b += 8)
        blocks.push([body.readUInt32BE(b), body.readUInt32BE(b + 4)]);
      out.push({ kind: 'sack', blocks });
    } else throw new RangeError(`unexpected TCP option ${kind}`);
    i += len;
  }
  return out;
}

/** The pseudo-header TCP (and ICMPv6) checksums cover. */
function pseudoHeader(family: 4 | 6, src: Buffer, dst: Buffer, length: number, proto = IPPROTO_TCP): Buffer {
  if (family === 4) {
    const tail = Buffer.from([0, proto, length >> 8, length & 0xff]);
    return Buffer.concat([src, dst, tail]);
  }
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(length, 0);
  tail[7] = proto;
  return Buffer.concat([src, dst, tail]);
}

const CLIENT_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
const LB_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);

/** A whole Ethernet frame with correct IP and TCP checksums. */
export function buildFrame(seg: Segment): Buffer {
  const src = addressBytes(seg.src);
  const dst = addressBytes(seg.dst);
  if (src.family !== dst.family) throw new RangeError('source and destination families differ');
  const family = src.family;
  const options = encodeOptions(seg.options ?? []);
  const payload = seg.payload ?? Buffer.alloc(0);
  const tcp = Buffer.alloc(20 + options.length + payload.length);
  tcp.writeUInt16BE(seg.sport, 0);
  tcp.writeUInt16BE(seg.dport, 2);
  tcp.writeUInt32BE(seg.seq >>> 0, 4);
  tcp.writeUInt32BE(seg.ack >>> 0, 8);
  tcp[12] = ((20 + options.length) / 4) << 4;
  tcp[13] = seg.flags;
  tcp.writeUInt16BE(seg.window ?? 64240, 14);
  options.copy(tcp, 20);
  payload.copy(tcp, 20 + options.length);
  tcp.writeUInt16BE(internetChecksum(pseudoHeader(family, src.bytes, dst.bytes, tcp.length), tcp), 16);

  return ethernetFrame(family, ipHeader(family, src.bytes, dst.bytes, IPPROTO_TCP, tcp.length), tcp);
}

/** An Ethernet frame towards the balancer around an IP packet. */
function ethernetFrame(family: 4 | 6, ...packet: Buffer[]): Buffer {
  const eth = Buffer.alloc(ETH_HLEN);
  LB_MAC.copy(eth, 0);
  CLIENT_MAC.copy(eth, 6);
  eth.writeUInt16BE(family === 4 ? ETH_P_IP : ETH_P_IPV6, 12);
  return Buffer.concat([eth, ...packet]);
}

/** An IPv4 header (no options, DF, with its checksum) or an IPv6 header for `payloadLength` bytes of `proto`. */
function ipHeader(family: 4 | 6, src: Buffer, dst: Buffer, proto: number, payloadLength: number): Buffer {
  let ip: Buffer;
  if (family === 4) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + payloadLength, 2);
    ip.writeUInt16BE(0x1234, 4); // identification
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = 64;
    ip[9] = proto;
    src.copy(ip, 12);
    dst.copy(ip, 16);
    ip.writeUInt16BE(internetChecksum(ip), 10);
  } else {
    ip = Buffer.alloc(40);
    ip.writeUInt32BE((6 << 28) | 0xabcde, 0); // version, flow label
    ip.writeUInt16BE(payloadLength, 4);
    ip[6] = proto;
    ip[7] = 64;
    src.copy(ip, 8);
    dst.copy(ip, 24);
  }
  return ip;
}

/** Parse a frame built by buildFrame or rewritten by the datapath; throws on anything else. */
export function parseFrame(frame: Buffer): ParsedFrame {
  const ethertype = frame.readUInt16BE(12);
  const l3 = frame.subarray(ETH_HLEN);
  let family: 4 | 6;
  let src: Buffer;
  let dst: Buffer;
  let tcp: Buffer;
  let ipChecksumOk = true;
  let ipInvariant: Buffer;
  if (ethertype === ETH_P_IP) {
    family = 4;
    if (l3[0] !== 0x45 || l3[9] !== IPPROTO_TCP) throw new RangeError('not IPv4/TCP without options');
    const total = l3.readUInt16BE(2);
    if (total > l3.length) throw new RangeError(`IPv4 total length ${total} > ${l3.length} bytes present`);
    ipChecksumOk = internetChecksum(l3.subarray(0, 20)) === 0;
    src = l3.subarray(12, 16);
    dst = l3.subarray(16, 20);
    tcp = l3.subarray(20, total);
    ipInvariant = Buffer.concat([l3.subarray(0, 2), l3.subarray(4, 10)]);
  } else if (ethertype === ETH_P_IPV6) {
    family = 6;
    if (l3[6] !== IPPROTO_TCP) throw new RangeError('not IPv6/TCP');
    const payloadLen = l3.readUInt16BE(4);
    if (40 + payloadLen > l3.length)
      throw new RangeError(`IPv6 payload length ${payloadLen} exceeds the frame`);
    src = l3.subarray(8, 24);
    dst = l3.subarray(24, 40);
    tcp = l3.subarray(40, 40 + payloadLen);
    ipInvariant = Buffer.concat([l3.subarray(0, 4), l3.subarray(6, 8)]);
  } else {
    throw new RangeError(`ethertype 0x${ethertype.toString(16)} is neither IPv4 nor IPv6`);
  }
  const thl = ((tcp[12] ?? 0) >> 4) * 4;
  return {
    family,
    ethertype,
    src: formatAddress(family, src),
    dst: formatAddress(family, dst),
    sport: tcp.readUInt16BE(0),
    dport: tcp.readUInt16BE(2),
    seq: tcp.readUInt32BE(4),
    ack: tcp.readUInt32BE(8),
    flags: tcp[13] ?? 0,
    window: tcp.readUInt16BE(14),
    ipChecksumOk,
    tcpChecksumOk: internetChecksum(pseudoHeader(family, src, dst, tcp.length), tcp) === 0,
    ipInvariant,
    options: decodeOptions(tcp.subarray(20, thl)),
    payload: Buffer.from(tcp.subarray(thl)),
  };
}

/** The value of the first option of a kind, for assertions. */
export function findOption<K extends TcpOption['kind']>(
  options: readonly TcpOption[],
  kind: K,
): Extract<TcpOption, { kind: K }> | undefined {
  return options.find((o): o is Extract<TcpOption, { kind: K }> => o.kind === kind);
}

/** a + n modulo 2^32: sequence arithmetic. */
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;

/** ICMP error types and codes the datapath translates (RFC 792, RFC 4443). */
export const ICMP4 = { destUnreach: 3, timeExceeded: 11, codeFragNeeded: 4, codeHostUnreach: 1 } as const;
export const ICMP6 = { destUnreach: 1, packetTooBig: 2, timeExceeded: 3, codeAddrUnreach: 3 } as const;

export interface IcmpError {
  /** The reporting router, and where the error goes (the quoted packet's source). */
  src: string;
  dst: string;
  type: number;
  code: number;
  /** Next-hop MTU of a fragmentation-needed (ICMPv4) or packet-too-big (ICMPv6) error. */
  mtu?: number;
  /** The frame the error is about, as buildFrame or the datapath left it: its IP packet is quoted. */
  about: Buffer;
  /** How many bytes of that IP packet are quoted; default all of it. */
  quoteBytes?: number;
}

/** An ICMP or ICMPv6 error frame with correct checksums. */
export function buildIcmpError(e: IcmpError): Buffer {
  const src = addressBytes(e.src);
  const dst = addressBytes(e.dst);
  if (src.family !== dst.family) throw new RangeError('source and destination families differ');
  const family = src.family;
  const aboutPacket = e.about.subarray(ETH_HLEN);
  const quote = aboutPacket.subarray(0, e.quoteBytes ?? aboutPacket.length);
  const icmp = Buffer.concat([Buffer.alloc(8), quote]);
  icmp[0] = e.type;
  icmp[1] = e.code;
  // ICMPv4 fragmentation needed: bytes 4-5 unused, 6-7 the MTU; ICMPv6 packet too big: bytes 4-7.
  if (e.mtu !== undefined) icmp.writeUInt32BE(e.mtu >>> 0, 4);
  const proto = family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  const covered =
    family === 4 ? [icmp] : [pseudoHeader(6, src.bytes, dst.bytes, icmp.length, IPPROTO_ICMPV6), icmp];
  icmp.writeUInt16BE(internetChecksum(...covered), 2);
  return ethernetFrame(family, ipHeader(family, src.bytes, dst.bytes, proto, icmp.length), icmp);
}

/** The TCP segment an ICMP error quotes, as far as it is quoted. */
export interface QuotedSegment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  /** When quoted (12 bytes of TCP or more). */
  ack: number | undefined;
  /** IPv4 only: the quoted header's checksum verifies (always true for IPv6). */
  ipChecksumOk: boolean;
  /** When the whole segment is quoted: its TCP checksum verifies (undefined when it cannot be checked). */
  tcpChecksumOk: boolean | undefined;
  /** The quoted bytes from the IP header on. */
  bytes: Buffer;
}

export interface ParsedIcmpError {
  family: 4 | 6;
  src: string;
  dst: string;
  type: number;
  code: number;
  /** Bytes 4-7 of the ICMP header (the MTU of a packet-too-big, low 16 bits for fragmentation needed). */
  rest: number;
  ipChecksumOk: boolean;
  icmpChecksumOk: boolean;
  ipInvariant: Buffer;
  quoted: QuotedSegment;
}

/** Parse an ICMP or ICMPv6 error quoting IPv4/IPv6 + TCP; throws on anything else. */
export function parseIcmpError(frame: Buffer): ParsedIcmpError {
  const ethertype = frame.readUInt16BE(12);
  const l3 = frame.subarray(ETH_HLEN);
  let family: 4 | 6;
  let icmp: Buffer;
  let ipChecksumOk = true;
  let icmpChecksumOk: boolean;
  let ipInvariant: Buffer;
  let src: Buffer;
  let dst: Buffer;
  if (ethertype === ETH_P_IP) {
    family = 4;
    if (l3[0] !== 0x45 || l3[9] !== IPPROTO_ICMP) throw new RangeError('not IPv4/ICMP without options');
    ipChecksumOk = internetChecksum(l3.subarray(0, 20)) === 0;
    icmp = l3.subarray(20, l3.readUInt16BE(2));
    src = l3.subarray(12, 16);
    dst = l3.subarray(16, 20);
    icmpChecksumOk = internetChecksum(icmp) === 0;
    ipInvariant = Buffer.concat([l3.subarray(0, 2), l3.subarray(4, 10)]);
  } else if (ethertype === ETH_P_IPV6) {
    family = 6;
    if (l3[6] !== IPPROTO_ICMPV6) throw new RangeError('not IPv6/ICMPv6');
    icmp = l3.subarray(40, 40 + l3.readUInt16BE(4));
    src = l3.subarray(8, 24);
    dst = l3.subarray(24, 40);
    icmpChecksumOk = internetChecksum(pseudoHeader(6, src, dst, icmp.length, IPPROTO_ICMPV6), icmp) === 0;
    ipInvariant = Buffer.concat([l3.subarray(0, 4), l3.subarray(6, 8)]);
  } else {
    throw new RangeError(`ethertype 0x${ethertype.toString(16)} is neither IPv4 nor IPv6`);
  }
  return {
    family,
    src: formatAddress(family, src),
    dst: formatAddress(family, dst),
    type: icmp[0] ?? 0,
    code: icmp[1] ?? 0,
    rest: icmp.readUInt32BE(4),
    ipChecksumOk,
    icmpChecksumOk,
    ipInvariant,
    quoted: parseQuoted(family, icmp.subarray(8)),
  };
}

const formatAddress = (family: 4 | 6, bytes: Buffer) =>
  family === 4 ? formatIPv4(bytes, 0) : formatIPv6(bytes, 0);

function parseQuoted(family: 4 | 6, ip: Buffer): QuotedSegment {
  const hl = family === 4 ? 20 : 40;
  if ((family === 4 ? ip[9] : ip[6]) !== IPPROTO_TCP) throw new RangeError('the quoted packet is not TCP');
  const src = ip.subarray(family === 4 ? 12 : 8, family === 4 ? 16 : 24);
  const dst = ip.subarray(family === 4 ? 16 : 24, family === 4 ? 20 : 40);
  const total = family === 4 ? ip.readUInt16BE(2) : 40 + ip.readUInt16BE(4);
  const tcp = ip.subarray(hl);
  const whole = ip.length >= total;
  return {
    src: formatAddress(family, src),
    dst: formatAddress(family, dst),
    sport: tcp.readUInt16BE(0),
    dport: tcp.readUInt16BE(2),
    seq: tcp.readUInt32BE(4),
    ack: tcp.length >= 12 ? tcp.readUInt32BE(8) : undefined,
    ipChecksumOk: family === 6 || internetChecksum(ip.subarray(0, 20)) === 0,
    tcpChecksumOk: whole
      ? internetChecksum(pseudoHeader(family, src, dst, total - hl), tcp.subarray(0, total - hl)) === 0
      : undefined,
    bytes: Buffer.from(ip),
  };
}

export interface Datagram {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
  /** IPv4 only: send without a checksum (0), as RFC 768 allows. */
  noChecksum?: boolean;
}

export interface ParsedDatagram extends Required<Omit<Datagram, 'noChecksum'>> {
  family: 4 | 6;
  ipChecksumOk: boolean;
  /** The UDP checksum verifies, or is 0 (none) over IPv4. */
  udpChecksumOk: boolean;
  /** The UDP checksum field as it is. */
  udpChecksum: number;
  /** The UDP header's length field equals the IP payload length. */
  udpLengthOk: boolean;
  ipInvariant: Buffer;
}

/** A whole Ethernet frame with a UDP datagram, IP and UDP checksums correct. */
export function buildUdpFrame(d: Datagram): Buffer {
  const src = addressBytes(d.src);
  const dst = addressBytes(d.dst);
  if (src.family !== dst.family) throw new RangeError('source and destination families differ');
  const udp = Buffer.alloc(8 + d.payload.length);
  udp.writeUInt16BE(d.sport, 0);
  udp.writeUInt16BE(d.dport, 2);
  udp.writeUInt16BE(udp.length, 4);
  d.payload.copy(udp, 8);
  if (!(d.noChecksum && src.family === 4)) {
    const sum = internetChecksum(
      pseudoHeader(src.family, src.bytes, dst.bytes, udp.length, IPPROTO_UDP),
      udp,
    );
    udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  }
  return ethernetFrame(src.family, ipHeader(src.family, src.bytes, dst.bytes, IPPROTO_UDP, udp.length), udp);
}

/** Parse a UDP frame built by buildUdpFrame or rewritten by the datapath; throws on anything else. */
export function parseUdpFrame(frame: Buffer): ParsedDatagram {
  const ethertype = frame.readUInt16BE(12);
  const l3 = frame.subarray(ETH_HLEN);
  let family: 4 | 6;
  let src: Buffer;
  let dst: Buffer;
  let udp: Buffer;
  let ipChecksumOk = true;
  let ipInvariant: Buffer;
  if (ethertype === ETH_P_IP) {
    family = 4;
    if (l3[0] !== 0x45 || l3[9] !== IPPROTO_UDP) throw new RangeError('not IPv4/UDP without options');
    const total = l3.readUInt16BE(2);
    if (total > l3.length) throw new RangeError(`IPv4 total length ${total} > ${l3.length} bytes present`);
    ipChecksumOk = internetChecksum(l3.subarray(0, 20)) === 0;
    src = l3.subarray(12, 16);
    dst = l3.subarray(16, 20);
    udp = l3.subarray(20, total);
    ipInvariant = Buffer.concat([l3.subarray(0, 2), l3.subarray(4, 10)]);
  } else if (ethertype === ETH_P_IPV6) {
    family = 6;
    if (l3[6] !== IPPROTO_UDP) throw new RangeError('not IPv6/UDP');
    const payloadLen = l3.readUInt16BE(4);
    if (40 + payloadLen > l3.length)
      throw new RangeError(`IPv6 payload length ${payloadLen} exceeds the frame`);
    src = l3.subarray(8, 24);
    dst = l3.subarray(24, 40);
    udp = l3.subarray(40, 40 + payloadLen);
    ipInvariant = Buffer.concat([l3.subarray(0, 4), l3.subarray(6, 8)]);
  } else {
    throw new RangeError(`ethertype 0x${ethertype.toString(16)} is neither IPv4 nor IPv6`);
  }
  const udpChecksum = udp.readUInt16BE(6);
  const sum = internetChecksum(pseudoHeader(family, src, dst, udp.length, IPPROTO_UDP), udp);
  return {
    family,
    src: family === 4 ? formatIPv4(src, 0) : formatIPv6(src, 0),
    dst: family === 4 ? formatIPv4(dst, 0) : formatIPv6(dst, 0),
    sport: udp.readUInt16BE(0),
    dport: udp.readUInt16BE(2),
    payload: Buffer.from(udp.subarray(8)),
    ipChecksumOk,
    udpChecksum,
    udpChecksumOk: (family === 4 && udpChecksum === 0) || sum === 0,
    udpLengthOk: udp.readUInt16BE(4) === udp.length,
    ipInvariant,
  };
}
