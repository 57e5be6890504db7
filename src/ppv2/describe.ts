import { bytesToHex } from './hex.js';
import { hexType, tlvTypeName } from './tlv-types.js';
import { tlvInfo } from './tlv-values.js';
import type { Tlv } from './types.js';

/** One TLV as people read it: its type, name and a short human rendering of the value. */
export interface TlvDescription {
  type: number;
  typeHex: string;
  name: string;
  length: number;
  hex: string;
  text: string;
}

/**
 * Human rendering of TLVs, shared by `lbctl ppv2 decode` and the dashboard's header feed so both show a
 * TLV the same way.
 */
export function describeTlv(tlv: Tlv): TlvDescription {
  const info = tlvInfo(tlv);
  const hex = bytesToHex(tlv.value);
  return {
    type: tlv.type,
    typeHex: hexType(tlv.type),
    name: tlvTypeName(tlv.type),
    length: tlv.value.length,
    hex,
    text: describeValue(info, hex),
  };
}

function describeValue(info: ReturnType<typeof tlvInfo>, hex: string): string {
  switch (info.kind) {
    case 'ALPN':
      return info.protocol;
    case 'AUTHORITY':
      return info.host;
    case 'CRC32C':
      return `0x${info.checksum.toString(16).padStart(8, '0')}`;
    case 'NOOP':
      return `${info.length} padding bytes`;
    case 'UNIQUE_ID':
      return info.text ?? hex;
    case 'NETNS':
      return info.name;
    case 'SSL':
      return [
        `client=0x${info.ssl.client.toString(16)}`,
        `verify=${info.ssl.verify}`,
        info.ssl.version && `version=${info.ssl.version}`,
        info.ssl.cn && `cn=${info.ssl.cn}`,
        info.ssl.cipher && `cipher=${info.ssl.cipher}`,
      ]
        .filter(Boolean)
        .join(' ');
    case 'MALFORMED':
      return `malformed (${info.reason}): ${hex}`;
    default:
      return hex;
  }
}
