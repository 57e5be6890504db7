/**
 * The datapath packet by packet (issue 15): lbctl_ingress run with BPF_PROG_TEST_RUN on crafted IPv4 and
 * IPv6 frames, each case a frame in and expectations on the frame out, the return code, conntrack (decoded
 * by records.ts) and the counters. Checksums are verified by the test's own routine, injected headers by
 * the project's PPv2 codec. Needs root (BPF, a scratch network namespace); runs in seconds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Counters, DEFAULT_SNAT_PORTS } from '../../src/bpf/records.js';
import { decodeProxyHeader, encodeV1, TlvType, type V2InetHeader } from '../../src/ppv2/index.js';
import {
  addServices,
  BACKEND_PORT,
  CLIENT_MSS,
  Connection,
  services,
} from '../helpers/datapath-connection.js';
import { DatapathHarness, NET, type RunResult, TC_ACT } from '../helpers/datapath-harness.js';
import {
  buildFrame,
  findOption,
  type ParsedFrame,
  parseFrame,
  type Segment,
  seqAdd,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type TcpOption,
} from '../helpers/packets.js';
import { suitePrerequisites } from '../helpers/prereq.js';

const { skip, assertPrerequisites } = suitePrerequisites({ root: true, binaries: ['ip', 'sysctl'] });

const BOOT_ID = Buffer.from('1122334455667788', 'hex'); // the harness's lb_config boot id, big-endian

/**
 * Services whose fullnat source comes per backend (issue 12 point 3): two backends on two subnets, each with
 * the route's source towards it in its record; the same with a --snat override; and neither (never written
 * by the control plane). Backend ids 100 * family + n.
 */
function sourceServices(family: 4 | 6) {
  const net = NET[family];
  const idBase = family === 4 ? 0 : 10;
  const be = (n: number, addr: string, srcAddr?: string) => ({
    id: 100 * family + n,
    addr,
    port: BACKEND_PORT,
    srcAddr,
  });
  return {
    // Ids and ports after services()'s (test/helpers/datapath-connection.ts).
    perBackend: {
      id: idBase + 7,
      port: 87,
      backends: [be(1, net.backend, net.src), be(2, net.backend2, net.src2)],
    },
    overridden: {
      id: idBase + 8,
      port: 88,
      snatAddr: net.snat,
      backends: [be(3, net.backend, net.src), be(4, net.backend2, net.src2)],
    },
    unset: { id: idBase + 9, port: 89, backends: [be(5, net.backend)] },
  };
}

/** A client -> VIP segment to one of the sourceServices (no Connection: which backend it gets varies). */
function clientSegment(family: 4 | 6, sport: number, dport: number, seq: number, ack: number, flags: number) {
  const net = NET[family];
  return buildFrame({ src: net.client, dst: net.vip, sport, dport, seq, ack, flags });
}

function addSourceServices(h: DatapathHarness, family: 4 | 6): void {
  for (const svc of Object.values(sourceServices(family))) {
    h.addService({ ...svc, vip: NET[family].vip, mode: 'fullnat', ppv2: true });
  }
}

/** Checks every forwarded frame must pass: right checksums, IP fields that are not ours untouched. */
function assertWellFormed(input: Buffer, result: RunResult, checks = { tcpChecksum: true }): ParsedFrame {
  assert.equal(result.retval, TC_ACT.REDIRECT, 'forwarded with bpf_redirect_neigh');
  const out = parseFrame(result.frame);
  const before = parseFrame(input);
  assert.ok(out.ipChecksumOk, 'IPv4 header checksum');
  if (checks.tcpChecksum) assert.ok(out.tcpChecksumOk, 'TCP checksum');
  assert.deepEqual(out.ipInvariant, before.ipInvariant, 'TTL, ToS, id, flow label untouched');
  assert.deepEqual(
    result.frame.subarray(0, 14),
    input.subarray(0, 14),
    'Ethernet header (the redirect writes it)',
  );
  assert.equal(out.window, before.window);
  return out;
}

/** The SNAT port the datapath tries first: the client's port mapped into the range (bpf/snat.h). */
function homePort(clientPort: number, range: { min: number; max: number }): number {
  const size = range.max - range.min + 1;
  return range.min + ((((clientPort - range.min) % size) + size) % size);
}

/** The client's bare ACK at ISN+1, acknowledging the SYN-ACK (the handshake-completing segment). */
function ackSegment(conn: Connection): Omit<Segment, 'src' | 'dst' | 'sport' | 'dport'> {
  return {
    seq: seqAdd(conn.isn, 1),
    ack: seqAdd(conn.backendIsn, 1),
    flags: TCP_ACK,
    options: conn.dataOptions,
  };
}

/** The PPv2 header in front of a payload, decoded by the project's codec. */
function decodeInjected(payload: Buffer): { header: V2InetHeader; consumed: number } {
  const result = decodeProxyHeader(payload);
  assert.equal(result.status, 'complete', `a complete PPv2 header: ${JSON.stringify(result)}`);
  if (result.status !== 'complete') throw new Error('unreachable');
  assert.equal(result.header.version, 2);
  return { header: result.header as V2InetHeader, consumed: result.consumed };
}

/**
 * A v1 line in front of a payload: byte for byte what the project's encoder writes for the connection, of the
 * length conntrack recorded at the SYN, and read back as the right client and VIP by the project's decoder.
 */
function checkV1Line(payload: Buffer, conn: Connection): void {
  const expected = conn.expectedV1Line();
  assert.equal(conn.orig().ppv2Len, expected.length, 'the shift recorded at the SYN = the line length');
  assert.equal(payload.subarray(0, expected.length).toString('latin1'), expected.toString('latin1'));
  const decoded = decodeProxyHeader(payload);
  assert.equal(decoded.status, 'complete');
  if (decoded.status !== 'complete') return;
  assert.equal(decoded.consumed, expected.length);
  assert.equal(decoded.header.version, 1);
}

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n');
const SECOND = Buffer.from('second segment of the request body, after the header went out');
const TIMESTAMPS: TcpOption[] = [
  { kind: 'nop' },
  { kind: 'nop' },
  { kind: 'timestamps', value: 1000, echo: 2000 },
];

describe('datapath packet by packet (BPF_PROG_TEST_RUN)', { skip }, () => {
  let h: DatapathHarness;

  before(() => {
    assertPrerequisites();
    h = DatapathHarness.open();
    addServices(h, 4);
    addServices(h, 6);
    addSourceServices(h, 4);
    addSourceServices(h, 6);
  });
  after(() => h?.close());

  for (const family of [4, 6] as const) {
    const s = services(family);
    const net = NET[family];

    describe(`IPv${family}`, () => {
      it('a client SYN to a fullnat service: SNAT address and port, VIP -> backend, both conntrack entries', () => {
        const conn = new Connection(h, family, s.fullnat, 40001, TIMESTAMPS);
        const before = h.counters(s.fullnat.id);
        const synOptions: TcpOption[] = [
          { kind: 'mss', value: CLIENT_MSS },
          { kind: 'sackPermitted' },
          { kind: 'timestamps', value: 1, echo: 0 },
          { kind: 'nop' },
          { kind: 'wscale', shift: 7 },
        ];
        const syn = conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN, options: synOptions });
        const out = assertWellFormed(syn, h.run(syn, 'client'));
        assert.deepEqual(
          [out.src, out.dst, out.sport, out.dport],
          [net.snat, net.backend, conn.peerAtBackend.port, BACKEND_PORT],
          'client:port -> VIP:80 becomes SNAT:SNAT port -> backend:8080',
        );
        assert.ok(
          out.sport >= DEFAULT_SNAT_PORTS.min && out.sport <= DEFAULT_SNAT_PORTS.max,
          `SNAT port ${out.sport} in the default range ${DEFAULT_SNAT_PORTS.min}-${DEFAULT_SNAT_PORTS.max}`,
        );
        assert.equal(
          out.sport,
          homePort(conn.clientPort, DEFAULT_SNAT_PORTS),
          "the client's port mapped into the range (not the client's port: that is the host's range)",
        );
        assert.equal(out.seq, conn.isn, 'the SYN keeps its sequence number');
        assert.equal(out.flags, TCP_SYN);
        assert.deepEqual(
          out.options,
          synOptions,
          "the client's SYN options (its MSS too) are left as they are",
        );

        const orig = conn.orig();
        assert.equal(orig.kind, 'orig');
        assert.equal(orig.state, 'syn_sent');
        assert.equal(orig.mode, 'fullnat');
        assert.equal(orig.serviceId, s.fullnat.id);
        assert.equal(orig.clientIsn, conn.isn);
        assert.equal(orig.ppv2Len, s.fullnat.n);
        assert.ok(orig.flags.ppv2 && !orig.flags.headerSent);
        assert.deepEqual(orig.peer, { ...conn.replyKey, protocol: 'tcp', family });
        const reply = h.conntrackEntry(conn.replyKey);
        assert.ok(reply, 'the REPLY entry is keyed by what the backend will send');
        assert.equal(reply.kind, 'reply');
        assert.deepEqual(reply.peer, { ...conn.origKey, protocol: 'tcp', family });
        assert.equal(h.counters(s.fullnat.id).conn_new, before.conn_new + 1n);
      });

      it('a client SYN to a dnat service: only the destination changes', () => {
        const conn = new Connection(h, family, s.dnat, 40002, []);
        const syn = conn.fromClient({
          seq: conn.isn,
          ack: 0,
          flags: TCP_SYN,
          options: [{ kind: 'mss', value: CLIENT_MSS }],
        });
        const out = assertWellFormed(syn, h.run(syn, 'client'));
        assert.deepEqual(
          [out.src, out.dst, out.sport, out.dport],
          [net.client, net.backend, conn.clientPort, BACKEND_PORT],
        );
        assert.equal(conn.orig().mode, 'dnat');
        assert.ok(h.conntrackEntry(conn.replyKey), 'REPLY entry keyed backend -> client');
      });

      for (const svc of [s.fullnat, s.dnat, s.v1]) {
        const what = svc.version === 1 ? "this connection's v1 line" : `the header length (${svc.n})`;
        it(`the SYN-ACK (${svc.mode}, v${svc.version}): back to VIP -> client, MSS lowered by ${what}, established`, () => {
          const conn = new Connection(h, family, svc, 40010 + svc.id, []);
          const syn = conn.fromClient({
            seq: conn.isn,
            ack: 0,
            flags: TCP_SYN,
            options: [{ kind: 'mss', value: CLIENT_MSS }],
          });
          h.run(syn, 'client');
          const before = h.counters(svc.id);
          const synAck = conn.fromBackend({
            seq: conn.backendIsn,
            ack: seqAdd(conn.isn, 1),
            flags: TCP_SYN | TCP_ACK,
            options: [
              { kind: 'mss', value: CLIENT_MSS },
              { kind: 'nop' },
              { kind: 'wscale', shift: 7 },
              { kind: 'sackPermitted' },
            ],
          });
          const out = assertWellFormed(synAck, h.run(synAck, 'backend'));
          assert.deepEqual(
            [out.src, out.dst, out.sport, out.dport],
            [net.vip, net.client, svc.port, conn.clientPort],
          );
          assert.equal(out.ack, seqAdd(conn.isn, 1), 'nothing to shift before the header');
          assert.equal(out.seq, conn.backendIsn);
          assert.equal(findOption(out.options, 'mss')?.value, CLIENT_MSS - conn.n);
          assert.deepEqual(out.options.slice(1), [
            { kind: 'nop' },
            { kind: 'wscale', shift: 7 },
            { kind: 'sackPermitted' },
          ]);
          assert.equal(conn.orig().state, 'established');
          assert.equal(h.counters(svc.id).mss_clamped, before.mss_clamped + 1n);
        });
      }

      it('the SYN-ACK MSS: a small one is left alone, a jumbo one is capped at what the insertion can move', () => {
        for (const [port, mss, expected] of [
          [40020, s.fullnat.n + 88, s.fullnat.n + 88],
          [40021, 65495, 9216],
        ] as const) {
          const conn = new Connection(h, family, s.fullnat, port, []);
          h.run(conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN }), 'client');
          const synAck = conn.fromBackend({
            seq: conn.backendIsn,
            ack: seqAdd(conn.isn, 1),
            flags: TCP_SYN | TCP_ACK,
            options: [{ kind: 'mss', value: mss }],
          });
          const out = assertWellFormed(synAck, h.run(synAck, 'backend'));
          assert.equal(findOption(out.options, 'mss')?.value, expected, `backend MSS ${mss}`);
        }
      });

      it('a service without PPv2: NAT only, no header, no shift, no clamp', () => {
        const conn = new Connection(h, family, s.plain, 40030, TIMESTAMPS);
        conn.handshake();
        const data = conn.clientData(0, REQUEST);
        const out = assertWellFormed(data, h.run(data, 'client'));
        assert.deepEqual(out.payload, REQUEST);
        assert.equal(out.seq, seqAdd(conn.isn, 1));
        const synAckMss = conn.fromBackend({
          seq: conn.backendIsn,
          ack: seqAdd(conn.isn, 1),
          flags: TCP_SYN | TCP_ACK,
          options: [{ kind: 'mss', value: CLIENT_MSS }],
        });
        assert.equal(
          findOption(parseFrame(h.run(synAckMss, 'backend').frame).options, 'mss')?.value,
          CLIENT_MSS,
        );
        assert.equal(h.counters(s.plain.id).ppv2_injected, 0n);
      });

      for (const [svc, options, label] of [
        [s.fullnat, TIMESTAMPS, 'fullnat, timestamps'],
        [s.dnat, [], 'dnat, no TCP options (doff=5)'],
        [s.v1, TIMESTAMPS, 'PROXY v1, fullnat, timestamps, odd length'],
        [s.v1dnat, [], 'PROXY v1, dnat, no TCP options (doff=5), even length'],
      ] as const) {
        describe(`a PPv2 connection (${label})`, () => {
          // one connection through the steps below, in order (made once the harness is open)
          let conn: Connection;
          let firstOut: Buffer;

          /** The header as the backend must get it: the right length, client and VIP, the TLVs asked for. */
          const checkHeader = (payload: Buffer) => {
            if (svc.version === 1) {
              checkV1Line(payload, conn);
              return;
            }
            const { header, consumed } = decodeInjected(payload);
            assert.equal(consumed, conn.n, 'header length = the shift recorded in conntrack');
            assert.equal(conn.orig().ppv2Len, conn.n);
            assert.equal(header.command, 'PROXY');
            assert.equal(header.family, family === 4 ? 'INET' : 'INET6');
            assert.equal(header.transport, 'STREAM');
            assert.deepEqual(
              [header.src, header.srcPort, header.dst, header.dstPort],
              [net.client, conn.clientPort, net.vip, svc.port],
            );
            const types = header.tlvs.map((t) => t.type);
            if (svc.idAndCrc) {
              assert.deepEqual(
                types,
                [TlvType.UNIQUE_ID, TlvType.CRC32C],
                'the codec verified the CRC32C value',
              );
              const uid = Buffer.from(header.tlvs[0]?.value ?? []);
              assert.deepEqual(uid.subarray(0, 8), BOOT_ID, 'UNIQUE_ID starts with the boot id');
              assert.deepEqual(uid, conn.orig().uniqueId);
            } else {
              assert.deepEqual(types, []);
            }
          };

          it('the handshake-completing ACK carries the header alone: lengths, checksums, client address, VIP', () => {
            conn = new Connection(h, family, svc, 41000 + svc.id, options);
            const before = h.counters(svc.id);
            const { ack, result } = conn.handshake();
            const out = assertWellFormed(ack, result);
            firstOut = result.frame;
            assert.deepEqual(
              [out.seq, out.ack, out.flags],
              [seqAdd(conn.isn, 1), seqAdd(conn.backendIsn, 1), TCP_ACK],
            );
            assert.equal(out.payload.length, conn.n, 'the header and nothing else');
            assert.equal(result.frame.length, ack.length + conn.n);
            assert.deepEqual(out.options, parseFrame(ack).options);
            checkHeader(out.payload);
            const e = conn.orig();
            assert.ok(e.flags.headerSent && !e.flags.dataSent && !e.flags.headerAcked);
            const after = h.counters(svc.id);
            assert.equal(after.ppv2_injected, before.ppv2_injected + 1n);
            assert.equal(after.ppv2_hdr_alone, before.ppv2_hdr_alone + 1n);
            assert.equal(after.ppv2_hdr_with_data, before.ppv2_hdr_with_data);
          });

          it('the same ACK again (the header segment was lost, the SYN-ACK came again) gets the identical header', () => {
            const before = h.counters(svc.id);
            const again = h.run(conn.fromClient(ackSegment(conn)), 'client');
            assert.equal(again.retval, TC_ACT.REDIRECT);
            assert.deepEqual(again.frame, firstOut, 'byte for byte the first output');
            assert.equal(conn.orig().reinjections, 1);
            assert.equal(h.counters(svc.id).ppv2_reinjected, before.ppv2_reinjected + 1n);
          });

          it('the first data, before the backend acknowledged the header, goes shifted behind it, without a header', () => {
            const before = h.counters(svc.id);
            const data = conn.clientData(0, REQUEST);
            const out = assertWellFormed(data, h.run(data, 'client'));
            assert.equal(out.seq, seqAdd(conn.isn, 1 + conn.n));
            assert.deepEqual(out.payload, REQUEST);
            assert.ok(conn.orig().flags.dataSent);
            assert.equal(h.counters(svc.id).ppv2_reinjected, before.ppv2_reinjected);
          });

          it('that data sent again while the header is unacknowledged gets the identical header in front', () => {
            const before = h.counters(svc.id);
            const data = conn.clientData(0, REQUEST);
            const result = h.run(data, 'client');
            const out = assertWellFormed(data, result);
            assert.equal(out.seq, seqAdd(conn.isn, 1), 'the header takes the place of the first byte again');
            assert.equal(out.payload.length, conn.n + REQUEST.length);
            assert.deepEqual(
              out.payload.subarray(0, conn.n),
              parseFrame(firstOut).payload,
              'the same header',
            );
            assert.deepEqual(out.payload.subarray(conn.n), REQUEST, 'the payload follows intact');
            assert.equal(conn.orig().reinjections, 2);
            assert.equal(h.counters(svc.id).ppv2_reinjected, before.ppv2_reinjected + 1n);
          });

          it("the backend's ACK of the header: mapped to ISN+1 for the client, and the header is never sent again", () => {
            const out = parseFrame(conn.backendAck(0).frame);
            assert.equal(
              out.ack,
              seqAdd(conn.isn, 1),
              'the client never sees an ack of bytes it did not send',
            );
            assert.ok(conn.orig().flags.headerAcked);
            assert.ok(h.conntrackEntry(conn.replyKey)?.flags.headerAcked, 'the REPLY entry too');
            const before = h.counters(svc.id);
            const data = conn.clientData(0, REQUEST);
            const again = assertWellFormed(data, h.run(data, 'client'));
            assert.equal(again.seq, seqAdd(conn.isn, 1 + conn.n), 'a retransmission now goes shifted');
            assert.deepEqual(again.payload, REQUEST);
            const ack = conn.fromClient(ackSegment(conn));
            assert.equal(parseFrame(h.run(ack, 'client').frame).payload.length, 0, 'a bare ACK stays bare');
            assert.equal(h.counters(svc.id).ppv2_reinjected, before.ppv2_reinjected);
          });

          it('later client segments: seq += header length, payload untouched', () => {
            const data = conn.clientData(REQUEST.length, SECOND);
            const out = assertWellFormed(data, h.run(data, 'client'));
            assert.equal(out.seq, seqAdd(conn.isn, 1 + conn.n + REQUEST.length));
            assert.deepEqual(out.payload, SECOND);
          });

          it('backend segments: ack -= header length, SACK blocks shifted, an ack inside the header maps to its start', () => {
            const before = h.counters(svc.id);
            const sent = REQUEST.length + SECOND.length;
            const bAck = (clientOffset: number) => seqAdd(conn.isn, 1 + conn.n + clientOffset); // backend space
            const cAck = (clientOffset: number) => seqAdd(conn.isn, 1 + clientOffset);
            const sackOptions: TcpOption[] = [
              ...(options.length ? TIMESTAMPS : []),
              { kind: 'nop' },
              { kind: 'nop' },
              {
                kind: 'sack',
                blocks: [
                  [bAck(sent + 100), bAck(sent + 200)],
                  [bAck(sent + 300), bAck(sent + 400)],
                ],
              },
            ];
            const seg = conn.fromBackend({
              seq: seqAdd(conn.backendIsn, 1),
              ack: bAck(sent),
              flags: TCP_ACK | TCP_PSH,
              options: sackOptions,
              payload: Buffer.from('HTTP/1.1 200 OK\r\n\r\n'),
            });
            const out = assertWellFormed(seg, h.run(seg, 'backend'));
            assert.deepEqual(
              [out.src, out.dst, out.sport, out.dport],
              [net.vip, net.client, svc.port, conn.clientPort],
            );
            assert.equal(out.ack, cAck(sent));
            assert.deepEqual(findOption(out.options, 'sack')?.blocks, [
              [cAck(sent + 100), cAck(sent + 200)],
              [cAck(sent + 300), cAck(sent + 400)],
            ]);
            if (options.length) assert.deepEqual(findOption(out.options, 'timestamps'), TIMESTAMPS[2]);
            assert.equal(h.counters(svc.id).sack_shifted, before.sack_shifted + 1n);

            const partial = conn.fromBackend({
              seq: seqAdd(conn.backendIsn, 1),
              ack: seqAdd(conn.isn, 1 + 10),
              flags: TCP_ACK,
            });
            assert.equal(
              assertWellFormed(partial, h.run(partial, 'backend')).ack,
              cAck(0),
              'acking part of the header',
            );
          });

          it('FIN from the client, then from the backend: shifted, and the connection closes', () => {
            const sent = REQUEST.length + SECOND.length;
            const fin = conn.clientData(sent, Buffer.alloc(0), TCP_FIN | TCP_ACK);
            const out = assertWellFormed(fin, h.run(fin, 'client'));
            assert.equal(out.seq, seqAdd(conn.isn, 1 + conn.n + sent));
            assert.equal(out.flags, TCP_FIN | TCP_ACK);
            let e = conn.orig();
            assert.equal(e.state, 'fin');
            assert.ok(e.flags.finFromClient && !e.flags.finFromBackend);

            const bFin = conn.fromBackend({
              seq: seqAdd(conn.backendIsn, 1 + 19),
              ack: seqAdd(conn.isn, 1 + conn.n + sent + 1),
              flags: TCP_FIN | TCP_ACK,
              options,
            });
            const bOut = assertWellFormed(bFin, h.run(bFin, 'backend'));
            assert.equal(
              bOut.ack,
              seqAdd(conn.isn, 1 + sent + 1),
              "the client's FIN acknowledged in its own space",
            );
            e = conn.orig();
            assert.equal(e.state, 'closed');
            assert.ok(e.flags.finFromClient && e.flags.finFromBackend);
          });
        });
      }

      it("a client's own (forged) PPv2 header, even in the handshake-completing segment, stays payload behind ours", () => {
        const conn = new Connection(h, family, s.dnat, 42010, []);
        conn.open();
        const before = h.counters(s.dnat.id);
        const forged = Buffer.concat([
          Buffer.from('0d0a0d0a000d0a515549540a2111000c', 'hex'),
          Buffer.from([198, 51, 100, 66, 203, 0, 113, 66, 0x30, 0x39, 0, 80]),
          REQUEST,
        ]);
        const data = conn.clientData(0, forged);
        const out = assertWellFormed(data, h.run(data, 'client'));
        const { header, consumed } = decodeInjected(out.payload);
        assert.deepEqual(
          [header.src, header.srcPort],
          [net.client, conn.clientPort],
          'ours first, with the real client',
        );
        assert.deepEqual(out.payload.subarray(consumed), forged, 'the forged one follows as plain payload');
        assert.equal(h.counters(s.dnat.id).ppv2_hdr_with_data, before.ppv2_hdr_with_data + 1n);
      });

      it('a SYN carrying data (TCP Fast Open) to a PPv2 service is dropped and counted', () => {
        const conn = new Connection(h, family, s.fullnat, 42011, []);
        const before = h.counters(s.fullnat.id);
        const syn = conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN, payload: REQUEST });
        assert.equal(h.run(syn, 'client').retval, TC_ACT.SHOT);
        assert.equal(h.counters(s.fullnat.id).ppv2_syn_data, before.ppv2_syn_data + 1n);
      });

      for (const svc of [s.fullnat, s.v1]) {
        it(`a GSO handshake-completing segment is cut to one segment before the header (v${svc.version}) goes in (the rest is retransmitted)`, () => {
          const conn = new Connection(h, family, svc, 42012 + svc.id, TIMESTAMPS);
          conn.open();
          const before = h.counters(svc.id);
          const big = Buffer.alloc(3000, 'x');
          const gsoSize = 1000;
          const data = conn.clientData(0, big, TCP_ACK | TCP_PSH | TCP_FIN);
          // No TCP checksum check here: a test run's skb is CHECKSUM_NONE, while a real GSO (or GRO) packet is
          // always CHECKSUM_PARTIAL, whose th->check holds only the pseudo-header sum; the cut bytes' share of a
          // full sum is never subtracted, nor needs to be. The end-to-end GSO case checks it on the wire.
          const result = h.run(data, 'client', { gsoSize });
          const out = assertWellFormed(data, result, { tcpChecksum: false });
          assert.equal(
            result.frame.length,
            data.length - big.length + conn.n + gsoSize,
            'no bytes past the cut',
          );
          const consumed = svc.version === 1 ? conn.n : decodeInjected(out.payload).consumed;
          if (svc.version === 1) checkV1Line(out.payload, conn);
          assert.equal(consumed, conn.n);
          assert.deepEqual(
            out.payload.subarray(consumed),
            big.subarray(0, gsoSize),
            'only the first gso_size bytes',
          );
          assert.equal(out.flags & TCP_FIN, 0, 'the FIN went with the cut bytes');
          assert.equal(h.counters(svc.id).ppv2_gso_trimmed, before.ppv2_gso_trimmed + 1n);
        });
      }

      it("PROXY v1: the line is the encoder's, byte for byte, for many clients and ports; data moved behind it keeps a valid checksum", () => {
        const clients =
          family === 4
            ? ['192.0.2.1', '192.0.2.10', '192.0.2.255', '198.51.100.100', '203.0.113.7']
            : [
                '2001:db8:1::10',
                '2001:db8::1',
                '2001:db8:0:1:0:0:0:1', // the longer run is compressed
                '2001:db8:0:0:1:0:0:1', // a tie: the first run
                '2001:db8:1:2:3:4:5:6', // no zero group
                '2001:db8:a:bcd:ef01:0:23:0', // single zero groups stay
                '2001:0:0:1::', // a run at the end
                '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', // the longest text
                '::ffff:192.0.2.1', // IPv4-mapped: mixed notation
              ];
        const forged =
          family === 4
            ? 'PROXY TCP4 198.51.100.66 203.0.113.66 12345 80\r\nGET / HTTP/1.0\r\n\r\n'
            : 'PROXY TCP6 2001:db8::66 2001:db8::67 12345 80\r\nGET / HTTP/1.0\r\n\r\n';
        const pattern = (length: number) =>
          Buffer.from(Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff));
        // odd and even lengths, one chunk and several (the insertion moves 256 bytes at a time), a forged line
        const payloads = [
          REQUEST,
          pattern(1),
          pattern(1001),
          pattern(512),
          pattern(257),
          Buffer.from(forged),
        ];
        const ports = [1, 9, 10, 99, 100, 1000, 9999, 10000, 65535];
        let k = 0;
        for (const client of clients) {
          for (const svc of [s.v1, s.v1dnat]) {
            for (const payload of payloads) {
              const clientPort = ports[k++ % ports.length] ?? 1;
              const what = `${client} port ${clientPort} to :${svc.port}, ${payload.length} bytes`;
              const frame = (seg: Omit<Segment, 'src' | 'dst' | 'sport' | 'dport'>) =>
                buildFrame({ src: client, dst: net.vip, sport: clientPort, dport: svc.port, ...seg });
              const isn = 0x1000_0000 + k;
              const syn = frame({
                seq: isn,
                ack: 0,
                flags: TCP_SYN,
                options: [{ kind: 'mss', value: CLIENT_MSS }],
              });
              assert.equal(h.run(syn, 'client').retval, TC_ACT.REDIRECT, what);
              // client first: its data at ISN+1 (before the SYN-ACK) takes the line in front
              const data = frame({ seq: seqAdd(isn, 1), ack: 0x1234, flags: TCP_ACK | TCP_PSH, payload });
              const out = assertWellFormed(data, h.run(data, 'client'));
              const line = Buffer.from(
                encodeV1({
                  version: 1,
                  command: 'PROXY',
                  family: family === 4 ? 'INET' : 'INET6',
                  src: client,
                  dst: net.vip,
                  srcPort: clientPort,
                  dstPort: svc.port,
                }),
              );
              assert.equal(
                out.payload.toString('latin1'),
                line.toString('latin1') + payload.toString('latin1'),
                what,
              );
              assert.equal(out.seq, seqAdd(isn, 1), what);
              const e = h.conntrackEntry({
                saddr: client,
                daddr: net.vip,
                sport: clientPort,
                dport: svc.port,
              });
              assert.equal(e?.ppv2Len, line.length, `${what}: the shift recorded at the SYN`);
              assert.ok(e?.flags.proxyV1, what);
              const later = frame({
                seq: seqAdd(isn, 1 + payload.length),
                ack: 0x1234,
                flags: TCP_ACK,
                payload: SECOND,
              });
              const laterOut = assertWellFormed(later, h.run(later, 'client'));
              assert.equal(laterOut.seq, seqAdd(isn, 1 + line.length + payload.length), `${what}: shifted`);
            }
          }
        }
      });

      it('two clients on the same source port to the same backend (fullnat): each its own SNAT port, replies to each', () => {
        const a = new Connection(h, family, s.fullnat, 44000, []);
        const synA = a.fromClient({ seq: a.isn, ack: 0, flags: TCP_SYN });
        const outA = assertWellFormed(synA, h.run(synA, 'client'));
        const client2 = family === 4 ? '192.0.2.11' : '2001:db8:1::11';
        const synB = buildFrame({
          src: client2,
          dst: net.vip,
          sport: 44000,
          dport: 80,
          seq: 5,
          ack: 0,
          flags: TCP_SYN,
        });
        const outB = assertWellFormed(synB, h.run(synB, 'client'));
        assert.deepEqual([outA.src, outB.src], [net.snat, net.snat]);
        assert.notEqual(outB.sport, outA.sport, 'two connections, two SNAT ports');
        const replyB = buildFrame({
          src: net.backend,
          dst: net.snat,
          sport: BACKEND_PORT,
          dport: outB.sport,
          seq: 9,
          ack: 6,
          flags: TCP_SYN | TCP_ACK,
        });
        const back = assertWellFormed(replyB, h.run(replyB, 'backend'));
        assert.deepEqual(
          [back.dst, back.dport],
          [client2, 44000],
          "the second port's replies reach the second client",
        );
      });

      it("a client's SNAT port is its port mapped into the range, the same again when it reuses its port", () => {
        const conn = new Connection(h, family, s.fullnat, 33001, []);
        const before = h.counters(s.fullnat.id);
        const syn = conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN });
        const first = assertWellFormed(syn, h.run(syn, 'client'));
        assert.equal(first.sport, homePort(33001, DEFAULT_SNAT_PORTS));
        h.run(conn.fromClient({ seq: seqAdd(conn.isn, 1), ack: 0, flags: TCP_RST }), 'client');
        // The client reuses its port at once (its tuple is CLOSED, not idle): the tuple is recycled, same port.
        const again = conn.fromClient({ seq: seqAdd(conn.isn, 7_000_000), ack: 0, flags: TCP_SYN });
        const second = assertWellFormed(again, h.run(again, 'client'));
        assert.equal(second.sport, first.sport, 'its own closed tuple, taken again');
        const after = h.counters(s.fullnat.id);
        assert.deepEqual(
          [after.conn_recycled, after.snat_port_collision, after.snat_port_reclaimed],
          [before.conn_recycled + 1n, before.snat_port_collision, before.snat_port_reclaimed],
          'recycled, without a collision',
        );
      });

      it('SNAT ports in a small range: a taken port moves on in range; closed ones are reclaimed, the same client first', () => {
        // 4 ports of this family's own; client ports 4 apart share one home port.
        const range = { min: 20000 + 10 * family, max: 20003 + 10 * family };
        const client2 = family === 4 ? '192.0.2.12' : '2001:db8:1::12';
        h.configure({ snatPorts: range });
        try {
          const base = 45000;
          const home = homePort(base, range);
          const syn = (src: string, sport: number, isn: number) =>
            buildFrame({ src, dst: net.vip, sport, dport: s.fullnat.port, seq: isn, ack: 0, flags: TCP_SYN });
          const open = (src: string, sport: number) => h.run(syn(src, sport, 0x1000 + sport), 'client');
          const sportOf = (r: RunResult) => {
            assert.equal(r.retval, TC_ACT.REDIRECT, 'forwarded');
            return parseFrame(r.frame).sport;
          };
          const close = (src: string, sport: number) =>
            h.run(
              buildFrame({
                src,
                dst: net.vip,
                sport,
                dport: s.fullnat.port,
                seq: 0x1001 + sport,
                ack: 0,
                flags: TCP_RST,
              }),
              'client',
            );
          const key = (src: string, sport: number) => ({
            saddr: src,
            daddr: net.vip,
            sport,
            dport: s.fullnat.port,
          });
          const c = (delta: keyof Counters) => h.counters(s.fullnat.id)[delta];

          const collisions = c('snat_port_collision');
          const held = [0, 4, 8, 12].map((d) => sportOf(open(net.client, base + d)));
          assert.deepEqual(
            held,
            [0, 1, 2, 3].map((i) => range.min + ((home - range.min + i) % 4)),
            'the home port, then the next ports in turn',
          );
          assert.equal(c('snat_port_collision'), collisions + 3n, 'three found their home port taken');

          const exhausted = c('drop_snat_exhausted');
          assert.notEqual(open(net.client, base + 16).retval, TC_ACT.REDIRECT, 'a fifth: no port free');
          assert.equal(c('drop_snat_exhausted'), exhausted + 1n);
          assert.equal(h.conntrackEntry(key(net.client, base + 16)), undefined, 'and not tracked');

          close(net.client, base); // closed just now: its last FIN or ACK may still come
          assert.notEqual(
            open(net.client, base + 16).retval,
            TC_ACT.REDIRECT,
            'a closed port is not taken at once',
          );
          assert.ok(h.ageConnection(key(net.client, base), 1.5));
          const reclaimed = c('snat_port_reclaimed');
          assert.equal(
            sportOf(open(net.client, base + 16)),
            home,
            'closed and idle 1 s: the same client takes it',
          );
          assert.equal(c('snat_port_reclaimed'), reclaimed + 1n);
          assert.equal(h.conntrackEntry(key(net.client, base)), undefined, 'the closed connection is gone');

          // Another client finds only the first client's ports: a closed, idle one is its last resort.
          close(net.client, base + 4);
          h.ageConnection(key(net.client, base + 4), 1.5);
          assert.equal(sportOf(open(client2, base)), held[1], "no port free: another client's closed one");
          assert.equal(c('snat_port_reclaimed'), reclaimed + 2n);

          // Both kinds closed and idle: the first client takes its own (later in its walk) over the other's.
          close(client2, base);
          h.ageConnection(key(client2, base), 1.5);
          close(net.client, base + 12);
          h.ageConnection(key(net.client, base + 12), 1.5);
          assert.equal(
            sportOf(open(net.client, base + 20)),
            held[3],
            "its own closed port, not another client's",
          );
          const replies = buildFrame({
            src: net.backend,
            dst: net.snat,
            sport: BACKEND_PORT,
            dport: held[3] ?? 0,
            seq: 9,
            ack: 0x1001 + base + 20,
            flags: TCP_SYN | TCP_ACK,
          });
          const back = assertWellFormed(replies, h.run(replies, 'backend'));
          assert.deepEqual(
            [back.dst, back.dport],
            [net.client, base + 20],
            'its replies reach the new owner',
          );
        } finally {
          h.configure({ snatPorts: { min: 0, max: 0 } });
        }
      });

      it("a stale TIME_WAIT's ACK, the client's reset, its SYN again: the SYN-ACK reopens the connection", () => {
        const conn = new Connection(h, family, s.fullnat, 45100, []);
        const syn = conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN });
        assert.equal(h.run(syn, 'client').retval, TC_ACT.REDIRECT);
        // The backend's TIME_WAIT of an earlier connection on this tuple answers with that one's ACK ...
        const stale = conn.fromBackend({ seq: 0x5000, ack: 0x6000, flags: TCP_ACK });
        assert.equal(h.run(stale, 'backend').retval, TC_ACT.REDIRECT);
        // ... which the client resets (seq = that ack), and the reset closes the tuple.
        h.run(conn.fromClient({ seq: 0x6000, ack: 0, flags: TCP_RST }), 'client');
        assert.equal(conn.orig().state, 'closed');
        assert.equal(h.run(syn, 'client').retval, TC_ACT.REDIRECT, 'the same SYN again, a second later');
        const synAck = conn.fromBackend({
          seq: conn.backendIsn,
          ack: seqAdd(conn.isn, 1),
          flags: TCP_SYN | TCP_ACK,
        });
        assert.equal(h.run(synAck, 'backend').retval, TC_ACT.REDIRECT);
        assert.equal(
          conn.orig().state,
          'established',
          'live again: its SNAT port is not a closed one to reclaim',
        );
      });

      it("fullnat without --snat: each backend's connections come from that backend's own source address", () => {
        const svc = sourceServices(family).perBackend;
        const sourceOf = new Map(svc.backends.map((b) => [b.addr, b.srcAddr]));
        // backend -> [client port, SNAT port] of a connection that went to it
        const seen = new Map<string, [number, number]>();
        for (let port = 45000; port < 45064 && seen.size < 2; port++) {
          const syn = clientSegment(family, port, svc.port, 1, 0, TCP_SYN);
          const out = assertWellFormed(syn, h.run(syn, 'client'));
          assert.ok(sourceOf.has(out.dst), `went to a backend of the service: ${out.dst}`);
          assert.equal(out.src, sourceOf.get(out.dst), `the source towards ${out.dst} is its own`);
          if (!seen.has(out.dst)) seen.set(out.dst, [port, out.sport]);
        }
        assert.equal(seen.size, 2, 'both backends were picked');
        // The second subnet's backend answers its own source address; the answer goes back as VIP -> client.
        const [port, snatPort] = seen.get(net.backend2) as [number, number];
        const synAck = buildFrame({
          src: net.backend2,
          dst: net.src2,
          sport: BACKEND_PORT,
          dport: snatPort,
          seq: 9,
          ack: 2,
          flags: TCP_SYN | TCP_ACK,
        });
        const back = assertWellFormed(synAck, h.run(synAck, 'backend2'));
        assert.deepEqual([back.src, back.sport, back.dst, back.dport], [net.vip, svc.port, net.client, port]);
        // Its header names the real client, not the source address the backend saw.
        const ack = clientSegment(family, port, svc.port, 2, 10, TCP_ACK);
        const first = assertWellFormed(ack, h.run(ack, 'client'));
        assert.equal(first.src, net.src2);
        const { header } = decodeInjected(first.payload);
        assert.deepEqual(
          [header.src, header.srcPort, header.dst, header.dstPort],
          [net.client, port, net.vip, svc.port],
        );
      });

      it("a --snat override wins over the backends' own source addresses", () => {
        const svc = sourceServices(family).overridden;
        const targets = new Set<string>();
        for (let port = 45100; port < 45164 && targets.size < 2; port++) {
          const syn = clientSegment(family, port, svc.port, 1, 0, TCP_SYN);
          const out = assertWellFormed(syn, h.run(syn, 'client'));
          assert.equal(out.src, net.snat);
          targets.add(out.dst);
        }
        assert.equal(targets.size, 2, 'both backends were picked');
      });

      it('fullnat with no source address at all (a record lbctl never writes) is dropped as drop_no_backend', () => {
        const svc = sourceServices(family).unset;
        const before = h.counters(svc.id);
        const syn = clientSegment(family, 45200, svc.port, 1, 0, TCP_SYN);
        assert.equal(h.run(syn, 'client').retval, TC_ACT.SHOT);
        assert.equal(h.counters(svc.id).drop_no_backend, before.drop_no_backend + 1n);
        assert.equal(
          h.conntrack().filter((c) => c.key.sport === 45200 || c.key.dport === 45200).length,
          0,
          'no conntrack entry is left behind',
        );
      });

      it('a retransmitted SYN keeps its connection; a new SYN on a closed tuple recycles it', () => {
        const conn = new Connection(h, family, s.dnat, 44100, []);
        const syn = conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN });
        h.run(syn, 'client');
        const before = h.counters(s.dnat.id);
        assert.equal(h.run(syn, 'client').retval, TC_ACT.REDIRECT);
        assert.equal(h.counters(s.dnat.id).conn_new, before.conn_new, 'the same connection');
        h.run(conn.fromClient({ seq: seqAdd(conn.isn, 1), ack: 0, flags: TCP_RST }), 'client');
        assert.equal(conn.orig().state, 'closed');
        const again = conn.fromClient({ seq: seqAdd(conn.isn, 100_000), ack: 0, flags: TCP_SYN });
        assert.equal(h.run(again, 'client').retval, TC_ACT.REDIRECT);
        const after = h.counters(s.dnat.id);
        assert.equal(after.conn_recycled, before.conn_recycled + 1n);
        assert.equal(after.conn_new, before.conn_new + 1n);
        assert.deepEqual([conn.orig().state, conn.orig().clientIsn], ['syn_sent', seqAdd(conn.isn, 100_000)]);
      });

      it("a service deleted between the SYN and the handshake's ACK: the header of its SYN, custom TLVs as NOOP", () => {
        const conn = new Connection(h, family, s.custom, 44200, []);
        conn.open();
        const kept = new Connection(h, family, s.custom, 44201, []);
        kept.open();
        const first = kept.fromClient(ackSegment(kept));
        const withService = decodeInjected(assertWellFormed(first, h.run(first, 'client')).payload);
        assert.deepEqual(
          withService.header.tlvs.map((t) => [t.type, Buffer.from(t.value).toString()]),
          [[0xe0, 'abc']],
          'while the service exists: its custom TLV',
        );
        h.deleteService(net.vip, s.custom.port);
        try {
          const before = h.counters(s.custom.id);
          const ack = conn.fromClient(ackSegment(conn));
          const out = assertWellFormed(ack, h.run(ack, 'client'));
          const { header, consumed } = decodeInjected(out.payload);
          assert.equal(consumed, s.custom.n, 'the length promised at SYN time');
          assert.deepEqual([header.src, header.srcPort, header.dst], [net.client, conn.clientPort, net.vip]);
          assert.deepEqual(
            header.tlvs.map((t) => t.type),
            [TlvType.NOOP],
          );
          assert.equal(h.counters(s.custom.id).ppv2_no_service, before.ppv2_no_service + 1n);
        } finally {
          addServices(h, family); // put it back for the cases after this one
        }
      });

      it("a client RST instead of the handshake's ACK: not shifted (no header went out), the connection closes", () => {
        const conn = new Connection(h, family, s.fullnat, 42001, []);
        conn.open();
        const rst = conn.fromClient({ seq: seqAdd(conn.isn, 1), ack: 0, flags: TCP_RST });
        const out = assertWellFormed(rst, h.run(rst, 'client'));
        assert.equal(out.seq, seqAdd(conn.isn, 1));
        assert.equal(out.flags, TCP_RST);
        assert.equal(conn.orig().state, 'closed');
        assert.ok(!conn.orig().flags.headerSent);
      });

      it('a header that cannot be written gives its claim back: the next try sends it as the first', () => {
        // A v1 line whose length no longer matches the one recorded at the SYN cannot be written.
        const conn = new Connection(h, family, s.v1, 42006, []);
        conn.open();
        const before = h.counters(s.v1.id);
        h.setConntrackField(conn.origKey, 'ppv2_len', conn.n + 2);
        const ack = conn.fromClient({
          seq: seqAdd(conn.isn, 1),
          ack: seqAdd(conn.backendIsn, 1),
          flags: TCP_ACK,
        });
        assert.equal(h.run(ack, 'client').retval, TC_ACT.SHOT, 'dropped without its header');
        assert.equal(h.counters(s.v1.id).ppv2_fail_write, before.ppv2_fail_write + 1n);
        assert.ok(!conn.orig().flags.headerSent, 'no header went out');
        // The backend's SYN-ACK comes again, and so does the client's ACK: now the header goes, as the first.
        h.setConntrackField(conn.origKey, 'ppv2_len', conn.n);
        const out = assertWellFormed(ack, h.run(ack, 'client'));
        assert.deepEqual(out.payload, conn.expectedV1Line());
        const after = h.counters(s.v1.id);
        assert.equal(after.ppv2_injected, before.ppv2_injected + 1n);
        assert.equal(after.ppv2_hdr_alone, before.ppv2_hdr_alone + 1n);
        assert.equal(after.ppv2_reinjected, before.ppv2_reinjected, 'not counted as a repeat');
        assert.ok(conn.orig().flags.headerSent);
      });

      it('a client RST after the header went: shifted into the backend sequence space', () => {
        const conn = new Connection(h, family, s.fullnat, 42005, []);
        conn.handshake();
        const rst = conn.fromClient({ seq: seqAdd(conn.isn, 1), ack: 0, flags: TCP_RST });
        const out = assertWellFormed(rst, h.run(rst, 'client'));
        assert.deepEqual([out.seq, out.flags], [seqAdd(conn.isn, 1 + s.fullnat.n), TCP_RST]);
        assert.equal(out.payload.length, 0, 'a reset never carries the header');
        assert.equal(conn.orig().state, 'closed');
      });

      it('a close right after the handshake: the FIN, before the header is acknowledged, takes it again; acked in the client space', () => {
        const conn = new Connection(h, family, s.fullnat, 42003, []);
        conn.handshake();
        const fin = conn.clientData(0, Buffer.alloc(0), TCP_FIN | TCP_ACK);
        const out = assertWellFormed(fin, h.run(fin, 'client'));
        assert.deepEqual([out.seq, out.flags], [seqAdd(conn.isn, 1), TCP_FIN | TCP_ACK]);
        assert.equal(decodeInjected(out.payload).consumed, s.fullnat.n, 'the header again, then the FIN');
        const bFin = conn.fromBackend({
          seq: seqAdd(conn.backendIsn, 1),
          ack: seqAdd(conn.isn, 1 + s.fullnat.n + 1),
          flags: TCP_FIN | TCP_ACK,
        });
        assert.equal(
          assertWellFormed(bFin, h.run(bFin, 'backend')).ack,
          seqAdd(conn.isn, 2),
          "the client's FIN acked in its own space",
        );
        const e = conn.orig();
        assert.equal(e.state, 'closed');
        assert.ok(e.flags.headerSent && e.flags.headerAcked);
      });

      it('a backend that refuses the connection (RST to the SYN): the reset reaches the client, closed', () => {
        const conn = new Connection(h, family, s.dnat, 42004, []);
        h.run(conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN }), 'client');
        const rst = conn.fromBackend({ seq: 0, ack: seqAdd(conn.isn, 1), flags: TCP_RST | TCP_ACK });
        const out = assertWellFormed(rst, h.run(rst, 'backend'));
        assert.deepEqual(
          [out.src, out.dst, out.dport, out.flags],
          [net.vip, net.client, conn.clientPort, TCP_RST | TCP_ACK],
        );
        assert.equal(out.ack, seqAdd(conn.isn, 1));
        assert.equal(conn.orig().state, 'closed');
      });

      it('a backend RST after the header: ack shifted back, the connection closes', () => {
        const conn = new Connection(h, family, s.dnat, 42002, []);
        conn.handshake();
        h.run(conn.clientData(0, REQUEST), 'client');
        const rst = conn.fromBackend({
          seq: seqAdd(conn.backendIsn, 1),
          ack: seqAdd(conn.isn, 1 + s.dnat.n + REQUEST.length),
          flags: TCP_RST | TCP_ACK,
        });
        const out = assertWellFormed(rst, h.run(rst, 'backend'));
        assert.equal(out.ack, seqAdd(conn.isn, 1 + REQUEST.length));
        assert.equal(conn.orig().state, 'closed');
      });

      it('while detach holds the datapath: tracked and service packets are dropped and counted, others pass', () => {
        const conn = new Connection(h, family, s.dnat, 44300, []);
        conn.open();
        h.configure({ detaching: 'hold' });
        try {
          const before = h.counters(s.dnat.id);
          assert.equal(h.run(conn.clientData(0, REQUEST), 'client').retval, TC_ACT.SHOT);
          const newSyn = buildFrame({
            src: net.client,
            dst: net.vip,
            sport: 44301,
            dport: s.dnat.port,
            seq: 1,
            ack: 0,
            flags: TCP_SYN,
          });
          assert.equal(h.run(newSyn, 'client').retval, TC_ACT.SHOT);
          assert.equal(h.counters(s.dnat.id).drop_detaching, before.drop_detaching + 2n);
          const other = buildFrame({
            src: net.client,
            dst: net.backend,
            sport: 44302,
            dport: 80,
            seq: 1,
            ack: 0,
            flags: TCP_SYN,
          });
          assert.equal(h.run(other, 'client').retval, TC_ACT.OK);
          assert.ok(!conn.orig().flags.headerSent, 'nothing went out: the header is still owed');
        } finally {
          h.configure({ detaching: null });
        }
      });

      it('while detach drains: a payload-free segment becomes a reset to the peer (translated, shifted)', () => {
        const conn = new Connection(h, family, s.fullnat, 44310, []);
        conn.handshake();
        h.run(conn.clientData(0, REQUEST), 'client');
        h.configure({ detaching: 'drain' });
        try {
          const before = h.counters(s.fullnat.id);
          const data = conn.clientData(REQUEST.length, SECOND);
          assert.equal(h.run(data, 'client').retval, TC_ACT.SHOT, 'payload is dropped, not reset');
          const ack = conn.clientData(REQUEST.length, Buffer.alloc(0), TCP_ACK);
          const out = assertWellFormed(ack, h.run(ack, 'client'));
          assert.equal(out.flags, TCP_RST | TCP_ACK);
          assert.deepEqual(
            [out.src, out.dst, out.sport, out.dport],
            [net.snat, net.backend, conn.peerAtBackend.port, BACKEND_PORT],
          );
          assert.equal(
            out.seq,
            seqAdd(conn.isn, 1 + s.fullnat.n + REQUEST.length),
            'in the backend sequence space',
          );
          const after = h.counters(s.fullnat.id);
          assert.equal(after.drain_resets, before.drain_resets + 1n);
          assert.equal(after.drop_detaching, before.drop_detaching + 1n);
          assert.equal(conn.orig().state, 'closed');
        } finally {
          h.configure({ detaching: null });
        }
      });

      it('with events on: each injected header is reported with its bytes, and a refused SYN with its reason', () => {
        const conn = new Connection(h, family, s.fullnat, 44400, []);
        h.configure({ events: true });
        try {
          h.takeEvents();
          const first = parseFrame(conn.handshake().result.frame);
          h.run(conn.clientData(0, REQUEST), 'client'); // shifted behind the header: no event
          h.run(conn.clientData(0, REQUEST), 'client'); // sent again before the header was acked: re-injected
          const tfo = new Connection(h, family, s.fullnat, 44401, []);
          h.run(tfo.fromClient({ seq: tfo.isn, ack: 0, flags: TCP_SYN, payload: REQUEST }), 'client');
          const events = h.takeEvents();
          assert.deepEqual(
            events.map((e) => [
              e.type,
              e.reason,
              e.serviceId,
              e.client.addr,
              e.client.port,
              e.vip.addr,
              e.vip.port,
            ]),
            [
              ['header_injected', null, s.fullnat.id, net.client, conn.clientPort, net.vip, 80],
              ['header_reinjected', null, s.fullnat.id, net.client, conn.clientPort, net.vip, 80],
              ['failure', 'ppv2_syn_data', s.fullnat.id, net.client, tfo.clientPort, net.vip, 80],
            ],
          );
          const injected = first.payload.subarray(0, s.fullnat.n);
          assert.deepEqual(events[0]?.header, injected, 'the reported bytes are the injected bytes');
          assert.deepEqual(events[1]?.header, injected);
        } finally {
          h.configure({ events: false });
        }
      });

      it('packets that are none of its business pass untouched (TC_ACT_OK, byte-identical)', () => {
        const entries = h.conntrack().length;
        const before = h.counters(0);
        const frames = [
          // another address, a VIP port with no service, and a reply-looking segment nobody tracks
          buildFrame({
            src: net.client,
            dst: net.backend,
            sport: 43000,
            dport: 80,
            seq: 1,
            ack: 0,
            flags: TCP_SYN,
          }),
          buildFrame({
            src: net.client,
            dst: net.vip,
            sport: 43001,
            dport: 9999,
            seq: 1,
            ack: 0,
            flags: TCP_SYN,
          }),
          buildFrame({
            src: net.backend,
            dst: net.client,
            sport: 80,
            dport: 43002,
            seq: 5,
            ack: 7,
            flags: TCP_ACK,
            payload: REQUEST,
          }),
        ];
        for (const frame of frames) {
          const result = h.run(frame, 'client');
          assert.equal(result.retval, TC_ACT.OK);
          assert.deepEqual(result.frame, frame);
        }
        assert.equal(h.conntrack().length, entries, 'no conntrack entry made');
        assert.equal(h.counters(0).fwd_packets, before.fwd_packets);
      });

      it('a non-SYN to a service without a connection is dropped and counted', () => {
        const before = h.counters(s.fullnat.id);
        const stray = buildFrame({
          src: net.client,
          dst: net.vip,
          sport: 43003,
          dport: 80,
          seq: 1,
          ack: 1,
          flags: TCP_ACK,
          payload: REQUEST,
        });
        assert.equal(h.run(stray, 'client').retval, TC_ACT.SHOT);
        assert.equal(h.counters(s.fullnat.id).drop_no_conntrack, before.drop_no_conntrack + 1n);
        assert.equal(
          h.conntrackEntry({ saddr: net.client, daddr: net.vip, sport: 43003, dport: 80 }),
          undefined,
        );
      });
    });
  }
});

/*
 * A full table refuses new connections and never evicts a live one (lb_conntrack is a preallocated hash, not
 * an LRU, which would evict the REPLY entries of live connections first).
 */
describe('a full conntrack table (16 entries: 8 connections)', { skip }, () => {
  const CAPACITY = 16;
  const family = 4;
  const s = services(family);
  let h: DatapathHarness;

  before(() => {
    assertPrerequisites();
    h = DatapathHarness.open({ conntrackEntries: CAPACITY });
    addServices(h, family);
  });
  after(() => h?.close());

  it('refuses a new connection with a reset to the client, counts it, and evicts no live one', () => {
    const live: Connection[] = [];
    for (let i = 0; i < CAPACITY / 2; i += 1) {
      const conn = new Connection(h, family, s.fullnat, 50000 + i, []);
      const syn = conn.fromClient({ seq: conn.isn, ack: 0, flags: TCP_SYN });
      assert.equal(h.run(syn, 'client').retval, TC_ACT.REDIRECT, `connection ${i} fits`);
      live.push(conn);
    }
    assert.equal(h.conntrack().length, CAPACITY, 'the table is full');
    const before = h.counters(0);
    const net4 = NET[family];

    for (const [i, svc] of [s.fullnat, s.dnat].entries()) {
      const extra = new Connection(h, family, svc, 50100 + i, []);
      const syn = extra.fromClient({ seq: extra.isn, ack: 0, flags: TCP_SYN });
      const result = h.run(syn, 'client');
      assert.equal(result.retval, TC_ACT.REDIRECT, `${svc.mode}: sent back out of the ingress interface`);
      const rst = parseFrame(result.frame);
      assert.deepEqual(
        [rst.src, rst.dst, rst.sport, rst.dport, rst.flags, rst.seq, rst.ack],
        [net4.vip, net4.client, svc.port, extra.clientPort, TCP_RST | TCP_ACK, 0, seqAdd(extra.isn, 1)],
        `${svc.mode}: a reset from the VIP that acknowledges the SYN`,
      );
      assert.ok(rst.ipChecksumOk && rst.tcpChecksumOk, 'checksums');
      assert.deepEqual(
        [result.frame.subarray(0, 6), result.frame.subarray(6, 12)],
        [syn.subarray(6, 12), syn.subarray(0, 6)],
        'MAC addresses swapped: it goes back the way the SYN came',
      );
      assert.equal(h.conntrackEntry(extra.origKey), undefined);
    }
    const after = h.counters(0);
    assert.equal(after.conn_new, before.conn_new, 'no connection made');
    assert.equal(after.drop_ct_full, before.drop_ct_full + 2n, 'counted as a full table');
    assert.equal(
      after.drop_snat_exhausted + after.drop_reply_collision + after.drop_ct_insert,
      before.drop_snat_exhausted + before.drop_reply_collision + before.drop_ct_insert,
      'and as nothing else',
    );
    for (const conn of live) {
      assert.ok(h.conntrackEntry(conn.origKey), `port ${conn.clientPort}: ORIG entry kept`);
      assert.ok(h.conntrackEntry(conn.replyKey), `port ${conn.clientPort}: REPLY entry kept`);
      const synAck = conn.fromBackend({
        seq: conn.backendIsn,
        ack: seqAdd(conn.isn, 1),
        flags: TCP_SYN | TCP_ACK,
      });
      assert.equal(
        h.run(synAck, 'backend').retval,
        TC_ACT.REDIRECT,
        `port ${conn.clientPort}: the backend still reaches the client`,
      );
    }
  });
});
