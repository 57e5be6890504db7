import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTcpAck, internetChecksum } from '../../src/net/tcp-probe.js';

/** The TCP pseudo-header plus segment must sum to 0 when the checksum is right (RFC 1071). */
function tcpSumsToZero(src: Buffer, dst: Buffer, segment: Buffer, v6: boolean): boolean {
  const len = Buffer.alloc(v6 ? 4 : 2);
  if (v6) len.writeUInt32BE(segment.length, 0);
  else len.writeUInt16BE(segment.length, 0);
  const pseudo = v6
    ? Buffer.concat([src, dst, len, Buffer.from([0, 0, 0, 6])])
    : Buffer.concat([src, dst, Buffer.from([0, 6]), len]);
  return internetChecksum(Buffer.concat([pseudo, segment])) === 0;
}

describe('drain probe: a bare TCP ACK for a raw socket', () => {
  it('internetChecksum matches RFC 1071 worked examples', () => {
    // A header that carries its own checksum sums to zero; an odd length pads with a zero byte.
    assert.equal(internetChecksum(Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])), 0x220d);
    assert.equal(internetChecksum(Buffer.from([0xff])), internetChecksum(Buffer.from([0xff, 0x00])));
  });

  it('IPv4: valid header and TCP checksums, ACK only, the given numbers', () => {
    const pkt = buildTcpAck({
      from: { address: '203.0.113.10', port: 80 },
      to: { address: '192.0.2.10', port: 40000 },
      seq: 0xfffffff0,
    });
    assert.equal(pkt.length, 40);
    assert.equal(pkt[0], 0x45);
    assert.equal(pkt[9], 6);
    assert.equal(pkt.readUInt16BE(2), 40);
    assert.equal(internetChecksum(pkt.subarray(0, 20)), 0, 'IPv4 header checksum');
    const tcp = pkt.subarray(20);
    assert.equal(tcp.readUInt16BE(0), 80);
    assert.equal(tcp.readUInt16BE(2), 40000);
    assert.equal(tcp.readUInt32BE(4), 0xfffffff0);
    assert.equal(tcp[12], 0x50, 'data offset 5, no options');
    assert.equal(tcp[13], 0x10, 'ACK only');
    assert.ok(tcpSumsToZero(pkt.subarray(12, 16), pkt.subarray(16, 20), tcp, false), 'TCP checksum');
  });

  it('IPv6: payload length, next header and TCP checksum; sequence numbers wrap at 2^32', () => {
    const pkt = buildTcpAck({
      from: { address: '2001:db8:f::10', port: 443 },
      to: { address: '2001:db8:c::10', port: 51000 },
      seq: 2 ** 31 + 2 ** 31 + 5,
    });
    assert.equal(pkt.length, 60);
    assert.equal((pkt[0] ?? 0) >> 4, 6);
    assert.equal(pkt.readUInt16BE(4), 20);
    assert.equal(pkt[6], 6);
    const tcp = pkt.subarray(40);
    assert.equal(tcp.readUInt32BE(4), 5);
    assert.ok(tcpSumsToZero(pkt.subarray(8, 24), pkt.subarray(24, 40), tcp, true), 'TCP checksum');
  });

  it('refuses mixed families and non-addresses', () => {
    assert.throws(() =>
      buildTcpAck({
        from: { address: '203.0.113.10', port: 1 },
        to: { address: '2001:db8::1', port: 1 },
        seq: 0,
      }),
    );
    assert.throws(() =>
      buildTcpAck({ from: { address: 'vip', port: 1 }, to: { address: '192.0.2.1', port: 1 }, seq: 0 }),
    );
  });
});
