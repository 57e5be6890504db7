import { readUint16, writeUint16 } from './bytes.js';
import { ADDRESS_BLOCK_BYTES, UNIX_PATH_BYTES } from './constants.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip-address.js';
import { decodeUtf8Lossy, decodeUtf8Strict, encodeUtf8 } from './text.js';
import type { Family } from './types.js';

/**
 * The v2 address block: source and destination addresses, then the ports for INET/INET6, all in network
 * byte order. Encoding validates the text forms; decoding cannot fail once the block length is checked.
 */

/** The address fields a family adds to a header: none for UNSPEC, no ports for UNIX. */
export type DecodedAddresses =
  | Record<string, never>
  | { src: string; dst: string; srcPort: number; dstPort: number }
  | { src: string; dst: string };

/** Reads the address block of `family` at `offset`; the caller has checked that the bytes are there. */
export function decodeAddressBlock(family: Family, bytes: Uint8Array, offset: number): DecodedAddresses {
  switch (family) {
    case 'UNSPEC':
      return {};
    case 'INET':
      return {
        src: formatIPv4(bytes, offset),
        dst: formatIPv4(bytes, offset + 4),
        srcPort: readUint16(bytes, offset + 8),
        dstPort: readUint16(bytes, offset + 10),
      };
    case 'INET6':
      return {
        src: formatIPv6(bytes, offset),
        dst: formatIPv6(bytes, offset + 16),
        srcPort: readUint16(bytes, offset + 32),
        dstPort: readUint16(bytes, offset + 34),
      };
    case 'UNIX':
      return {
        src: decodeUnixPath(bytes.subarray(offset, offset + UNIX_PATH_BYTES)),
        dst: decodeUnixPath(bytes.subarray(offset + UNIX_PATH_BYTES, offset + 2 * UNIX_PATH_BYTES)),
      };
  }
}

/** What encodeAddressBlock needs: the header's family and, depending on it, addresses and ports. */
export interface AddressFields {
  readonly family: Family;
  readonly src?: unknown;
  readonly dst?: unknown;
  readonly srcPort?: unknown;
  readonly dstPort?: unknown;
}

/**
 * The address block bytes for `fields`, or an error message naming the bad field. Fields are typed
 * `unknown` because headers may come from JSON or JavaScript callers.
 */
export function encodeAddressBlock(fields: AddressFields): Uint8Array | string {
  const out = new Uint8Array(ADDRESS_BLOCK_BYTES[fields.family]);
  switch (fields.family) {
    case 'UNSPEC':
      return out;
    case 'INET':
    case 'INET6': {
      const parse = fields.family === 'INET' ? parseIPv4 : parseIPv6;
      const size = fields.family === 'INET' ? 4 : 16;
      const kind = fields.family === 'INET' ? 'IPv4' : 'IPv6';
      const src = typeof fields.src === 'string' ? parse(fields.src) : undefined;
      if (src === undefined) return `src ${JSON.stringify(fields.src)} is not an ${kind} address`;
      const dst = typeof fields.dst === 'string' ? parse(fields.dst) : undefined;
      if (dst === undefined) return `dst ${JSON.stringify(fields.dst)} is not an ${kind} address`;
      for (const [name, port] of [
        ['srcPort', fields.srcPort],
        ['dstPort', fields.dstPort],
      ] as const) {
        if (!isPort(port)) return `${name} ${JSON.stringify(port)} is not an integer from 0 to 65535`;
      }
      out.set(src, 0);
      out.set(dst, size);
      writeUint16(out, 2 * size, fields.srcPort as number);
      writeUint16(out, 2 * size + 2, fields.dstPort as number);
      return out;
    }
    case 'UNIX': {
      const src = encodeUnixPath(fields.src, 'src');
      if (typeof src === 'string') return src;
      const dst = encodeUnixPath(fields.dst, 'dst');
      if (typeof dst === 'string') return dst;
      out.set(src, 0);
      out.set(dst, UNIX_PATH_BYTES);
      return out;
    }
  }
}

/** A port as the v2 wire carries it: any 16-bit value, 0 included. */
export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff;
}

/**
 * sun_path bytes to text: a leading NUL marks a Linux abstract name ("@name"), otherwise the path ends
 * at the first NUL like a C string. Bytes after the terminator are ignored (a sender that did not zero
 * its sockaddr leaves garbage there), and bytes that are not UTF-8 show as "?"; in both cases encoding the
 * result does not give back the same bytes, but it does give a header that decodes to the same text.
 */
function decodeUnixPath(raw: Uint8Array): string {
  if (raw[0] === 0) {
    const rest = raw.subarray(1);
    const end = rest.indexOf(0);
    const name = rest.subarray(0, end < 0 ? rest.length : end);
    return name.length === 0 ? '' : `@${unixPathText(name)}`;
  }
  const end = raw.indexOf(0);
  return unixPathText(raw.subarray(0, end < 0 ? raw.length : end));
}

/**
 * Path bytes as text that re-encodes within the 108 bytes the bytes came from. Found by the property
 * tests: U+FFFD, which a lossy UTF-8 decoder puts for each bad sequence, takes 3 bytes in UTF-8, so a
 * full-length path with one stray byte (e.g. 0x80) decoded to text the encoder refuses as too long. "?"
 * (as `ls` shows such names) is 1 byte and every bad sequence is at least 1 byte, so the text never grows.
 * Valid UTF-8 is decoded exactly; only a path that is not UTF-8 gets its replacements turned into "?".
 */
function unixPathText(bytes: Uint8Array): string {
  return decodeUtf8Strict(bytes) ?? decodeUtf8Lossy(bytes).replaceAll('\uFFFD', '?');
}

function encodeUnixPath(path: unknown, name: 'src' | 'dst'): Uint8Array | string {
  if (typeof path !== 'string') return `${name} ${JSON.stringify(path)} is not a unix socket path`;
  if (path.includes('\0')) return `${name} unix path ${JSON.stringify(path)} contains a NUL byte`;
  // "@name" is an abstract name. A bare "@" cannot be one (an abstract socket without a name is the
  // unnamed socket, written ""), so it is the file "@", which is how decodeUnixPath shows a sun_path
  // holding just "@". Found by the property tests: refusing it made such a decoded header unencodable.
  const abstract = path.startsWith('@') && path.length > 1;
  const text = encodeUtf8(abstract ? path.slice(1) : path);
  const bytes = abstract ? new Uint8Array([0, ...text]) : text;
  if (bytes.length > UNIX_PATH_BYTES) {
    return `${name} unix path ${JSON.stringify(path)} is ${bytes.length} bytes, more than ${UNIX_PATH_BYTES}`;
  }
  const out = new Uint8Array(UNIX_PATH_BYTES);
  out.set(bytes);
  return out;
}
