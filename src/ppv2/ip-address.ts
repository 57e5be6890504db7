/**
 * Strict text <-> bytes conversion of IP addresses, without node:net (the codec does no I/O and must
 * behave the same everywhere). Parsing follows what the PROXY spec demands of v1 lines and what glibc's
 * inet_pton accepts; formatting is canonical (RFC 5952), so one address has exactly one text form.
 */

/**
 * IPv4 dotted quad: exactly four decimal numbers 0-255 without leading zeros ("010" could be read as
 * octal, which the PROXY spec forbids), nothing else. A hand-written scanner, not split + regex, because
 * it runs for every encoded header.
 */
export function parseIPv4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const char = i < text.length ? text.charCodeAt(i) : DOT; // the end closes the last number like a dot
    if (char === DOT) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (char >= ZERO && char <= NINE) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (char - ZERO);
      digits++;
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * IPv6 text (RFC 4291 section 2.2): eight groups of 1-4 hex digits, at most one "::" standing for one or
 * more zero groups, and optionally a dotted quad as the last 32 bits. No zone ("%eth0"), no brackets.
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] ?? '', halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? '', true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((group, i) => {
    out[i * 2] = group >> 8;
    out[i * 2 + 1] = group & 0xff;
  });
  return out;
}

/**
 * Groups of one side of "::". An empty side is no group. A dotted quad may end the address only, that is
 * the last side (`mayEndWithIPv4`), and counts as two groups.
 */
function parseGroups(side: string, mayEndWithIPv4: boolean): number[] | undefined {
  if (side === '') return [];
  const parts = side.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    if (i === parts.length - 1 && mayEndWithIPv4 && part.includes('.')) {
      const v4 = parseIPv4(part);
      if (v4 === undefined) return undefined;
      groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      groups.push(Number.parseInt(part, 16));
    }
  }
  return groups;
}

/** Dotted quad of the 4 bytes at `offset`. */
export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
}

/**
 * RFC 5952 text of the 16 bytes at `offset`: lowercase, no leading zeros, the longest run of two or more
 * zero groups (the first one on a tie) written "::", and IPv4-mapped addresses as "::ffff:192.0.2.1".
 */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++)
    groups.push(((bytes[offset + i * 2] ?? 0) << 8) | (bytes[offset + i * 2 + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed (RFC 5952 section 4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** Which IP family a text address belongs to, with its bytes; undefined when it is neither. */
export function parseIpAddress(text: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return { family: 6, bytes: v6 };
  return undefined;
}

/** The canonical text of an address given in any accepted form, or undefined when it is not an address. */
export function canonicalIpAddress(text: string): string | undefined {
  const parsed = parseIpAddress(text);
  if (parsed === undefined) return undefined;
  return parsed.family === 4 ? formatIPv4(parsed.bytes) : formatIPv6(parsed.bytes);
}
