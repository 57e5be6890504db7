const HEX_DIGITS = '0123456789abcdef';

/** Lowercase hex of `bytes`, two digits per byte, no separators. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    out += HEX_DIGITS[byte >> 4] ?? '';
    out += HEX_DIGITS[byte & 0x0f] ?? '';
  }
  return out;
}

/**
 * Bytes of a hex string (either case, even number of digits, nothing else: no "0x", no spaces), or
 * undefined when `text` is not exactly that. Callers word the error, since they know what the hex was for.
 */
export function hexToBytes(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}
