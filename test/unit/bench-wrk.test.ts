import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseWrkOutput, uploadBody, wrkFailures, wrkScript } from '../../bench/wrk.js';

const TEXT_ONLY = `Running 3s test @ http://203.0.113.10/whoami
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.96ms    1.30ms  14.32ms   63.69%
    Req/Sec     5.05k   546.21     6.49k    70.00%
  Latency Distribution
     50%    1.85ms
     75%    2.84ms
     90%    3.66ms
     99%    5.25ms
  30380 requests in 3.02s, 12.52MB read
Requests/sec:  10047.49
Transfer/sec:      4.14MB
`;

const WITH_ERRORS = `Running 1m test @ http://198.51.100.2:8080/bytes/1048576
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us  100.00us    1.20s    90.00%
    Req/Sec   500.00     10.00     600.00     70.00%
  Latency Distribution
     50%  800.00us
     75%    1.00ms
     90%    1.10ms
     99%    1.20s
  60000 requests in 1.00m, 58.60GB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:   1000.00
Transfer/sec:      0.98GB
`;

const SUMMARY =
  'LBCTL_WRK_SUMMARY {"duration_us":3021345,"requests":30380,"bytes":13128203,"connect":0,"read":0,' +
  '"write":0,"status":0,"timeout":0,"p50_us":1850,"p90_us":3660,"p99_us":5250,"max_us":14320}';

describe('parseWrkOutput', () => {
  it('reads the text report: counts, duration, bytes, rate and latency percentiles', () => {
    const r = parseWrkOutput(TEXT_ONLY);
    assert.equal(r.threads, 2);
    assert.equal(r.connections, 32);
    assert.equal(r.requests, 30380);
    assert.equal(r.durationS, 3.02);
    assert.ok(Math.abs(r.bytesRead - 12.52 * 1024 * 1024) < 1);
    assert.equal(r.requestsPerSec, 10047.49);
    assert.deepEqual(r.latencyUs, { p50: 1850, p75: 2840, p90: 3660, p99: 5250, max: 14320 });
    assert.deepEqual(r.errors, { connect: 0, read: 0, write: 0, timeout: 0, status: 0 });
    assert.equal(r.exact, false);
    assert.equal(wrkFailures(r), 0);
  });

  it('reads socket errors, non-2xx responses and every time and size unit', () => {
    const r = parseWrkOutput(WITH_ERRORS);
    assert.equal(r.durationS, 60);
    assert.ok(Math.abs(r.bytesRead - 58.6 * 1024 ** 3) < 1024);
    assert.equal(r.latencyUs.p50, 800);
    assert.equal(r.latencyUs.p99, 1_200_000);
    assert.equal(r.latencyUs.max, 1_200_000);
    assert.deepEqual(r.errors, { connect: 1, read: 2, write: 3, timeout: 4, status: 5 });
    assert.equal(wrkFailures(r), 15);
  });

  it('prefers the script summary line, whose counters are exact', () => {
    const r = parseWrkOutput(`${TEXT_ONLY}\n${SUMMARY}\n`);
    assert.equal(r.exact, true);
    assert.equal(r.requests, 30380);
    assert.equal(r.durationS, 3.021345);
    assert.equal(r.bytesRead, 13128203);
    assert.ok(Math.abs(r.requestsPerSec - 30380 / 3.021345) < 1e-9);
    assert.equal(r.latencyUs.p99, 5250);
    assert.equal(r.latencyUs.p75, 2840, 'p75 only comes from the text');
  });

  it('takes errors from the summary line too', () => {
    const summary = SUMMARY.replace('"read":0', '"read":7').replace('"status":0', '"status":2');
    const r = parseWrkOutput(`${TEXT_ONLY}${summary}\n`);
    assert.equal(r.errors.read, 7);
    assert.equal(r.errors.status, 2);
    assert.equal(wrkFailures(r), 9);
  });

  it('rejects output that is not a wrk report, and a summary line missing a counter', () => {
    // Each error quotes what it got (wrk's own first line) or names the missing counter.
    const naming = (part: string) => (err: unknown) => err instanceof Error && err.message.includes(part);
    const refused = 'unable to connect to 203.0.113.10:80 Connection refused';
    assert.throws(() => parseWrkOutput(`${refused}\n`), naming(refused));
    assert.throws(
      () => parseWrkOutput(`${TEXT_ONLY}LBCTL_WRK_SUMMARY {"duration_us":1}\n`),
      naming('requests'),
    );
  });
});

describe('wrkScript', () => {
  it('sets the method and always reports a summary', () => {
    const s = wrkScript({ method: 'GET', close: false });
    assert.match(s, /wrk\.method = "GET"/);
    assert.match(s, /function done\(summary, latency, requests\)/);
    assert.match(s, /LBCTL_WRK_SUMMARY/);
    assert.doesNotMatch(s, /Connection/);
  });

  it('adds Connection: close and an exact-size body when asked', () => {
    const s = wrkScript({ method: 'POST', close: true, bodyBytes: 1000 });
    assert.match(s, /wrk\.headers\["Connection"\] = "close"/);
    assert.match(s, /string\.sub\(string\.rep\("0123456789abcdef", 63\), 1, 1000\)/);
  });

  it('formats every summary field as a JSON number', () => {
    const s = wrkScript({ method: 'GET', close: false });
    const format = /string\.format\("\\n(LBCTL_WRK_SUMMARY .*?)\\n",/.exec(s)?.[1];
    assert.ok(format);
    const json = format.replace('LBCTL_WRK_SUMMARY ', '').replaceAll('\\"', '"').replaceAll('%.0f', '1');
    const parsed = JSON.parse(json) as Record<string, number>;
    assert.deepEqual(Object.keys(parsed), [
      'duration_us',
      'requests',
      'bytes',
      'connect',
      'read',
      'write',
      'status',
      'timeout',
      'p50_us',
      'p90_us',
      'p99_us',
      'max_us',
    ]);
  });
});

describe('uploadBody', () => {
  it('is exactly the bytes the Lua body expression produces', () => {
    const body = uploadBody(1000);
    assert.equal(body.length, 1000);
    assert.equal(body.subarray(0, 20).toString('latin1'), '0123456789abcdef0123');
    const expected = '0123456789abcdef'.repeat(63).slice(0, 1000);
    assert.equal(
      createHash('sha256').update(body).digest('hex'),
      createHash('sha256').update(expected).digest('hex'),
    );
  });
});
