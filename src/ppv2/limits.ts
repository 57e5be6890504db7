import {
  DEFAULT_MAX_V2_HEADER_BYTES,
  V2_FIXED_HEADER_BYTES,
  V2_PROTOCOL_MAX_HEADER_BYTES,
} from './constants.js';
import { Ppv2ValueError } from './errors.js';

/**
 * The v2 header size cap in force: the caller's `maxHeaderBytes`, or the default. A cap outside what the
 * protocol can express is a programming error, so it throws instead of returning a decode result.
 */
export function resolveMaxHeaderBytes(maxHeaderBytes: number | undefined): number {
  if (maxHeaderBytes === undefined) return DEFAULT_MAX_V2_HEADER_BYTES;
  if (
    !Number.isInteger(maxHeaderBytes) ||
    maxHeaderBytes < V2_FIXED_HEADER_BYTES ||
    maxHeaderBytes > V2_PROTOCOL_MAX_HEADER_BYTES
  ) {
    throw new Ppv2ValueError(
      `maxHeaderBytes ${maxHeaderBytes} is not an integer from ${V2_FIXED_HEADER_BYTES} to ${V2_PROTOCOL_MAX_HEADER_BYTES}`,
    );
  }
  return maxHeaderBytes;
}
