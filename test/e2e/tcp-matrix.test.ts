/**
 * Issue "TCP correctness under real-world conditions", cases 1-4: TCP headers without and with every
 * option, a large first data segment (64 KiB at once, and exactly one MSS), TLS 1.3 through the balancer,
 * and the loss of the header-carrying segment after the balancer. Each case runs over IPv4 and IPv6, in
 * fullnat and dnat mode, with a PROXY v2 header and with a v1 line (issue 14 point 4), against real
 * backends: nginx (the header parsed, TLS), HAProxy (accept-proxy), and a TCP sink that reports every byte
 * it received, header included, so "byte-exact with the header in front" is checked literally.
 * Captures on the backend side show where the header travelled; the datapath's counters show how.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HaproxyConnectionView } from '../../src/lab/haproxy.js';
import { type NginxBackend, type NginxConnectionView, startNginx } from '../../src/lab/nginx.js';
import { setClientTcpOptions, setMtu, setSegmentationOffload } from '../../src/lab/topology.js';
import { run } from '../../src/sys/run.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { tcpExchange } from '../helpers/tcp-client.js';
import { parseSinkReport, startTcpSink, type TcpSink } from '../helpers/tcp-sink.js';
import { startCapture } from '../helpers/tshark.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import {
  assertHeaderThenPayload,
  assertNoFailures,
  assertWholeHeaderSegment,
  counterDelta,
  globalCounters,
  patternBytes,
  signatureSegments,
  url,
} from './fixtures/tcp-cases.js';
import { attachLoss, buildLossProgram, type LossHook } from './fixtures/tcp-loss.js';

const needs = {
  root: true,
  binaries: [
    'ip',
    'tc',
    'ethtool',
    'sysctl',
    'nginx',
    'haproxy',
    'curl',
    'openssl',
    'dumpcap',
    'tshark',
    'clang',
  ],
};
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const VIP4 = '203.0.113.10';
const VIP6 = '2001:db8:f::10';
const MTU = 1500;
const SINK_PORT = 9000;
const TLS_PORT = 443;
const AUTHORITY = 'tcp-matrix.lbctl.test';

interface Combo {
  family: 'IPv4' | 'IPv6';
  mode: 'fullnat' | 'dnat';
  vip: string;
  client: string;
  /** VIP ports of this combination's services: nginx (HTTP), the sink, nginx (TLS), HAProxy (HTTP). */
  http: number;
  sink: number;
  tls: number;
  haproxy: number;
}

const COMBOS: Combo[] = [
  {
    family: 'IPv4',
    mode: 'fullnat',
    vip: VIP4,
    client: '192.0.2.10',
    http: 80,
    sink: 9000,
    tls: 443,
    haproxy: 82,
  },
  {
    family: 'IPv4',
    mode: 'dnat',
    vip: VIP4,
    client: '192.0.2.10',
    http: 81,
    sink: 9001,
    tls: 444,
    haproxy: 83,
  },
  {
    family: 'IPv6',
    mode: 'fullnat',
    vip: VIP6,
    client: '2001:db8:c::10',
    http: 80,
    sink: 9000,
    tls: 443,
    haproxy: 82,
  },
  {
    family: 'IPv6',
    mode: 'dnat',
    vip: VIP6,
    client: '2001:db8:c::10',
    http: 81,
    sink: 9001,
    tls: 444,
    haproxy: 83,
  },
];
const label = (c: Combo) => `${c.family} ${c.mode}`;

/** The largest TCP payload a segment of `mtu` bytes carries, for the family, with timestamps (12 bytes). */
const pathMss = (c: Combo, mtu = MTU) => mtu - (c.family === 'IPv4' ? 20 : 40) - 20 - 12;

/** The matrix runs once per header version: the v2 header, and the v1 line (no TLVs in it). */
for (const version of [2, 1] as const) {
  describe(`TCP edge cases 1-4 (PROXY v${version}): options, large first segments, TLS 1.3, a lost header segment`, {
    skip,
  }, () => {
    let lb: Balancer;
    let sink: TcpSink;
    let tls: NginxBackend;
    let scratch: string;
    let backendLoss: LossHook | undefined;

    before(async () => {
      assertPrerequisites();
      scratch = await mkdtemp(join(tmpdir(), 'lbctl-tcpm-'));
      lb = await startBalancer(`lbctl-tcpm${version}`);
      const [b1, b2, hap] = lb.topo.backends.ipv4;
      const [b1v6, b2v6, hapv6] = lb.topo.backends.ipv6;
      assert.ok(b1 && b2 && hap && b1v6 && b2v6 && hapv6);
      sink = await startTcpSink({ netns: lb.topo.ns.backends, addresses: [b1, b1v6], port: SINK_PORT });
      tls = await startNginx({
        netns: lb.topo.ns.backends,
        addresses: [b2, b2v6],
        ports: [TLS_PORT],
        tls: true,
      });
      for (const c of COMBOS) {
        const [web, other, haproxy] =
          c.family === 'IPv4' ? [b1, b2, hap] : [`[${b1v6}]`, `[${b2v6}]`, `[${hapv6}]`];
        const vip = c.family === 'IPv4' ? c.vip : `[${c.vip}]`;
        const tag = `${c.family === 'IPv4' ? 4 : 6}-${c.mode}`;
        const add = (port: number, backend: string, name: string, extra: string[] = []) =>
          lb.cliJson([
            'service',
            'add',
            `${vip}:${port}`,
            '--backend',
            backend,
            '--mode',
            c.mode,
            ...(version === 1 ? ['--proxy-protocol', 'v1'] : ['--ppv2']),
            '--name',
            name,
            ...extra,
          ]);
        add(c.http, `${web}:80`, `http${tag}`);
        // A larger v2 header (UNIQUE_ID, CRC32C, AUTHORITY) makes the MSS clamp and the MTU arithmetic visible;
        // a v1 line has no TLVs.
        const tlvs = [
          '--ppv2-tlv',
          'unique-id',
          '--ppv2-tlv',
          'crc32c',
          '--ppv2-tlv',
          `authority=${AUTHORITY}`,
        ];
        add(c.sink, `${web}:${SINK_PORT}`, `sink${tag}`, version === 2 ? tlvs : []);
        add(c.tls, `${other}:${TLS_PORT}`, `tls${tag}`);
        add(c.haproxy, `${haproxy}:80`, `hap${tag}`);
      }
      const program = buildLossProgram(scratch);
      backendLoss = attachLoss(program, lb.topo.ns.backends, lb.topo.ifaces.backends);
      backendLoss.configure({ port: SINK_PORT });
    });

    after(async () => {
      backendLoss?.close();
      await sink?.stop();
      await tls?.stop();
      await lb?.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    /** What reaches the backends' side on the sink's port: the header segments as the sink gets them. */
    const sinkSideCapture = () =>
      startCapture({
        netns: lb.topo.ns.backends,
        iface: lb.topo.ifaces.backends,
        filter: `tcp port ${SINK_PORT}`,
      });

    /** One connection to the sink: `parts` written right after connect (`gapMs` apart), then FIN. */
    async function toSink(c: Combo, parts: Buffer[], gapMs = 0) {
      const res = await tcpExchange({
        netns: lb.topo.ns.client,
        host: c.vip,
        port: c.sink,
        localAddress: c.client,
        send: parts,
        gapMs,
        endAfterSend: true,
        timeoutMs: 15_000,
      });
      assert.equal(
        res.closed,
        'eof',
        `${label(c)}: the sink answered and closed (${res.error ?? res.closed})`,
      );
      const report = parseSinkReport(res.data);
      const header = assertHeaderThenPayload(report, {
        client: c.client,
        clientPort: res.localPort ?? 0,
        vip: c.vip,
        vipPort: c.sink,
        payload: Buffer.concat(parts),
        version,
      });
      return { report, header, localPort: res.localPort ?? 0 };
    }

    for (const options of [
      { name: 'no TCP options (timestamps and SACK off: 20-byte data segment headers)', on: false },
      { name: 'every TCP option on (timestamps, SACK, window scaling, ECN)', on: true },
    ]) {
      it(`case 1: ${options.name}: the right client address and intact data`, async () => {
        await setClientTcpOptions(lb.topo, { timestamps: options.on, sack: options.on });
        await run(
          'sysctl',
          ['-q', '-w', `net.ipv4.tcp_ecn=${options.on ? 1 : 0}`, 'net.ipv4.tcp_window_scaling=1'],
          {
            netns: lb.topo.ns.client,
          },
        );
        const before = globalCounters(lb);
        const capture = await sinkSideCapture();
        try {
          for (const c of COMBOS) {
            const res = await lb.curl(url(c.vip, c.http, '/whoami'), ['--interface', c.client]);
            const view = JSON.parse(res.body) as NginxConnectionView;
            assert.equal(view.proxy_protocol_addr, c.client, `${label(c)}: nginx sees the client`);
            assert.equal(view.proxy_protocol_port, String(res.localPort));
            const hap = await lb.curl(url(c.vip, c.haproxy, '/whoami'), ['--interface', c.client]);
            const hapView = JSON.parse(hap.body) as HaproxyConnectionView;
            assert.deepEqual(
              [hapView.src, String(hapView.src_port), hapView.fc_rcvd_proxy],
              [c.client, String(hap.localPort), '1'],
              `${label(c)}: HAProxy sees the client`,
            );
            const payload = patternBytes(200_000, res.localPort);
            await toSink(
              c,
              [payload.subarray(0, 700), payload.subarray(700, 5000), payload.subarray(5000)],
              5,
            );
          }
          await capture.stop();
          const syns = await capture.fields({
            displayFilter: 'tcp.flags.syn == 1 && tcp.flags.ack == 0',
            fields: [
              'tcp.options.sack_perm',
              'tcp.options.timestamp.tsval',
              'tcp.options.wscale.shift',
              'tcp.flags.ece',
            ],
            heuristicFirst: false,
          });
          assert.equal(syns.length, COMBOS.length);
          for (const syn of syns) {
            assert.equal(
              Boolean(syn['tcp.options.sack_perm']),
              options.on,
              `SACK permitted: ${JSON.stringify(syn)}`,
            );
            assert.equal(Boolean(syn['tcp.options.timestamp.tsval']), options.on, 'timestamps');
            assert.ok(syn['tcp.options.wscale.shift'], 'window scaling');
            assert.equal(syn['tcp.flags.ece'] === 'True' || syn['tcp.flags.ece'] === '1', options.on, 'ECN');
          }
          const data = await capture.fields({
            displayFilter: `tcp.dstport == ${SINK_PORT} && tcp.len > 0`,
            fields: ['tcp.hdr_len'],
            heuristicFirst: false,
          });
          const hdrLens = new Set(data.map((r) => Number(r['tcp.hdr_len'])));
          assert.deepEqual(
            [...hdrLens],
            [options.on ? 32 : 20],
            'TCP header length of every client data segment',
          );
          const headers = await signatureSegments(capture);
          assert.equal(headers.length, COMBOS.length, 'one header segment per connection');
          for (const seg of headers) assert.equal(seg.hdrLen, options.on ? 32 : 20);
        } finally {
          await capture.dispose();
          await setClientTcpOptions(lb.topo, { timestamps: true, sack: true });
          await run('sysctl', ['-q', '-w', 'net.ipv4.tcp_ecn=2'], { netns: lb.topo.ns.client });
        }
        const delta = counterDelta(before, globalCounters(lb));
        assert.equal(delta.ppv2_injected, 3 * COMBOS.length);
        assertNoFailures(globalCounters(lb));
      });
    }

    it('case 2: a 64 KiB write right after connect arrives byte-exact; the header goes whole and alone, GSO flights shifted', async () => {
      await setSegmentationOffload(lb.topo, true);
      const before = globalCounters(lb);
      const backendSide = await sinkSideCapture();
      const clientSide = await startCapture({
        netns: lb.topo.ns.client,
        iface: lb.topo.ifaces.client,
        filter: COMBOS.map((c) => `tcp port ${c.sink}`).join(' or '),
      });
      const headerBytes: Buffer[] = [];
      try {
        for (const c of COMBOS) {
          const payload = patternBytes(64 * 1024, COMBOS.indexOf(c) + 10);
          const { header } = await toSink(c, [payload]);
          headerBytes.push(header.bytes);
        }
        const headers = await signatureSegments(backendSide);
        assert.equal(
          new Set(headers.map((h) => h.stream)).size,
          COMBOS.length,
          'a header segment per connection',
        );
        for (const seg of headers) {
          const want = headerBytes.find((h) => seg.payload.subarray(0, h.length).equals(h));
          assert.ok(want, 'the segment carries one of the headers the sink received');
          assertWholeHeaderSegment(seg, want, MTU);
          assert.equal(seg.len, want.length, "the header alone, in the handshake's ACK");
        }
        // The SYN-ACK leaves the backend with its own MSS and reaches the client lowered by the header length.
        const synAck = {
          displayFilter: 'tcp.flags.syn == 1 && tcp.flags.ack == 1',
          fields: ['tcp.options.mss_val'],
        };
        const atBackend = (await backendSide.fields({ ...synAck, heuristicFirst: false })).map((r) =>
          Number(r['tcp.options.mss_val']),
        );
        const atClient = (await clientSide.fields({ ...synAck, heuristicFirst: false })).map((r) =>
          Number(r['tcp.options.mss_val']),
        );
        assert.deepEqual(atBackend, [1460, 1460, 1440, 1440]);
        assert.deepEqual(
          atClient,
          atBackend.map((mss, i) => mss - (headerBytes[i]?.length ?? 0)),
          'the SYN-ACK MSS is lowered by the header length',
        );
      } finally {
        await backendSide.dispose();
        await clientSide.dispose();
      }
      const delta = counterDelta(before, globalCounters(lb));
      assert.equal(delta.ppv2_injected, COMBOS.length);
      assert.equal(delta.ppv2_hdr_alone, COMBOS.length, 'every header went at the handshake');
      assert.equal(delta.mss_clamped, COMBOS.length, 'every SYN-ACK clamped');
      // TSO is on: the first flight leaves the client as GSO packets, which only need shifting now.
      assert.equal(delta.ppv2_gso_trimmed ?? 0, 0, `no GSO packet was cut: ${JSON.stringify(delta)}`);
      assertNoFailures(globalCounters(lb));
    });

    it('case 2: the header segment lost, a first segment of exactly the clamped MSS takes it in front and fills the MTU exactly', async () => {
      assert.ok(backendLoss);
      const before = globalCounters(lb);
      const capture = await sinkSideCapture();
      const sent: Array<{ combo: Combo; header: Buffer; payload: number }> = [];
      try {
        for (const c of COMBOS) {
          // The header length of this combination's service, from a first small connection.
          const probe = await toSink(c, [Buffer.from('probe')]);
          // The clamped MSS (the backend's MSS minus the header length) leaves this much payload per segment.
          const payload = pathMss(c) - probe.header.length;
          // Lose the header's own segment: the full-sized first segment, retransmitted, is what takes it.
          backendLoss.configure({ port: SINK_PORT, dropSignature: 1 });
          const { header } = await toSink(c, [patternBytes(payload, COMBOS.indexOf(c) + 20)]);
          backendLoss.configure({ port: SINK_PORT });
          sent.push({ combo: c, header: header.bytes, payload });
        }
        const headers = await signatureSegments(capture);
        for (const { combo, header, payload } of sent) {
          const segs = headers.filter(
            (s) => s.payload.subarray(0, header.length).equals(header) && s.len > header.length,
          );
          assert.equal(segs.length, 1, `${label(combo)}: one data segment carries this connection's header`);
          const [seg] = segs;
          assert.ok(seg);
          assertWholeHeaderSegment(seg, header, MTU);
          assert.equal(
            seg.len,
            header.length + payload,
            `${label(combo)}: header and the whole MSS in one segment`,
          );
          assert.equal(seg.ipLen, MTU, `${label(combo)}: the segment is exactly MTU-sized, not larger`);
        }
      } finally {
        await capture.dispose();
        backendLoss.configure({ port: SINK_PORT });
      }
      const delta = counterDelta(before, globalCounters(lb));
      assert.equal(delta.ppv2_injected, 2 * COMBOS.length);
      assert.ok((delta.ppv2_reinjected ?? 0) >= COMBOS.length, `re-injections: ${JSON.stringify(delta)}`);
      assert.equal(delta.ppv2_gso_trimmed ?? 0, 0, 'one-segment writes are not GSO packets');
      assertNoFailures(globalCounters(lb));
    });

    it('case 2: on a jumbo-frame path the MSS is capped so that a full first segment can still take the header', async () => {
      // 16000-byte MTU: the backends advertise an MSS near 16 KB, more payload than the datapath moves to
      // make room for a header (9216 bytes). The SYN-ACK's MSS is capped there instead of merely lowered.
      const jumbo = 16_000;
      const cap = 9216;
      await setMtu(lb.topo, jumbo);
      await setSegmentationOffload(lb.topo, false, 'hosts'); // full-sized single segments, not GSO packets
      assert.ok(backendLoss);
      const before = globalCounters(lb);
      const capture = await startCapture({
        netns: lb.topo.ns.client,
        iface: lb.topo.ifaces.client,
        filter: COMBOS.map((c) => `tcp port ${c.sink}`).join(' or '),
      });
      const backendSide = await sinkSideCapture();
      try {
        const sent: Buffer[] = [];
        for (const c of COMBOS) {
          // Lose the header's own segment, so that the first full segment, retransmitted, takes it in front.
          backendLoss.configure({ port: SINK_PORT, dropSignature: 1 });
          const { header } = await toSink(c, [patternBytes(64 * 1024, COMBOS.indexOf(c) + 40)]);
          sent.push(header.bytes);
        }
        const synAck = {
          displayFilter: 'tcp.flags.syn == 1 && tcp.flags.ack == 1',
          fields: ['tcp.options.mss_val'],
        };
        const mss = (await capture.fields({ ...synAck, heuristicFirst: false })).map((r) =>
          Number(r['tcp.options.mss_val']),
        );
        assert.deepEqual(
          mss,
          COMBOS.map(() => cap),
          'the SYN-ACK MSS reaching the client is capped',
        );
        const headers = await signatureSegments(backendSide);
        for (const header of sent) {
          const seg = headers.find(
            (s) => s.payload.subarray(0, header.length).equals(header) && s.len > header.length,
          );
          assert.ok(seg, 'the re-injected header segment was captured');
          assertWholeHeaderSegment(seg, header, jumbo);
          assert.equal(
            seg.len,
            header.length + cap - 12,
            'a full first segment (MSS minus timestamps) plus the header',
          );
        }
      } finally {
        await capture.dispose();
        await backendSide.dispose();
        backendLoss.configure({ port: SINK_PORT });
        await setSegmentationOffload(lb.topo, true, 'hosts');
        await setMtu(lb.topo, MTU);
      }
      const delta = counterDelta(before, globalCounters(lb));
      assert.equal(delta.mss_clamped, COMBOS.length);
      assert.equal(delta.ppv2_injected, COMBOS.length);
      assertNoFailures(globalCounters(lb)); // ppv2_fail_too_big above all
    });

    it('case 3: TLS 1.3 through the balancer: the handshake completes and nginx logs the real client', async () => {
      for (const c of COMBOS) {
        const res = await lb.curl(url(c.vip, c.tls, '/whoami', 'https'), [
          ...['-k', '--tlsv1.3', '--tls-max', '1.3', '--interface', c.client],
        ]);
        const view = JSON.parse(res.body) as NginxConnectionView;
        assert.equal(view.ssl_protocol, 'TLSv1.3', label(c));
        assert.equal(view.proxy_protocol_addr, c.client, `${label(c)}: nginx sees the client`);
        assert.equal(view.proxy_protocol_port, String(res.localPort));
        const log = await tls.waitForRequests(COMBOS.indexOf(c) + 1);
        const entry = log.find((e) => e.proxy_protocol_port === String(res.localPort));
        assert.ok(entry, `${label(c)}: nginx logged the request`);
        assert.equal(entry.proxy_protocol_addr, c.client);
        assert.equal(entry.ssl_protocol, 'TLSv1.3');
      }
      // openssl's own client as a second TLS stack: the handshake completes and the request is answered.
      const c = COMBOS[0] as Combo;
      const res = await run(
        'openssl',
        [
          's_client',
          '-connect',
          `${c.vip}:${c.tls}`,
          '-tls1_3',
          '-quiet', // implies -ign_eof: wait for nginx to close after the HTTP/1.0 answer
          '-servername',
          'lbctl-lab.test',
        ],
        {
          netns: lb.topo.ns.client,
          input: 'GET /whoami HTTP/1.0\r\nHost: lbctl-lab.test\r\n\r\n',
          timeoutMs: 15_000,
        },
      );
      const body = res.stdout.slice(res.stdout.indexOf('{'));
      assert.ok(body.startsWith('{'), `openssl s_client got the answer: ${JSON.stringify(res.stdout)}`);
      assert.equal((JSON.parse(body) as NginxConnectionView).proxy_protocol_addr, c.client);
      assertNoFailures(globalCounters(lb));
    });

    it('case 4: the header segment lost after the balancer is re-injected, identical, on retransmission', async () => {
      assert.ok(backendLoss);
      const before = globalCounters(lb);
      const capture = await sinkSideCapture();
      const lost: Buffer[] = [];
      try {
        for (const c of COMBOS) {
          for (const times of [1, 2]) {
            // Lose the header segment (and, the second time, its first retransmission too) while more data
            // follows it: the backend sees the later segments first and SACKs them.
            backendLoss.configure({ port: SINK_PORT, dropSignature: times });
            const payload = patternBytes(6000, times * 100 + COMBOS.indexOf(c));
            const { header } = await toSink(
              c,
              [payload.subarray(0, 1000), payload.subarray(1000, 3000), payload.subarray(3000)],
              5,
            );
            assert.equal(backendLoss.stats().signatureDropped, times, `${label(c)}: header segments dropped`);
            lost.push(header.bytes);
          }
        }
        const headers = await signatureSegments(capture);
        for (const header of lost) {
          const copies = headers.filter((s) => s.payload.subarray(0, header.length).equals(header));
          // The capture sees packets before tc ingress drops them: the lost ones and the one that arrived.
          assert.ok(copies.length >= 2, `the header was sent again, byte for byte (${copies.length} copies)`);
          for (const seg of copies) assertWholeHeaderSegment(seg, header, MTU);
        }
      } finally {
        await capture.dispose();
        backendLoss.configure({ port: SINK_PORT });
      }
      const delta = counterDelta(before, globalCounters(lb));
      assert.equal(delta.ppv2_injected, 2 * COMBOS.length);
      assert.ok((delta.ppv2_reinjected ?? 0) >= 3 * COMBOS.length, `re-injections: ${JSON.stringify(delta)}`);
      assert.ok(
        (delta.sack_shifted ?? 0) > 0,
        'the SACKs for the segments behind the lost header were shifted',
      );
      assertNoFailures(globalCounters(lb));
    });

    it('case 4: a later segment lost after the balancer is retransmitted without a second header', async () => {
      assert.ok(backendLoss);
      const before = globalCounters(lb);
      for (const c of COMBOS) {
        backendLoss.configure({ port: SINK_PORT, dropDataSegment: 2 });
        const payload = patternBytes(9000, 300 + COMBOS.indexOf(c));
        await toSink(c, [payload.subarray(0, 500), payload.subarray(500, 4000), payload.subarray(4000)], 5);
        const stats = backendLoss.stats();
        assert.equal(stats.dataDropped, 1, `${label(c)}: the second data segment was dropped`);
        assert.equal(stats.signatureDropped, 0);
      }
      backendLoss.configure({ port: SINK_PORT });
      const delta = counterDelta(before, globalCounters(lb));
      assert.equal(delta.ppv2_injected, COMBOS.length);
      assert.equal(delta.ppv2_reinjected ?? 0, 0, 'only the header segment is ever re-injected');
      assertNoFailures(globalCounters(lb));
    });
  });
}
