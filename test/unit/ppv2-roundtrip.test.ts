/**
 * decode(encode(x)) == x over generated headers (seeded, so failures reproduce), with a check that the
 * run really covered every command, family, transport and TLV class. Also: encode(decode(bytes)) ==
 * bytes for what the encoder produced, and every strict prefix of an encoded header is incomplete.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bytesToHex,
  crc32c,
  decodeProxyHeader,
  encodeProxyHeader,
  type ProxyHeader,
  TlvType,
  tlvTypeClass,
} from '../../src/ppv2/index.js';
import {
  crc32cValueOffset,
  randomV1Header,
  randomV2Header,
  seededRandom,
  withoutCrcValues,
} from './ppv2-generator.js';

const SEED = 0x1bc7;
const V2_ITERATIONS = 3000;
const V1_ITERATIONS = 1000;

function roundTrip(header: ProxyHeader, context: string): Uint8Array {
  const bytes = encodeProxyHeader(header);
  const result = decodeProxyHeader(bytes);
  assert.equal(result.status, 'complete', `${context}: ${JSON.stringify(result)}`);
  if (result.status !== 'complete') return bytes;
  assert.equal(result.consumed, bytes.length, context);
  assert.deepStrictEqual(withoutCrcValues(result.header), withoutCrcValues(header), context);
  assert.equal(bytesToHex(encodeProxyHeader(result.header)), bytesToHex(bytes), `${context}: re-encode`);
  return bytes;
}

describe('round trips', () => {
  it(`v2: ${V2_ITERATIONS} generated headers (seed ${SEED})`, () => {
    const random = seededRandom(SEED);
    const seen = new Set<string>();
    for (let i = 0; i < V2_ITERATIONS; i++) {
      const header = randomV2Header(random);
      const bytes = roundTrip(header, `seed ${SEED} iteration ${i}`);
      seen.add(`command:${header.command}`);
      seen.add(`family:${header.family}`);
      seen.add(`transport:${header.transport}`);
      seen.add(`pair:${header.family}/${header.transport}`);
      for (const tlv of header.tlvs) {
        seen.add(`tlv-class:${tlvTypeClass(tlv.type)}`);
        if (tlvTypeClass(tlv.type) === 'registered') seen.add(`tlv:${tlv.type}`);
        if (tlv.type === TlvType.CRC32C) {
          // The encoded value is the checksum of the header with the value zeroed.
          const at = crc32cValueOffset(bytes);
          assert.ok(at !== undefined, 'the encoded header has a CRC32C TLV');
          const zeroed = bytes.slice();
          zeroed.fill(0, at, at + 4);
          assert.equal(new DataView(bytes.buffer).getUint32(at), crc32c(zeroed));
        }
      }
      if (header.family === 'UNIX') {
        if (header.src.startsWith('@')) seen.add('unix:abstract');
        if (new TextEncoder().encode(header.src).length === 108) seen.add('unix:108');
        if (header.src === '') seen.add('unix:unnamed');
      }
    }
    const wanted = [
      'command:LOCAL',
      'command:PROXY',
      'family:UNSPEC',
      'family:INET',
      'family:INET6',
      'family:UNIX',
      'transport:UNSPEC',
      'transport:STREAM',
      'transport:DGRAM',
      'pair:INET/STREAM',
      'pair:INET/DGRAM',
      'pair:INET6/STREAM',
      'pair:INET6/DGRAM',
      'pair:UNIX/STREAM',
      'pair:UNIX/DGRAM',
      ...Object.values(TlvType).map((type) => `tlv:${type}`),
      'tlv-class:custom',
      'tlv-class:experimental',
      'tlv-class:unassigned',
      'unix:abstract',
      'unix:108',
      'unix:unnamed',
    ];
    assert.deepEqual(
      wanted.filter((key) => !seen.has(key)),
      [],
      'the generator missed these cases',
    );
  });

  it(`v1: ${V1_ITERATIONS} generated lines (seed ${SEED})`, () => {
    const random = seededRandom(SEED + 1);
    const families = new Set<string>();
    for (let i = 0; i < V1_ITERATIONS; i++) {
      const header = randomV1Header(random);
      const bytes = roundTrip(header, `seed ${SEED + 1} iteration ${i}`);
      assert.ok(bytes.length <= 107);
      families.add(header.family);
    }
    assert.deepEqual([...families].sort(), ['INET', 'INET6', 'UNSPEC']);
  });

  it('every strict prefix of an encoded header is incomplete with a truthful lower bound', () => {
    const random = seededRandom(SEED + 2);
    for (let i = 0; i < 150; i++) {
      const header = i % 3 === 0 ? randomV1Header(random) : randomV2Header(random);
      const bytes = encodeProxyHeader(header);
      for (let cut = 0; cut < bytes.length; cut++) {
        const result = decodeProxyHeader(bytes.subarray(0, cut));
        assert.equal(result.status, 'incomplete', `iteration ${i}, prefix ${cut}: ${JSON.stringify(result)}`);
        if (result.status === 'incomplete')
          assert.ok(result.needed >= 1 && result.needed <= bytes.length - cut);
      }
    }
  });
});
