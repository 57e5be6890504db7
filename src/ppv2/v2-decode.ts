import { copyBytes, readUint16, readUint32 } from './bytes.js';
import {
  ADDRESS_BLOCK_BYTES,
  CRC32C_VALUE_BYTES,
  TLV_HEADER_BYTES,
  TlvType,
  V2_FIXED_HEADER_BYTES,
  V2_SIGNATURE,
} from './constants.js';
import { crc32c } from './crc32c.js';
import { resolveMaxHeaderBytes } from './limits.js';
import { type FramedTlv, readTlvList } from './tlv-framing.js';
import { tlvListError } from './tlv-rules.js';
import { tlvTypeName } from './tlv-types.js';
import type { DecodeOptions, DecodeResult, Tlv, V2Header } from './types.js';
import { decodeAddressBlock } from './v2-address.js';
import { COMMANDS, FAMILIES, familyTransportError, TRANSPORTS } from './v2-fields.js';

const SIGNATURE = new Uint8Array(V2_SIGNATURE);

/**
 * Decodes a v2 header at the start of `bytes` (more bytes may follow: they are payload).
 *
 * Every field is checked as soon as its bytes are present, so a bad header is reported invalid without
 * waiting for the rest of it: the signature byte by byte, then version/command, family/transport, and the
 * length field against the size cap and the family's address block. Only then is the body awaited.
 * With the whole header present: the address block, the TLV framing, each TLV's rules (tlv-rules.ts),
 * and the CRC32C TLV if there is one.
 */
export function decodeV2(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult<V2Header> {
  const maxHeaderBytes = resolveMaxHeaderBytes(options.maxHeaderBytes);
  const have = bytes.length;

  const signatureBytes = Math.min(have, SIGNATURE.length);
  for (let i = 0; i < signatureBytes; i++) {
    if (bytes[i] !== SIGNATURE[i]) return invalid(`not a v2 header: signature differs at byte ${i}`);
  }
  if (have <= 12) return incomplete(V2_FIXED_HEADER_BYTES - have);

  const versionCommand = bytes[12] ?? 0;
  const version = versionCommand >> 4;
  if (version !== 2) return invalid(`version ${version} in a v2 header (the version nibble must be 2)`);
  const command = COMMANDS[versionCommand & 0x0f];
  if (command === undefined)
    return invalid(`command ${versionCommand & 0x0f} is neither LOCAL (0) nor PROXY (1)`);
  if (have <= 13) return incomplete(V2_FIXED_HEADER_BYTES - have);

  const protocol = bytes[13] ?? 0;
  const family = FAMILIES[protocol >> 4];
  if (family === undefined)
    return invalid(`address family ${protocol >> 4} is not UNSPEC, INET, INET6 or UNIX (0-3)`);
  const transport = TRANSPORTS[protocol & 0x0f];
  if (transport === undefined)
    return invalid(`transport ${protocol & 0x0f} is not UNSPEC, STREAM or DGRAM (0-2)`);
  const pairError = familyTransportError(family, transport);
  if (pairError !== undefined) return invalid(pairError);
  if (have < V2_FIXED_HEADER_BYTES) return incomplete(V2_FIXED_HEADER_BYTES - have);

  const length = readUint16(bytes, 14);
  const total = V2_FIXED_HEADER_BYTES + length;
  if (total > maxHeaderBytes) {
    return invalid(
      `header is ${total} bytes (length field ${length}), more than the ${maxHeaderBytes}-byte limit`,
    );
  }
  const addressBytes = ADDRESS_BLOCK_BYTES[family];
  if (length < addressBytes) {
    return invalid(`length field ${length} is shorter than the ${addressBytes}-byte ${family} address block`);
  }
  if (have < total) return incomplete(total - have);

  const addresses = decodeAddressBlock(family, bytes, V2_FIXED_HEADER_BYTES);
  const read = readTlvList(bytes, V2_FIXED_HEADER_BYTES + addressBytes, total, {
    what: 'TLV',
    nameOf: tlvTypeName,
  });
  if ('error' in read) return invalid(read.error);
  const tlvs: Tlv[] = read.tlvs.map(({ type, value }) => ({ type, value }));
  const ruleError = tlvListError(tlvs);
  if (ruleError !== undefined) return invalid(ruleError);
  const crcError = checkCrc32c(bytes, total, read.tlvs);
  if (crcError !== undefined) return invalid(crcError);

  // The cast joins what was checked separately: `family` decides which address fields decodeAddressBlock returned.
  const header = { version: 2, command, family, transport, ...addresses, tlvs } as V2Header;
  return { status: 'complete', header, consumed: total };
}

/**
 * Spec 2.2.3: the CRC32C value is the checksum of the whole header with the 4 value bytes zeroed. The
 * rules have already ensured at most one CRC32C TLV, of exactly 4 bytes.
 */
function checkCrc32c(bytes: Uint8Array, total: number, tlvs: readonly FramedTlv[]): string | undefined {
  const crcTlv = tlvs.find((tlv) => tlv.type === TlvType.CRC32C);
  if (crcTlv === undefined) return undefined;
  // A copy: the caller's buffer is never written to (Buffer#slice would be a view).
  const header = copyBytes(bytes, 0, total);
  const valueOffset = crcTlv.offset + TLV_HEADER_BYTES;
  header.fill(0, valueOffset, valueOffset + CRC32C_VALUE_BYTES);
  const expected = crc32c(header);
  const received = readUint32(bytes, valueOffset);
  if (expected === received) return undefined;
  return `CRC32C mismatch: header carries 0x${hex32(received)}, computed 0x${hex32(expected)}`;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}

function invalid(reason: string): DecodeResult<V2Header> {
  return { status: 'invalid', reason };
}

function incomplete(needed: number): DecodeResult<V2Header> {
  return { status: 'incomplete', needed };
}
