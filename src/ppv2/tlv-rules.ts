import {
  AUTHORITY_MAX_BYTES,
  CRC32C_VALUE_BYTES,
  NETNS_MAX_BYTES,
  TlvType,
  UNIQUE_ID_MAX_BYTES,
} from './constants.js';
import { parseSslValue } from './ssl.js';
import { decodeUtf8Strict, isUsAscii } from './text.js';
import { SINGLE_VALUED_TYPES, tlvTypeName } from './tlv-types.js';
import type { Tlv } from './types.js';

/**
 * What a strict receiver checks in TLV values, shared by the decoder (which reports invalid) and the
 * encoder (which refuses to emit). Bounds come from the spec, or from HAProxy where the spec gives none:
 * - CRC32C: exactly 4 bytes;
 * - UNIQUE_ID: at most 128 bytes;
 * - AUTHORITY: UTF-8, at most 255 bytes (HAProxy's PP2_AUTHORITY_MAX);
 * - NETNS: US-ASCII name of 1-255 bytes without NUL (a Linux namespace name is a file name);
 * - SSL: client + verify + sub-TLVs filling the value exactly, sub-TLV text in the spec's encoding;
 * - ALPN, NOOP and every unregistered type: any bytes.
 * Registered single-valued types must not repeat (see SINGLE_VALUED_TYPES for why).
 */

const REGISTERED_NAME = new Map<number, string>(Object.entries(TlvType).map(([name, type]) => [type, name]));

/** Why the value of `tlv` breaks its type's rule, or undefined when it is fine. */
export function tlvValueError(tlv: Tlv): string | undefined {
  const { type, value } = tlv;
  const name = REGISTERED_NAME.get(type) ?? ''; // only registered types have rules
  switch (type) {
    case TlvType.CRC32C:
      return value.length === CRC32C_VALUE_BYTES
        ? undefined
        : `${name} value is ${value.length} bytes, must be exactly ${CRC32C_VALUE_BYTES}`;
    case TlvType.UNIQUE_ID:
      return value.length <= UNIQUE_ID_MAX_BYTES
        ? undefined
        : `${name} value is ${value.length} bytes, more than the ${UNIQUE_ID_MAX_BYTES} allowed`;
    case TlvType.AUTHORITY:
      if (value.length > AUTHORITY_MAX_BYTES) {
        return `${name} value is ${value.length} bytes, more than the ${AUTHORITY_MAX_BYTES} allowed`;
      }
      return decodeUtf8Strict(value) === undefined ? `${name} value is not UTF-8 text` : undefined;
    case TlvType.NETNS:
      if (value.length === 0 || value.length > NETNS_MAX_BYTES) {
        return `${name} value is ${value.length} bytes, must be 1 to ${NETNS_MAX_BYTES}`;
      }
      return isUsAscii(value) && !value.includes(0) ? undefined : `${name} value is not a US-ASCII name`;
    case TlvType.SSL: {
      const ssl = parseSslValue(value);
      return typeof ssl === 'string' ? ssl : undefined;
    }
    default:
      return undefined;
  }
}

/** The first problem in a top-level TLV list (a bad value or a repeated single-valued type), or undefined. */
export function tlvListError(tlvs: readonly Tlv[]): string | undefined {
  const seen = new Set<number>();
  for (const tlv of tlvs) {
    const error = tlvValueError(tlv);
    if (error !== undefined) return error;
    if (SINGLE_VALUED_TYPES.has(tlv.type)) {
      if (seen.has(tlv.type)) return `${tlvTypeName(tlv.type)} TLV appears more than once`;
      seen.add(tlv.type);
    }
  }
  return undefined;
}
