/**
 * Property-based tests of the PPv2/v1 codec (fast-check), after go-proxyproto's read -> format -> read
 * fuzzing. The codec promises that decoders never throw on data and always return a DecodeResult
 * (src/ppv2/index.ts); these properties feed it arbitrary and mutated bytes to hold it to that, and check
 * round trips, prefixes and stability on generated headers.
 *
 * Runs are seeded, so a failure reproduces: fast-check prints the seed and the shrunk counterexample. To
 * fuzz longer locally, set PPV2_PROPERTY_SEED (any integer) and PPV2_PROPERTY_RUNS_SCALE (e.g. 100).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { describeTlv } from '../../src/ppv2/describe.js';
import {
  bytesToHex,
  crc32cTlv,
  type DecodeOptions,
  type DecodeResult,
  decodeProxyHeader,
  decodeV1,
  decodeV2,
  encodeProxyHeader,
  fromPlainHeader,
  type Tlv,
  TlvType,
  tlvTypeClass,
  toPlainHeader,
  V2_FIXED_HEADER_BYTES,
  V2_PROTOCOL_MAX_HEADER_BYTES,
  type V2Header,
} from '../../src/ppv2/index.js';
import {
  anyHeader,
  fitV2Length,
  hostileBytes,
  mutate,
  mutations,
  refreshCrc32c,
  v1Header,
  v2Header,
} from './ppv2-arbitraries.js';
import { withoutCrcValues } from './ppv2-generator.js';

const SEED = Number(process.env.PPV2_PROPERTY_SEED ?? 0x15f);
const RUNS_SCALE = Number(process.env.PPV2_PROPERTY_RUNS_SCALE ?? 1);
const params = (numRuns: number): fc.Parameters<unknown> => ({
  seed: SEED,
  numRuns: Math.ceil(numRuns * RUNS_SCALE),
  includeErrorInReport: true,
});

const DECODERS: ReadonlyArray<[string, (bytes: Uint8Array, options?: DecodeOptions) => DecodeResult]> = [
  ['decodeProxyHeader', decodeProxyHeader],
  ['decodeV1', (bytes) => decodeV1(bytes)],
  ['decodeV2', decodeV2],
];

/** A cap anywhere in the range the protocol allows, or (a third of the time) none: the default. */
const maxHeaderBytes = fc.option(
  fc.integer({ min: V2_FIXED_HEADER_BYTES, max: V2_PROTOCOL_MAX_HEADER_BYTES }),
  {
    freq: 3,
  },
);

/** The result is exactly one of the three documented shapes, with values that make sense for `input`. */
function assertWellFormed(result: DecodeResult, input: Uint8Array): void {
  switch (result.status) {
    case 'complete':
      assert.ok(Number.isInteger(result.consumed), 'consumed is an integer');
      assert.ok(result.consumed >= 1 && result.consumed <= input.length, `consumed ${result.consumed}`);
      assert.ok(result.header.version === 1 || result.header.version === 2);
      return;
    case 'incomplete':
      assert.ok(Number.isInteger(result.needed) && result.needed >= 1, `needed ${result.needed}`);
      return;
    case 'invalid':
      assert.equal(typeof result.reason, 'string');
      assert.ok(result.reason.length > 0, 'an invalid result says why');
      return;
    default:
      assert.fail(`unknown status in ${JSON.stringify(result)}`);
  }
}

/**
 * Every strict prefix of a header that decodes is `incomplete`, with a `needed` that does not reach past
 * the header: a stream reader that gets the header in pieces must neither reject it early nor wait for
 * bytes that belong to the payload.
 */
function assertPrefixesIncomplete(header: Uint8Array, options: DecodeOptions = {}): void {
  for (let cut = 0; cut < header.length; cut++) {
    const result = decodeProxyHeader(header.subarray(0, cut), options);
    assert.equal(result.status, 'incomplete', `prefix of ${cut}: ${JSON.stringify(result)}`);
    if (result.status === 'incomplete') assert.ok(result.needed <= header.length - cut, `prefix of ${cut}`);
  }
}

/**
 * Formatting options that accept every header the decoders accept: the largest size cap, and TLV types
 * 0xF8-0xFF, which decoding passes through as opaque but encoding refuses unless asked (tlv-types.ts).
 */
const FORMAT_OPTIONS = { maxHeaderBytes: V2_PROTOCOL_MAX_HEADER_BYTES, allowFutureTypes: true } as const;

/**
 * What a complete decode must satisfy, whatever bytes it came from:
 * - the consumed bytes alone decode the same (what follows them is payload, not header), and every
 *   strict prefix of them is incomplete;
 * - every TLV can be described (the dashboard and `ppv2 decode` do that to kernel-reported headers);
 * - formatting the header (encoding it) does not throw, reads back as the same header, and formatting
 *   that again gives the same bytes; the JSON view (`ppv2 decode --json` -> `ppv2 encode`) formats alike;
 * - v2 headers other than UNIX format to exactly the bytes consumed: nothing in them is normalised.
 */
function assertStableRead(bytes: Uint8Array, result: DecodeResult): void {
  if (result.status !== 'complete') return;
  const { header, consumed } = result;
  const headerBytes = bytes.subarray(0, consumed);
  assert.deepStrictEqual(decodeProxyHeader(headerBytes, FORMAT_OPTIONS), result);
  assertPrefixesIncomplete(headerBytes, FORMAT_OPTIONS);
  if (header.version === 2) for (const tlv of header.tlvs) describeTlv(tlv);

  const formatted = encodeProxyHeader(header, FORMAT_OPTIONS);
  const reread = decodeProxyHeader(formatted, FORMAT_OPTIONS);
  assert.ok(reread.status === 'complete' && reread.consumed === formatted.length, JSON.stringify(reread));
  // Equal up to the CRC32C value: it is the checksum of the bytes, which change where the decoder
  // normalised the address block (a unix path's bytes after its NUL); the encoder computes it afresh.
  assert.deepStrictEqual(withoutCrcValues(reread.header), withoutCrcValues(header));
  assert.equal(
    bytesToHex(encodeProxyHeader(reread.header, FORMAT_OPTIONS)),
    bytesToHex(formatted),
    'format is a fixed point',
  );

  const json = JSON.parse(JSON.stringify(toPlainHeader(header)));
  assert.equal(
    bytesToHex(encodeProxyHeader(fromPlainHeader(json), FORMAT_OPTIONS)),
    bytesToHex(formatted),
    'JSON view',
  );

  if (header.version === 2 && header.family !== 'UNIX') {
    assert.equal(bytesToHex(formatted), bytesToHex(headerBytes), 'v2 formats to the bytes it was read from');
  }
}

/**
 * Decodes with every decoder and checks what each returns. Also: the input is never written to, and a
 * Node Buffer that is a view at an offset into a larger one (as sockets deliver data) decodes the same.
 */
function decodeAll(bytes: Uint8Array, options: DecodeOptions): void {
  const before = bytesToHex(bytes);
  const buffer = Buffer.concat([Buffer.alloc(3, 0xee), bytes]).subarray(3);
  for (const [name, decode] of DECODERS) {
    let result: DecodeResult;
    try {
      result = decode(bytes, options);
    } catch (error) {
      assert.fail(`${name} threw on ${before}: ${error}`);
    }
    assertWellFormed(result, bytes);
    assertStableRead(bytes, result);
    assert.deepStrictEqual(decode(buffer, options), result, `${name} on a Buffer`);
  }
  assert.equal(bytesToHex(bytes), before, 'the input was written to');
}

/** The header `encodeV2(header, { crc32c })` describes: a CRC32C TLV is appended when asked and missing. */
function withCrcAppended(header: V2Header, crc32c: boolean): V2Header {
  if (!crc32c || header.tlvs.some((tlv) => tlv.type === TlvType.CRC32C)) return header;
  return { ...header, tlvs: [...header.tlvs, crc32cTlv()] };
}

const TLV_NAMES = new Map<number, string>(Object.entries(TlvType).map(([name, type]) => [type, name]));

/** What a generated TLV counts as for the coverage check of the round-trip property. */
function coverageKey(tlv: Tlv): string {
  if (tlv.type === TlvType.SSL && tlv.value.length > 5) return 'SSL+sub-TLVs';
  if (tlvTypeClass(tlv.type) === 'custom') return 'custom';
  return TLV_NAMES.get(tlv.type) ?? 'other';
}

const payload = fc.uint8Array({ maxLength: 16 });
const concat = (a: Uint8Array, b: Uint8Array) => new Uint8Array([...a, ...b]);

describe('ppv2 properties', () => {
  it('arbitrary bytes never make a decoder throw; every answer is a well-formed DecodeResult', () => {
    fc.assert(
      fc.property(hostileBytes, maxHeaderBytes, (bytes, cap) => {
        decodeAll(bytes, cap === null ? {} : { maxHeaderBytes: cap });
      }),
      params(3000),
    );
  });

  it('v2: decode(encode(header)) is the header, payload after it untouched, size cap enforced exactly', () => {
    const seen = new Set<string>();
    const capOffset = fc.integer({ min: -3, max: 3 });
    fc.assert(
      fc.property(v2Header, fc.boolean(), payload, capOffset, (header, crc32c, after, offset) => {
        seen.add(`${header.command}/${header.family}`);
        for (const tlv of header.tlvs) seen.add(coverageKey(tlv));
        const bytes = encodeProxyHeader(header, { crc32c });
        const result = decodeProxyHeader(concat(bytes, after));
        assert.equal(result.status, 'complete', JSON.stringify(result));
        if (result.status !== 'complete') return;
        assert.equal(result.consumed, bytes.length);
        assert.deepStrictEqual(
          withoutCrcValues(result.header),
          withoutCrcValues(withCrcAppended(header, crc32c)),
        );
        // A cap a few bytes either side of the header's length: accepted exactly when it fits.
        const cap = Math.max(bytes.length + offset, V2_FIXED_HEADER_BYTES);
        const capped = decodeProxyHeader(bytes, { maxHeaderBytes: cap });
        assert.equal(
          capped.status,
          bytes.length <= cap ? 'complete' : 'invalid',
          `${bytes.length}, cap ${cap}`,
        );
      }),
      params(1500),
    );
    const wanted = ['LOCAL', 'PROXY'].flatMap((command) =>
      ['UNSPEC', 'INET', 'INET6', 'UNIX'].map((family) => `${command}/${family}`),
    );
    const tlvKinds = [
      'ALPN',
      'AUTHORITY',
      'CRC32C',
      'NOOP',
      'UNIQUE_ID',
      'SSL',
      'SSL+sub-TLVs',
      'NETNS',
      'custom',
    ];
    assert.deepEqual(
      [...wanted, ...tlvKinds].filter((key) => !seen.has(key)),
      [],
      'cases the run missed',
    );
  });

  it('v1: decode(encode(header)) is the header for TCP4, TCP6 and UNKNOWN lines', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(v1Header, payload, (header, after) => {
        seen.add(header.family);
        const bytes = encodeProxyHeader(header);
        const result = decodeProxyHeader(concat(bytes, after));
        assert.deepStrictEqual(result, { status: 'complete', header, consumed: bytes.length });
      }),
      params(500),
    );
    assert.deepEqual([...seen].sort(), ['INET', 'INET6', 'UNSPEC']);
  });

  it('every strict prefix of a valid header is incomplete, and `needed` never overshoots', () => {
    fc.assert(
      fc.property(anyHeader, (header) => assertPrefixesIncomplete(encodeProxyHeader(header))),
      params(150),
    );
  });

  it('mutated headers are rejected, incomplete, or decode to a header that reads back the same', () => {
    fc.assert(
      fc.property(anyHeader, mutations, fc.boolean(), fc.boolean(), (header, list, fitLength, fitCrc) => {
        const mutated = mutate(encodeProxyHeader(header), list);
        const fitted = fitLength ? fitV2Length(mutated) : mutated;
        decodeAll(fitCrc ? refreshCrc32c(fitted) : fitted, {});
      }),
      params(2000),
    );
  });

  it('read -> format -> read is stable, and the inputs really reach complete decodes', () => {
    let complete = 0;
    let runs = 0;
    const inputs = fc.oneof(
      hostileBytes,
      fc
        .tuple(anyHeader, mutations)
        .map(([header, list]) => refreshCrc32c(fitV2Length(mutate(encodeProxyHeader(header), list)))),
    );
    fc.assert(
      fc.property(inputs, (bytes) => {
        runs++;
        const result = decodeProxyHeader(bytes);
        assertWellFormed(result, bytes);
        assertStableRead(bytes, result);
        if (result.status === 'complete') complete++;
      }),
      params(1500),
    );
    // Not vacuous: a good share of the inputs decode, so the stability checks above actually ran.
    assert.ok(complete >= runs / 10, `only ${complete} of ${runs} inputs decoded as complete`);
  });
});
