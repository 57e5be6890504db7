import { readUint32 } from './bytes.js';
import { CRC32C_VALUE_BYTES, TLV_MAX_VALUE_BYTES, TlvType } from './constants.js';
import { Ppv2ValueError } from './errors.js';
import { buildSslValue, parseSslValue, type SslInfo, type SslTlvInput } from './ssl.js';
import { decodeUtf8Lossy, decodeUtf8Strict, encodeUtf8, isPrintableAscii } from './text.js';
import { tlvShapeError } from './tlv-framing.js';
import { tlvValueError } from './tlv-rules.js';
import { tlvTypeClass } from './tlv-types.js';
import type { Tlv } from './types.js';

/**
 * Typed builders and typed views of TLVs. A header only ever holds raw `Tlv`s ({type, value}); these
 * turn meaningful values into them and back. Builders throw Ppv2ValueError with the rule that failed.
 */

/** ALPN protocol identifier, e.g. "h2" (text is written as UTF-8). */
export function alpnTlv(protocol: string | Uint8Array): Tlv {
  return checked(TlvType.ALPN, toBytes(protocol));
}

/** AUTHORITY: the host name (SNI) the client asked for. */
export function authorityTlv(host: string): Tlv {
  return checked(TlvType.AUTHORITY, encodeUtf8(host));
}

/** CRC32C placeholder: encodeV2 computes the value (EncodeV2Options.crc32c appends one for you). */
export function crc32cTlv(): Tlv {
  return { type: TlvType.CRC32C, value: new Uint8Array(CRC32C_VALUE_BYTES) };
}

/** NOOP of `length` zero bytes (padding). */
export function noopTlv(length: number): Tlv {
  if (!Number.isInteger(length) || length < 0 || length > TLV_MAX_VALUE_BYTES) {
    throw new Ppv2ValueError(`NOOP length ${length} is not an integer from 0 to ${TLV_MAX_VALUE_BYTES}`);
  }
  return { type: TlvType.NOOP, value: new Uint8Array(length) };
}

/** UNIQUE_ID: at most 128 bytes (text is written as UTF-8). */
export function uniqueIdTlv(id: string | Uint8Array): Tlv {
  return checked(TlvType.UNIQUE_ID, toBytes(id));
}

/** SSL with its client bitfield (SslClientFlag), verify result and sub-TLVs. */
export function sslTlv(input: SslTlvInput): Tlv {
  const value = buildSslValue(input);
  if (typeof value === 'string') throw new Ppv2ValueError(`invalid SSL TLV: ${value}`);
  return checked(TlvType.SSL, value);
}

/** NETNS: a network namespace name (US-ASCII). */
export function netnsTlv(name: string): Tlv {
  return checked(TlvType.NETNS, encodeUtf8(name));
}

/** Any type number with raw value bytes, checked against the same rules as the named builders. */
export function rawTlv(type: number, value: Uint8Array): Tlv {
  return checked(type, value);
}

function checked(type: number, value: Uint8Array): Tlv {
  const tlv = { type, value };
  const error = tlvShapeError(tlv, 'TLV') ?? tlvValueError(tlv);
  if (error !== undefined) throw new Ppv2ValueError(`invalid TLV: ${error}`);
  return tlv;
}

function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? encodeUtf8(value) : value;
}

/** What a TLV means, by type. `MALFORMED` is a registered type whose value breaks its rule. */
export type TlvInfo =
  | { readonly kind: 'ALPN'; readonly type: number; readonly protocol: string }
  | { readonly kind: 'AUTHORITY'; readonly type: number; readonly host: string }
  | { readonly kind: 'CRC32C'; readonly type: number; readonly checksum: number }
  | { readonly kind: 'NOOP'; readonly type: number; readonly length: number }
  | { readonly kind: 'UNIQUE_ID'; readonly type: number; readonly value: Uint8Array; readonly text?: string }
  | { readonly kind: 'SSL'; readonly type: number; readonly ssl: SslInfo }
  | { readonly kind: 'NETNS'; readonly type: number; readonly name: string }
  | {
      readonly kind: 'CUSTOM' | 'EXPERIMENTAL' | 'FUTURE' | 'UNASSIGNED';
      readonly type: number;
      readonly value: Uint8Array;
    }
  | {
      readonly kind: 'MALFORMED';
      readonly type: number;
      readonly value: Uint8Array;
      readonly reason: string;
    };

/**
 * The typed view of one TLV. Text values are decoded as the spec says; ALPN, which the spec leaves as
 * bytes, is shown as UTF-8 with U+FFFD for invalid sequences. UNIQUE_ID has `text` when it is printable
 * US-ASCII (as HAProxy's unique-id-format produces).
 */
export function tlvInfo(tlv: Tlv): TlvInfo {
  const { type, value } = tlv;
  const reason = tlvValueError(tlv);
  if (reason !== undefined) return { kind: 'MALFORMED', type, value, reason };
  switch (type) {
    case TlvType.ALPN:
      return { kind: 'ALPN', type, protocol: decodeUtf8Lossy(value) };
    case TlvType.AUTHORITY:
      return { kind: 'AUTHORITY', type, host: decodeUtf8Strict(value) ?? '' };
    case TlvType.CRC32C:
      return { kind: 'CRC32C', type, checksum: readUint32(value, 0) };
    case TlvType.NOOP:
      return { kind: 'NOOP', type, length: value.length };
    case TlvType.UNIQUE_ID:
      return isPrintableAscii(value)
        ? { kind: 'UNIQUE_ID', type, value, text: decodeUtf8Lossy(value) }
        : { kind: 'UNIQUE_ID', type, value };
    case TlvType.SSL:
      return { kind: 'SSL', type, ssl: parseSslValue(value) as SslInfo };
    case TlvType.NETNS:
      return { kind: 'NETNS', type, name: decodeUtf8Lossy(value) };
  }
  return { kind: OPAQUE_KIND[tlvTypeClass(type)], type, value };
}

const OPAQUE_KIND = {
  registered: 'UNASSIGNED', // not reached: every registered type has a case above
  custom: 'CUSTOM',
  experimental: 'EXPERIMENTAL',
  future: 'FUTURE',
  unassigned: 'UNASSIGNED',
} as const;
