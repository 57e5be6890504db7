import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanAccessLog, successLines } from '../../bench/backend-log.js';
import {
  backendChecks,
  datapathChecks,
  uploadBytesCheck,
  uploadCheck,
  wrkChecks,
} from '../../bench/checks.js';
import { workDone } from '../../bench/measure.js';
import {
  cpuDelta,
  estimateConntrackMemory,
  parseBpftoolMapShow,
  parsePidStatCpuUs,
  parseProcStatCpu,
  parseSnmpTcp,
  processCpuDeltaUs,
} from '../../bench/metrics.js';
import { MIB, makePlan, measurementOrder, parseArgs, SCENARIOS, UsageError } from '../../bench/plan.js';
import { analysePerfScript } from '../../bench/profile.js';
import type { WrkResult } from '../../bench/wrk.js';

const line = (status: number, ppAddr: string, uri = '/whoami', bodyFile = '', requestLength = 80) =>
  JSON.stringify({
    proxy_protocol_addr: ppAddr,
    remote_addr: '198.51.100.1',
    uri,
    status: String(status),
    request_length: String(requestLength),
    request_body_file: bodyFile,
  });

describe('backend access-log scan', () => {
  it('counts lines per status and those carrying the client address from the PROXY header', () => {
    const text = [
      line(200, '192.0.2.10'),
      line(200, '192.0.2.10'),
      line(404, ''),
      line(200, '192.0.2.10', '/upload', '/tmp/b/0001'),
      line(200, '192.0.2.100', '/upload', '/tmp/b/0002'),
      line(400, '192.0.2.10', '/upload', ''),
      '',
    ].join('\n');
    const scan = scanAccessLog(text, '192.0.2.10');
    assert.equal(scan.lines, 6);
    assert.deepEqual(scan.byStatus, { '200': 4, '404': 1, '400': 1 });
    assert.equal(successLines(scan), 4);
    assert.equal(scan.withClientAddress, 4, '192.0.2.100 is not 192.0.2.10');
    assert.equal(scan.lastUploadFile, '/tmp/b/0002');
  });

  it('sums the bytes the backends read for uploads, abandoned ones included, and nothing else', () => {
    const text = [
      line(200, 'x', '/whoami', '', 77),
      line(200, 'x', '/upload', '/tmp/b/1', 1_048_700),
      line(200, 'x', '/upload', '/tmp/b/2', 1_048_700),
      line(499, 'x', '/upload', '', 400_000),
    ].join('\n');
    const scan = scanAccessLog(text, 'x');
    assert.equal(scan.uploadBytes, 2 * 1_048_700 + 400_000);
    scanAccessLog(line(200, 'x', '/upload', '/tmp/b/3', 1_000), 'x', scan);
    assert.equal(scan.uploadBytes, 2 * 1_048_700 + 401_000, 'accumulated over logs');
  });

  it('accumulates over several logs', () => {
    const scan = scanAccessLog(line(200, 'x'), 'x');
    scanAccessLog(`${line(200, 'x')}\n${line(200, 'y')}\n`, 'x', scan);
    assert.equal(scan.lines, 3);
    assert.equal(scan.withClientAddress, 2);
  });
});

const wrk = (over: Partial<WrkResult['errors']> = {}, requests = 100): WrkResult => ({
  threads: 2,
  connections: 32,
  requests,
  durationS: 1,
  bytesRead: 1,
  requestsPerSec: requests,
  latencyUs: {},
  errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0, ...over },
  exact: true,
});

describe('correctness checks', () => {
  it('wrk: any socket error or status >= 400 fails, and so does an empty run', () => {
    assert.ok(wrkChecks(wrk()).every((c) => c.ok));
    assert.ok(wrkChecks(wrk({ read: 1 })).some((c) => !c.ok));
    assert.ok(wrkChecks(wrk({ status: 1 })).some((c) => !c.ok));
    assert.ok(wrkChecks(wrk({}, 0)).some((c) => !c.ok));
  });

  it('backends: non-2xx fails, except requests wrk abandoned at exit (at most one per connection)', () => {
    const ok = {
      lines: 105,
      byStatus: { '200': 100, '400': 5 },
      withClientAddress: 105,
      lastUploadFile: undefined,
    };
    const opts = { wrkRequests: 100, connections: 8, expectClientAddress: true };
    assert.ok(backendChecks(ok, opts).every((c) => c.ok));
    assert.ok(backendChecks({ ...ok, byStatus: { '200': 100, '400': 9 } }, opts).some((c) => !c.ok));
    assert.ok(backendChecks({ ...ok, byStatus: { '200': 100, '502': 1 } }, opts).some((c) => !c.ok));
  });

  it('backends: fewer 2xx than wrk counted, or a request without the client address, fails', () => {
    const scan = { lines: 100, byStatus: { '200': 100 }, withClientAddress: 100, lastUploadFile: undefined };
    const opts = { wrkRequests: 100, connections: 8, expectClientAddress: true };
    assert.ok(backendChecks({ ...scan, byStatus: { '200': 99 } }, opts).some((c) => !c.ok));
    assert.ok(backendChecks({ ...scan, withClientAddress: 99 }, opts).some((c) => !c.ok));
    assert.ok(
      backendChecks({ ...scan, withClientAddress: 0 }, { ...opts, expectClientAddress: false }).every(
        (c) => c.ok,
      ),
    );
  });

  const counters = (extra: Record<string, number> = {}) => ({
    conn_new: 0,
    ppv2_injected: 0,
    drop_no_conntrack: 0,
    ...extra,
  });
  const sample = (connNew: number, injected: number, extra: Record<string, number> = {}) => ({
    connNew,
    ppv2Injected: injected,
    ppv2Reinjected: 0,
    counters: counters(extra),
  });
  const opts = {
    ppv2: true,
    clientActiveOpens: 1000,
    connections: 32,
    wrkRequests: 960,
    oneRequestPerConnection: true,
  };

  it('lbctl: conn_new must equal the client ActiveOpens exactly', () => {
    assert.ok(datapathChecks(sample(1000, 990), opts).every((c) => c.ok));
    assert.ok(datapathChecks(sample(999, 990), opts).some((c) => !c.ok && c.name.includes('conn_new')));
  });

  it('lbctl: ppv2_injected may trail conn_new by the connections left without data, and no more', () => {
    assert.ok(datapathChecks(sample(1000, 1000), opts).every((c) => c.ok));
    assert.ok(
      datapathChecks(sample(1000, 1000 - 33), opts).every((c) => c.ok),
      '32 open + the probe',
    );
    assert.ok(datapathChecks(sample(1000, 1000 - 34), opts).some((c) => !c.ok));
    assert.ok(
      datapathChecks(sample(1000, 1001), opts).some((c) => !c.ok),
      'more headers than connections',
    );
    assert.ok(
      datapathChecks(sample(1000, 950), { ...opts, connections: 100 }).some((c) => !c.ok),
      'fewer than responses',
    );
  });

  it('lbctl: any drop or PPv2 failure counter fails; without PPv2 no header may be injected', () => {
    assert.ok(datapathChecks(sample(1000, 1000, { drop_no_conntrack: 1 }), opts).some((c) => !c.ok));
    assert.ok(datapathChecks(sample(1000, 1000, { ppv2_fail_grow: 2 }), opts).some((c) => !c.ok));
    assert.ok(
      datapathChecks(sample(1000, 1000, { events_lost: 5, conn_recycled: 9 }), opts).every((c) => c.ok),
    );
    // Where each header went (alone at the handshake, or with data) is routine, not a failure.
    assert.ok(
      datapathChecks(sample(1000, 1000, { ppv2_hdr_alone: 990, ppv2_hdr_with_data: 10 }), opts).every(
        (c) => c.ok,
      ),
    );
    assert.ok(datapathChecks(sample(1000, 1000, { drop_ct_full: 1 }), opts).some((c) => !c.ok));
    assert.ok(datapathChecks(sample(1000, 0), { ...opts, ppv2: false }).every((c) => c.ok));
    assert.ok(datapathChecks(sample(1000, 1), { ...opts, ppv2: false }).some((c) => !c.ok));
  });

  it('upload: the kept body must have the size and hash that was sent', () => {
    const expected = { size: 10, sha256: 'ab'.repeat(32) };
    assert.ok(uploadCheck(expected, expected).ok);
    assert.ok(!uploadCheck({ ...expected, size: 9 }, expected).ok);
    assert.ok(!uploadCheck({ ...expected, sha256: 'cd'.repeat(32) }, expected).ok);
    assert.ok(!uploadCheck(undefined, expected).ok);
  });
});

describe('upload bytes: measured at the backends, cross-checked against wrk', () => {
  const opts = { wrkRequests: 100, bodyBytes: MIB, connections: 8 };

  it('counts the MB the backends received, not completed requests times the body size', () => {
    const upload = SCENARIOS.find((s) => s.id === 'upload');
    assert.ok(upload);
    // 100 completed uploads would compute to 104.9 MB; the backends read 90 MB: the measurement wins.
    assert.equal(workDone(upload, { requests: 100, bytesRead: 50_000 }, { uploadBytes: 90e6 }), 90);
    const download = SCENARIOS.find((s) => s.id === 'download');
    assert.ok(download);
    assert.equal(workDone(download, { requests: 3, bytesRead: 3e6 }, { uploadBytes: 0 }), 3);
  });

  it('passes when the bytes received cover the completed bodies plus what was in flight', () => {
    assert.ok(uploadBytesCheck(100 * (MIB + 130) + 5 * 500_000, opts).ok);
    assert.ok(uploadBytesCheck(100 * MIB, opts).ok, 'exactly the bodies');
  });

  it('fails when fewer bytes arrived than the completed uploads sent, or far more', () => {
    assert.ok(!uploadBytesCheck(100 * MIB - 1, opts).ok);
    assert.ok(!uploadBytesCheck(0, opts).ok);
    assert.ok(!uploadBytesCheck(200 * MIB, opts).ok, 'counted twice');
  });
});

describe('/proc and tool parsers', () => {
  it('/proc/stat: the aggregate cpu line in µs, and the busy share between two samples', () => {
    const a = parseProcStatCpu('cpu  100 0 50 800 10 0 40 0 0 0\ncpu0 1 2 3\n', 100);
    const b = parseProcStatCpu('cpu  200 0 100 900 10 0 90 0 0 0\n', 100);
    assert.equal(a.user, 1_000_000);
    const d = cpuDelta(a, b);
    assert.equal(d.userUs, 1_000_000);
    assert.equal(d.systemUs, 500_000);
    assert.equal(d.softirqUs, 500_000);
    assert.equal(d.busyUs, 2_000_000);
    assert.equal(d.utilisation, 2 / 3);
  });

  it('/proc/PID/stat: utime + stime, with spaces and parentheses in the command name', () => {
    const stat = '1234 (nginx: worker (x)) S 1 1234 1234 0 -1 4194624 100 0 0 0 250 50 0 0 20 0 1 0 999 0 0';
    assert.equal(parsePidStatCpuUs(stat, 100), 3_000_000);
    assert.equal(
      processCpuDeltaUs(
        new Map([
          [1, 10],
          [2, 5],
        ]),
        new Map([
          [1, 30],
          [3, 100],
        ]),
      ),
      20,
    );
  });

  it('/proc/net/snmp: the Tcp counters by name', () => {
    const snmp = [
      'Ip: Forwarding DefaultTTL',
      'Ip: 1 64',
      'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors',
      'Tcp: 1 200 120000 -1 1234 5 0 0 2 100 90 7 0 3 0',
    ].join('\n');
    const tcp = parseSnmpTcp(snmp);
    assert.equal(tcp.ActiveOpens, 1234);
    assert.equal(tcp.RetransSegs, 7);
  });

  it('bpftool map show, and the conntrack memory per connection', () => {
    const map = parseBpftoolMapShow(
      JSON.stringify({
        id: 7,
        type: 'lru_hash',
        name: 'lb_conntrack',
        bytes_key: 40,
        bytes_value: 144,
        max_entries: 131072,
        bytes_memlock: 32505856,
      }),
    );
    assert.deepEqual(map, { maxEntries: 131072, keyBytes: 40, valueBytes: 144, memlockBytes: 32505856 });
    const ct = estimateConntrackMemory(map);
    assert.equal(ct.bytesPerEntry, 248);
    assert.equal(ct.bytesPerConnection, 2 * 248);
    assert.equal(ct.per100kConnectionsBytes, 49_600_000);
    assert.equal(ct.capacityConnections, 65536);
    assert.throws(() => parseBpftoolMapShow('{"max_entries": 1}'), /bytes_key/);
  });

  it('perf script: the datapath share by call chain, its breakdown, idle and top symbols', () => {
    const sample = (comm: string, ...frames: string[]) =>
      `${comm}   123 \n${frames.map((f, i) => `\tffffffff8100${i}000 ${f}+0x1${i}`).join('\n')}\n`;
    const prog = 'bpf_prog_aabbccdd00112233_lbctl_ingress';
    const text = [
      sample('wrk', 'fib_table_lookup', 'bpf_ipv4_fib_lookup', prog, 'tc_run'),
      sample('nginx', 'lookup_nulls_elem_raw', '__htab_map_lookup_elem', prog, 'tc_run'),
      sample('ksoftirqd/1', prog, 'tc_run'),
      sample('swapper', 'pv_native_safe_halt', 'default_idle'),
      sample('nginx', 'hrtimer_start', 'bpf_timer_cb', 'hrtimer_run_softirq'),
      // Other programs and other processes do not count.
      sample('nginx', 'fib_table_lookup', 'bpf_prog_ffffffffffffffff_other_prog'),
      sample('node', 'fib_table_lookup', prog),
    ].join('\n');
    const p = analysePerfScript(text);
    assert.equal(p.samples, 6);
    assert.equal(p.datapathPercent, 50);
    assert.ok(Math.abs(p.janitorPercent - 100 / 6) < 1e-9);
    assert.ok(Math.abs(p.idlePercent - 100 / 6) < 1e-9);
    assert.deepEqual(p.datapathBreakdown.map((d) => d.name).sort(), [
      'conntrack map lookups and updates',
      'program code (JIT)',
      'route lookup (bpf_fib_lookup)',
    ]);
    assert.ok(p.datapathBreakdown.every((d) => Math.abs(d.percent - 100 / 3) < 1e-9));
    assert.deepEqual(p.top[0], { name: 'fib_table_lookup', percent: (2 * 100) / 6 });
  });
});

describe('runner arguments', () => {
  it('defaults: a full run of everything that may become latest', () => {
    const o = parseArgs([], '/out');
    assert.equal(o.quick, false);
    assert.equal(o.rounds, 5);
    assert.equal(o.durationS, 3);
    assert.equal(o.contenders.length, 7);
    assert.equal(o.scenarios.length, 4);
    assert.equal(o.updateLatest, true);
  });

  it("attaches lbctl at most twice per scenario and round: its default table, then the large one's", () => {
    const steps = measurementOrder(makePlan(parseArgs([], '/o'), 2));
    let attaches = 0;
    let attached: string | undefined;
    let lastRound = 0;
    for (const { round, contender } of steps) {
      if (round !== lastRound) attached = undefined;
      lastRound = round;
      const table =
        contender.kind === 'lbctl' ? String(contender.table?.maxConnections ?? 'default') : undefined;
      if (table !== undefined && table !== attached) attaches += 1;
      attached = table;
    }
    assert.equal(attaches, 5 * SCENARIOS.length * 2);
  });

  it('--quick keeps at least three rounds and never replaces latest', () => {
    const o = parseArgs(['--quick'], '/out');
    assert.ok(o.rounds >= 3);
    assert.equal(o.durationS, 1);
    assert.equal(o.updateLatest, false);
    assert.equal(parseArgs(['--scenarios', 'short'], '/out').updateLatest, false);
  });

  it('orders measurements A B C … A B C … (contenders in their fixed order): by scenario, or by contender when quick', () => {
    const full = makePlan(
      parseArgs(['--rounds', '2', '--contenders', 'plain,haproxy', '--scenarios', 'short,upload'], '/o'),
      2,
    );
    const steps = measurementOrder(full).map((s) => `${s.round}:${s.scenario.id}:${s.contender.id}`);
    assert.deepEqual(steps, [
      '1:short:haproxy',
      '1:short:plain',
      '1:upload:haproxy',
      '1:upload:plain',
      '2:short:plain',
      '2:short:haproxy',
      '2:upload:plain',
      '2:upload:haproxy',
    ]);
    const quick = makePlan(
      parseArgs(['--quick', '--contenders', 'plain,haproxy', '--scenarios', 'short,upload'], '/o'),
      2,
    );
    const q = measurementOrder(quick).map((s) => `${s.round}:${s.contender.id}:${s.scenario.id}`);
    assert.equal(q.length, 12);
    assert.deepEqual(q.slice(0, 4), [
      '1:haproxy:short',
      '1:haproxy:upload',
      '1:plain:short',
      '1:plain:upload',
    ]);
    assert.deepEqual(q.slice(4, 8), [
      '2:plain:short',
      '2:plain:upload',
      '2:haproxy:short',
      '2:haproxy:upload',
    ]);
  });

  it('rejects unknown flags, values and contenders', () => {
    assert.throws(() => parseArgs(['--fast'], '/out'), UsageError);
    assert.throws(() => parseArgs(['--rounds', '0'], '/out'), UsageError);
    assert.throws(() => parseArgs(['--rounds'], '/out'), UsageError);
    assert.throws(
      () => parseArgs(['--contenders', 'lbctl,envoy'], '/out'),
      (err: unknown) => err instanceof UsageError && err.message.includes('lbctl'),
    );
    assert.deepEqual(parseArgs(['--contenders', 'plain,haproxy'], '/out').contenders, ['plain', 'haproxy']);
  });
});
