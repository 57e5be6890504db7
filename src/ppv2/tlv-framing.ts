import { copyBytes, readUint16, writeUint16 } from './bytes.js';
import { TLV_HEADER_BYTES, TLV_MAX_VALUE_BYTES } from './constants.js';
import { hexType } from './tlv-types.js';
import type { Tlv } from './types.js';

/**
 * The TLV framing shared by top-level TLVs and SSL sub-TLVs: type byte, 16-bit big-endian length, value.
 * A list must fill its region exactly: a TLV header or value that crosses the end is invalid, never
 * "incomplete", because the region's length was already announced by the enclosing length field.
 */

/** A TLV plus the offset of its type byte in the buffer it was read from (the CRC check needs it). */
export interface FramedTlv extends Tlv {
  readonly offset: number;
}

export interface TlvListLabels {
  /** "TLV" or "SSL sub-TLV", for messages. */
  readonly what: string;
  /** Name of a type number, for messages. */
  readonly nameOf: (type: number) => string;
  /** Added to offsets in messages, so they count from the start of the whole header. */
  readonly baseOffset?: number;
}

/** The TLVs in bytes[start, end), or a message saying which one does not fit. */
export function readTlvList(
  bytes: Uint8Array,
  start: number,
  end: number,
  labels: TlvListLabels,
): { tlvs: FramedTlv[] } | { error: string } {
  const tlvs: FramedTlv[] = [];
  const base = labels.baseOffset ?? 0;
  let offset = start;
  while (offset < end) {
    const left = end - offset;
    if (left < TLV_HEADER_BYTES) {
      return {
        error: `${labels.what} at offset ${base + offset} is cut: ${left} byte(s) left, a TLV header needs ${TLV_HEADER_BYTES}`,
      };
    }
    const type = bytes[offset] ?? 0;
    const length = readUint16(bytes, offset + 1);
    const valueStart = offset + TLV_HEADER_BYTES;
    if (length > end - valueStart) {
      return {
        error: `${labels.what} ${labels.nameOf(type)} at offset ${base + offset} declares ${length} value bytes but only ${end - valueStart} remain`,
      };
    }
    tlvs.push({ type, value: copyBytes(bytes, valueStart, valueStart + length), offset });
    offset = valueStart + length;
  }
  return { tlvs };
}

/** Bytes the framed list takes on the wire. */
export function tlvListBytes(tlvs: readonly Tlv[]): number {
  let total = 0;
  for (const tlv of tlvs) total += TLV_HEADER_BYTES + tlv.value.length;
  return total;
}

/**
 * Writes the framed list into `out` at `offset` and returns the offset of each TLV's type byte. Types and
 * lengths must already be validated (0-255, at most 65535 bytes).
 */
export function writeTlvList(out: Uint8Array, offset: number, tlvs: readonly Tlv[]): number[] {
  const offsets: number[] = [];
  let at = offset;
  for (const tlv of tlvs) {
    offsets.push(at);
    out[at] = tlv.type;
    writeUint16(out, at + 1, tlv.value.length);
    out.set(tlv.value, at + TLV_HEADER_BYTES);
    at += TLV_HEADER_BYTES + tlv.value.length;
  }
  return offsets;
}

/** The framed bytes of a list, for TLVs nested in a value (SSL sub-TLVs). */
export function frameTlvList(tlvs: readonly Tlv[]): Uint8Array {
  const out = new Uint8Array(tlvListBytes(tlvs));
  writeTlvList(out, 0, tlvs);
  return out;
}

/**
 * Why `tlv` cannot be framed (type not a byte, value not bytes or longer than a length field holds), or
 * undefined. TLVs may come from JavaScript or JSON callers, so the shape is checked at run time.
 */
export function tlvShapeError(tlv: unknown, what: string): string | undefined {
  if (typeof tlv !== 'object' || tlv === null)
    return `${what} ${JSON.stringify(tlv)} is not a {type, value} object`;
  const { type, value } = tlv as { type?: unknown; value?: unknown };
  if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 0xff) {
    return `${what} type ${JSON.stringify(type)} is not a byte (0-255)`;
  }
  if (!(value instanceof Uint8Array)) return `${what} ${hexType(type)} value is not a Uint8Array`;
  if (value.length > TLV_MAX_VALUE_BYTES) {
    return `${what} ${hexType(type)} value is ${value.length} bytes, more than a TLV length field holds (${TLV_MAX_VALUE_BYTES})`;
  }
  return undefined;
}
