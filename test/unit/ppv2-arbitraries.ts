/**
 * fast-check arbitraries for the PPv2 property tests. Valid headers come from the seeded generator in
 * ppv2-generator.ts (one fast-check integer picks the seed), so the round-trip test and the property tests
 * draw from the same, already coverage-checked, distribution. The hostile inputs below aim past the first
 * checks: they start with the v2 signature or "PROXY ", carry plausible fixed fields and length fields, and
 * frame their TLVs (SSL sub-TLVs included) so the per-TLV rules and the CRC check run too.
 */
import fc from 'fast-check';
import { crc32c, SslSubtype, TlvType, type V1Header, type V2Header } from '../../src/ppv2/index.js';
import { crc32cValueOffset, randomV1Header, randomV2Header, seededRandom } from './ppv2-generator.js';

const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const ascii = (text: string): number[] => [...text].map((char) => char.charCodeAt(0));

/**
 * A generator seed. Not shrunk: a smaller seed is an unrelated header, not a simpler one, so shrinking it
 * only costs time; the failure message prints the header itself.
 */
const seed = fc.noShrink(fc.integer({ min: 0, max: 0xffffffff }));

export const v2Header: fc.Arbitrary<V2Header> = seed.map((s) => randomV2Header(seededRandom(s)));
export const v1Header: fc.Arbitrary<V1Header> = seed.map((s) => randomV1Header(seededRandom(s)));
export const anyHeader = fc.oneof({ arbitrary: v2Header, weight: 3 }, { arbitrary: v1Header, weight: 1 });

/** A value from `arb` once in `every` draws, undefined otherwise (fc.option's freq is the reverse). */
const rarely = <T>(arb: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: arb, weight: 1 }, { arbitrary: fc.constant(undefined), weight: every - 1 });

const concatBytes = (a: Uint8Array, b: Uint8Array): Uint8Array => new Uint8Array([...a, ...b]);

/** 16-bit big-endian. */
const uint16 = (value: number): number[] => [(value >> 8) & 0xff, value & 0xff];

/** One TLV as wire bytes: its length field is usually right, sometimes anything (framing errors). */
function framedTlv(types: fc.Arbitrary<number>, value: fc.Arbitrary<Uint8Array>): fc.Arbitrary<number[]> {
  return fc
    .tuple(types, value, rarely(fc.integer({ min: 0, max: 0xffff }), 15))
    .map(([type, bytes, badLength]) => [type, ...uint16(badLength ?? bytes.length), ...bytes]);
}

const smallBytes = fc.uint8Array({ maxLength: 24 });

/** Values that pass or nearly pass the text rules (US-ASCII, UTF-8) instead of failing them at once. */
const textish = fc.oneof(
  smallBytes,
  fc.string({ maxLength: 16 }).map((text) => new TextEncoder().encode(text)),
  fc.constantFrom('h2', 'TLSv1.3', 'example.com', 'ns1').map((text) => new TextEncoder().encode(text)),
);

/** An SSL value: client, verify, then framed sub-TLVs (named, repeated, unnamed or mis-framed). */
const sslValue = fc
  .tuple(
    fc.uint8Array({ minLength: 5, maxLength: 5 }),
    fc.array(framedTlv(fc.constantFrom(...Object.values(SslSubtype), 0x26, 0x00, 0xff), textish), {
      maxLength: 4,
    }),
  )
  .map(([fixed, subs]) => new Uint8Array([...fixed, ...subs.flat()]));

const tlvTypes = fc.oneof(
  fc.constantFrom(...Object.values(TlvType)),
  fc.integer({ min: 0xe0, max: 0xef }),
  fc.integer({ min: 0, max: 0xff }),
);

const tlvBytes = fc.oneof(
  framedTlv(tlvTypes, textish),
  framedTlv(fc.constant(TlvType.SSL), sslValue),
  framedTlv(fc.constant(TlvType.CRC32C), fc.uint8Array({ minLength: 3, maxLength: 5 })),
  framedTlv(fc.constant(TlvType.UNIQUE_ID), fc.uint8Array({ minLength: 126, maxLength: 130 })),
);

/** Each legal family/transport byte with the size of its family's address block. */
const PROTOCOLS: ReadonlyArray<readonly [number, number]> = [
  [0x00, 0],
  [0x11, 12],
  [0x12, 12],
  [0x21, 36],
  [0x22, 36],
  [0x31, 216],
  [0x32, 216],
];

/** A family/transport byte and an address block, random or all zero (unnamed unix sockets, 0.0.0.0). */
const protocolAndAddress = fc.oneof(
  ...PROTOCOLS.map(([protocol, size]) =>
    fc.tuple(
      fc.constant(protocol),
      fc.oneof(fc.uint8Array({ minLength: size, maxLength: size }), fc.constant(new Uint8Array(size))),
    ),
  ),
);

/** Mostly a legal value, sometimes any byte. */
const mostly = (legal: fc.Arbitrary<number>) =>
  fc.oneof({ arbitrary: legal, weight: 5 }, { arbitrary: fc.nat({ max: 0xff }), weight: 1 });

/**
 * A v2 header that gets past the signature: version/command and family/transport bytes mostly legal,
 * an address block of the family's size (then random TLVs), a length field that usually matches the
 * body, and a CRC32C TLV (when one is there) that holds the right checksum half of the time.
 */
const plausibleV2 = fc
  .tuple(
    mostly(fc.constantFrom(0x20, 0x21)),
    protocolAndAddress,
    rarely(fc.nat({ max: 0xff }), 6),
    fc.array(tlvBytes, { maxLength: 5 }),
    rarely(fc.integer({ min: 0, max: 0xffff }), 6),
    fc.boolean(),
    fc.uint8Array({ maxLength: 8 }),
  )
  .map(([versionCommand, [protocol, address], otherProtocol, tlvs, badLength, keepCrc, payload]) => {
    const body = [...address, ...tlvs.flat()];
    const bytes = new Uint8Array([
      ...V2_SIGNATURE,
      versionCommand,
      otherProtocol ?? protocol,
      ...uint16(badLength ?? body.length),
      ...body,
    ]);
    return concatBytes(keepCrc ? bytes : refreshCrc32c(bytes), payload);
  });

/** Pieces a v1 line is made of, plus the separators and bytes that break it. */
const v1Piece = fc.oneof(
  fc.constantFrom('TCP4', 'TCP6', 'UNKNOWN', ' ', '\r\n', '\r', '\n', '0', '65535', '65536', '080'),
  fc.ipV4().map(String),
  fc.ipV6().map(String),
  fc.ipV4Extended().map(String),
  fc.nat({ max: 99999 }).map(String),
  fc.string({ maxLength: 4, unit: 'binary-ascii' }),
);

/** "PROXY " and a line assembled from v1 pieces, with or without a terminator and payload. */
const plausibleV1 = fc
  .tuple(fc.array(v1Piece, { maxLength: 12 }), fc.constantFrom('', '\r\n', '\r\nGET /'))
  .map(([pieces, end]) => new Uint8Array(ascii(`PROXY ${pieces.join('')}${end}`)));

/** v1 lines that are well formed apart from the fields' contents, so the address/port parsers run. */
const fieldedV1 = fc
  .tuple(
    fc.constantFrom('TCP4', 'TCP6'),
    fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.nat({ max: 70000 }).map(String)), {
      minLength: 4,
      maxLength: 4,
    }),
  )
  .map(([proto, fields]) => new Uint8Array(ascii(`PROXY ${proto} ${fields.join(' ')}\r\n`)));

/**
 * "PROXY UNKNOWN" lines of 100 to 110 bytes with their CRLF, around the 107-byte limit of a v1 line:
 * printable padding (sometimes holding a lone CR or LF) that the decoder must skip or reject.
 */
const longUnknownV1 = fc
  .tuple(
    fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
      minLength: 84,
      maxLength: 94,
    }),
    rarely(fc.constantFrom('\r', '\n'), 8),
    fc.nat(),
  )
  .map(([padding, stray, at]) => {
    const spot = at % (padding.length + 1);
    const text = padding.slice(0, spot) + (stray ?? '') + padding.slice(spot);
    return new Uint8Array(ascii(`PROXY UNKNOWN ${text}\r\n`));
  });

/** Bytes of any kind, weighted towards the ones that reach deep into either decoder. */
export const hostileBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 300 }).map((tail) => new Uint8Array([...V2_SIGNATURE, ...tail])),
  fc.uint8Array({ maxLength: 120 }).map((tail) => new Uint8Array([...ascii('PROXY '), ...tail])),
  plausibleV2,
  plausibleV2,
  plausibleV1,
  fieldedV1,
  longUnknownV1,
);

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'replace'; readonly at: number; readonly byte: number }
  | { readonly kind: 'insert'; readonly at: number; readonly byte: number }
  | { readonly kind: 'delete'; readonly at: number };

/**
 * One to three edits, in place more often than shifting: an insert or delete in front of the TLVs
 * misframes them all, which the decoder rejects at once. Positions are taken modulo the length at the
 * time the edit applies, so any nat is a valid one.
 */
export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    {
      arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('replace' as const),
        at: fc.nat(),
        byte: fc.nat({ max: 0xff }),
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        byte: fc.nat({ max: 0xff }),
      }),
      weight: 1,
    },
    { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }), weight: 1 },
  ),
  { minLength: 1, maxLength: 3 },
);

export function mutate(bytes: Uint8Array, list: readonly Mutation[]): Uint8Array {
  const out = [...bytes];
  for (const mutation of list) {
    const at = mutation.at % (out.length + (mutation.kind === 'insert' ? 1 : 0) || 1);
    if (mutation.kind === 'insert') out.splice(at, 0, mutation.byte);
    else if (out.length === 0) continue;
    else if (mutation.kind === 'delete') out.splice(at, 1);
    else if (mutation.kind === 'replace') out[at] = mutation.byte;
    else out[at] = (out[at] ?? 0) ^ (1 << mutation.bit);
  }
  return new Uint8Array(out);
}

/**
 * For v2 bytes: rewrites the length field to match the (mutated) buffer, so an inserted or deleted
 * byte reaches the address block and TLV checks instead of stopping at the length comparison.
 */
export function fitV2Length(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 16 || bytes[0] !== V2_SIGNATURE[0]) return bytes; // v1 lines have no length field
  const out = bytes.slice();
  const [high, low] = uint16(Math.min(out.length - 16, 0xffff));
  out[14] = high ?? 0;
  out[15] = low ?? 0;
  return out;
}

/**
 * For v2 bytes with a CRC32C TLV: writes the checksum the header's bytes call for, so a mutation or a
 * random TLV is judged by the checks behind the CRC instead of always failing it.
 */
export function refreshCrc32c(bytes: Uint8Array): Uint8Array {
  const at = crc32cValueOffset(bytes);
  const total = Math.min(bytes.length, 16 + (((bytes[14] ?? 0) << 8) | (bytes[15] ?? 0)));
  if (bytes[0] !== V2_SIGNATURE[0] || at === undefined || at + 4 > total) return bytes;
  const out = bytes.slice();
  out.fill(0, at, at + 4);
  new DataView(out.buffer).setUint32(at, crc32c(out.subarray(0, total)));
  return out;
}
