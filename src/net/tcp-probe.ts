/**
 * A bare TCP ACK built byte by byte (IP header included), for a raw socket. `detach` sends two of them to
 * each live connection's client while the datapath drains: whichever falls outside the client's receive
 * window makes its TCP answer with a duplicate ACK (RFC 9293 3.10.7.4), a payload-free packet the draining
 * datapath turns into resets to both ends.
 */
import { parseIpAddress } from '../ppv2/ip-address.js';

export interface ProbeSpec {
  /** Source: the address and port the client talks to (the VIP). */
  from: { address: string; port: number };
  to: { address: string; port: number };
  seq: number;
}

const TCP_HEADER = 20;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const PROTO_TCP = 6;
const FLAG_ACK = 0x10;

export function buildTcpAck(spec: ProbeSpec): Buffer {
  const src = addressBytes(spec.from.address);
  const dst = addressBytes(spec.to.address);
  if (src.family !== dst.family)
    throw new Error(`probe ${spec.from.address} -> ${spec.to.address}: mixed families`);
  const tcp = Buffer.alloc(TCP_HEADER);
  tcp.writeUInt16BE(spec.from.port, 0);
  tcp.writeUInt16BE(spec.to.port, 2);
  tcp.writeUInt32BE(spec.seq >>> 0, 4);
  tcp.writeUInt32BE(0, 8);
  tcp[12] = (TCP_HEADER / 4) << 4;
  tcp[13] = FLAG_ACK;
  tcp.writeUInt16BE(1024, 14); // window: any value; the segment is only there to be answered
  const pseudo =
    src.family === 4
      ? Buffer.concat([src.bytes, dst.bytes, Buffer.from([0, PROTO_TCP, 0, TCP_HEADER])])
      : Buffer.concat([src.bytes, dst.bytes, u32(TCP_HEADER), Buffer.from([0, 0, 0, PROTO_TCP])]);
  tcp.writeUInt16BE(internetChecksum(Buffer.concat([pseudo, tcp])), 16);
  return Buffer.concat([
    src.family === 4 ? ipv4Header(src.bytes, dst.bytes) : ipv6Header(src.bytes, dst.bytes),
    tcp,
  ]);
}

/** RFC 1071 ones' complement sum, complemented. A buffer that includes its own checksum sums to 0. */
export function internetChecksum(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += ((data[i] ?? 0) << 8) | (data[i + 1] ?? 0);
  if (data.length % 2 === 1) sum += (data[data.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Header(src: Buffer, dst: Buffer): Buffer {
  const ip = Buffer.alloc(IPV4_HEADER);
  ip[0] = 0x45;
  ip.writeUInt16BE(IPV4_HEADER + TCP_HEADER, 2);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = 64;
  ip[9] = PROTO_TCP;
  src.copy(ip, 12);
  dst.copy(ip, 16);
  ip.writeUInt16BE(internetChecksum(ip), 10);
  return ip;
}

function ipv6Header(src: Buffer, dst: Buffer): Buffer {
  const ip = Buffer.alloc(IPV6_HEADER);
  ip[0] = 0x60;
  ip.writeUInt16BE(TCP_HEADER, 4);
  ip[6] = PROTO_TCP;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return ip;
}

function addressBytes(text: string): { family: 4 | 6; bytes: Buffer } {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new Error(`not an IP address: ${text}`);
  return { family: parsed.family, bytes: Buffer.from(parsed.bytes) };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};
