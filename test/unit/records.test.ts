import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKEND_FLAGS, STRUCT_LAYOUTS } from '../../src/bpf/abi.js';
import {
  CT_ENTRY_PEER_OFFSET,
  type CtEntry,
  ctKeyHash,
  decodeAddr,
  decodeBackend,
  decodeConfig,
  decodeCtEntry,
  decodeCtKey,
  decodeEvent,
  decodeMaglevRing,
  decodeService,
  decodeServiceKey,
  decodeStats,
  encodeAddr,
  encodeBackend,
  encodeConfig,
  encodeCtEntry,
  encodeCtKey,
  encodeEvent,
  encodeMaglevRing,
  encodeService,
  encodeServiceKey,
  encodeStats,
  LB_LIMITS,
  type LbEvent,
  ppv2HeaderLength,
  RECORD_SIZES,
  replyShare,
  type ServiceRecord,
  sumPerCpuStats,
} from '../../src/bpf/records.js';
import { buildMaglevRing } from '../../src/core/maglev.js';

const BE = STRUCT_LAYOUTS.lb_backend.off;

describe('records: addresses', () => {
  const cases: [string, 4 | 6, string][] = [
    ['192.0.2.10', 4, 'c000020a000000000000000000000000'],
    ['2001:db8::10', 6, '20010db8000000000000000000000010'],
    ['2001:db8:1::a', 6, '20010db800010000000000000000000a'],
    ['::', 6, '00000000000000000000000000000000'],
    ['::ffff:192.0.2.1', 6, '00000000000000000000ffffc0000201'],
  ];
  for (const [addr, family, hex] of cases) {
    it(`encodes ${addr}`, () => {
      const buf = Buffer.alloc(16);
      assert.equal(encodeAddr(addr, buf, 0), family);
      assert.equal(buf.toString('hex'), hex);
    });
  }

  it('round-trips IPv6 in RFC 5952 form', () => {
    for (const addr of [
      '2001:db8::10',
      '2001:db8:1::a',
      '::',
      '::1',
      '2001:db8:0:1:0:0:0:1',
      'fe80::1:2:3:4',
    ]) {
      const buf = Buffer.alloc(16);
      encodeAddr(addr, buf, 0);
      const back = decodeAddr(buf, 0, 6);
      const again = Buffer.alloc(16);
      encodeAddr(back, again, 0);
      assert.deepEqual(again, buf, addr);
    }
    const buf = Buffer.alloc(16);
    encodeAddr('2001:0db8:0000:0000:0001:0000:0000:0001', buf, 0);
    assert.equal(decodeAddr(buf, 0, 6), '2001:db8::1:0:0:1');
  });

  it('rejects what is not an address', () => {
    assert.throws(() => encodeAddr('example.com', Buffer.alloc(16), 0), RangeError);
  });
});

describe('records: services and backends', () => {
  it('round-trips a service key with the port in network order', () => {
    const buf = encodeServiceKey({ vip: '203.0.113.10', port: 443 });
    assert.equal(buf.length, RECORD_SIZES.serviceKey);
    assert.equal(buf.toString('hex'), 'cb00710a00000000000000000000000001bb0604');
    assert.deepEqual(decodeServiceKey(buf), { vip: '203.0.113.10', port: 443, protocol: 'tcp', family: 4 });
    assert.deepEqual(decodeServiceKey(encodeServiceKey({ vip: '2001:db8:f::10', port: 80 })), {
      vip: '2001:db8:f::10',
      port: 80,
      protocol: 'tcp',
      family: 6,
    });
  });

  const svc: ServiceRecord = {
    id: 7,
    mode: 'fullnat',
    ppv2: true,
    uniqueId: true,
    crc32c: false,
    proxyV1: false,
    liveness: true,
    applied: false,
    snatAddr: '198.51.100.1',
    tlvs: Buffer.from('e00003616263', 'hex'),
  };

  it('round-trips a service value', () => {
    const buf = encodeService(svc);
    assert.equal(buf.length, RECORD_SIZES.service);
    assert.equal(buf.readUInt32LE(0), 7);
    assert.equal(buf[4], 1);
    assert.equal(buf[5], 0x0b, 'PPv2 | UNIQUE_ID | liveness');
    assert.equal(buf.readUInt16LE(6), 6);
    assert.deepEqual(decodeService(buf, 4), svc);
    const dnat6 = {
      ...svc,
      mode: 'dnat' as const,
      snatAddr: null,
      ppv2: false,
      uniqueId: false,
      tlvs: Buffer.alloc(0),
    };
    assert.deepEqual(decodeService(encodeService(dnat6), 6), dnat6);
    const v6 = { ...svc, snatAddr: '2001:db8:b::1' };
    assert.deepEqual(decodeService(encodeService(v6), 6), v6);
    const applied = { ...svc, applied: true };
    assert.equal(encodeService(applied)[5], 0x8b, 'created by apply: the top bit, in the same write');
    assert.deepEqual(decodeService(encodeService(applied), 4), applied);
  });

  it('refuses ids and TLV blobs the datapath cannot hold', () => {
    assert.throws(() => encodeService({ ...svc, id: 0 }), RangeError);
    assert.throws(() => encodeService({ ...svc, id: 256 }), RangeError);
    assert.throws(() => encodeService({ ...svc, tlvs: Buffer.alloc(129) }), RangeError);
  });

  it('computes the header length the datapath builds (always even)', () => {
    const none = { uniqueId: false, crc32c: false, tlvs: Buffer.alloc(0) };
    assert.equal(ppv2HeaderLength(none, 4), 28);
    assert.equal(ppv2HeaderLength(none, 6), 52);
    assert.equal(ppv2HeaderLength({ ...none, uniqueId: true, crc32c: true }, 4), 54);
    assert.equal(ppv2HeaderLength({ ...none, tlvs: Buffer.alloc(5) }, 4), 36); // 33 + NOOP
    assert.equal(ppv2HeaderLength({ uniqueId: true, crc32c: true, tlvs: Buffer.alloc(128) }, 6), 206);
    assert.equal(ppv2HeaderLength({ uniqueId: true, crc32c: true, tlvs: Buffer.alloc(127) }, 6), 208);
    // Every header the rule can produce fits the datapath's buffers and the event record.
    let longest = 0;
    for (const family of [4, 6] as const)
      for (const uniqueId of [false, true])
        for (const crc32c of [false, true])
          for (let n = 0; n <= LB_LIMITS.tlvMax; n++)
            longest = Math.max(
              longest,
              ppv2HeaderLength({ uniqueId, crc32c, tlvs: Buffer.alloc(n) }, family),
            );
    assert.equal(longest, 208);
    assert.ok(longest <= LB_LIMITS.ppv2MaxLen && longest <= LB_LIMITS.eventHeaderMax);
  });

  it('round-trips a backend', () => {
    const buf = encodeBackend({ addr: '198.51.100.2', port: 8080, weight: 3 });
    assert.equal(buf.length, RECORD_SIZES.backend);
    assert.equal(buf[BE.flags], 0, 'flags: none');
    assert.deepEqual(decodeBackend(buf), {
      addr: '198.51.100.2',
      port: 8080,
      weight: 3,
      family: 4,
      down: false,
      srcAddr: null,
    });
    assert.deepEqual(
      decodeBackend(
        encodeBackend({ addr: '2001:db8:b::2', port: 443, weight: 1, down: true, srcAddr: '2001:db8:b::1' }),
      ),
      {
        addr: '2001:db8:b::2',
        port: 443,
        weight: 1,
        family: 6,
        down: true,
        srcAddr: '2001:db8:b::1',
      },
    );
  });

  it("stores a backend's source address in src_addr, and refuses one of the other family", () => {
    const buf = encodeBackend({ addr: '198.51.100.2', port: 80, weight: 1, srcAddr: '198.51.100.1' });
    assert.equal(buf.subarray(BE.src_addr, BE.src_addr + 16).toString('hex'), `c6336401${'0'.repeat(24)}`);
    assert.throws(
      () => encodeBackend({ addr: '198.51.100.2', port: 80, weight: 1, srcAddr: '2001:db8:b::1' }),
      /another family/,
    );
  });

  it('encodes a down backend with the LB_BE_F_DOWN bit alone, and ignores unknown bits', () => {
    const buf = encodeBackend({ addr: '198.51.100.2', port: 80, weight: 1, down: true });
    assert.equal(buf[BE.flags], BACKEND_FLAGS.values.DOWN);
    buf[BE.flags] = 0x80;
    assert.equal(decodeBackend(buf).down, false);
  });
});

describe('records: Maglev ring', () => {
  const backends = [
    { id: 1, weight: 1, key: '198.51.100.2:80' },
    { id: 2, weight: 1, key: '198.51.100.3:80' },
    { id: 3, weight: 2, key: '198.51.100.4:80' },
  ];

  it('fills every slot, in proportion to weight', () => {
    const ring = buildMaglevRing(backends);
    assert.equal(ring.length, LB_LIMITS.maglevSize);
    const count = (id: number) => ring.filter((x) => x === id).length;
    assert.equal(count(1) + count(2) + count(3), LB_LIMITS.maglevSize);
    assert.ok(Math.abs(count(3) / count(1) - 2) < 0.05, `weights 1:2 gave ${count(1)}:${count(3)}`);
  });

  it('is deterministic and moves few slots when a backend leaves', () => {
    const a = buildMaglevRing(backends);
    assert.deepEqual(buildMaglevRing([...backends].reverse()), a);
    const b = buildMaglevRing(backends.filter((x) => x.id !== 2));
    let movedFromStayers = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== 2 && a[i] !== b[i]) movedFromStayers++;
    assert.ok(movedFromStayers < a.length * 0.1, `${movedFromStayers} slots of remaining backends moved`);
  });

  it('leaves the ring empty without weighted backends, and round-trips', () => {
    assert.ok(buildMaglevRing([{ id: 1, weight: 0, key: 'x' }]).every((x) => x === 0));
    const ring = buildMaglevRing(backends);
    const buf = encodeMaglevRing(ring);
    assert.equal(buf.length, RECORD_SIZES.maglevRing);
    assert.deepEqual(decodeMaglevRing(buf), ring);
    assert.throws(() => encodeMaglevRing([1, 2, 3]), RangeError);
  });
});

describe('records: conntrack', () => {
  it('round-trips a key', () => {
    const key = { saddr: '192.0.2.2', daddr: '203.0.113.10', sport: 40001, dport: 80 };
    const buf = encodeCtKey(key);
    assert.equal(buf.length, RECORD_SIZES.ctKey);
    assert.equal(buf.readUInt16BE(32), 40001);
    assert.deepEqual(decodeCtKey(buf), { ...key, protocol: 'tcp', family: 4 });
    assert.throws(() => encodeCtKey({ ...key, daddr: '2001:db8::1' }), RangeError);
  });

  it('round-trips an entry', () => {
    const entry: CtEntry = {
      kind: 'orig',
      peer: {
        saddr: '2001:db8:b::2',
        daddr: '2001:db8:b::1',
        sport: 8080,
        dport: 40001,
        protocol: 'tcp',
        family: 6,
      },
      state: 'established',
      mode: 'fullnat',
      flags: {
        ppv2: true,
        headerSent: true,
        finFromClient: false,
        finFromBackend: true,
        uniqueIdTlv: true,
        crc32cTlv: false,
        headerAcked: true,
        dataSent: false,
        mirror: false,
        proxyV1: false,
      },
      ppv2Len: 54,
      serviceId: 3,
      backendId: 9,
      clientIsn: 0xfffffff0,
      reinjections: 1,
      createdNs: 123456789012345n,
      lastSeenNs: 123456789999999n,
      packetsFromClient: 10n,
      bytesFromClient: 20971520n,
      packetsFromBackend: 12n,
      bytesFromBackend: 1024n,
      uniqueId: Buffer.from('0102030405060708000000000000002a', 'hex'),
    };
    const buf = encodeCtEntry(entry);
    assert.equal(buf.length, RECORD_SIZES.ctEntry);
    assert.deepEqual(decodeCtEntry(buf), entry);
    const reply = decodeCtEntry(encodeCtEntry({ ...entry, kind: 'reply', state: 'none', mode: 'dnat' }));
    assert.equal(reply.kind, 'reply');
    assert.equal(reply.mode, 'dnat');
  });

  it("reads a reply entry's share and the key of its orig entry in place", () => {
    const peer = { saddr: '192.0.2.10', daddr: '203.0.113.10', sport: 40001, dport: 80 };
    const buf = encodeCtEntry({
      kind: 'reply',
      peer: { ...peer, protocol: 'tcp', family: 4 },
      state: 'none',
      mode: 'fullnat',
      flags: { ppv2: true, headerSent: true, finFromClient: false, finFromBackend: false, mirror: true },
      ppv2Len: 28,
      serviceId: 1,
      backendId: 2,
      clientIsn: 7,
      reinjections: 0,
      createdNs: 1n,
      lastSeenNs: 99n,
      packetsFromClient: 0n,
      bytesFromClient: 0n,
      packetsFromBackend: 5n,
      bytesFromBackend: 6000n,
      uniqueId: Buffer.alloc(16),
    });
    assert.ok(buf.subarray(CT_ENTRY_PEER_OFFSET, CT_ENTRY_PEER_OFFSET + 40).equals(encodeCtKey(peer)));
    assert.equal(ctKeyHash(buf, CT_ENTRY_PEER_OFFSET), ctKeyHash(encodeCtKey(peer), 0));
    assert.notEqual(
      ctKeyHash(buf, CT_ENTRY_PEER_OFFSET),
      ctKeyHash(encodeCtKey({ ...peer, sport: 40002 }), 0),
    );
    assert.deepEqual(replyShare(buf), { packets: 5, bytes: 6000, lastSeenNs: 99 });
    assert.equal(decodeCtEntry(buf).flags.mirror, true);
  });
});

describe('records: config, counters, events', () => {
  it('round-trips the config', () => {
    const cfg = {
      bootId: 0x0102030405060708n,
      events: true,
      detaching: null,
      timeouts: { synSentS: 30, establishedS: 900, finS: 60, closedS: 10, udpS: 45 },
      snatPorts: { min: 61000, max: 65535 },
    };
    const buf = encodeConfig(cfg);
    assert.equal(buf.length, RECORD_SIZES.config);
    assert.deepEqual(decodeConfig(buf), cfg);
    assert.equal(decodeConfig(encodeConfig({ ...cfg, events: false })).events, false);
    for (const detaching of ['hold', 'drain'] as const) {
      const flags = encodeConfig({ ...cfg, events: false, detaching }).readUInt32LE(8);
      assert.equal(flags, detaching === 'hold' ? 0x02 : 0x04, `${detaching}: LB_CFG_F_* bit`);
      assert.equal(decodeConfig(encodeConfig({ ...cfg, detaching })).detaching, detaching);
    }
  });

  it('decodes counters and sums per-CPU values', () => {
    const one = encodeStats({ fwd_packets: 5n, ppv2_injected: 2n, events_lost: 1n });
    assert.equal(one.length, RECORD_SIZES.stats);
    const c = decodeStats(one);
    assert.equal(c.fwd_packets, 5n);
    assert.equal(c.rev_packets, 0n);
    const sum = sumPerCpuStats(Buffer.concat([one, one, encodeStats({ ppv2_injected: 7n })]), 3);
    assert.equal(sum.fwd_packets, 10n);
    assert.equal(sum.ppv2_injected, 11n);
    assert.equal(sum.events_lost, 2n);
    assert.throws(() => sumPerCpuStats(one, 2), RangeError);
  });

  it('round-trips injection and failure events', () => {
    const header = Buffer.from('0d0a0d0a000d0a515549540a2111000cc000020acb00710ac8220050', 'hex');
    const injected: LbEvent = {
      type: 'header_injected',
      reason: null,
      serviceId: 3,
      timestampNs: 99n,
      family: 4,
      client: { addr: '192.0.2.10', port: 51234 },
      vip: { addr: '203.0.113.10', port: 80 },
      header,
    };
    const buf = encodeEvent(injected);
    assert.equal(buf.length, RECORD_SIZES.event);
    assert.deepEqual(decodeEvent(buf), injected);
    const failure: LbEvent = {
      ...injected,
      type: 'failure',
      reason: 'drop_snat_exhausted',
      family: 6,
      client: { addr: '2001:db8:c::2', port: 1 },
      vip: { addr: '2001:db8:f::10', port: 443 },
      header: Buffer.alloc(0),
    };
    assert.deepEqual(decodeEvent(encodeEvent(failure)), failure);
    const unknown = encodeEvent(injected);
    unknown.writeUInt16LE(9, 8);
    assert.throws(() => decodeEvent(unknown), RangeError);
  });
});
