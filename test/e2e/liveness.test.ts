/**
 * Issue 7, liveness: `lbctl agent` against real parts. A PPv2 fullnat service with liveness on spreads a
 * continuous client loop over two nginx processes (one per backend address, both requiring PROXY headers),
 * and the agent runs as a separate process in the balancer namespace, as under systemd. Stopping one nginx
 * takes it out of selection within the configured window (interval x fall + timeout, plus slack), and every
 * request that starts after the window succeeds; starting it again brings it back with a share. The
 * probes carry a PPv2 LOCAL header, so nginx logs no broken header. Stopping the agent exits 0 and leaves
 * the health as it is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NginxBackend, startNginx } from '../../src/lab/nginx.js';
import { createTopology, destroyTopology, type Topology } from '../../src/lab/topology.js';
import { findExecutable, isAlive, run, stop } from '../../src/sys/run.js';
import { type Child, startChild } from '../helpers/child.js';
import { lbctl, REPO_ROOT } from '../helpers/cli.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { waitFor } from '../helpers/wait.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const VIP = '203.0.113.10';
const AGENT = { intervalS: 1, timeoutS: 0.5, fall: 2, rise: 2 };
/** The agent's own start-of-round jitter and writes on a loaded 2-core machine shared with other tests. */
const SLACK_MS = 2_500;
/** One `lbctl service show` process polling for the change (start-up dominates). */
const POLL_MS = 3_000;
const DOWN_WINDOW_MS = AGENT.fall * AGENT.intervalS * 1000 + AGENT.timeoutS * 1000;
const UP_WINDOW_MS = AGENT.rise * AGENT.intervalS * 1000 + AGENT.timeoutS * 1000;

interface BackendJson {
  address: string;
  port: number;
  health: 'up' | 'down';
  share: number;
}
interface ServiceJson {
  key: string;
  liveness: boolean;
  health: { probed: boolean; up: number; down: number; failOpen: boolean };
  backends: BackendJson[];
}

/** One request of the client loop, as the loop reports it. */
interface Request {
  start: number;
  end: number;
  ok: boolean;
  error: string | null;
  /** The backend that answered (nginx's server_addr). */
  server: string | null;
}

/**
 * New connections back to back (HTTP/1.0, one request each, a short pause between), from the client
 * namespace, each reported as a JSON line with its own wall-clock start. Runs until stopped.
 */
const CLIENT_LOOP = `
const net = require('node:net');
const [host, port, workers, pauseMs] = process.argv.slice(1);
const once = () => new Promise((resolve) => {
  const start = Date.now();
  const chunks = [];
  let done = false;
  const sock = net.connect({ host, port: Number(port) });
  const finish = (error) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.destroy();
    const text = Buffer.concat(chunks).toString('latin1');
    let server = null;
    if (!error && !/^HTTP\\/1\\.[01] 200 /.test(text)) error = 'bad response: ' + text.slice(0, 40);
    if (!error) {
      try { server = JSON.parse(text.slice(text.indexOf('\\r\\n\\r\\n') + 4)).server_addr; } catch { error = 'bad body'; }
    }
    process.stdout.write(JSON.stringify({ start, end: Date.now(), ok: !error, error: error || null, server }) + '\\n');
    resolve();
  };
  const timer = setTimeout(() => finish('timeout'), 3000);
  sock.on('connect', () => sock.write('GET /whoami HTTP/1.0\\r\\nHost: lbctl-lab.test\\r\\n\\r\\n'));
  sock.on('data', (d) => chunks.push(d));
  sock.on('end', () => finish(null));
  sock.on('error', (e) => finish(e.code || e.message));
});
const worker = async () => { for (;;) { await once(); await new Promise((r) => setTimeout(r, Number(pauseMs))); } };
for (let i = 0; i < Number(workers); i++) worker();
`;

describe('liveness: lbctl agent takes a stopped backend out of selection and puts it back', { skip }, () => {
  let topo: Topology;
  let b1 = '';
  let b2 = '';
  let nginx1: NginxBackend | undefined;
  let nginx2: NginxBackend | undefined;
  let agent: Child | undefined;
  let client: Child | undefined;
  const cleanups: Array<() => unknown> = [];
  /** Error logs of nginx processes already stopped (stopping removes their directory). */
  const errorLogs: string[] = [];

  const cli = (args: string[]) => lbctl(['--netns', topo.ns.lb, ...args]);
  /** `lbctl --netns <lb> ... --json` without blocking the event loop (the client loop keeps being read). */
  const cliJson = async <T>(args: string[]): Promise<T> => {
    const res = await run(
      process.execPath,
      [`${REPO_ROOT}/bin/run.js`, '--netns', topo.ns.lb, ...args, '--json'],
      { allowFailure: true, env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 60_000 },
    );
    assert.equal(res.code, 0, `lbctl ${args.join(' ')} failed: ${res.stderr}${res.stdout}`);
    return JSON.parse(res.stdout) as T;
  };
  const show = () => cliJson<ServiceJson>(['service', 'show', 'live']);
  const backend = (s: ServiceJson, address: string) => {
    const found = s.backends.find((b) => b.address === address);
    assert.ok(found, `backend ${address} in ${JSON.stringify(s.backends)}`);
    return found;
  };
  const requests = (): Request[] => (client?.lines ?? []).map((l) => JSON.parse(l) as Request);
  const agentEvents = () =>
    (agent?.lines ?? []).map(
      (l) => JSON.parse(l) as { backend: string; health: string; [k: string]: unknown },
    );
  const startBackend = (address: string) =>
    startNginx({ netns: topo.ns.backends, addresses: [address], ports: [80] });
  const stopBackend = async (n: NginxBackend) => {
    errorLogs.push(await n.errorLog());
    await n.stop();
  };

  before(async () => {
    assertPrerequisites();
    topo = await createTopology({ prefix: 'lbctl-live' });
    cleanups.push(() => destroyTopology(topo));
    // Registered before attaching: even a half-done attach is undone.
    cleanups.push(() => cli(['detach', '--all']));
    const attached = cli(['attach', topo.ifaces.lbClient, topo.ifaces.lbBackend]);
    assert.equal(attached.code, 0, `attach failed: ${attached.stderr}`);
    [b1 = '', b2 = ''] = topo.backends.ipv4;
    nginx1 = await startBackend(b1);
    cleanups.push(() => nginx1?.stop());
    nginx2 = await startBackend(b2);
    cleanups.push(() => nginx2?.stop());

    const added = cli([
      ...['service', 'add', `${VIP}:80`, '--backend', `${b1}:80`, '--backend', `${b2}:80`],
      ...['--mode', 'fullnat', '--ppv2', '--liveness', '--name', 'live', '--json'],
    ]);
    assert.equal(added.code, 0, `service add failed: ${added.stderr}${added.stdout}`);

    agent = startChild(process.execPath, [
      `${REPO_ROOT}/bin/run.js`,
      ...['--netns', topo.ns.lb, 'agent', '--interval', String(AGENT.intervalS)],
      ...['--timeout', String(AGENT.timeoutS), '--fall', String(AGENT.fall), '--rise', String(AGENT.rise)],
      '--json',
    ]);
    const agentPid = agent.pid;
    cleanups.push(() => stop(agentPid));
    await waitFor('the agent to start', () => agent?.stderr().includes('probing the backends'), {
      timeoutMs: 15_000,
      detail: () => `its stderr: ${agent?.stderr()}`,
    });

    const ip = await findExecutable('ip');
    assert.ok(ip, 'ip on PATH');
    client = startChild(ip, [
      'netns',
      'exec',
      topo.ns.client,
      process.execPath,
      '-e',
      CLIENT_LOOP,
      VIP,
      '80',
      '2',
      '20',
    ]);
    const clientPid = client.pid;
    cleanups.push(() => stop(clientPid));
  });

  after(async () => {
    for (const step of cleanups.reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => console.error('cleanup:', err));
    }
  });

  it('starts with both backends up, each serving the client loop', async () => {
    const s = await show();
    assert.equal(s.liveness, true);
    assert.deepEqual(s.health, { probed: true, up: 2, down: 0, failOpen: false });
    for (const address of [b1, b2]) assert.ok(Math.abs(backend(s, address).share - 0.5) < 0.05);
    await waitFor('requests served by both backends', () => {
      const servers = new Set(requests().map((r) => r.server));
      return servers.has(b1) && servers.has(b2);
    });
    assert.deepEqual(
      requests().filter((r) => !r.ok),
      [],
      'no failed request while both run',
    );
    assert.equal(agentEvents().length, 0, 'no transition while both answer');
  });

  it(`takes a stopped nginx out within ${DOWN_WINDOW_MS} ms (+${SLACK_MS} slack), and no request fails after`, async () => {
    assert.ok(nginx2);
    await stopBackend(nginx2);
    nginx2 = undefined;
    const stoppedAt = Date.now();
    const down = await waitFor(
      'the stopped backend to be down',
      async () => {
        const s = await show();
        return backend(s, b2).health === 'down' && s;
      },
      { timeoutMs: DOWN_WINDOW_MS + SLACK_MS + POLL_MS },
    );
    const event = agentEvents().find((e) => e.backend === `${b2}:80`);
    assert.ok(event, `agent logged the transition: ${agent?.lines.join('\n')}`);
    // When the agent wrote it, by its own clock: the window is about the agent, not the polling above.
    const tookMs = Date.parse(String(event.time)) - stoppedAt;
    assert.ok(tookMs <= DOWN_WINDOW_MS + SLACK_MS, `down after ${tookMs} ms`);
    assert.equal(backend(down, b2).share, 0, 'no share of new connections');
    assert.equal(backend(down, b1).share, 1);
    assert.deepEqual(down.health, { probed: true, up: 1, down: 1, failOpen: false });

    const status = await cliJson<{ services: Array<{ name: string; health: ServiceJson['health'] }> }>([
      'status',
    ]);
    assert.deepEqual(status.services.find((s) => s.name === 'live')?.health, down.health);
    const list = cli(['service', 'list']);
    assert.match(list.stdout, /live .* 1\/2 up /);

    assert.deepEqual(
      { health: event.health, previous: event.previous, probes: event.probes, reason: event.reason },
      { health: 'down', previous: 'up', probes: AGENT.fall, reason: 'ECONNREFUSED' },
    );

    // Traffic after the window: every request succeeds, on the backend that is left.
    const windowEnd = stoppedAt + DOWN_WINDOW_MS + SLACK_MS;
    const afterWindow = await waitFor(
      '20 requests made after the window',
      () => {
        const made = requests().filter((r) => r.start >= windowEnd);
        return made.length >= 20 && made;
      },
      { timeoutMs: 15_000, detail: () => `the client loop's stderr: ${client?.stderr()}` },
    );
    assert.deepEqual(
      afterWindow.filter((r) => !r.ok),
      [],
      `every request after the window succeeds (${afterWindow.length} made)`,
    );
    assert.ok(afterWindow.every((r) => r.server === b1));
    const during = requests().filter((r) => r.start >= stoppedAt && r.start < windowEnd);
    console.log(
      `# stopped backend down after ${tookMs} ms; ${during.filter((r) => !r.ok).length} of ${during.length} ` +
        `requests failed inside the window, 0 of ${afterWindow.length} after it`,
    );
  });

  it(`brings it back within ${UP_WINDOW_MS} ms (+${SLACK_MS} slack) of a restart, with a share again`, async () => {
    nginx2 = await startBackend(b2);
    const startedAt = Date.now();
    const up = await waitFor(
      'the restarted backend to be up',
      async () => {
        const s = await show();
        return backend(s, b2).health === 'up' && s;
      },
      { timeoutMs: UP_WINDOW_MS + SLACK_MS + POLL_MS },
    );
    assert.ok(Math.abs(backend(up, b2).share - 0.5) < 0.05, `share ${backend(up, b2).share}`);
    assert.deepEqual(up.health, { probed: true, up: 2, down: 0, failOpen: false });
    const event = agentEvents().filter((e) => e.backend === `${b2}:80`)[1];
    const tookMs = Date.parse(String(event?.time)) - startedAt;
    assert.ok(tookMs <= UP_WINDOW_MS + SLACK_MS, `up after ${tookMs} ms`);
    assert.deepEqual(
      { health: event?.health, previous: event?.previous, probes: event?.probes, reason: event?.reason },
      { health: 'up', previous: 'down', probes: AGENT.rise, reason: null },
    );
    const since = Date.now();
    await waitFor('a request served by the restarted backend', () =>
      requests().some((r) => r.start >= since && r.server === b2),
    );
    assert.deepEqual(
      requests().filter((r) => r.start >= since && !r.ok),
      [],
    );
  });

  it('probes with a PPv2 LOCAL header from the balancer namespace: nginx logs no broken header', async () => {
    const logs = [...errorLogs, (await nginx1?.errorLog()) ?? '', (await nginx2?.errorLog()) ?? ''];
    const fromBalancer = `client: ${topo.lb.backend4.replaceAll('.', '\\.')},`;
    for (const log of logs) {
      assert.doesNotMatch(log, /broken header/i);
      // nginx got past the PROXY header of each probe ("while reading PROXY protocol" means it had none) and
      // saw the client leave before a request; the probes came from the balancer's own address, so the
      // agent's sockets were made inside its namespace.
      assert.doesNotMatch(log, /closed connection while reading PROXY protocol/);
      assert.match(log, new RegExp(`closed connection while waiting for request, ${fromBalancer}`));
    }
  });

  it('exits 0 on SIGTERM and leaves the health as it is; --no-liveness marks every backend up', async () => {
    assert.ok(agent && nginx2);
    await stopBackend(nginx2);
    nginx2 = undefined;
    await waitFor('the stopped backend to be down', async () => backend(await show(), b2).health === 'down', {
      timeoutMs: DOWN_WINDOW_MS + SLACK_MS + POLL_MS,
    });
    agent.proc.kill('SIGTERM');
    assert.equal(await agent.exited, 0, `agent exit code; stderr: ${agent.stderr()}`);
    assert.match(agent.stderr(), /SIGTERM: stopping/);
    assert.ok(!isAlive(agent.pid));
    // The agent has exited (awaited above) and nothing else writes the flag: what we read now stays.
    const kept = await show();
    assert.equal(backend(kept, b2).health, 'down', 'the flag outlives the agent');
    assert.equal(backend(kept, b2).share, 0);

    const off = await cliJson<ServiceJson>(['service', 'set', 'live', '--no-liveness']);
    assert.equal(off.liveness, false);
    assert.deepEqual(off.health, { probed: false, up: 2, down: 0, failOpen: false });
    assert.ok(Math.abs(backend(off, b2).share - 0.5) < 0.05);
  });
});
