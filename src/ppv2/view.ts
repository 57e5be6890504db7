import { Ppv2ValueError } from './errors.js';
import { bytesToHex, hexToBytes } from './hex.js';
import type { PlainHeader, PlainTlv, ProxyHeader, Tlv } from './types.js';

/**
 * The plain JSON view of a header, the shape `lbctl ppv2 decode --json` prints and the test vectors'
 * `expect` uses: {version, command, family, transport?, src?, dst?, srcPort?, dstPort?, tlvs?: [{type, hex}]}.
 * Keys a header does not have are left out (see PlainHeader).
 */
export function toPlainHeader(header: ProxyHeader): PlainHeader {
  const plain: PlainHeader = { version: header.version, command: header.command, family: header.family };
  if (header.version === 2) plain.transport = header.transport;
  if ('src' in header) {
    plain.src = header.src;
    plain.dst = header.dst;
  }
  if ('srcPort' in header) {
    plain.srcPort = header.srcPort;
    plain.dstPort = header.dstPort;
  }
  if (header.version === 2) plain.tlvs = header.tlvs.map(toPlainTlv);
  return plain;
}

export function toPlainTlv(tlv: Tlv): PlainTlv {
  return { type: tlv.type, hex: bytesToHex(tlv.value) };
}

/**
 * The header a plain view describes (for JSON input to `ppv2 encode`). Only the TLV hex is converted and
 * checked here; the encoders check every other field. Throws Ppv2ValueError.
 */
export function fromPlainHeader(plain: PlainHeader): ProxyHeader {
  if (typeof plain !== 'object' || plain === null) throw new Ppv2ValueError('header JSON is not an object');
  const { tlvs, ...rest } = plain;
  if (plain.version !== 2) return rest as ProxyHeader;
  if (!Array.isArray(tlvs)) throw new Ppv2ValueError('header JSON has version 2 but no "tlvs" array');
  return { ...rest, tlvs: tlvs.map(fromPlainTlv) } as ProxyHeader;
}

function fromPlainTlv(plain: PlainTlv, index: number): Tlv {
  const value = typeof plain?.hex === 'string' ? hexToBytes(plain.hex) : undefined;
  if (value === undefined) {
    throw new Ppv2ValueError(
      `tlvs[${index}].hex ${JSON.stringify(plain?.hex)} is not an even number of hex digits`,
    );
  }
  return { type: plain.type, value };
}
