/**
 * The packet helpers the datapath packet tests judge the datapath with: their checksum must be right on its
 * own (a known vector), and what they build they must parse back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildFrame,
  buildIcmpError,
  ICMP4,
  ICMP6,
  internetChecksum,
  parseFrame,
  parseIcmpError,
  TCP_ACK,
  type TcpOption,
} from '../helpers/packets.js';

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

  for (const [src, dst, router] of [
    ['192.0.2.10', '203.0.113.10', '198.51.100.254'],
    ['2001:db8:1::10', '2001:db8:3::10', '2001:db8:2::fe'],
  ] as const) {
    it(`build and parse back an ICMP error quoting a segment, whole or cut (${src})`, () => {
      const v4 = !src.includes(':');
      const about = buildFrame({
        src,
        dst,
        sport: 1,
        dport: 2,
        seq: 3,
        ack: 4,
        flags: TCP_ACK,
        payload: Buffer.from('quoted payload'),
      });
      const tooBig = v4
        ? { type: ICMP4.destUnreach, code: ICMP4.codeFragNeeded }
        : { type: ICMP6.packetTooBig, code: 0 };
      for (const quoteBytes of [undefined, v4 ? 28 : 48]) {
        const frame = buildIcmpError({ src: router, dst: src, ...tooBig, mtu: 1400, about, quoteBytes });
        const parsed = parseIcmpError(frame);
        assert.deepEqual(
          [parsed.src, parsed.dst, parsed.type, parsed.code, parsed.rest],
          [router, src, tooBig.type, tooBig.code, 1400],
        );
        assert.ok(parsed.ipChecksumOk && parsed.icmpChecksumOk && parsed.quoted.ipChecksumOk);
        const q = parsed.quoted;
        assert.deepEqual([q.src, q.dst, q.sport, q.dport, q.seq], [src, dst, 1, 2, 3]);
        assert.equal(q.ack, quoteBytes === undefined ? 4 : undefined, 'the ack only when quoted');
        assert.equal(q.tcpChecksumOk, quoteBytes === undefined ? true : undefined);
        const corrupt = Buffer.from(frame);
        corrupt.writeUInt8((corrupt.at(-1) ?? 0) ^ 0x01, corrupt.length - 1);
        assert.equal(parseIcmpError(corrupt).icmpChecksumOk, false, 'a flipped quoted bit is caught');
      }
    });
  }
});
