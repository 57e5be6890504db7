/**
 * ICMP errors about tracked connections, packet by packet (issue 12, point 7): an error a router sends about
 * a packet the balancer translated must reach the other end as if about the packet that end sent, or path
 * MTU discovery breaks and full-size segments black-hole. lbctl_ingress runs with BPF_PROG_TEST_RUN on
 * errors quoting the frames it forwarded itself; the outer and quoted checksums are verified by the test's
 * own routine (test/helpers/packets.ts), the quoted sequence numbers against what each end sent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addServices, BACKEND_PORT, Connection, services } from '../helpers/datapath-connection.js';
import { DatapathHarness, NET, type RunResult, TC_ACT } from '../helpers/datapath-harness.js';
import {
  buildIcmpError,
  ICMP4,
  ICMP6,
  type ParsedIcmpError,
  parseFrame,
  parseIcmpError,
  seqAdd,
  TCP_ACK,
  TCP_PSH,
  type TcpOption,
} from '../helpers/packets.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { readFields, writePcap } from '../helpers/tshark.js';

const { skip, assertPrerequisites } = suitePrerequisites({
  root: true,
  binaries: ['ip', 'sysctl', 'tshark'],
});

/** Routers on either side of the balancer (on the harness's subnets). */
const ROUTER = {
  4: { backendSide: '198.51.100.254', clientSide: '192.0.2.254' },
  6: { backendSide: '2001:db8:2::fe', clientSide: '2001:db8:1::fe' },
} as const;
const PATH_MTU = 1400;
const TIMESTAMPS: TcpOption[] = [
  { kind: 'nop' },
  { kind: 'nop' },
  { kind: 'timestamps', value: 1000, echo: 2000 },
];
const DATA = Buffer.alloc(600, 0x61);

/** Every translated error, for tshark to judge at the end. */
const translated: Buffer[] = [];

/** What every translated error must satisfy; returns it parsed. */
function assertTranslated(input: Buffer, result: RunResult): ParsedIcmpError {
  assert.equal(result.retval, TC_ACT.REDIRECT, 'forwarded with bpf_redirect_neigh');
  translated.push(result.frame);
  const out = parseIcmpError(result.frame);
  const before = parseIcmpError(input);
  assert.ok(out.ipChecksumOk, 'outer IPv4 header checksum');
  assert.ok(out.icmpChecksumOk, 'ICMP checksum (ICMPv6: with the pseudo-header)');
  assert.ok(out.quoted.ipChecksumOk, 'quoted IPv4 header checksum');
  assert.deepEqual(out.ipInvariant, before.ipInvariant, 'TTL, ToS, id, flow label untouched');
  assert.deepEqual([out.type, out.code], [before.type, before.code], 'type and code kept');
  assert.equal(out.quoted.bytes.length, before.quoted.bytes.length, 'the quote keeps its length');
  return out;
}

/** A packet-too-big (ICMPv6) or fragmentation-needed (ICMPv4) error about `about`, from `router`. */
function tooBig(family: 4 | 6, router: string, about: Buffer, quoteBytes?: number): Buffer {
  const sent = parseFrame(about);
  return buildIcmpError({
    src: router,
    dst: sent.src,
    ...(family === 4
      ? { type: ICMP4.destUnreach, code: ICMP4.codeFragNeeded }
      : { type: ICMP6.packetTooBig, code: 0 }),
    mtu: PATH_MTU,
    about,
    quoteBytes,
  });
}

describe('ICMP errors about tracked connections (BPF_PROG_TEST_RUN)', { skip }, () => {
  let h: DatapathHarness;
  let nextPort = 41000;

  before(() => {
    assertPrerequisites();
    h = DatapathHarness.open();
    addServices(h, 4);
    addServices(h, 6);
  });
  after(() => h?.close());

  for (const family of [4, 6] as const) {
    const s = services(family);
    const net = NET[family];
    const router = ROUTER[family];
    /** ICMPv4 quotes at least the IP header and 8 bytes of TCP; Linux quotes up to 576 bytes in all. */
    const minimalQuote = family === 4 ? 20 + 8 : undefined;

    for (const svc of [s.fullnat, s.dnat]) {
      describe(`IPv${family} ${svc.mode}`, () => {
        /** An established connection whose header went out and was acknowledged. */
        const established = () => {
          const conn = new Connection(h, family, svc, nextPort++, TIMESTAMPS);
          conn.handshake();
          assert.equal(conn.backendAck(0).retval, TC_ACT.REDIRECT);
          return conn;
        };

        for (const quote of [
          { label: 'the whole segment quoted', bytes: undefined },
          { label: 'the minimal quote', bytes: minimalQuote ?? 40 + 8 },
        ]) {
          it(`too big behind the balancer (${quote.label}): to the client from the VIP, quoting what the client sent`, () => {
            const conn = established();
            const sent = conn.clientData(1000, DATA);
            const forwarded = h.run(sent, 'client');
            assert.equal(forwarded.retval, TC_ACT.REDIRECT);
            const onWire = parseFrame(forwarded.frame);
            assert.equal(onWire.seq, seqAdd(conn.isn, 1 + 1000 + svc.n), 'shifted behind the header');
            const before = h.counters(svc.id);

            const icmp = tooBig(family, router.backendSide, forwarded.frame, quote.bytes);
            const out = assertTranslated(icmp, h.run(icmp, 'backend'));
            const client = parseFrame(sent);
            assert.deepEqual([out.src, out.dst], [net.vip, net.client], 'from the VIP to the client');
            assert.deepEqual(
              [out.quoted.src, out.quoted.dst, out.quoted.sport, out.quoted.dport, out.quoted.seq],
              [client.src, client.dst, client.sport, client.dport, client.seq],
              "quotes the client's own segment: its tuple and its sequence number",
            );
            assert.equal(out.rest & 0xffff, PATH_MTU, 'the MTU as the router reported it');
            if (quote.bytes === undefined) {
              assert.equal(out.quoted.ack, client.ack);
              assert.equal(out.quoted.tcpChecksumOk, true, 'the quoted TCP checksum verifies again');
            }
            const after = h.counters(svc.id);
            assert.equal(after.icmp_translated, before.icmp_translated + 1n);
            assert.equal(after.icmp_too_big, before.icmp_too_big + 1n);
            assert.equal(after.icmp_mtu_lowered, before.icmp_mtu_lowered);
          });
        }

        it('too big about the segment that carried the header in front of data: MTU lowered by the header length', () => {
          const conn = new Connection(h, family, svc, nextPort++, TIMESTAMPS);
          conn.open();
          // data in the handshake-completing segment: the header goes in front of it
          const sent = conn.clientData(0, DATA, TCP_ACK | TCP_PSH);
          const forwarded = h.run(sent, 'client');
          assert.equal(forwarded.retval, TC_ACT.REDIRECT);
          assert.equal(parseFrame(forwarded.frame).payload.length, svc.n + DATA.length, 'header + data');
          const before = h.counters(svc.id);

          const icmp = tooBig(family, router.backendSide, forwarded.frame, minimalQuote);
          const out = assertTranslated(icmp, h.run(icmp, 'backend'));
          assert.equal(out.quoted.seq, seqAdd(conn.isn, 1), 'the stream start, as the client sent it');
          assert.equal(
            out.rest & 0xffff,
            PATH_MTU - svc.n,
            'its retransmission grows by the header again: the client must send that much less',
          );
          assert.equal(h.counters(svc.id).icmp_mtu_lowered, before.icmp_mtu_lowered + 1n);
        });

        for (const kind of ['unreachable', 'time exceeded'] as const) {
          it(`${kind} in front of the balancer about a backend segment: to the backend, quoting what it sent`, () => {
            const conn = established();
            const backendSent = conn.fromBackend({
              seq: seqAdd(conn.backendIsn, 1),
              ack: seqAdd(conn.isn, 1 + svc.n + 50),
              flags: TCP_ACK | TCP_PSH,
              options: TIMESTAMPS,
              payload: DATA,
            });
            const forwarded = h.run(backendSent, 'backend');
            assert.equal(forwarded.retval, TC_ACT.REDIRECT);
            assert.equal(
              parseFrame(forwarded.frame).ack,
              seqAdd(conn.isn, 1 + 50),
              'ack in the client space',
            );
            const types = {
              unreachable:
                family === 4
                  ? { type: ICMP4.destUnreach, code: ICMP4.codeHostUnreach }
                  : { type: ICMP6.destUnreach, code: ICMP6.codeAddrUnreach },
              'time exceeded': { type: family === 4 ? ICMP4.timeExceeded : ICMP6.timeExceeded, code: 0 },
            };
            const icmp = buildIcmpError({
              src: router.clientSide,
              dst: net.vip,
              ...types[kind],
              about: forwarded.frame,
            });
            const before = h.counters(svc.id);
            const out = assertTranslated(icmp, h.run(icmp, 'client'));
            const backend = parseFrame(backendSent);
            assert.deepEqual(
              [out.src, out.dst],
              [conn.peerAtBackend.addr, net.backend],
              'from the address the backend talks to, to the backend',
            );
            assert.deepEqual(
              [
                out.quoted.src,
                out.quoted.dst,
                out.quoted.sport,
                out.quoted.dport,
                out.quoted.seq,
                out.quoted.ack,
              ],
              [backend.src, backend.dst, BACKEND_PORT, conn.peerAtBackend.port, backend.seq, backend.ack],
              "quotes the backend's own segment: its tuple, sequence and acknowledgment numbers",
            );
            assert.equal(out.quoted.tcpChecksumOk, true, 'the quoted TCP checksum verifies again');
            const after = h.counters(svc.id);
            assert.equal(after.icmp_translated, before.icmp_translated + 1n);
            assert.equal(after.icmp_too_big, before.icmp_too_big, 'not a packet-too-big');
          });
        }
      });
    }

    it(`IPv${family}: errors about flows nobody tracks, and other ICMP, pass untouched`, () => {
      const conn = new Connection(h, family, s.fullnat, nextPort++, TIMESTAMPS);
      const unknownFlow = conn.fromBackend({ seq: 1, ack: 2, flags: TCP_ACK, options: TIMESTAMPS });
      const before = h.counters(0);
      for (const [side, frame] of [
        ['backend', tooBig(family, router.backendSide, unknownFlow)],
        [
          'client',
          buildIcmpError({
            src: router.clientSide,
            dst: net.vip,
            type: family === 4 ? ICMP4.timeExceeded : ICMP6.timeExceeded,
            code: 0,
            about: conn.clientData(0, DATA),
          }),
        ],
        [
          'client',
          // an echo request (type 8 / 128), built as an "error" for its framing: not an error type
          buildIcmpError({
            src: net.client,
            dst: net.vip,
            type: family === 4 ? 8 : 128,
            code: 0,
            about: conn.clientData(0, DATA),
          }),
        ],
      ] as const) {
        const result = h.run(frame, side);
        assert.equal(result.retval, TC_ACT.OK, 'left to the kernel');
        assert.deepEqual(result.frame, frame, 'byte-identical');
      }
      assert.equal(h.counters(0).icmp_translated, before.icmp_translated);
    });
  }

  it('tshark finds the checksums of every translated error good: outer IPv4, ICMP/ICMPv6, quoted IPv4', async () => {
    assert.ok(translated.length >= 20, `${translated.length} errors translated`);
    const dir = await mkdtemp(join(tmpdir(), 'lbctl-icmp-'));
    try {
      const file = join(dir, 'translated.pcap');
      await writePcap(file, translated);
      const rows = await readFields(file, {
        fields: ['frame.number', 'ip.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status'],
        heuristicFirst: false,
      });
      assert.equal(rows.length, translated.length);
      for (const row of rows) {
        const ip = row['ip.checksum.status'] ?? '';
        const statuses = [
          ...(ip ? ip.split(',') : []),
          row['icmp.checksum.status'] ?? '',
          row['icmpv6.checksum.status'] ?? '',
        ];
        const present = statuses.filter((s) => s !== '');
        assert.ok(present.length >= 1, `frame ${row['frame.number']}: checksums dissected`);
        assert.deepEqual(
          present,
          present.map(() => '1'),
          `frame ${row['frame.number']}: all good (1): ${JSON.stringify(row)}`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
