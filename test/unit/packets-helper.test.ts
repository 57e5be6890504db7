/**
 * The packet helpers the datapath packet tests judge the datapath with: their checksum must be right on its
 * own (a known vector), and what they build they must parse back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFrame, internetChecksum, parseFrame, TCP_ACK, type TcpOption } from '../helpers/packets.js';

describe('packet helpers', () => {
  it('compute the Internet checksum of a known IPv4 header (the classic worked example, 0xb861: bytes only, nothing is sent)', () => {
    const header = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    assert.equal(internetChecksum(header), 0xb861);
    header.writeUInt16BE(0xb861, 10);
    assert.equal(internetChecksum(header), 0);
  });

  for (const [src, dst] of [
    ['192.0.2.10', '203.0.113.10'],
    ['2001:db8:1::10', '2001:db8:3::10'],
  ] as const) {
    it(`build and parse back a segment with options and payload (${src})`, () => {
      const options: TcpOption[] = [
        { kind: 'nop' },
        { kind: 'nop' },
        { kind: 'timestamps', value: 7, echo: 9 },
        { kind: 'nop' },
        { kind: 'nop' },
        { kind: 'sack', blocks: [[0xfffffff0, 0x10]] },
      ];
      const payload = Buffer.from('odd-length payload');
      const frame = buildFrame({
        src,
        dst,
        sport: 1,
        dport: 2,
        seq: 3,
        ack: 4,
        flags: TCP_ACK,
        options,
        payload,
      });
      const parsed = parseFrame(frame);
      assert.deepEqual(
        [parsed.src, parsed.dst, parsed.sport, parsed.dport, parsed.seq, parsed.ack, parsed.flags],
        [src, dst, 1, 2, 3, 4, TCP_ACK],
      );
      assert.deepEqual(parsed.options, options);
      assert.deepEqual(parsed.payload, payload);
      assert.ok(parsed.ipChecksumOk && parsed.tcpChecksumOk);
      const corrupt = Buffer.from(frame);
      corrupt.writeUInt8((corrupt.at(-1) ?? 0) ^ 0x01, corrupt.length - 1);
      assert.equal(parseFrame(corrupt).tcpChecksumOk, false, 'a flipped payload bit is caught');
    });
  }
});
