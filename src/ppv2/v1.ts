import { V1_MAX_LINE_BYTES, V1_MIN_LINE_BYTES, V1_MIN_LINE_BYTES_BY_PROTO, V1_PREFIX } from './constants.js';
import { Ppv2ValueError } from './errors.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip-address.js';
import type { DecodeResult, V1Header } from './types.js';
import { isPort } from './v2-address.js';

/**
 * The v1 text line (spec section 2.1), read strictly:
 * "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP srcport SP dstport CRLF, or "PROXY UNKNOWN" followed by
 * anything up to the CRLF. Exactly one space between fields; only printable US-ASCII before the CRLF; a
 * lone CR or LF is invalid; the line with its CRLF is at most 107 bytes; addresses match the announced
 * family (IPv4 dotted quad without leading zeros; IPv6 text per RFC 4291); ports are 0-65535 in decimal
 * without leading zeros. Addresses are returned in canonical form.
 */

const CR = 0x0d;
const LF = 0x0a;
const PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN'] as const;
const PORT_TEXT = /^(0|[1-9][0-9]{0,4})$/;

export function decodeV1(bytes: Uint8Array): DecodeResult<V1Header> {
  const have = bytes.length;
  for (let i = 0; i < Math.min(have, V1_PREFIX.length); i++) {
    if (bytes[i] !== V1_PREFIX.charCodeAt(i))
      return invalid('not a v1 header: it does not start with "PROXY "');
  }
  const scanned = Math.min(have, V1_MAX_LINE_BYTES);
  let lineEnd = -1;
  for (let i = 0; i < scanned; i++) {
    const byte = bytes[i] ?? 0;
    if (byte === LF) {
      if (bytes[i - 1] !== CR)
        return invalid(`LF at offset ${i} without a CR before it (the line must end in CRLF)`);
      lineEnd = i - 1;
      break;
    }
    if (byte === CR) {
      if (i + 1 < have && bytes[i + 1] !== LF) return invalid(`CR at offset ${i} is not followed by LF`);
      continue;
    }
    if (byte < 0x20 || byte > 0x7e) {
      return invalid(`byte 0x${byte.toString(16).padStart(2, '0')} at offset ${i} is not printable US-ASCII`);
    }
  }
  if (lineEnd < 0) {
    if (have >= V1_MAX_LINE_BYTES) return invalid(`no CRLF within the first ${V1_MAX_LINE_BYTES} bytes`);
    return partialLine(asciiText(bytes, have));
  }
  const parsed = parseLine(asciiText(bytes, lineEnd));
  if (typeof parsed === 'string') return invalid(parsed);
  return { status: 'complete', header: parsed, consumed: lineEnd + 2 };
}

/**
 * A line without its CRLF yet. Ending in CR, only the LF may follow, so the line is judged now. Otherwise
 * a protocol token that cannot become valid is rejected, and `needed` is what the shortest line with
 * this token still lacks (at least the CRLF).
 */
function partialLine(text: string): DecodeResult<V1Header> {
  if (text.endsWith('\r')) {
    const parsed = parseLine(text.slice(0, -1));
    return typeof parsed === 'string' ? invalid(parsed) : { status: 'incomplete', needed: 1 };
  }
  let minimum = V1_MIN_LINE_BYTES;
  if (text.length > V1_PREFIX.length) {
    const rest = text.slice(V1_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space === 0) return invalid('fields must be separated by exactly one space');
    const token = space < 0 ? rest : rest.slice(0, space);
    const candidates = PROTOCOLS.filter((proto) => (space < 0 ? proto.startsWith(token) : proto === token));
    if (candidates.length === 0) return invalid(protocolError(token));
    minimum = Math.min(...candidates.map((proto) => V1_MIN_LINE_BYTES_BY_PROTO[proto] ?? V1_MIN_LINE_BYTES));
  }
  return { status: 'incomplete', needed: Math.max(minimum - text.length, 2) };
}

function parseLine(line: string): V1Header | string {
  const fields = line.split(' ');
  const protocol = fields[1] ?? '';
  if (protocol === 'UNKNOWN') return { version: 1, command: 'LOCAL', family: 'UNSPEC' };
  if (fields.includes('')) return 'fields must be separated by exactly one space';
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return protocolError(protocol);
  if (fields.length !== 6)
    return `a ${protocol} line has 6 space-separated fields, this one has ${fields.length}`;
  const [, , srcText = '', dstText = '', srcPortText = '', dstPortText = ''] = fields;
  const v4 = protocol === 'TCP4';
  const parse = v4 ? parseIPv4 : parseIPv6;
  const format = v4 ? formatIPv4 : formatIPv6;
  const kind = v4 ? 'IPv4' : 'IPv6';
  const src = parse(srcText);
  if (src === undefined) return `source address "${srcText}" is not an ${kind} address (${protocol})`;
  const dst = parse(dstText);
  if (dst === undefined) return `destination address "${dstText}" is not an ${kind} address (${protocol})`;
  const srcPort = parsePort(srcPortText);
  if (srcPort === undefined) return portError('source', srcPortText);
  const dstPort = parsePort(dstPortText);
  if (dstPort === undefined) return portError('destination', dstPortText);
  return {
    version: 1,
    command: 'PROXY',
    family: v4 ? 'INET' : 'INET6',
    src: format(src),
    dst: format(dst),
    srcPort,
    dstPort,
  };
}

function parsePort(text: string): number | undefined {
  if (!PORT_TEXT.test(text)) return undefined;
  const port = Number(text);
  return port <= 0xffff ? port : undefined;
}

function portError(which: string, text: string): string {
  return `${which} port "${text}" is not a decimal number from 0 to 65535 without leading zeros`;
}

function protocolError(token: string): string {
  return `protocol "${token}" is not TCP4, TCP6 or UNKNOWN`;
}

/** The first `length` bytes as text; callers have checked they are US-ASCII. */
function asciiText(bytes: Uint8Array, length: number): string {
  return String.fromCharCode(...bytes.subarray(0, length));
}

function invalid(reason: string): DecodeResult<V1Header> {
  return { status: 'invalid', reason };
}

/**
 * The v1 line for `header` as US-ASCII bytes, addresses in canonical form. LOCAL/UNSPEC is written as
 * the short "PROXY UNKNOWN\r\n". Throws Ppv2ValueError naming the bad field.
 */
export function encodeV1(header: V1Header): Uint8Array {
  const fields = header as unknown as Record<string, unknown>;
  if (fields.version !== 1) fail(`version ${JSON.stringify(fields.version)} is not 1`);
  if (header.command === 'LOCAL') {
    if (fields.family !== 'UNSPEC')
      fail(`a LOCAL line has family UNSPEC, not ${JSON.stringify(fields.family)}`);
    return asciiBytes('PROXY UNKNOWN\r\n');
  }
  if (fields.command !== 'PROXY') fail(`command ${JSON.stringify(fields.command)} is not PROXY or LOCAL`);
  if (fields.family !== 'INET' && fields.family !== 'INET6') {
    fail(
      `family ${JSON.stringify(fields.family)} is not INET or INET6 (v1 carries TCP over IPv4 or IPv6 only)`,
    );
  }
  const v4 = header.family === 'INET';
  const parse = v4 ? parseIPv4 : parseIPv6;
  const format = v4 ? formatIPv4 : formatIPv6;
  const kind = v4 ? 'IPv4' : 'IPv6';
  const src = typeof fields.src === 'string' ? parse(fields.src) : undefined;
  if (src === undefined) fail(`src ${JSON.stringify(fields.src)} is not an ${kind} address`);
  const dst = typeof fields.dst === 'string' ? parse(fields.dst) : undefined;
  if (dst === undefined) fail(`dst ${JSON.stringify(fields.dst)} is not an ${kind} address`);
  if (!isPort(fields.srcPort))
    fail(`srcPort ${JSON.stringify(fields.srcPort)} is not an integer from 0 to 65535`);
  if (!isPort(fields.dstPort))
    fail(`dstPort ${JSON.stringify(fields.dstPort)} is not an integer from 0 to 65535`);
  const protocol = v4 ? 'TCP4' : 'TCP6';
  return asciiBytes(
    `PROXY ${protocol} ${format(src)} ${format(dst)} ${fields.srcPort} ${fields.dstPort}\r\n`,
  );
}

function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function fail(message: string): never {
  throw new Ppv2ValueError(`cannot encode PROXY v1 line: ${message}`);
}
