/**
 * The liveness agent without a kernel: the rise/fall state machine, flag validation, the log line, the
 * agent's rounds against a scripted world (services that change, probes that fail, writes that fail), and
 * the TCP probe itself against a loopback listener (the bytes it sends with and without PPv2).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { BackendHealth } from '../../src/core/backend-health.js';
import { summarizeHealth } from '../../src/core/backend-health.js';
import type { ServiceView } from '../../src/core/services.js';
import { type AgentIo, HealthAgent, type HealthChange, type HealthEvent } from '../../src/health/agent.js';
import { formatHealthEvent } from '../../src/health/event-line.js';
import { AGENT_DEFAULTS, detectionWindowMs, parseAgentOptions } from '../../src/health/options.js';
import { probeTcp } from '../../src/health/probe.js';
import { HealthTracker } from '../../src/health/tracker.js';
import { decodeV2 } from '../../src/ppv2/index.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { waitFor } from '../helpers/wait.js';

/** Backend .3 of web went down after 3 refused probes: what the agent reports. */
const DOWN_EVENT: HealthEvent = {
  time: '2026-01-02T03:04:05.000Z',
  service: 'web',
  serviceKey: '203.0.113.10:80/tcp',
  backend: '198.51.100.3:80',
  backendId: 0x10002,
  health: 'down',
  previous: 'up',
  probes: 3,
  reason: 'ECONNREFUSED',
  backendsUp: 1,
  backends: 2,
  failOpen: false,
};

describe('health tracker: rise and fall', () => {
  it('goes down only after `fall` failures in a row', () => {
    const t = new HealthTracker('up', { rise: 2, fall: 3 });
    assert.equal(t.observe(false), null);
    assert.equal(t.observe(false), null);
    assert.equal(t.observe(true), null, 'a success breaks the run');
    assert.equal(t.observe(false), null);
    assert.equal(t.observe(false), null);
    assert.deepEqual(t.observe(false), { from: 'up', to: 'down', probes: 3 });
    assert.equal(t.health, 'down');
    assert.equal(t.observe(false), null, 'no second transition while down');
  });

  it('comes back only after `rise` successes in a row', () => {
    const t = new HealthTracker('down', { rise: 2, fall: 3 });
    assert.equal(t.observe(true), null);
    assert.equal(t.observe(false), null, 'a failure breaks the run');
    assert.equal(t.observe(true), null);
    assert.deepEqual(t.observe(true), { from: 'down', to: 'up', probes: 2 });
    assert.equal(t.health, 'up');
  });

  it('flips on the first probe with thresholds of 1', () => {
    const t = new HealthTracker('up', { rise: 1, fall: 1 });
    assert.equal(t.observe(false)?.to, 'down');
    assert.equal(t.observe(true)?.to, 'up');
  });

  it('counts afresh after a reset', () => {
    const t = new HealthTracker('up', { rise: 2, fall: 2 });
    t.observe(false);
    t.reset('up');
    assert.equal(t.observe(false), null);
    assert.equal(t.observe(false)?.to, 'down');
  });
});

describe('agent options', () => {
  const flags = { interval: '2', timeout: '1', rise: 2, fall: 3 };

  it('has defaults that give a 7 s window', () => {
    const o = parseAgentOptions({ ...AGENT_DEFAULTS });
    assert.deepEqual(o, { intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 });
    assert.equal(detectionWindowMs(o), 7000);
  });

  it('takes decimal seconds', () => {
    assert.deepEqual(parseAgentOptions({ ...flags, interval: '0.5', timeout: '0.25' }), {
      intervalMs: 500,
      timeoutMs: 250,
      rise: 2,
      fall: 3,
    });
  });

  // Each refusal names the flag and the value it refuses.
  for (const [what, bad, mentions] of [
    ['an interval that is not a number', { interval: 'soon' }, ['--interval', '"soon"']],
    ['an interval below 0.1 s', { interval: '0.05', timeout: '0.01' }, ['--interval', '"0.05"']],
    ['an empty timeout', { timeout: ' ' }, ['--timeout']],
    ['a timeout longer than the interval', { interval: '1', timeout: '2' }, ['--timeout', '--interval']],
    ['rise 0', { rise: 0 }, ['--rise', '0']],
    ['fall above 100', { fall: 101 }, ['--fall', '101']],
  ] as const) {
    it(`refuses ${what} as USAGE`, () => {
      assert.throws(
        () => parseAgentOptions({ ...flags, ...bad }),
        lbctlErrorOf('USAGE', { mentions: [...mentions] }),
      );
    });
  }
});

describe('agent log line', () => {
  const event = DOWN_EVENT;

  it('is one JSON object with --json', () => {
    const line = formatHealthEvent(event, true);
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), event);
  });

  it('reads as a sentence otherwise', () => {
    assert.equal(
      formatHealthEvent(event, false),
      '2026-01-02T03:04:05.000Z web (203.0.113.10:80/tcp): backend 198.51.100.3:80 is DOWN, 3 probes failed ' +
        '(last: ECONNREFUSED); 1/2 up',
    );
    assert.match(
      formatHealthEvent(
        { ...event, health: 'up', reason: null, probes: 2, backendsUp: 0, failOpen: true },
        false,
      ),
      /is UP, 2 probes succeeded; 0\/2 up, fail-open/,
    );
  });
});

/** A scripted balancer: services in memory, probe results per backend, writes recorded. */
function world() {
  const health = new Map<string, BackendHealth>();
  const reachable = new Map<string, boolean>();
  const writes: Array<{ service: string; changes: HealthChange[] }> = [];
  const probes: Array<{ target: string; ppv2: boolean }> = [];
  let services: Array<{ key: string; name: string; liveness: boolean; ppv2: boolean; backends: string[] }> =
    [];
  let failWrites = false;

  const view = (s: (typeof services)[number], index: number): ServiceView => {
    const backends = s.backends.map((address, i) => ({
      id: ((index + 1) << 16) | (i + 1),
      address,
      port: 80,
      weight: 1,
      health: health.get(address) ?? ('up' as BackendHealth),
      share: 0,
      source: '198.51.100.1',
    }));
    return {
      id: index + 1,
      name: s.name,
      key: s.key,
      vip: '203.0.113.10',
      port: 80,
      family: 4,
      protocol: 'tcp',
      mode: 'fullnat',
      snat: '198.51.100.1',
      liveness: s.liveness,
      health: summarizeHealth(
        s.liveness,
        backends.map((b) => ({ weight: 1, down: b.health === 'down' })),
      ),
      ppv2: { enabled: s.ppv2, version: 2, uniqueId: false, crc32c: false, tlvs: [], headerBytes: 28 },
      backends,
    };
  };
  const readServices = () => services.map(view);
  const io: AgentIo = {
    readServices,
    probe: async (target, options) => {
      probes.push({ target: `${target.address}:${target.port}`, ppv2: options.ppv2 });
      const ok = reachable.get(target.address) ?? true;
      return { ok, error: ok ? null : 'ECONNREFUSED', ms: 1 };
    },
    writeHealth: async (service, changes) => {
      if (failWrites) throw new Error('map update failed');
      const fresh = readServices().find((s) => s.key === service.key);
      if (!fresh) return null;
      for (const c of changes) {
        const b = fresh.backends.find((x) => x.id === c.backendId);
        if (b) health.set(b.address, c.down ? 'down' : 'up');
      }
      writes.push({ service: service.key, changes });
      return { service: readServices().find((s) => s.key === service.key) as ServiceView, applied: changes };
    },
  };
  return {
    io,
    health,
    reachable,
    writes,
    probes,
    setServices: (next: typeof services) => {
      services = next;
    },
    failWrites: (on: boolean) => {
      failWrites = on;
    },
  };
}

describe('health agent: rounds', () => {
  const options = { intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3 };
  const web = { key: '203.0.113.10:80/tcp', name: 'web', liveness: true, ppv2: true };

  function agent(w: ReturnType<typeof world>) {
    const events: HealthEvent[] = [];
    const warnings: string[] = [];
    const a = new HealthAgent(w.io, options, {
      onTransition: (e) => events.push(e),
      onWarning: (m) => warnings.push(m),
    });
    return { a, events, warnings };
  }

  it('probes only services with liveness on, with PPv2 where the service injects it', async () => {
    const w = world();
    w.setServices([
      { ...web, backends: ['198.51.100.2', '198.51.100.3'] },
      { ...web, key: '203.0.113.11:80/tcp', name: 'plain', ppv2: false, backends: ['198.51.100.4'] },
      { ...web, key: '203.0.113.12:80/tcp', name: 'off', liveness: false, backends: ['198.51.100.5'] },
    ]);
    await agent(w).a.round();
    assert.deepEqual(w.probes, [
      { target: '198.51.100.2:80', ppv2: true },
      { target: '198.51.100.3:80', ppv2: true },
      { target: '198.51.100.4:80', ppv2: false },
    ]);
  });

  it('writes once per transition: down after `fall` rounds, up after `rise`', async () => {
    const w = world();
    w.setServices([{ ...web, backends: ['198.51.100.2', '198.51.100.3'] }]);
    const { a, events } = agent(w);
    w.reachable.set('198.51.100.3', false);
    await a.round();
    await a.round();
    assert.equal(w.writes.length, 0, 'no write before the threshold');
    await a.round();
    assert.equal(w.writes.length, 1);
    assert.equal(w.health.get('198.51.100.3'), 'down');
    assert.equal(events.length, 1);
    assert.deepEqual({ ...events[0], time: DOWN_EVENT.time }, DOWN_EVENT);
    await a.round();
    await a.round();
    assert.equal(w.writes.length, 1, 'nothing written while it stays down');

    w.reachable.set('198.51.100.3', true);
    await a.round();
    assert.equal(w.writes.length, 1);
    await a.round();
    assert.equal(w.writes.length, 2);
    assert.equal(w.health.get('198.51.100.3'), 'up');
    assert.equal(events[1]?.health, 'up');
    assert.equal(events[1]?.reason, null);
  });

  it('picks up services added and liveness turned on after it started', async () => {
    const w = world();
    const { a, events } = agent(w);
    await a.round();
    assert.equal(w.probes.length, 0);
    w.setServices([{ ...web, backends: ['198.51.100.2'] }]);
    w.reachable.set('198.51.100.2', false);
    for (let i = 0; i < 3; i++) await a.round();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.failOpen, true, 'its only backend is down: fail-open');
  });

  it('starts from the kernel flag and follows a flag changed by someone else', async () => {
    const w = world();
    w.setServices([{ ...web, backends: ['198.51.100.2'] }]);
    w.health.set('198.51.100.2', 'down');
    const { a, events } = agent(w);
    await a.round();
    await a.round();
    assert.equal(events.length, 1, 'a restarted agent brings a recorded-down backend back after `rise`');
    assert.equal(events[0]?.health, 'up');

    w.reachable.set('198.51.100.2', false);
    await a.round();
    await a.round();
    w.health.set('198.51.100.2', 'down'); // written by someone else: the agent takes it over
    await a.round();
    assert.equal(events.length, 1, 'no transition of its own: the backend is already down');
    w.reachable.set('198.51.100.2', true);
    await a.round();
    await a.round();
    assert.equal(events.length, 2);
    assert.equal(events[1]?.health, 'up');
  });

  it('warns once when a write fails, and decides again from the recorded state', async () => {
    const w = world();
    w.setServices([{ ...web, backends: ['198.51.100.2'] }]);
    const { a, events, warnings } = agent(w);
    w.reachable.set('198.51.100.2', false);
    w.failWrites(true);
    for (let i = 0; i < 6; i++) await a.round();
    assert.equal(events.length, 0);
    assert.equal(warnings.length, 1, `said once: ${warnings.join(' | ')}`);
    assert.match(warnings[0] ?? '', /cannot write the health of web: map update failed/);
    w.failWrites(false);
    for (let i = 0; i < 3; i++) await a.round();
    assert.equal(events.length, 1);
    assert.equal(w.health.get('198.51.100.2'), 'down');
  });

  it('keeps going when the services cannot be read', async () => {
    const w = world();
    const { a, warnings } = agent(w);
    w.io.readServices = () => {
      throw new Error('no balancer state');
    };
    await a.round();
    await a.round();
    assert.deepEqual(warnings, ['cannot read the services: no balancer state']);
  });

  it('stops between rounds when aborted', async () => {
    const w = world();
    w.setServices([{ ...web, backends: ['198.51.100.2'] }]);
    const { a } = agent(w);
    const controller = new AbortController();
    const running = a.run(controller.signal);
    // Abort once the first round has probed, i.e. while the agent waits for the next one.
    await waitFor('the first round', () => w.probes.length === 1, { intervalMs: 5 });
    controller.abort();
    const started = Date.now();
    await running;
    assert.ok(Date.now() - started < options.intervalMs, 'did not wait out the interval');
    assert.equal(w.probes.length, 1);
  });
});

describe('TCP probe', () => {
  let server: Server;
  let port = 0;
  const received: Buffer[] = [];

  before(async () => {
    server = createServer((sock) => {
      const chunks: Buffer[] = [];
      sock.on('data', (d) => chunks.push(d));
      sock.on('end', () => {
        received.push(Buffer.concat(chunks));
        sock.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const waitReceived = (n: number) =>
    waitFor(`connection ${n} at the server`, () => received[n - 1], { timeoutMs: 1000, intervalMs: 10 });

  it('sends a PROXY v2 LOCAL header and closes, with ppv2', async () => {
    const result = await probeTcp({ address: '127.0.0.1', port }, { timeoutMs: 1000, ppv2: true });
    assert.equal(result.ok, true);
    assert.equal(result.error, null);
    const bytes = await waitReceived(1);
    assert.ok(bytes);
    const decoded = decodeV2(bytes);
    assert.equal(decoded.status, 'complete');
    assert.equal(
      decoded.status === 'complete' && decoded.consumed,
      bytes.length,
      'the header and nothing else',
    );
    assert.equal(decoded.status === 'complete' && decoded.header.command, 'LOCAL');
  });

  it('sends nothing without ppv2', async () => {
    const result = await probeTcp({ address: '127.0.0.1', port }, { timeoutMs: 1000, ppv2: false });
    assert.equal(result.ok, true);
    assert.equal((await waitReceived(2))?.length, 0);
  });

  it('fails with the socket error when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await probeTcp({ address: '127.0.0.1', port: freePort }, { timeoutMs: 1000, ppv2: true });
    assert.deepEqual({ ok: result.ok, error: result.error }, { ok: false, error: 'ECONNREFUSED' });
  });
});
