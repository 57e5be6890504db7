import { V1_MIN_LINE_BYTES, V1_PREFIX, V2_SIGNATURE } from './constants.js';
import { resolveMaxHeaderBytes } from './limits.js';
import type { DecodeOptions, DecodeResult } from './types.js';
import { decodeV1 } from './v1.js';
import { decodeV2 } from './v2-decode.js';

/**
 * Decodes a v1 or v2 header at the start of `bytes`, telling them apart by the first byte (0x0D starts
 * the v2 signature, "P" starts "PROXY "); the chosen decoder then checks the rest of its signature. For
 * a stream: call with everything received so far until the result is not `incomplete`.
 */
export function decodeProxyHeader(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  resolveMaxHeaderBytes(options.maxHeaderBytes); // a bad cap throws whichever version the bytes turn out to be
  if (bytes.length === 0) return { status: 'incomplete', needed: V1_MIN_LINE_BYTES };
  const first = bytes[0];
  if (first === V2_SIGNATURE[0]) return decodeV2(bytes, options);
  if (first === V1_PREFIX.charCodeAt(0)) return decodeV1(bytes);
  return {
    status: 'invalid',
    reason: `not a PROXY protocol header: first byte 0x${(first ?? 0).toString(16).padStart(2, '0')} starts neither the v2 signature nor "PROXY "`,
  };
}
