/**
 * A full connection table refuses new connections at once and never evicts a live one: N connections held
 * open on a table of N, more refused with a reset, then the N finish byte-exact. Also: the table's size is
 * set by `attach --max-connections` and cannot change under a live instance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hostPort } from '../../src/host-port.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { tcpExchange } from '../helpers/tcp-client.js';
import { parseSinkReport, startTcpSink, type TcpSink } from '../helpers/tcp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import { assertHeaderThenPayload, counterDelta, globalCounters, patternBytes } from './fixtures/tcp-cases.js';

const { skip, assertPrerequisites } = suitePrerequisites({
  root: true,
  binaries: ['ip', 'tc', 'nginx', 'haproxy'],
});

const CAPACITY = 16;
const EXTRA = 3;
const SINK_PORT = 9300;
const VIP_PORT = 9300;

interface Status {
  conntrack: { connections: number; capacityConnections: number };
}

describe('a full connection table (attach --max-connections)', { skip }, () => {
  let lb: Balancer;
  let sink: TcpSink;
  let vip: string;
  let client: string;

  before(async () => {
    assertPrerequisites();
    lb = await startBalancer('lbctl-cap');
    const { lbClient, lbBackend } = lb.topo.ifaces;
    // A fresh instance with a small table: the fixture's attach made the default one.
    assert.equal(lb.cli(['detach', '--all']).code, 0);
    lb.cliJson(['attach', lbClient, lbBackend, '--max-connections', String(CAPACITY)]);
    const [backend] = lb.topo.backends.ipv4;
    assert.ok(backend);
    vip = lb.topo.vip.ipv4;
    client = lb.topo.client.ipv4[0] ?? '';
    sink = await startTcpSink({ netns: lb.topo.ns.backends, addresses: [backend], port: SINK_PORT });
    lb.cliJson([
      'service',
      'add',
      hostPort(vip, VIP_PORT),
      '--backend',
      hostPort(backend, SINK_PORT),
      '--ppv2',
    ]);
  });

  after(async () => {
    await sink?.stop();
    await lb?.close();
  });

  it('status reports the capacity asked for; another size is refused while the instance lives', () => {
    assert.equal(lb.cliJson<Status>(['status']).conntrack.capacityConnections, CAPACITY);
    const { lbClient, lbBackend } = lb.topo.ifaces;
    const res = lb.cli(['attach', lbClient, lbBackend, '--max-connections', String(CAPACITY * 2)]);
    assert.equal(res.code, 6, `a conflict (exit 6): ${res.stderr}`);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.equal(lb.cliJson<Status>(['status']).conntrack.capacityConnections, CAPACITY, 'unchanged');
    assert.equal(
      lb.cli(['attach', lbClient, lbBackend, '--max-connections', '3']).code,
      2,
      'below the minimum',
    );
  });

  it(`${CAPACITY} connections held open fill it; ${EXTRA} more are refused at once; the ${CAPACITY} finish byte-exact`, async () => {
    const before = globalCounters(lb);
    const payloads = Array.from({ length: CAPACITY }, (_, i) => patternBytes(20_000, i + 1));
    // Each writes a first part, waits, then the rest: all are open together while the extra ones try.
    const held = payloads.map((payload) =>
      tcpExchange({
        netns: lb.topo.ns.client,
        host: vip,
        port: VIP_PORT,
        localAddress: client,
        send: [payload.subarray(0, 1000), payload.subarray(1000)],
        gapMs: 6_000,
        endAfterSend: true,
        timeoutMs: 30_000,
      }),
    );
    await waitFor(
      `${CAPACITY} connections in the table`,
      () => lb.cliJson<Status>(['status']).conntrack.connections >= CAPACITY,
      { timeoutMs: 5_000 },
    );
    const started = Date.now();
    const refused = await Promise.all(
      Array.from({ length: EXTRA }, () =>
        tcpExchange({ netns: lb.topo.ns.client, host: vip, port: VIP_PORT, localAddress: client, send: [] }),
      ),
    );
    for (const r of refused)
      assert.equal(r.error, 'ECONNREFUSED', `refused with a reset: ${JSON.stringify(r)}`);
    assert.ok(Date.now() - started < 3_000, 'at once, not after SYN retries');
    const results = await Promise.all(held);
    results.forEach((res, i) => {
      assert.equal(res.closed, 'eof', `connection ${i}: ${res.error ?? res.closed}`);
      assertHeaderThenPayload(parseSinkReport(res.data), {
        client,
        clientPort: res.localPort ?? 0,
        vip,
        vipPort: VIP_PORT,
        payload: payloads[i] as Buffer,
      });
    });
    const delta = counterDelta(before, globalCounters(lb));
    assert.equal(delta.conn_new, CAPACITY);
    assert.equal(delta.drop_ct_full, EXTRA);
  });
});
