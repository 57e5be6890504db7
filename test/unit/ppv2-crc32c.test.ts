/** CRC32C against published check values (RFC 3720 B.4 and the iSCSI test vectors). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '../../src/ppv2/index.js';

describe('crc32c', () => {
  it('matches the standard check value and the RFC 3720 (iSCSI) examples', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  it('reads a subarray by its own offset and returns an unsigned value', () => {
    const whole = new TextEncoder().encode('xx123456789yy');
    assert.equal(crc32c(whole.subarray(2, 11)), 0xe3069283);
    assert.ok(crc32c(whole.subarray(2, 11)) > 0x7fffffff); // top bit set: not a negative int32
  });
});
