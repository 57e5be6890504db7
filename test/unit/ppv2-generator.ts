/**
 * A small deterministic generator of valid PROXY headers for round-trip tests. Seeded (mulberry32), so a
 * failure names a seed and iteration that reproduce it. Values are produced in canonical form, because
 * decoding canonicalises (e.g. IPv6 text), and TLV lists obey the decoder's rules (no repeated
 * single-valued type, bounded sizes) so every generated header must survive encode -> decode unchanged.
 */
import {
  alpnTlv,
  authorityTlv,
  crc32cTlv,
  formatIPv4,
  formatIPv6,
  netnsTlv,
  noopTlv,
  type ProxyHeader,
  rawTlv,
  sslTlv,
  type Tlv,
  TlvType,
  type Transport,
  uniqueIdTlv,
  type V1Header,
  type V2Header,
} from '../../src/ppv2/index.js';

export type Random = () => number;

/** mulberry32: tiny, fast, good enough to pick test cases; returns floats in [0, 1). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));
export const pick = <T>(random: Random, items: readonly T[]): T =>
  items[int(random, 0, items.length - 1)] as T;

export function randomBytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = int(random, 0, 255);
  return out;
}

/** Random IPv6 bytes biased towards zero runs, so "::" compression and IPv4-mapped forms get exercised. */
function randomIPv6(random: Random): string {
  const bytes = randomBytes(random, 16);
  const style = int(random, 0, 3);
  if (style === 1) bytes.fill(0, int(random, 0, 8) * 2, int(random, 8, 16));
  if (style === 2) {
    bytes.fill(0, 0, 10);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
  }
  if (style === 3) bytes.fill(0, 0, int(random, 0, 16));
  return formatIPv6(bytes);
}

const PATH_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789/._-é€';

/** A unix path of 0-108 UTF-8 bytes: empty, filesystem, or "@abstract". */
function randomUnixPath(random: Random): string {
  const style = int(random, 0, 4);
  if (style === 0) return '';
  const prefix = style === 1 ? '@' : '/';
  const limit = style === 2 ? 108 : int(random, 2, 108); // style 2 tries to fill all 108 bytes
  let path = prefix;
  for (;;) {
    const next = path + pick(random, [...PATH_CHARS]);
    if (new TextEncoder().encode(next).length > limit) break;
    path = next;
    if (style !== 2 && random() < 0.1) break;
  }
  return path === '@' ? '@x' : path;
}

/** Text of 1 to `maxBytes` UTF-8 bytes (the alphabet may hold multi-byte characters). */
function randomText(
  random: Random,
  maxBytes: number,
  alphabet = 'abcdefghijklmnopqrstuvwxyz.-0123456789',
): string {
  const budget = int(random, 1, maxBytes);
  let text = pick(random, [...alphabet.slice(0, 26)]);
  for (;;) {
    const next = text + pick(random, [...alphabet]);
    if (new TextEncoder().encode(next).length > budget) return text;
    text = next;
  }
}

/** One TLV builder per kind the codec knows, so every type class appears in a run. */
const TLV_MAKERS: ReadonlyArray<{ single: number | undefined; make: (random: Random) => Tlv }> = [
  { single: 0x01, make: (r) => alpnTlv(pick(r, ['h2', 'http/1.1', 'h3', 'spdy/3.1'])) },
  { single: 0x02, make: (r) => authorityTlv(randomText(r, 255, 'abcdefghijklmnopqrstuvwxyzäöü.-')) },
  { single: 0x03, make: () => crc32cTlv() },
  { single: undefined, make: (r) => noopTlv(int(r, 0, 40)) },
  {
    single: 0x05,
    make: (r) => uniqueIdTlv(r() < 0.5 ? randomBytes(r, int(r, 0, 128)) : randomText(r, 128)),
  },
  {
    single: 0x20,
    make: (r) =>
      sslTlv({
        client: int(r, 0, 7) | (r() < 0.1 ? 0x80 : 0),
        verify: r() < 0.5 ? 0 : int(r, 0, 0xffffffff),
        ...(r() < 0.8 ? { version: pick(r, ['TLSv1.2', 'TLSv1.3']) } : {}),
        ...(r() < 0.5 ? { cn: pick(r, ['example.com', 'client-ü', '']) } : {}),
        ...(r() < 0.5 ? { cipher: 'ECDHE-RSA-AES128-GCM-SHA256' } : {}),
        ...(r() < 0.5 ? { sigAlg: 'RSA-SHA256' } : {}),
        ...(r() < 0.5 ? { keyAlg: 'RSA2048' } : {}),
        ...(r() < 0.2 ? { extra: [{ type: 0x26, value: randomBytes(r, int(r, 0, 8)) }] } : {}),
      }),
  },
  { single: 0x30, make: (r) => netnsTlv(randomText(r, 32)) },
  { single: undefined, make: (r) => rawTlv(int(r, 0xe0, 0xef), randomBytes(r, int(r, 0, 40))) },
  { single: undefined, make: (r) => rawTlv(int(r, 0xf0, 0xf7), randomBytes(r, int(r, 0, 40))) },
  {
    single: undefined,
    make: (r) => rawTlv(pick(r, [0x00, 0x06, 0x1f, 0x21, 0x31, 0xdf]), randomBytes(r, 5)),
  },
];

function randomTlvs(random: Random): Tlv[] {
  const tlvs: Tlv[] = [];
  const used = new Set<number>();
  const count = int(random, 0, 8);
  for (let i = 0; i < count; i++) {
    const maker = pick(random, TLV_MAKERS);
    if (maker.single !== undefined) {
      if (used.has(maker.single)) continue;
      used.add(maker.single);
    }
    tlvs.push(maker.make(random));
  }
  return tlvs;
}

export function randomV2Header(random: Random): V2Header {
  const command = pick(random, ['LOCAL', 'PROXY'] as const);
  const family = pick(random, ['UNSPEC', 'INET', 'INET6', 'UNIX'] as const);
  const tlvs = randomTlvs(random);
  if (family === 'UNSPEC') return { version: 2, command, family, transport: 'UNSPEC', tlvs };
  const transport: Transport = pick(random, ['STREAM', 'DGRAM'] as const);
  if (family === 'UNIX') {
    return {
      version: 2,
      command,
      family,
      transport,
      src: randomUnixPath(random),
      dst: randomUnixPath(random),
      tlvs,
    };
  }
  const address = family === 'INET' ? () => formatIPv4(randomBytes(random, 4)) : () => randomIPv6(random);
  const port = () => pick(random, [0, 1, 80, 443, 65535, int(random, 0, 65535)]);
  return {
    version: 2,
    command,
    family,
    transport,
    src: address(),
    dst: address(),
    srcPort: port(),
    dstPort: port(),
    tlvs,
  };
}

export function randomV1Header(random: Random): V1Header {
  if (random() < 0.15) return { version: 1, command: 'LOCAL', family: 'UNSPEC' };
  const family = pick(random, ['INET', 'INET6'] as const);
  const address = family === 'INET' ? () => formatIPv4(randomBytes(random, 4)) : () => randomIPv6(random);
  const port = () => pick(random, [0, 65535, int(random, 0, 65535)]);
  return {
    version: 1,
    command: 'PROXY',
    family,
    src: address(),
    dst: address(),
    srcPort: port(),
    dstPort: port(),
  };
}

/** CRC32C TLVs are placeholders before encoding; compare everything but their value. */
export function withoutCrcValues(header: ProxyHeader): ProxyHeader {
  if (header.version === 1) return header;
  const tlvs: Tlv[] = header.tlvs.map((tlv) =>
    tlv.type === TlvType.CRC32C ? { type: tlv.type, value: new Uint8Array(4) } : tlv,
  );
  return { ...header, tlvs } as V2Header;
}

/**
 * Offset of the first CRC32C TLV's value in v2 bytes, found by walking the TLVs after the address block,
 * or undefined when there is none (or the walk runs off the end, as it may in mutated bytes).
 */
export function crc32cValueOffset(bytes: Uint8Array): number | undefined {
  const addressBytes = [0, 12, 36, 216][(bytes[13] ?? 0) >> 4] ?? 0;
  let offset = 16 + addressBytes;
  while (offset + 3 <= bytes.length) {
    const length = ((bytes[offset + 1] ?? 0) << 8) | (bytes[offset + 2] ?? 0);
    if (bytes[offset] === TlvType.CRC32C) return offset + 3 + 4 <= bytes.length ? offset + 3 : undefined;
    offset += 3 + length;
  }
  return undefined;
}
