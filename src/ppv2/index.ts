/**
 * PROXY protocol v1/v2 codec: pure functions over Uint8Array, no I/O. Decoders return a DecodeResult
 * (complete / incomplete / invalid) and never throw on data; encoders and builders throw Ppv2ValueError
 * (a RangeError) for headers they refuse to emit.
 */

export {
  AUTHORITY_MAX_BYTES,
  DEFAULT_MAX_V2_HEADER_BYTES,
  NETNS_MAX_BYTES,
  SslClientFlag,
  SslSubtype,
  TlvType,
  UNIQUE_ID_MAX_BYTES,
  UNIX_PATH_BYTES,
  V1_MAX_LINE_BYTES,
  V2_FIXED_HEADER_BYTES,
  V2_PROTOCOL_MAX_HEADER_BYTES,
} from './constants.js';
export { crc32c } from './crc32c.js';
export { decodeProxyHeader } from './decode.js';
export { encodeProxyHeader } from './encode.js';
export { Ppv2ValueError } from './errors.js';
export { bytesToHex, hexToBytes } from './hex.js';
export {
  canonicalIpAddress,
  formatIPv4,
  formatIPv6,
  parseIPv4,
  parseIPv6,
  parseIpAddress,
} from './ip-address.js';
export type { SslInfo, SslTlvInput } from './ssl.js';
export { parseTlvSpec, TLV_SPEC_HINT, type TlvSpecOptions } from './tlv-spec.js';
export { hexType, sslSubtypeName, type TlvTypeClass, tlvTypeClass, tlvTypeName } from './tlv-types.js';
export {
  alpnTlv,
  authorityTlv,
  crc32cTlv,
  netnsTlv,
  noopTlv,
  rawTlv,
  sslTlv,
  type TlvInfo,
  tlvInfo,
  uniqueIdTlv,
} from './tlv-values.js';
export type {
  Command,
  DecodeOptions,
  DecodeResult,
  EncodeV2Options,
  Family,
  PlainHeader,
  PlainTlv,
  ProxyHeader,
  Tlv,
  Transport,
  V1Header,
  V1ProxyHeader,
  V1UnknownHeader,
  V2Header,
  V2InetHeader,
  V2UnixHeader,
  V2UnspecHeader,
} from './types.js';
export { decodeV1, encodeV1 } from './v1.js';
export { decodeV2 } from './v2-decode.js';
export { encodeV2 } from './v2-encode.js';
export { fromPlainHeader, toPlainHeader, toPlainTlv } from './view.js';
