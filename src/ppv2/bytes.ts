/** Big-endian integer access and copying on Uint8Array, the only byte container the codec uses. */

export function readUint16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

export function writeUint16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

export function readUint32(bytes: Uint8Array, offset: number): number {
  return (readUint16(bytes, offset) * 0x10000 + readUint16(bytes, offset + 2)) >>> 0;
}

export function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  writeUint16(bytes, offset, (value >>> 16) & 0xffff);
  writeUint16(bytes, offset + 2, value & 0xffff);
}

/**
 * A fresh plain Uint8Array holding bytes[start, end). Decoded values never alias the input, which a stream
 * reader reuses, and are never Buffers, so they compare equal to hand-built values in tests.
 */
export function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  // TypedArray#slice is the fastest copy but keeps the subclass (a Buffer's slice is even a view), so it
  // is only used on plain Uint8Arrays.
  if (bytes.constructor === Uint8Array) return bytes.slice(start, end);
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}
