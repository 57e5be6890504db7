/**
 * UDP services packet by packet (issue 14): lbctl_ingress run with BPF_PROG_TEST_RUN on crafted IPv4 and IPv6
 * datagrams. Every client -> backend datagram of a PPv2 service must carry its own header (family 0x12/0x22,
 * the real client and the VIP, UNIQUE_ID per flow, CRC32C per datagram, the static TLVs) in the same datagram
 * as its payload; replies go back from VIP:port without one; plain services only translate; a datagram too
 * big for the egress MTU once grown is dropped and counted. Checksums and the CRC32C are verified by the
 * test's own routines, not the datapath's or the codec's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Mode } from '../../src/bpf/records.js';
import { decodeProxyHeader, TlvType, type V2InetHeader } from '../../src/ppv2/index.js';
import { DatapathHarness, NET, type RunResult, TC_ACT } from '../helpers/datapath-harness.js';
import {
  buildFrame,
  buildUdpFrame,
  type ParsedDatagram,
  parseUdpFrame,
  TCP_SYN,
} from '../helpers/packets.js';
import { suitePrerequisites } from '../helpers/prereq.js';

const { skip, assertPrerequisites } = suitePrerequisites({ root: true, binaries: ['ip', 'sysctl'] });

const BACKEND_PORT = 5353;
const VIP_PORT = 53;
const CUSTOM_TLV = Buffer.from([0xe1, 0x00, 0x02, 0x68, 0x69]); // type 0xE1, "hi"
const BOOT_ID = Buffer.from('1122334455667788', 'hex');
const MTU = 1500; // the harness's veths
const QUERY = Buffer.from('a DNS query, or any datagram the client sends');
const ANSWER = Buffer.from('the answer, as the backend sends it back');

/** CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: independent of the codec's table-driven one. */
function crc32cBitwise(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The services of one family on the VIP's port 53 (UDP) and the ports after it. */
function services(family: 4 | 6) {
  const base = family === 4 ? 0 : 10;
  const addr = family === 4 ? 12 : 36;
  // 16 fixed + addresses + UNIQUE_ID (19) + CRC32C (7) + custom TLV (5), then a NOOP (3) when odd
  const full = 16 + addr + 19 + 7 + CUSTOM_TLV.length;
  return {
    fullnat: {
      id: base + 1,
      port: VIP_PORT,
      mode: 'fullnat' as Mode,
      n: full + (full % 2 ? 3 : 0),
      all: true,
    },
    dnat: { id: base + 2, port: VIP_PORT + 1, mode: 'dnat' as Mode, n: 16 + addr, all: false },
    plain: { id: base + 3, port: VIP_PORT + 2, mode: 'fullnat' as Mode, n: 0, all: false },
  };
}
type Service = ReturnType<typeof services>['fullnat'];

function addServices(h: DatapathHarness, family: 4 | 6): void {
  const net = NET[family];
  for (const svc of Object.values(services(family))) {
    h.addService({
      id: svc.id,
      vip: net.vip,
      port: svc.port,
      protocol: 'udp',
      mode: svc.mode,
      ppv2: svc.n > 0,
      uniqueId: svc.all,
      crc32c: svc.all,
      tlvs: svc.all ? CUSTOM_TLV : undefined,
      snatAddr: svc.mode === 'fullnat' ? net.snat : undefined,
      backends: [{ id: svc.id, addr: net.backend, port: BACKEND_PORT }],
    });
  }
  // A TCP service on a port no UDP service has: a datagram to it must not be taken for it.
  h.addService({
    id: TCP_ONLY.id(family),
    vip: net.vip,
    port: TCP_ONLY.port,
    protocol: 'tcp',
    mode: 'fullnat',
    ppv2: true,
    snatAddr: net.snat,
    backends: [{ id: TCP_ONLY.id(family), addr: net.backend, port: BACKEND_PORT }],
  });
}

const TCP_ONLY = { port: 9999, id: (family: 4 | 6) => (family === 4 ? 40 : 50) };

function forwarded(result: RunResult): ParsedDatagram {
  assert.equal(result.retval, TC_ACT.REDIRECT, 'forwarded with bpf_redirect_neigh');
  const out = parseUdpFrame(result.frame);
  assert.ok(out.ipChecksumOk, 'IPv4 header checksum');
  assert.ok(out.udpChecksumOk, 'UDP checksum (own RFC 1071 sum over the pseudo-header and the datagram)');
  assert.ok(out.udpLengthOk, 'UDP length = IP payload length');
  return out;
}

/** The header at the start of a datagram's payload; the payload behind it must be the client's, intact. */
function headerOf(out: ParsedDatagram, svc: Service, payload: Buffer): { header: V2InetHeader; raw: Buffer } {
  const result = decodeProxyHeader(out.payload);
  assert.equal(result.status, 'complete', `a complete PPv2 header: ${JSON.stringify(result)}`);
  if (result.status !== 'complete') throw new Error('unreachable');
  assert.equal(result.consumed, svc.n, 'header length as the ABI rule gives it');
  assert.deepEqual(out.payload.subarray(result.consumed), payload, 'payload behind the header, unchanged');
  return { header: result.header as V2InetHeader, raw: out.payload.subarray(0, result.consumed) };
}

describe('UDP services packet by packet (BPF_PROG_TEST_RUN)', { skip }, () => {
  let h: DatapathHarness;

  before(() => {
    assertPrerequisites();
    h = DatapathHarness.open();
    h.configure({ events: true });
    addServices(h, 4);
    addServices(h, 6);
  });
  after(() => h?.close());

  for (const family of [4, 6] as const) {
    const net = NET[family];
    const s = services(family);

    describe(`IPv${family}`, () => {
      for (const svc of [s.fullnat, s.dnat]) {
        it(`${svc.mode} + PPv2: a header on every datagram, family 0x${family === 4 ? '12' : '22'}; replies headerless from the VIP`, () => {
          const clientPort = 40000 + svc.id;
          const peer = svc.mode === 'fullnat' ? net.snat : net.client;
          const before = h.counters(svc.id);
          const uniqueIds: Buffer[] = [];
          for (const [i, payload] of [QUERY, Buffer.from('second datagram, odd length!')].entries()) {
            const frame = buildUdpFrame({
              src: net.client,
              dst: net.vip,
              sport: clientPort,
              dport: svc.port,
              payload,
            });
            const out = forwarded(h.run(frame, 'client'));
            assert.deepEqual(
              [out.src, out.dst, out.dport],
              [peer, net.backend, BACKEND_PORT],
              `datagram ${i}`,
            );
            if (svc.mode === 'dnat') assert.equal(out.sport, clientPort);
            const { header, raw } = headerOf(out, svc, payload);
            assert.equal(raw[12], 0x21, 'version 2, PROXY');
            assert.equal(raw[13], family === 4 ? 0x12 : 0x22, 'INET/INET6 + DGRAM');
            assert.equal(header.transport, 'DGRAM');
            assert.deepEqual(
              [header.src, header.srcPort, header.dst, header.dstPort],
              [net.client, clientPort, net.vip, svc.port],
            );
            if (svc.all) {
              assert.deepEqual(
                header.tlvs.map((t) => t.type).filter((t) => t !== TlvType.NOOP),
                [TlvType.UNIQUE_ID, TlvType.CRC32C, 0xe1],
                'UNIQUE_ID, CRC32C (the codec verified it too), the static TLV',
              );
              uniqueIds.push(Buffer.from(header.tlvs[0]?.value ?? []));
              // CRC32C over the whole header with the value zeroed, recomputed here bit by bit
              const crcTlv = raw.indexOf(Buffer.from([TlvType.CRC32C, 0x00, 0x04]), 16);
              const zeroed = Buffer.from(raw);
              zeroed.fill(0, crcTlv + 3, crcTlv + 7);
              assert.equal(raw.readUInt32BE(crcTlv + 3), crc32cBitwise(zeroed), 'CRC32C of this datagram');
            } else {
              assert.deepEqual(header.tlvs, []);
            }
          }
          if (svc.all) {
            assert.deepEqual(uniqueIds[0], uniqueIds[1], 'one UNIQUE_ID per flow');
            assert.deepEqual(uniqueIds[0]?.subarray(0, 8), BOOT_ID);
          }
          const orig = h.conntrackEntry({
            saddr: net.client,
            daddr: net.vip,
            sport: clientPort,
            dport: svc.port,
            protocol: 'udp',
          });
          assert.ok(orig, 'the flow is tracked');
          assert.equal(orig.state, 'udp');
          assert.equal(orig.peer.protocol, 'udp');
          assert.equal(orig.packetsFromClient, 2n);

          // the backend answers the address it saw
          const reply = buildUdpFrame({
            src: net.backend,
            dst: peer,
            sport: BACKEND_PORT,
            dport: orig.peer.dport,
            payload: ANSWER,
          });
          const back = forwarded(h.run(reply, 'backend'));
          assert.deepEqual(
            [back.src, back.sport, back.dst, back.dport],
            [net.vip, svc.port, net.client, clientPort],
            'from VIP:port to the client',
          );
          assert.deepEqual(back.payload, ANSWER, 'no header on replies');

          const after = h.counters(svc.id);
          assert.equal(after.ppv2_udp_injected - before.ppv2_udp_injected, 2n);
          assert.equal(after.conn_new - before.conn_new, 1n, 'one flow');
          assert.equal(after.fwd_packets - before.fwd_packets, 2n);
          assert.equal(after.rev_packets - before.rev_packets, 1n);
          assert.equal(after.ppv2_injected, before.ppv2_injected, 'the TCP header counters stay apart');
          const events = h.takeEvents().filter((e) => e.serviceId === svc.id);
          assert.equal(events.filter((e) => e.type === 'header_injected').length, 2, 'an event per header');
        });
      }

      it('an empty datagram gets the header alone', () => {
        const svc = s.fullnat;
        const frame = buildUdpFrame({
          src: net.client,
          dst: net.vip,
          sport: 47000,
          dport: svc.port,
          payload: Buffer.alloc(0),
        });
        const { header } = headerOf(forwarded(h.run(frame, 'client')), svc, Buffer.alloc(0));
        assert.equal(header.srcPort, 47000);
      });

      it('plain UDP (no --ppv2): addresses and ports translated, payload unchanged, both ways', () => {
        const svc = s.plain;
        const frame = buildUdpFrame({
          src: net.client,
          dst: net.vip,
          sport: 41000,
          dport: svc.port,
          payload: QUERY,
        });
        const out = forwarded(h.run(frame, 'client'));
        assert.deepEqual([out.src, out.dst, out.dport], [net.snat, net.backend, BACKEND_PORT]);
        assert.deepEqual(out.payload, QUERY);
        const back = forwarded(
          h.run(
            buildUdpFrame({
              src: net.backend,
              dst: net.snat,
              sport: BACKEND_PORT,
              dport: out.sport,
              payload: ANSWER,
            }),
            'backend',
          ),
        );
        assert.deepEqual(
          [back.src, back.sport, back.dst, back.dport],
          [net.vip, svc.port, net.client, 41000],
        );
        assert.deepEqual(back.payload, ANSWER);
      });

      it('a datagram one byte too big for the MTU once grown is dropped and counted; one that just fits passes', async () => {
        const svc = s.fullnat;
        const ipHeader = family === 4 ? 20 : 40;
        const fits = MTU - ipHeader - 8 - svc.n;
        const send = (port: number, payloadLen: number) =>
          h.run(
            buildUdpFrame({
              src: net.client,
              dst: net.vip,
              sport: port,
              dport: svc.port,
              payload: Buffer.alloc(payloadLen, 0x5a),
            }),
            'client',
          );
        // the route cache expires after 100 ms: each flow's first datagram then takes the full lookup
        for (const [port, lens] of [
          [42001, [fits, fits + 1, fits]],
          [42002, [fits + 1, fits]],
        ] as const) {
          await new Promise((r) => setTimeout(r, 150));
          for (const len of lens) {
            const before = h.counters(svc.id);
            const result = send(port, len);
            const after = h.counters(svc.id);
            if (len > fits) {
              assert.equal(result.retval, TC_ACT.SHOT, `${len} bytes: dropped, not fragmented`);
              assert.equal(after.drop_udp_too_big - before.drop_udp_too_big, 1n);
            } else {
              const out = forwarded(result);
              assert.equal(out.payload.length, len + svc.n, `${len} bytes: grown to exactly the MTU`);
              assert.equal(after.drop_udp_too_big, before.drop_udp_too_big);
            }
          }
        }
        const failures = h
          .takeEvents()
          .filter((e) => e.type === 'failure' && e.reason === 'drop_udp_too_big');
        assert.equal(failures.length, 2, 'a failure event per dropped datagram');
      });

      it('a GSO packet (several datagrams) on a PPv2 service is dropped and counted, never cut', () => {
        const svc = s.fullnat;
        const before = h.counters(svc.id);
        const frame = buildUdpFrame({
          src: net.client,
          dst: net.vip,
          sport: 43000,
          dport: svc.port,
          payload: Buffer.alloc(1200, 1),
        });
        assert.equal(h.run(frame, 'client', { gsoSize: 600 }).retval, TC_ACT.SHOT);
        assert.equal(h.counters(svc.id).ppv2_fail_too_big - before.ppv2_fail_too_big, 1n);
      });

      it('UDP to a TCP-only port and TCP to a UDP-only port pass untouched (the protocol is in the service key)', () => {
        const udp = buildUdpFrame({
          src: net.client,
          dst: net.vip,
          sport: 44000,
          dport: TCP_ONLY.port,
          payload: QUERY,
        });
        const tcpOnly = h.counters(TCP_ONLY.id(family));
        assert.equal(h.run(udp, 'client').retval, TC_ACT.OK);
        assert.deepEqual(h.counters(TCP_ONLY.id(family)), tcpOnly, 'the TCP service saw nothing');
        const tcp = buildFrame({
          src: net.client,
          dst: net.vip,
          sport: 44001,
          dport: VIP_PORT,
          seq: 1,
          ack: 0,
          flags: TCP_SYN,
        });
        assert.equal(h.run(tcp, 'client').retval, TC_ACT.OK);
      });
    });
  }

  it('while detach holds or drains, datagrams of services and flows are dropped and counted; others pass', () => {
    const net = NET[4];
    const svc = services(4).plain;
    const flow = buildUdpFrame({
      src: net.client,
      dst: net.vip,
      sport: 46000,
      dport: svc.port,
      payload: QUERY,
    });
    forwarded(h.run(flow, 'client')); // a tracked flow
    try {
      for (const mode of ['hold', 'drain'] as const) {
        h.configure({ detaching: mode });
        const before = h.counters(svc.id);
        assert.equal(h.run(flow, 'client').retval, TC_ACT.SHOT, `${mode}: tracked flow`);
        const fresh = buildUdpFrame({
          src: net.client,
          dst: net.vip,
          sport: 46001,
          dport: svc.port,
          payload: QUERY,
        });
        assert.equal(h.run(fresh, 'client').retval, TC_ACT.SHOT, `${mode}: new flow`);
        assert.equal(h.counters(svc.id).drop_detaching - before.drop_detaching, 2n);
        const other = buildUdpFrame({
          src: net.client,
          dst: net.vip,
          sport: 46002,
          dport: 9999,
          payload: QUERY,
        });
        assert.equal(h.run(other, 'client').retval, TC_ACT.OK, `${mode}: not the balancer's`);
      }
    } finally {
      h.configure({ detaching: null });
    }
  });

  it('IPv4 datagrams without a checksum (0) keep none through the rewrite and the header', () => {
    const net = NET[4];
    const svc = services(4).fullnat;
    const frame = buildUdpFrame({
      src: net.client,
      dst: net.vip,
      sport: 45000,
      dport: svc.port,
      payload: QUERY,
      noChecksum: true,
    });
    const out = forwarded(h.run(frame, 'client'));
    assert.equal(out.udpChecksum, 0, 'still no checksum');
    headerOf(out, svc, QUERY);
  });
});
