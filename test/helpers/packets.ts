/**
 * Crafting and parsing Ethernet + IPv4/IPv6 + TCP (or UDP) frames for packet-level datapath tests. Deliberately
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

function pseudoHeader(
  family: 4 | 6,
  src: Buffer,
  dst: Buffer,
  tcpLength: number,
  proto = IPPROTO_TCP,
): Buffer {
  if (family === 4) {
    const tail = Buffer.from([0, proto, tcpLength >> 8, tcpLength & 0xff]);
    return Buffer.concat([src, dst, tail]);
  }
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(tcpLength, 0);
  tail[7] = proto;
  return Buffer.concat([src, dst, tail]);
}

const CLIENT_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
const LB_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);

/** Ethernet + IPv4 (DF, TTL 64) or IPv6 (a flow label) around an L4 packet. */
function ipFrame(family: 4 | 6, src: Buffer, dst: Buffer, proto: number, l4: Buffer): Buffer {
  const eth = Buffer.alloc(ETH_HLEN);
  LB_MAC.copy(eth, 0);
  CLIENT_MAC.copy(eth, 6);
  eth.writeUInt16BE(family === 4 ? ETH_P_IP : ETH_P_IPV6, 12);
  let ip: Buffer;
  if (family === 4) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
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
    ip.writeUInt16BE(l4.length, 4);
    ip[6] = proto;
    ip[7] = 64;
    src.copy(ip, 8);
    dst.copy(ip, 24);
  }
  return Buffer.concat([eth, ip, l4]);
}

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

  return ipFrame(family, src.bytes, dst.bytes, IPPROTO_TCP, tcp);
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
    src: family === 4 ? formatIPv4(src, 0) : formatIPv6(src, 0),
    dst: family === 4 ? formatIPv4(dst, 0) : formatIPv6(dst, 0),
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
  return ipFrame(src.family, src.bytes, dst.bytes, IPPROTO_UDP, udp);
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
