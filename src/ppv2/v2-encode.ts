import { writeUint16, writeUint32 } from './bytes.js';
import {
  CRC32C_VALUE_BYTES,
  TLV_HEADER_BYTES,
  TlvType,
  V2_FIXED_HEADER_BYTES,
  V2_SIGNATURE,
} from './constants.js';
import { crc32c } from './crc32c.js';
import { Ppv2ValueError } from './errors.js';
import { resolveMaxHeaderBytes } from './limits.js';
import { tlvListBytes, tlvShapeError, writeTlvList } from './tlv-framing.js';
import { tlvListError } from './tlv-rules.js';
import { tlvTypeClass, tlvTypeName } from './tlv-types.js';
import type { EncodeV2Options, Tlv, V2Header } from './types.js';
import { encodeAddressBlock } from './v2-address.js';
import {
  COMMANDS,
  commandCode,
  FAMILIES,
  familyTransportError,
  protocolByte,
  TRANSPORTS,
} from './v2-fields.js';

const SIGNATURE = new Uint8Array(V2_SIGNATURE);

/**
 * The wire bytes of a v2 header. The encoder applies every rule the decoder checks, so its output always
 * decodes back to the same header; anything it cannot encode that way throws Ppv2ValueError naming
 * the field. Fields are checked at run time because headers also come from JSON and JavaScript.
 */
export function encodeV2(header: V2Header, options: EncodeV2Options = {}): Uint8Array {
  const maxHeaderBytes = resolveMaxHeaderBytes(options.maxHeaderBytes);
  const fields = header as unknown as Record<string, unknown>;
  if (fields.version !== 2) fail(`version ${JSON.stringify(fields.version)} is not 2`);
  if (!COMMANDS.includes(header.command))
    fail(`command ${JSON.stringify(fields.command)} is not LOCAL or PROXY`);
  if (!FAMILIES.includes(header.family)) {
    fail(`family ${JSON.stringify(fields.family)} is not UNSPEC, INET, INET6 or UNIX`);
  }
  if (!TRANSPORTS.includes(header.transport)) {
    fail(`transport ${JSON.stringify(fields.transport)} is not UNSPEC, STREAM or DGRAM`);
  }
  const pairError = familyTransportError(header.family, header.transport);
  if (pairError !== undefined) fail(pairError);

  const address = encodeAddressBlock(header);
  if (typeof address === 'string') fail(address);

  const tlvs = collectTlvs(header, options);
  const length = address.length + tlvListBytes(tlvs);
  const total = V2_FIXED_HEADER_BYTES + length;
  if (total > maxHeaderBytes)
    fail(`header would be ${total} bytes, more than the ${maxHeaderBytes}-byte limit`);

  const out = new Uint8Array(total);
  out.set(SIGNATURE, 0);
  out[12] = 0x20 | commandCode(header.command);
  out[13] = protocolByte(header.family, header.transport);
  writeUint16(out, 14, length);
  out.set(address, V2_FIXED_HEADER_BYTES);
  const offsets = writeTlvList(out, V2_FIXED_HEADER_BYTES + address.length, tlvs);

  const crcIndex = tlvs.findIndex((tlv) => tlv.type === TlvType.CRC32C);
  const crcOffset = offsets[crcIndex];
  if (crcOffset !== undefined) {
    const valueOffset = crcOffset + TLV_HEADER_BYTES;
    out.fill(0, valueOffset, valueOffset + CRC32C_VALUE_BYTES);
    writeUint32(out, valueOffset, crc32c(out));
  }
  return out;
}

/** The header's TLVs checked against the decoder's rules, plus a CRC32C placeholder when asked for. */
function collectTlvs(header: V2Header, options: EncodeV2Options): Tlv[] {
  if (!Array.isArray(header.tlvs)) fail('tlvs is not an array');
  const tlvs: Tlv[] = [];
  for (const tlv of header.tlvs) {
    const shape = tlvShapeError(tlv, 'TLV');
    if (shape !== undefined) fail(shape);
    if (tlvTypeClass(tlv.type) === 'future' && options.allowFutureTypes !== true) {
      fail(
        `${tlvTypeName(tlv.type)} is reserved for future use (0xf8-0xff); set allowFutureTypes to send it`,
      );
    }
    tlvs.push(tlv);
  }
  if (options.crc32c === true && !tlvs.some((tlv) => tlv.type === TlvType.CRC32C)) {
    tlvs.push({ type: TlvType.CRC32C, value: new Uint8Array(CRC32C_VALUE_BYTES) });
  }
  const ruleError = tlvListError(tlvs);
  if (ruleError !== undefined) fail(ruleError);
  return tlvs;
}

function fail(message: string): never {
  throw new Ppv2ValueError(`cannot encode PROXY v2 header: ${message}`);
}
