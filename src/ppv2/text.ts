/**
 * Text rules of TLV values. The spec says which values are UTF-8 (AUTHORITY, SSL CN) and which US-ASCII
 * (NETNS, SSL VERSION, CIPHER, SIG_ALG, KEY_ALG); a strict decoder rejects bytes outside that encoding.
 */

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lossy = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** The text of valid UTF-8 bytes, or undefined when the bytes are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The text of `bytes`, invalid sequences replaced by U+FFFD (for display of opaque values only). */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  return utf8Lossy.decode(bytes);
}

/** True when every byte is US-ASCII (0x00-0x7F). */
export function isUsAscii(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte > 0x7f) return false;
  return true;
}

/** True when every byte is printable US-ASCII (space to tilde), i.e. safe to show as text. */
export function isPrintableAscii(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte < 0x20 || byte > 0x7e) return false;
  return true;
}
