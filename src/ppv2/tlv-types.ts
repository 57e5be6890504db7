import {
  SslSubtype,
  TLV_CUSTOM_RANGE,
  TLV_EXPERIMENTAL_RANGE,
  TLV_FUTURE_RANGE,
  TlvType,
} from './constants.js';

/**
 * Where a TLV type number sits in the spec:
 * - registered: ALPN, AUTHORITY, CRC32C, NOOP, UNIQUE_ID, SSL, NETNS (checked and typed by this codec);
 * - custom (0xE0-0xEF) and experimental (0xF0-0xF7): application data, opaque bytes;
 * - future (0xF8-0xFF): reserved, "potentially to extend the protocol with multibyte type values";
 * - unassigned: every other number (0x00, 0x06-0x1F, 0x21-0x2F at top level, ...).
 *
 * Decoding accepts future and unassigned types as opaque TLVs, like HAProxy and nginx do: the spec lets
 * receivers skip TLVs they do not understand, and today's framing (1-byte type, 2-byte length) is the
 * only one that exists. Encoding refuses future types unless asked (EncodeV2Options.allowFutureTypes),
 * because a later revision may give them another layout.
 */
export type TlvTypeClass = 'registered' | 'custom' | 'experimental' | 'future' | 'unassigned';

const REGISTERED_NAMES = new Map<number, string>(Object.entries(TlvType).map(([name, type]) => [type, name]));
const SSL_SUBTYPE_NAMES = new Map<number, string>(
  Object.entries(SslSubtype).map(([name, type]) => [type, name]),
);

export function tlvTypeClass(type: number): TlvTypeClass {
  if (REGISTERED_NAMES.has(type)) return 'registered';
  if (type >= TLV_CUSTOM_RANGE.min && type <= TLV_CUSTOM_RANGE.max) return 'custom';
  if (type >= TLV_EXPERIMENTAL_RANGE.min && type <= TLV_EXPERIMENTAL_RANGE.max) return 'experimental';
  if (type >= TLV_FUTURE_RANGE.min && type <= TLV_FUTURE_RANGE.max) return 'future';
  return 'unassigned';
}

/** "0x05" style, two lowercase hex digits. */
export function hexType(type: number): string {
  return `0x${type.toString(16).padStart(2, '0')}`;
}

/** "AUTHORITY", or the class and number for types without a name, e.g. "CUSTOM(0xe0)". */
export function tlvTypeName(type: number): string {
  const name = REGISTERED_NAMES.get(type);
  if (name !== undefined) return name;
  return `${tlvTypeClass(type).toUpperCase()}(${hexType(type)})`;
}

/** "CN", or "SUBTYPE(0x26)" for sub-TLV types the spec this codec follows does not name. */
export function sslSubtypeName(type: number): string {
  return SSL_SUBTYPE_NAMES.get(type) ?? `SUBTYPE(${hexType(type)})`;
}

/**
 * Registered top-level types that carry one value per connection. Two AUTHORITY (or UNIQUE_ID, ...) TLVs
 * would let two receivers believe different things (one keeps the first, another the last), and two CRC32C
 * TLVs cannot both hold the checksum of a header that contains the other, so a repeat is invalid.
 * NOOP and the application ranges may repeat.
 */
export const SINGLE_VALUED_TYPES: ReadonlySet<number> = new Set([
  TlvType.ALPN,
  TlvType.AUTHORITY,
  TlvType.CRC32C,
  TlvType.UNIQUE_ID,
  TlvType.SSL,
  TlvType.NETNS,
]);

/** The named SSL sub-TLVs carry one value each; unnamed sub-types may repeat. */
export const SINGLE_VALUED_SSL_SUBTYPES: ReadonlySet<number> = new Set(Object.values(SslSubtype));
