/**
 * Issue 4, case 9: load. 10,000 short connections per family and mode from ApacheBench at full speed
 * (50 concurrent, HTTP/1.0 without keep-alive, so one connection per request) through the balancer to real
 * nginx backends reading PPv2. Zero errors, one header per connection, and afterwards the conntrack table
 * drains to zero within the documented default CLOSED timeout (10 s, bpf/ABI.md), with conn_expired
 * accounting for every connection: no leak.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_TIMEOUTS_S } from '../../src/bpf/records.js';
import { run } from '../../src/sys/run.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import {
  assertFailureCounters,
  conntrackFill,
  FAMILIES,
  parseAb,
  serviceCounters,
  stats,
  url,
  waitForDrain,
} from './fixtures/lifecycle.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'ab'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const REQUESTS = 10_000;
const CONCURRENCY = 50;
const MODES = [
  { mode: 'fullnat', port: 80 },
  { mode: 'dnat', port: 81 },
] as const;

describe('TCP life-cycle: 10,000 short connections and a clean drain', { skip }, () => {
  let lb: Balancer;
  let lastTrafficAt = 0;

  before(async () => {
    assertPrerequisites();
    lb = await startBalancer('lbctl-lcl');
    for (const f of FAMILIES) {
      const [b1, b2] = f.v6 ? lb.topo.backends.ipv6 : lb.topo.backends.ipv4;
      const vip = f.v6 ? `[${f.vip}]` : f.vip;
      const be = (addr: string | undefined) => `${f.v6 ? `[${addr}]` : addr}:80`;
      for (const m of MODES) {
        // fullnat spreads over two backends (Maglev); dnat needs the backends' route back via the balancer.
        const backends =
          m.mode === 'fullnat' ? ['--backend', be(b1), '--backend', be(b2)] : ['--backend', be(b1)];
        lb.cliJson([
          'service',
          'add',
          `${vip}:${m.port}`,
          ...backends,
          '--mode',
          m.mode,
          '--ppv2',
          '--name',
          `${m.mode}${f.v6 ? 6 : 4}`,
        ]);
      }
    }
    // The documented defaults, so the drain below checks the timeouts operators get.
    const config = lb.cliJson<{ timeoutsSeconds: { closedS: number } }>(['config', 'show']);
    assert.equal(config.timeoutsSeconds.closedS, DEFAULT_TIMEOUTS_S.closedS);
  });

  after(async () => {
    await lb?.close();
  });

  for (const f of FAMILIES) {
    for (const m of MODES) {
      it(`case 9: ${REQUESTS} connections from ab -c ${CONCURRENCY} complete with zero errors (${f.family}, ${m.mode})`, async () => {
        const name = `${m.mode}${f.v6 ? 6 : 4}`;
        const before = serviceCounters(lb, name);
        const res = await run(
          'ab',
          [
            '-q',
            '-l',
            '-r',
            '-s',
            '10',
            '-n',
            String(REQUESTS),
            '-c',
            String(CONCURRENCY),
            url(f.vip, m.port, '/whoami'),
          ],
          { netns: lb.topo.ns.client, allowFailure: true, timeoutMs: 180_000 },
        );
        lastTrafficAt = Date.now();
        assert.equal(res.code, 0, `ab failed: ${res.stderr}`);
        const report = parseAb(res.stdout);
        assert.deepEqual(
          { complete: report.complete, failed: report.failed, non2xx: report.non2xx },
          { complete: REQUESTS, failed: 0, non2xx: 0 },
          report.raw,
        );
        const counters = serviceCounters(lb, name);
        // ab opens up to -c connections more than it needs and closes them unused; each still got its header at
        // the handshake.
        const connections = counters.conn_new - before.conn_new;
        const surplus = connections - REQUESTS;
        assert.ok(surplus >= 0 && surplus <= CONCURRENCY, `${surplus} connections beyond one per request`);
        assert.equal(counters.ppv2_injected - before.ppv2_injected, connections, 'one header per connection');
        assert.equal(counters.ppv2_hdr_alone - before.ppv2_hdr_alone, connections, "in the handshake's ACK");
        assert.equal(counters.ppv2_reinjected - before.ppv2_reinjected, 0);
        assertFailureCounters(counters, [], name);
        console.log(`# ${name}: ${report.rps} requests/s, ${surplus} unused connections from ab`);
      });
    }
  }

  it(`case 9: conntrack drains to zero within the CLOSED timeout (${DEFAULT_TIMEOUTS_S.closedS} s) and nothing leaks`, async () => {
    assert.ok(lastTrafficAt > 0, 'the load ran');
    const fill = conntrackFill(lb);
    console.log(`# after the load: ${fill.connections} connections, ${fill.entries} entries`);
    // Each connection ended CLOSED (both FINs); the datapath's once-a-second janitor removes it 10 to 11 s after
    // its last packet. The margin covers that second
    // and the time one `conn list` + `status` poll takes on a busy machine.
    const took = await waitForDrain(lb, (DEFAULT_TIMEOUTS_S.closedS + 8) * 1000, lastTrafficAt);
    console.log(`# drained ${took} ms after the last request`);
    const doc = stats(lb);
    const g = doc.global;
    assert.ok(g.conn_new >= FAMILIES.length * MODES.length * REQUESTS);
    assert.equal(g.conn_expired + g.conn_recycled, g.conn_new, 'every connection was expired (or recycled)');
    assertFailureCounters(g, [], 'global');
  });
});
