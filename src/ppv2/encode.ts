import type { EncodeV2Options, ProxyHeader } from './types.js';
import { encodeV1 } from './v1.js';
import { encodeV2 } from './v2-encode.js';

/** Wire bytes of any header: v1 headers become a text line, v2 headers binary (`options` apply to v2). */
export function encodeProxyHeader(header: ProxyHeader, options: EncodeV2Options = {}): Uint8Array {
  return header.version === 1 ? encodeV1(header) : encodeV2(header, options);
}
