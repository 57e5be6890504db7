import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DnsperfParseError, dnsperfArgs, packetsPerSecond, parseDnsperf } from '../../bench/dnsperf.js';
import { makePlan, parseArgs, turnOrder } from '../../bench/plan.js';
import { dnsperfChecks, udpDatapathChecks } from '../../bench/udp-checks.js';
import { benchUnboundConfig, nginxUdpConfig, UDP_PLAIN_PORT } from '../../bench/udp-lab.js';
import type { UdpMeasurement } from '../../bench/udp-measure.js';
import { UDP_CONTENDERS, UDP_SCENARIO, udpContenders } from '../../bench/udp-plan.js';
import { summarizeUdp, udpFailureReasons } from '../../bench/udp-summary.js';

/** dnsperf 2.10's report, as it prints it (numbers from a run through lbctl). */
const REPORT = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 203.0.113.10 -p 53 -d /q.txt -c 16 -T 2 -q 256 -l 1 -t 1
[Status] Sending queries (to 203.0.113.10:53)
[Status] Started at: Wed Dec  2 00:18:29 2026
[Status] Stopping after 1.000000 seconds
[Timeout] Query timed out: msg id 7
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         120512
  Queries completed:    120509 (100.00%)
  Queries lost:         3 (0.00%)

  Response codes:       NOERROR 120500 (99.99%), NXDOMAIN 9 (0.01%)
  Average packet size:  request 35, response 51
  Run time (s):         1.000240
  Queries per second:   120480.084779

  Average Latency (s):  0.001712 (min 0.000043, max 0.021337)
  Latency StdDev (s):   0.000990
`;

describe('dnsperf', () => {
  it('parses the statistics block: sent, answered, lost, every response code, time and latency', () => {
    const r = parseDnsperf(REPORT);
    assert.deepEqual(r, {
      sent: 120512,
      completed: 120509,
      lost: 3,
      rcodes: { NOERROR: 120500, NXDOMAIN: 9 },
      runTimeS: 1.00024,
      qps: 120480.084779,
      avgLatencyS: 0.001712,
    });
    assert.equal(packetsPerSecond(r), (120512 + 120509) / 1.00024);
  });

  it('parses a run with no answer (empty response codes), and refuses output without statistics', () => {
    const none = REPORT.replace(/Queries completed:.*/, 'Queries completed:    0 (0.00%)').replace(
      /Response codes:.*/,
      'Response codes:       ',
    );
    assert.deepEqual(parseDnsperf(none).rcodes, {});
    assert.equal(parseDnsperf(none).completed, 0);
    assert.throws(() => parseDnsperf('Error: socket: permission denied'), DnsperfParseError);
  });

  it('arguments: server, port, query file, sockets, threads, outstanding, limit and timeout', () => {
    const args = dnsperfArgs(
      {
        server: '203.0.113.10',
        port: 53,
        clients: 16,
        threads: 2,
        outstanding: 256,
        durationS: 3,
        timeoutS: 1,
      },
      '/w/q.txt',
    );
    assert.deepEqual(args, [
      ...['-s', '203.0.113.10', '-p', '53', '-d', '/w/q.txt', '-c', '16', '-T', '2', '-q', '256'],
      ...['-l', '3', '-t', '1'],
    ]);
  });
});

const result = (over: Partial<ReturnType<typeof parseDnsperf>> = {}) => ({
  ...parseDnsperf(REPORT),
  ...over,
});

describe('UDP checks', () => {
  it('passes every answer NOERROR with loss within the bound', () => {
    const r = result({ rcodes: { NOERROR: 120509 } });
    assert.ok(dnsperfChecks(r, { maxLossShare: 0.001, ppv2: true, socketDrops: 3 }).every((c) => c.ok));
    assert.ok(UDP_SCENARIO.maxLossShare <= 0.01, 'the stated bound');
  });

  it('fails NXDOMAIN through PPv2 (judged by the balancer address) and says why', () => {
    const checks = dnsperfChecks(result(), { maxLossShare: 0.001, ppv2: true, socketDrops: 3 });
    const rc = checks.find((c) => c.name.startsWith('backends'));
    assert.equal(rc?.ok, false);
    assert.match(rc?.detail ?? '', /NXDOMAIN 9.*balancer address/);
  });

  it('fails loss above the bound, and a run with no answer', () => {
    const lossy = dnsperfChecks(result({ lost: 200, rcodes: { NOERROR: 120509 } }), {
      maxLossShare: 0.001,
      ppv2: false,
      socketDrops: 200,
    });
    assert.equal(lossy.find((c) => c.name === 'dnsperf: loss within bound')?.ok, false);
    const silent = dnsperfChecks(result({ completed: 0, lost: 120512, rcodes: {} }), {
      maxLossShare: 0.001,
      ppv2: false,
      socketDrops: 120512,
    });
    assert.equal(silent.find((c) => c.name === 'dnsperf: answers')?.ok, false);
  });

  it('fails a loss the kernel did not count at a socket (dropped on the way)', () => {
    const r = result({ rcodes: { NOERROR: 120509 } });
    const checks = dnsperfChecks(r, { maxLossShare: 0.001, ppv2: false, socketDrops: 2 });
    assert.deepEqual(
      checks.filter((c) => !c.ok).map((c) => c.name),
      ['dnsperf: every lost query dropped on a full socket buffer'],
    );
  });

  const counters = { conn_new: 16, fwd_packets: 1000, rev_packets: 1000, ppv2_udp_injected: 1000 };
  const opts = { ppv2: true, clients: 16, sent: 1002, completed: 1000 };

  it('lbctl: one flow per socket, a header per forwarded datagram, nothing dropped', () => {
    assert.ok(udpDatapathChecks({ counters }, opts).every((c) => c.ok));
    const noHeader = { ...counters, ppv2_udp_injected: 0 };
    assert.ok(udpDatapathChecks({ counters: noHeader }, { ...opts, ppv2: false }).every((c) => c.ok));
  });

  it('lbctl: fails a missing header, a header without PPv2, extra flows, drops, lost forwarding', () => {
    const failing = (c: Record<string, number>, o = opts) =>
      udpDatapathChecks({ counters: c }, o)
        .filter((x) => !x.ok)
        .map((x) => x.name);
    assert.deepEqual(failing({ ...counters, ppv2_udp_injected: 999 }), [
      'lbctl: a header on every query datagram',
    ]);
    assert.deepEqual(failing(counters, { ...opts, ppv2: false }), ['lbctl: no header without PPv2']);
    assert.deepEqual(failing({ ...counters, conn_new: 17 }), ['lbctl: one flow per client socket']);
    assert.deepEqual(failing({ ...counters, drop_udp_too_big: 1 }), ['lbctl: no drops or PPv2 failures']);
    assert.deepEqual(failing({ ...counters, fwd_packets: 999, ppv2_udp_injected: 999 }), [
      'lbctl: forwarded every answered query',
      'lbctl: returned every answer',
    ]);
    assert.deepEqual(failing({ ...counters, rev_packets: 999 }), ['lbctl: returned every answer']);
  });
});

describe('UDP plan', () => {
  it('runs by default and alone with --scenarios udp; --contenders picks the UDP contenders too', () => {
    assert.equal(parseArgs([], '/o').udp, true);
    const alone = parseArgs(['--scenarios', 'udp'], '/o');
    assert.equal(alone.udp, true);
    assert.deepEqual(alone.scenarios, []);
    assert.equal(makePlan(alone, 2).scenarioSpecs.length, 0);
    const tcp = parseArgs(['--scenarios', 'short'], '/o');
    assert.equal(tcp.udp, false);
    const picked = parseArgs(
      ['--scenarios', 'udp', '--contenders', 'lbctl-fullnat-ppv2,plain,haproxy'],
      '/o',
    );
    assert.deepEqual(
      udpContenders(picked.contenders).map((c) => c.id),
      ['lbctl-fullnat-ppv2', 'plain'],
    );
  });

  it('alternates the turn order round by round', () => {
    assert.deepEqual(turnOrder(['a', 'b', 'c'], 1), ['a', 'b', 'c']);
    assert.deepEqual(turnOrder(['a', 'b', 'c'], 2), ['c', 'b', 'a']);
  });

  it("unbound: no query log, reuseport, and NXDOMAIN for queries judged by lbctl's PPv2 source", () => {
    const c = benchUnboundConfig({
      dir: '/d',
      addresses: ['198.51.100.2', '198.51.100.9'],
      allow: ['192.0.2.2', '198.51.100.11'],
      balancerSourceForPpv2: '198.51.100.11',
    });
    // the later server clause overrides the lab's log-queries: yes
    assert.ok(c.lastIndexOf('log-queries: no') > c.indexOf('log-queries: yes'));
    assert.match(c, /proxy-protocol-port: 53\n/);
    assert.match(c, /interface: 198\.51\.100\.9@5300/);
    assert.match(
      c,
      /access-control-view: 198\.51\.100\.11\/32 (\S+)\nview:\n {2}name: "\1"\n {2}local-zone: "lbctl\.test\." always_nxdomain/,
    );
  });

  it('nginx: UDP listen, one response per query, both backends on the plain port', () => {
    const c = nginxUdpConfig(['198.51.100.2', '198.51.100.3'], '/d', 2);
    assert.match(c, /listen 203\.0\.113\.21:53 udp reuseport;/);
    assert.match(c, /proxy_responses 1;/);
    assert.match(c, new RegExp(`server 198\\.51\\.100\\.3:${UDP_PLAIN_PORT};`));
    assert.doesNotMatch(c, /proxy_protocol/);
  });
});

describe('UDP summary', () => {
  const m = (
    round: number,
    contender: UdpMeasurement['contender'],
    qps: number,
    ok = true,
  ): UdpMeasurement => ({
    round,
    contender,
    scenario: 'udp',
    qps,
    pps: qps * 2,
    lossShare: 0,
    dnsperf: { ...parseDnsperf(REPORT) },
    cpuPerQueryUs: 10,
    socketDrops: { client: 0, balancer: 0, backends: 0 },
    checks: [{ name: 'x', ok, detail: ok ? '' : 'broken' }],
    ok,
  });

  it('ratios subject ÷ contender pair by pair within a round; failed runs are left out', () => {
    const s = summarizeUdp(UDP_CONTENDERS, [
      m(1, 'lbctl-fullnat-ppv2', 90),
      m(1, 'plain', 100),
      m(2, 'lbctl-fullnat-ppv2', 80),
      m(2, 'plain', 100),
      m(3, 'lbctl-fullnat-ppv2', 10, false),
      m(3, 'plain', 100),
    ]);
    const plain = s.ratios.find((r) => r.contender === 'plain');
    assert.deepEqual(plain?.perRound, [
      { round: 1, value: 0.9 },
      { round: 2, value: 0.8 },
    ]);
    assert.ok(Math.abs((plain?.qps.median ?? 0) - 0.85) < 1e-12);
    assert.deepEqual([plain?.qps.min, plain?.qps.max, plain?.qps.n], [0.8, 0.9, 2]);
    assert.equal(plain?.pps.median, plain?.qps.median);
    const subject = s.results.find((r) => r.contender === 'lbctl-fullnat-ppv2');
    assert.deepEqual(subject?.failedRounds, [3]);
    assert.equal(subject?.qps.n, 2);
    assert.equal(s.ratios.find((r) => r.contender === 'nginx-stream')?.qps.n, 0);
    assert.deepEqual(udpFailureReasons(m(3, 'plain', 1, false)), ['x: broken']);
  });
});
