/**
 * The shared PROXY protocol vectors (../shared/vectors/ppv2-vectors.json beside the repository, or the
 * file / directory named by LBCTL_VECTORS), read at run time and never copied here. Each vector must
 * decode as its `valid` / `expect` / `note` fields say, re-encode to the same bytes, and behave as a
 * stream reader expects when fed byte by byte or followed by payload.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  bytesToHex,
  decodeProxyHeader,
  encodeProxyHeader,
  fromPlainHeader,
  hexToBytes,
  type PlainHeader,
  toPlainHeader,
} from '../../src/ppv2/index.js';

interface Vector {
  name: string;
  hex: string;
  valid: boolean;
  expect: Record<string, unknown> | null;
  note: string;
}

function vectorsPath(): string {
  const fromEnv = process.env.LBCTL_VECTORS;
  if (fromEnv !== undefined && fromEnv !== '') {
    return existsSync(fromEnv) && statSync(fromEnv).isDirectory()
      ? join(fromEnv, 'ppv2-vectors.json')
      : fromEnv;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '../../../shared/vectors/ppv2-vectors.json');
}

const path = vectorsPath();
const vectors: Vector[] = existsSync(path)
  ? (JSON.parse(readFileSync(path, 'utf8')) as { vectors: Vector[] }).vectors
  : [];

function bytesOf(vector: Vector): Uint8Array {
  const bytes = hexToBytes(vector.hex);
  assert.ok(bytes, `vector ${vector.name} has malformed hex`);
  return bytes;
}

/**
 * `expect` lists the fields a vector pins down. Every listed key must equal the decoded view; a TLV
 * `hex: null` pins the type only (the vectors use it for CRC32C values). The one key a vector may leave
 * out is `tlvs`; any other key in the view but not in `expect` is a failure, so the view cannot grow
 * fields unnoticed.
 */
function assertMatchesExpect(view: PlainHeader, expect: Record<string, unknown>): void {
  const actual = view as unknown as Record<string, unknown>;
  for (const key of Object.keys(actual)) {
    if (key !== 'tlvs') assert.ok(key in expect, `decoded view has "${key}" but expect does not`);
  }
  for (const [key, wanted] of Object.entries(expect)) {
    if (key !== 'tlvs') {
      assert.deepEqual(actual[key], wanted, `field ${key}`);
      continue;
    }
    const wantedTlvs = wanted as Array<{ type: number; hex: string | null }>;
    const tlvs = view.tlvs ?? [];
    assert.equal(tlvs.length, wantedTlvs.length, 'number of TLVs');
    wantedTlvs.forEach((tlv, i) => {
      assert.equal(tlvs[i]?.type, tlv.type, `tlvs[${i}].type`);
      if (tlv.hex !== null) assert.equal(tlvs[i]?.hex, tlv.hex, `tlvs[${i}].hex`);
    });
  }
}

/** "incomplete: ..." notes state how many bytes are missing in one of two phrasings. */
function neededFromNote(note: string, length: number): number | undefined {
  const fewer = /fewer than (\d+) bytes/.exec(note);
  if (fewer) return Number(fewer[1]) - length;
  const body = /len says (\d+) bytes follow, (\d+) present/.exec(note);
  if (body) return Number(body[1]) - Number(body[2]);
  return undefined;
}

const PAYLOAD = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n');

describe('ppv2 shared vectors', () => {
  it(`reads the vector file (${path})`, () => {
    assert.ok(existsSync(path), `no vector file at ${path}; set LBCTL_VECTORS to the file or its directory`);
    assert.ok(vectors.length > 0, 'the vector file holds no vectors');
  });

  for (const vector of vectors) {
    const incompleteNote = vector.note.startsWith('incomplete');

    it(`${vector.name}: decodes as ${vector.valid ? 'valid' : incompleteNote ? 'incomplete' : 'invalid'}`, () => {
      const bytes = bytesOf(vector);
      const result = decodeProxyHeader(bytes);
      if (vector.valid) {
        assert.equal(result.status, 'complete', JSON.stringify(result));
        if (result.status !== 'complete') return;
        assert.equal(result.consumed, bytes.length);
        assert.ok(vector.expect, 'a valid vector has expect');
        assertMatchesExpect(toPlainHeader(result.header), vector.expect);
      } else if (incompleteNote) {
        assert.equal(result.status, 'incomplete', JSON.stringify(result));
        const needed = neededFromNote(vector.note, bytes.length);
        if (needed !== undefined && result.status === 'incomplete') assert.equal(result.needed, needed);
      } else {
        assert.equal(result.status, 'invalid', JSON.stringify(result));
        assert.equal(vector.expect, null);
      }
    });

    if (vector.valid) {
      it(`${vector.name}: encode(decode(bytes)) gives the same bytes`, () => {
        const result = decodeProxyHeader(bytesOf(vector));
        assert.equal(result.status, 'complete');
        if (result.status === 'complete')
          assert.equal(bytesToHex(encodeProxyHeader(result.header)), vector.hex);
      });

      it(`${vector.name}: every strict prefix is incomplete, and payload after the header is not consumed`, () => {
        const bytes = bytesOf(vector);
        for (let cut = 0; cut < bytes.length; cut++) {
          const result = decodeProxyHeader(bytes.subarray(0, cut));
          assert.equal(result.status, 'incomplete', `prefix of ${cut} bytes: ${JSON.stringify(result)}`);
          if (result.status === 'incomplete') {
            assert.ok(
              result.needed >= 1 && result.needed <= bytes.length - cut,
              `prefix ${cut}: needed ${result.needed}`,
            );
          }
        }
        const withPayload = new Uint8Array([...bytes, ...PAYLOAD]);
        const result = decodeProxyHeader(withPayload);
        assert.equal(result.status, 'complete');
        if (result.status === 'complete') assert.equal(result.consumed, bytes.length);
      });

      const expect = vector.expect;
      if (expect !== null && (expect.version === 1 || 'tlvs' in expect)) {
        it(`${vector.name}: encoding the expected view reproduces the bytes`, () => {
          // CRC values left null in `expect` are computed by the encoder, so use a zero placeholder.
          const plain = JSON.parse(JSON.stringify(expect).replaceAll('"hex":null', '"hex":"00000000"'));
          assert.equal(bytesToHex(encodeProxyHeader(fromPlainHeader(plain))), vector.hex);
        });
      }
    } else {
      it(`${vector.name}: no prefix decodes as complete`, () => {
        const bytes = bytesOf(vector);
        for (let cut = 0; cut <= bytes.length; cut++) {
          assert.notEqual(
            decodeProxyHeader(bytes.subarray(0, cut)).status,
            'complete',
            `prefix of ${cut} bytes`,
          );
        }
      });
    }
  }
});
