/**
 * Issue 12, point 2: SNAT never takes a tuple the host may use. The balancer namespace's own connections
 * (health probes, a co-located proxy) leave from the same address fullnat uses as its SNAT address and go to
 * the same backend:port as balanced connections. When fullnat reused the client's port, both picked ports
 * from 32768-60999, and a REPLY conntrack entry then captured the backend's answers to the host (HAProxy in
 * the balancer namespace fell from 7,900 to 48 req/s after a burst). Now SNAT ports come from a range kept
 * out of the host's ephemeral ports and reserved: a loop of host connections during and right after (while
 * the burst's closed entries still hold their ports) a burst of 10,000 balanced connections has 0 failures,
 * the health agent probing the same backend:port every 0.2 s with --fall 1 never sees a failed probe, and
 * every balanced connection's SNAT port is its client's port mapped into the range.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SNAT_PORTS } from '../../src/bpf/records.js';
import { type RunResult, run, stop } from '../../src/sys/run.js';
import { startChild } from '../helpers/child.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { waitFor } from '../helpers/wait.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import { type AbReport, assertFailureCounters, parseAb, serviceCounters, url } from './fixtures/lifecycle.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'ab'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const BURST = 10_000;
const CONCURRENCY = 50;
/** The plain (no PPv2) nginx: the host's own connections can reach it directly, with no header. */
const BACKEND_PORT = 8080;
const VIP_PORT = 8080;
/** How long the host keeps connecting after the burst: inside the CLOSED timeout, when its entries linger. */
const AFTER_BURST_S = 4;
const SERVICE = 'burst';

/** ApacheBench without keep-alive (one connection per request); `seconds` bounds a host loop. */
function ab(netns: string, target: string, opts: { n: number; c: number; seconds?: number }) {
  const limit = opts.seconds === undefined ? [] : ['-t', String(opts.seconds)];
  return run(
    'ab',
    ['-q', '-l', '-r', '-s', '5', ...limit, '-n', String(opts.n), '-c', String(opts.c), target],
    {
      netns,
      allowFailure: true,
      timeoutMs: 120_000,
    },
  );
}

function assertClean(res: RunResult, what: string): AbReport {
  assert.equal(res.code, 0, `${what}: ab failed: ${res.stderr}`);
  const report = parseAb(res.stdout);
  assert.deepEqual({ failed: report.failed, non2xx: report.non2xx }, { failed: 0, non2xx: 0 }, res.stdout);
  assert.ok(report.complete > 0, `${what}: some requests ran`);
  return report;
}

describe('SNAT ports and the host: balanced connections never take the host’s tuples', { skip }, () => {
  let lb: Balancer;
  let backend: string;

  before(async () => {
    assertPrerequisites();
    lb = await startBalancer('lbctl-snp');
    const [b1] = lb.topo.backends.ipv4;
    assert.ok(b1);
    backend = b1;
    // fullnat (the default) to the plain nginx; its SNAT address is the balancer's on the backends' network.
    lb.cliJson([
      'service',
      'add',
      `${lb.topo.vip.ipv4}:${VIP_PORT}`,
      '--backend',
      `${b1}:${BACKEND_PORT}`,
      '--name',
      SERVICE,
      '--liveness',
    ]);
  });

  after(async () => {
    await lb?.close();
  });

  it('attach reserved the SNAT range in the balancer namespace, outside its ephemeral ports', async () => {
    const config = lb.cliJson<{ snatPorts: { min: number; max: number } }>(['config', 'show']);
    assert.deepEqual(config.snatPorts, DEFAULT_SNAT_PORTS);
    const sysctl = (name: string) =>
      run('sysctl', ['-n', name], { netns: lb.topo.ns.lb }).then((r) => r.stdout.trim());
    const [low, high] = (await sysctl('net.ipv4.ip_local_port_range')).split(/\s+/).map(Number);
    assert.ok(high !== undefined && low !== undefined);
    assert.ok(config.snatPorts.max < low || config.snatPorts.min > high, 'disjoint from the ephemeral range');
    const reserved = await sysctl('net.ipv4.ip_local_reserved_ports');
    assert.ok(
      reserved.split(',').includes(`${DEFAULT_SNAT_PORTS.min}-${DEFAULT_SNAT_PORTS.max}`),
      `reserved: ${reserved}`,
    );
  });

  it(`a host loop and the health agent to the same backend:port during and after ${BURST} balanced connections: 0 failures`, async () => {
    // The health agent, as under systemd, probing the burst's backend from the balancer namespace: with
    // --fall 1 a single failed probe would mark it down, and print that transition.
    const agent = startChild(process.execPath, [
      `${REPO_ROOT}/bin/run.js`,
      ...[
        '--netns',
        lb.topo.ns.lb,
        'agent',
        '--interval',
        '0.2',
        '--timeout',
        '0.2',
        '--fall',
        '1',
        '--json',
      ],
    ]);
    const agentStarted = Date.now();
    try {
      await waitFor('the agent to start', () => agent.stderr().includes('probing the backends'), {
        timeoutMs: 15_000,
        detail: () => `its stderr: ${agent.stderr()}`,
      });
      await burstWithHostLoop();
      assert.ok(!agent.proc.exitCode, `the agent ran throughout: ${agent.stderr()}`);
    } finally {
      await stop(agent.pid);
    }
    assert.deepEqual(agent.lines, [], 'no probe failed: the backend never went down');
    console.log(
      `# the agent probed every 0.2 s for ${((Date.now() - agentStarted) / 1000).toFixed(0)} s, no failure`,
    );
  });

  async function burstWithHostLoop(): Promise<void> {
    const before = serviceCounters(lb, SERVICE);
    const hostTarget = url(backend, BACKEND_PORT, '/whoami');
    let burstDone = false;
    const burst = ab(lb.topo.ns.client, url(lb.topo.vip.ipv4, VIP_PORT, '/whoami'), {
      n: BURST,
      c: CONCURRENCY,
    }).finally(() => {
      burstDone = true;
    });
    // The host's loop, in rounds until the burst is over: its connections leave from the SNAT address
    // (the balancer's address on the backends' network) to the backend the burst goes to.
    const during: AbReport[] = [];
    while (!burstDone)
      during.push(assertClean(await ab(lb.topo.ns.lb, hostTarget, { n: 200, c: 2 }), 'during'));
    const burstReport = assertClean(await burst, 'burst');
    assert.equal(burstReport.complete, BURST);
    const afterBurst = assertClean(
      await ab(lb.topo.ns.lb, hostTarget, { n: 1_000_000, c: 2, seconds: AFTER_BURST_S }),
      'after',
    );
    const hostDuring = during.reduce((sum, r) => sum + r.complete, 0);
    console.log(
      `# burst: ${burstReport.complete} balanced requests; host: ${hostDuring} connections during, ` +
        `${afterBurst.complete} in the ${AFTER_BURST_S} s after, 0 failures`,
    );
    assert.ok(hostDuring > 0, 'the host connected while the burst ran');

    const counters = serviceCounters(lb, SERVICE);
    assertFailureCounters(counters, [], 'the service');
    assert.ok(counters.conn_new - before.conn_new >= BURST);
  }

  it('every balanced connection the table still holds has its SNAT port in the range', () => {
    // A sample: the whole table as JSON would outgrow the CLI helper's output buffer.
    const { connections: conns, total } = lb.cliJson<{
      total: number;
      connections: Array<{ client: string; backendSees: string }>;
    }>(['conn', 'list', '--limit', '300']);
    assert.ok(conns.length > 0, 'the burst left connections in the table (CLOSED timeout)');
    const { min, max } = DEFAULT_SNAT_PORTS;
    let home = 0;
    for (const c of conns) {
      const port = Number(c.backendSees.split(':').pop());
      assert.ok(port >= min && port <= max, `${c.backendSees}`);
      const clientPort = Number(c.client.split(':').pop());
      if (port === min + ((clientPort - min) % (max - min + 1))) home++;
    }
    // One client on Linux's default ephemeral ports (fewer than the range has): each maps onto its own port.
    assert.equal(home, conns.length, "every SNAT port is the client's port mapped into the range");
    console.log(
      `# ${conns.length} of ${total} connections checked, every SNAT port in ${DEFAULT_SNAT_PORTS.min}-${DEFAULT_SNAT_PORTS.max}`,
    );
  });

  it('detach --all gives back exactly the ports attach reserved, and leaves the operator’s', async () => {
    const reserved = () =>
      run('sysctl', ['-n', 'net.ipv4.ip_local_reserved_ports'], { netns: lb.topo.ns.lb }).then((r) =>
        r.stdout.trim(),
      );
    lb.cliJson(['detach', '--all']);
    assert.equal(await reserved(), '', 'the new namespace had none: none are left');
    // An operator's own reservation (Kubernetes NodePorts, say) inside the range, and one outside it.
    await run('sysctl', ['-qw', 'net.ipv4.ip_local_reserved_ports=8080,30000-32767'], {
      netns: lb.topo.ns.lb,
    });
    lb.cliJson(['attach', lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend]);
    assert.equal(await reserved(), '1024-32767', 'the range, which takes in both');
    lb.cliJson(['detach', '--all']);
    assert.equal(await reserved(), '8080,30000-32767');
  });

  it('attach refuses (exit 2) a range that overlaps the namespace’s ephemeral ports, and changes nothing', async () => {
    const ns = lb.topo.ns.lb;
    const sysctl = (setting: string) => run('sysctl', ['-qw', setting], { netns: ns });
    const reservedBefore = (await run('sysctl', ['-n', 'net.ipv4.ip_local_reserved_ports'], { netns: ns }))
      .stdout;
    const ifaces = [lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend];
    const flag = lb.cli(['attach', ...ifaces, '--snat-ports', '40000-40999']);
    assert.equal(flag.code, 2, `--snat-ports inside 32768-60999: ${flag.stderr}`);
    await sysctl('net.ipv4.ip_local_port_range=1024 65535'); // a widened ephemeral range: no room for the default
    try {
      const widened = lb.cli(['attach', ...ifaces]);
      assert.equal(widened.code, 2, `the default range inside 1024-65535: ${widened.stderr}`);
      assert.equal(widened.stderr.trim().split('\n').length, 1, 'one line, with the way out');
    } finally {
      await sysctl('net.ipv4.ip_local_port_range=32768 60999');
    }
    const status = lb.cliJson<{ attached: boolean; maps: unknown[] }>(['status']);
    assert.deepEqual([status.attached, status.maps.length], [false, 0], 'nothing loaded, nothing pinned');
    const reservedAfter = (await run('sysctl', ['-n', 'net.ipv4.ip_local_reserved_ports'], { netns: ns }))
      .stdout;
    assert.equal(reservedAfter, reservedBefore, 'no port reserved');
  });
});
