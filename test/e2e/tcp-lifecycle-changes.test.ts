/**
 * Issue 4, cases 10 and 11: the operator changes things while long transfers run. A changed backend set, a
 * deleted service, PPv2 switched off, the datapath re-attached in place, detached with --keep-maps and
 * attached again, or detached for good. Live connections must continue byte-exact or be reset cleanly
 * (never hang: every transfer is bounded by curl --max-time), and new connections must follow the new
 * configuration. README "Live changes" documents each outcome asserted here.
 *
 * Every scenario runs four 20 MB downloads at once (IPv4 and IPv6, fullnat and dnat), paced by the reader
 * (curl --limit-rate with a small receive buffer) so packets flow in both directions while the CLI acts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NginxConnectionView } from '../../src/lab/nginx.js';
import { sha256File } from '../../src/lab/nginx.js';
import { run } from '../../src/sys/run.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { httpGet, parseHttpResponse, tcpExchange } from '../helpers/tcp-client.js';
import { waitFor } from '../helpers/wait.js';
import { type Balancer, DOWNLOAD_BYTES, startBalancer } from './fixtures/balancer.js';
import {
  assertFailureCounters,
  type CurlOutcome,
  clientSocket,
  cliJsonAsync,
  curlOutcome,
  FAMILIES,
  type Family,
  paceClientReceives,
  serviceCounters,
  stats,
  url,
} from './fixtures/lifecycle.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'curl'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

/** 20 MB at 2 MB/s: about 10 s, longer than the CLI calls each scenario makes meanwhile. */
const RATE = '2M';
const TRANSFER_MAX_S = 30;
const MODES = ['fullnat', 'dnat'] as const;
type Mode = (typeof MODES)[number];

/** A file's size; 0 before curl has created it. */
const sizeOf = (path: string) =>
  stat(path)
    .then((s) => s.size)
    .catch(() => 0);

/** One service per scenario, family and mode; ports by scenario, fullnat even and dnat odd. */
interface DetachJson {
  interfaces: Array<{ interface: string; removedFilter: boolean; held: boolean }>;
  removedState: boolean;
  held: boolean;
  liveConnections: number;
  drain: { live: number; reset: number; remaining: number } | null;
}

const SCENARIO_PORTS = {
  backends: 80,
  delete: 82,
  ppv2off: 84,
  reattach: 86,
  keepmaps: 88,
  detach: 90,
} as const;
type Scenario = keyof typeof SCENARIO_PORTS;

interface Target {
  f: Family;
  mode: Mode;
  name: string;
  port: number;
}

const targets = (scenario: Scenario): Target[] =>
  FAMILIES.flatMap((f) =>
    MODES.map((mode, i) => ({
      f,
      mode,
      name: `${scenario}${f.v6 ? 6 : 4}${mode === 'fullnat' ? 'f' : 'd'}`,
      port: SCENARIO_PORTS[scenario] + i,
    })),
  );

describe('TCP life-cycle: live changes under traffic', { skip }, () => {
  let lb: Balancer;
  let scratch: string;

  const backendsOf = (f: Family) => (f.v6 ? lb.topo.backends.ipv6 : lb.topo.backends.ipv4);
  const endpoint = (f: Family, addr: string | undefined, port: number) =>
    `${f.v6 ? `[${addr}]` : addr}:${port}`;

  async function addServices(scenario: Scenario, extra: string[] = []): Promise<Target[]> {
    const list = targets(scenario);
    await Promise.all(
      list.map((t) =>
        cliJsonAsync(lb, [
          'service',
          'add',
          endpoint(t.f, t.f.vip, t.port),
          '--backend',
          endpoint(t.f, backendsOf(t.f)[0], 80),
          '--mode',
          t.mode,
          '--ppv2',
          '--name',
          t.name,
          ...extra,
        ]),
      ),
    );
    return list;
  }

  interface Running {
    t: Target;
    out: string;
    done: Promise<CurlOutcome>;
  }

  /** Start one paced 20 MB download per target and return once all of them are moving. */
  async function startDownloads(list: Target[]): Promise<Running[]> {
    const download = lb.nginx.download(DOWNLOAD_BYTES);
    const running = list.map((t) => {
      const out = join(scratch, `${t.name}.bin`);
      const done = curlOutcome(lb, url(t.f.vip, t.port, download.path), {
        out,
        maxSeconds: TRANSFER_MAX_S,
        extra: ['--limit-rate', RATE],
      });
      return { t, out, done };
    });
    let sizes: number[] = [];
    await waitFor(
      'the first bytes of every download',
      async () => {
        sizes = await Promise.all(running.map((r) => sizeOf(r.out)));
        return sizes.every((n) => n > 0);
      },
      { timeoutMs: 15_000, detail: () => `bytes so far: ${sizes.join(', ')}` },
    );
    return running;
  }

  /** A raw client connection's local port, fixed (below the ephemeral range) so `ss` can find it. */
  const localPortFor = (servicePort: number) => 20_000 + servicePort;

  /** Wait until the client socket on `localPort` is established and the peer acked `bytes` of data. */
  const waitAcked = (localPort: number, bytes: number) =>
    waitFor(`the client on port ${localPort} to be established with ${bytes} bytes acked`, async () => {
      const socket = await clientSocket(lb, localPort);
      return socket !== undefined && socket.bytesAcked >= bytes + 1; // + 1: the SYN
    });

  async function assertByteExact(r: Running): Promise<void> {
    const outcome = await r.done;
    assert.equal(
      outcome.code,
      0,
      `${r.t.name}: curl exit ${outcome.code} after ${outcome.seconds} s: ${outcome.stderr}`,
    );
    assert.equal(outcome.bytes, DOWNLOAD_BYTES, r.t.name);
    assert.equal(
      await sha256File(r.out),
      lb.nginx.download(DOWNLOAD_BYTES).sha256,
      `${r.t.name}: byte-exact`,
    );
  }

  /** Continue byte-exact, or a clean reset (curl: recv failure / reset); never a hang (curl exit 28). */
  async function assertContinuesOrResets(r: Running): Promise<'continued' | 'reset'> {
    const outcome = await r.done;
    console.log(
      `# ${r.t.name}: curl exit ${outcome.code}, ${outcome.bytes} bytes in ${outcome.seconds} s ${outcome.stderr}`,
    );
    if (outcome.code === 0) {
      assert.equal(
        await sha256File(r.out),
        lb.nginx.download(DOWNLOAD_BYTES).sha256,
        `${r.t.name}: byte-exact`,
      );
      return 'continued';
    }
    assert.equal(
      outcome.code,
      56,
      `${r.t.name}: curl exit ${outcome.code} after ${outcome.seconds} s: ${outcome.stderr}`,
    );
    return 'reset';
  }

  /** `whoami` through the VIP `n` times; each answer parsed. */
  async function whoami(t: Target, n: number): Promise<NginxConnectionView[]> {
    const views: NginxConnectionView[] = [];
    for (let i = 0; i < n; i++) {
      const res = await lb.curl(url(t.f.vip, t.port, '/whoami'));
      views.push(JSON.parse(res.body) as NginxConnectionView);
    }
    return views;
  }

  before(async () => {
    assertPrerequisites();
    scratch = await mkdtemp(join(tmpdir(), 'lbctl-lcc-'));
    lb = await startBalancer('lbctl-lcc');
    await paceClientReceives(lb);
  });

  after(async () => {
    await lb?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  // ---------------------------------------------------------------------------------------------------
  // Case 10: life-cycle under traffic.

  it('case 10: a changed backend set: live downloads continue byte-exact, new connections use the new set', async () => {
    const list = await addServices('backends');
    const running = await startDownloads(list);
    // fullnat: the set replaced with --backend; dnat: the same change as --add-backend + --remove-backend.
    await Promise.all(
      list.map((t) => {
        const [b1, b2] = backendsOf(t.f);
        const change =
          t.mode === 'fullnat'
            ? ['--backend', endpoint(t.f, b2, 80)]
            : ['--add-backend', endpoint(t.f, b2, 80), '--remove-backend', endpoint(t.f, b1, 80)];
        return cliJsonAsync(lb, ['service', 'set', t.name, ...change]);
      }),
    );
    for (const t of list) {
      const b2 = backendsOf(t.f)[1];
      const views = await whoami(t, 4);
      assert.deepEqual(
        views.map((v) => v.server_addr),
        [b2, b2, b2, b2],
        `${t.name}: new connections go to the new backend`,
      );
      assert.ok(
        views.every((v) => v.proxy_protocol_addr !== ''),
        `${t.name}: and still get the header`,
      );
    }
    for (const r of running) await assertByteExact(r);
    // The whole set back, through --add-backend: new connections spread over both (Maglev, 50/50).
    const first = list[0] as Target;
    await cliJsonAsync(lb, [
      'service',
      'set',
      first.name,
      '--add-backend',
      endpoint(first.f, backendsOf(first.f)[0], 80),
    ]);
    const spread = new Set((await whoami(first, 16)).map((v) => v.server_addr));
    assert.deepEqual([...spread].sort(), [backendsOf(first.f)[0], backendsOf(first.f)[1]].sort());
    const doc = stats(lb);
    for (const t of list) assertFailureCounters(serviceCounters(lb, t.name, doc), [], t.name);
  });

  it('case 10: a deleted service: live downloads continue byte-exact, new connections are refused at once', async () => {
    const list = await addServices('delete');
    const running = await startDownloads(list);
    await Promise.all(list.map((t) => cliJsonAsync(lb, ['service', 'delete', t.name])));
    for (const t of list) {
      // The VIP is nobody's now: the balancer's stack has no route for it and answers ICMP unreachable.
      const fresh = await curlOutcome(lb, url(t.f.vip, t.port, '/whoami'), { maxSeconds: 10 });
      assert.equal(fresh.code, 7, `${t.name}: connect fails (${fresh.stderr})`);
      assert.ok(fresh.seconds < 3, `${t.name}: and does so at once (${fresh.seconds} s)`);
    }
    for (const r of running) await assertByteExact(r);
    assertFailureCounters(stats(lb).global, [], 'global');
  });

  it('case 10: PPv2 switched off: live downloads continue byte-exact, new connections get no header', async () => {
    const list = await addServices('ppv2off');
    const running = await startDownloads(list);
    await Promise.all(list.map((t) => cliJsonAsync(lb, ['service', 'set', t.name, '--no-ppv2'])));
    const before = stats(lb);
    for (const t of list) {
      // nginx expects a header on this listener, so a plain request is refused: proof that none came.
      const fresh = await curlOutcome(lb, url(t.f.vip, t.port, '/whoami'), { maxSeconds: 10 });
      assert.notEqual(fresh.code, 0, `${t.name}: nginx refuses a connection without header`);
      assert.ok(fresh.seconds < 3, `${t.name}: at once (${fresh.seconds} s)`);
    }
    assert.match(await lb.nginx.errorLog(), /broken header: "GET \/whoami/);
    for (const r of running) await assertByteExact(r);
    const after = stats(lb);
    for (const t of list) {
      const [b, a] = [serviceCounters(lb, t.name, before), serviceCounters(lb, t.name, after)];
      assert.equal(a.conn_new - b.conn_new, 1, `${t.name}: one new connection`);
      assert.equal(a.ppv2_injected - b.ppv2_injected, 0, `${t.name}: without a header`);
      assertFailureCounters(a, [], t.name);
    }
  });

  for (const change of ['service delete', 'service set --no-ppv2'] as const) {
    // The datapath builds the header from conntrack (what the SYN promised) and takes only the custom TLVs
    // from the service: a deleted or reconfigured service never strands a connection that has not sent yet.
    it(`case 10: a connection opened before \`${change}\` that sends its first bytes after it gets the header of its SYN`, async () => {
      const del = change === 'service delete';
      const [name, port] = del ? ['middel4', 92] : ['midoff4', 93];
      const [b1] = lb.topo.backends.ipv4;
      await cliJsonAsync(lb, [
        ...['service', 'add', `${lb.topo.vip.ipv4}:${port}`, '--backend', `${b1}:80`, '--name', name],
        ...['--ppv2', '--ppv2-tlv', 'unique-id', '--ppv2-tlv', 'authority=lbctl-lab.test'],
      ]);
      // Connect, then wait 10 s before the request: the change lands in between, even when each CLI call
      // takes seconds on a loaded machine.
      const pending = tcpExchange({
        netns: lb.topo.ns.client,
        host: lb.topo.vip.ipv4,
        port,
        localPort: localPortFor(port),
        send: [Buffer.alloc(0), httpGet('/whoami')],
        gapMs: 10_000,
        timeoutMs: 20_000,
      });
      await waitAcked(localPortFor(port), 0);
      const before = stats(lb).global;
      await cliJsonAsync(lb, del ? ['service', 'delete', name] : ['service', 'set', name, '--no-ppv2']);
      const res = await pending;
      assert.notEqual(res.closed, 'timeout', 'answered, not left hanging');
      const http = parseHttpResponse(res.data);
      assert.equal(http?.status, 200, res.data.toString('latin1'));
      const view = JSON.parse(http?.body.toString() ?? '') as NginxConnectionView;
      assert.equal(view.proxy_protocol_addr, res.localAddress, 'with the header its SYN promised');
      const after = stats(lb).global;
      // The header went at the handshake, while the service still existed: nothing stood in for its TLVs.
      // (A service deleted between the SYN and the handshake's ACK: test/packet/datapath.test.ts.)
      assert.equal(after.ppv2_no_service - before.ppv2_no_service, 0);
      assertFailureCounters(after, [], 'global');
    });
  }

  // ---------------------------------------------------------------------------------------------------
  // Case 11: detach and re-attach under traffic.

  const attachBoth = () => cliJsonAsync(lb, ['attach', lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend]);

  it('case 11: attach again (the program replaced in place): live downloads continue byte-exact', async () => {
    const list = await addServices('reattach');
    const running = await startDownloads(list);
    const res = await attachBoth();
    assert.deepEqual(
      (res as { interfaces: Array<{ action: string }> }).interfaces.map((i) => i.action),
      ['replaced', 'replaced'],
    );
    for (const r of running) await assertByteExact(r);
    for (const t of list)
      assert.ok((await whoami(t, 1))[0]?.proxy_protocol_addr, `${t.name}: new connections work`);
  });

  it('case 11: detach --all --keep-maps, then attach: a connection that sends while held resumes with its header', async () => {
    const [b1] = lb.topo.backends.ipv4;
    await cliJsonAsync(lb, [
      'service',
      'add',
      `${lb.topo.vip.ipv4}:94`,
      '--backend',
      `${b1}:80`,
      '--ppv2',
      '--name',
      'idle4',
    ]);
    // The first half of the request goes before the detach; the second is sent while held, dropped, and
    // retransmitted by the client's TCP after the re-attach.
    const halves = [Buffer.from('GET /whoami HTTP/1.0\r\n'), Buffer.from('Host: lbctl-lab.test\r\n\r\n')];
    const pending = tcpExchange({
      netns: lb.topo.ns.client,
      host: lb.topo.vip.ipv4,
      port: 94,
      localPort: localPortFor(94),
      send: halves,
      gapMs: 3_000,
      timeoutMs: 30_000,
    });
    await waitAcked(localPortFor(94), halves[0]?.length ?? 0);
    const detached = await cliJsonAsync<{ liveConnections: number; removedState: boolean }>(lb, [
      'detach',
      '--all',
      '--keep-maps',
    ]);
    assert.equal(detached.removedState, false);
    assert.ok(detached.liveConnections >= 1, 'the idle connection is reported as live');
    // The second half leaves while held: the hold drops it, so it stays unacknowledged until the attach.
    await waitFor('the second half sent and unacknowledged while held', async () => {
      const socket = await clientSocket(lb, localPortFor(94));
      return socket !== undefined && socket.unacked > 0;
    });
    await attachBoth();
    const res = await pending;
    const http = parseHttpResponse(res.data);
    assert.equal(http?.status, 200, res.data.toString('latin1'));
    const view = JSON.parse(http?.body.toString() ?? '') as NginxConnectionView;
    assert.equal(view.proxy_protocol_addr, res.localAddress);
    assert.equal(view.proxy_protocol_port, String(res.localPort));
  });

  let keptRunning: Running[] = [];
  it('case 11: detach --all --keep-maps under traffic holds it, attach resumes: maps and services stay', async () => {
    const list = await addServices('keepmaps');
    keptRunning = await startDownloads(list);
    const detached = await cliJsonAsync<DetachJson>(lb, ['detach', '--all', '--keep-maps']);
    assert.equal(detached.removedState, false);
    assert.equal(detached.held, true);
    assert.ok(
      detached.interfaces.every((i) => i.held && !i.removedFilter),
      'the filters stay and hold',
    );
    assert.ok(detached.liveConnections >= list.length, 'the downloads are reported as live');
    const status = await cliJsonAsync<{ config: { detaching: string | null } }>(lb, ['status']);
    assert.equal(status.config.detaching, 'hold');
    // The maintenance window lasts until every download has lost packets to the hold.
    await waitFor('every download to lose packets to the hold', () => {
      const doc = stats(lb);
      return list.every((t) => serviceCounters(lb, t.name, doc).drop_detaching > 0);
    });
    await attachBoth();
    const after = await cliJsonAsync<{ config: { detaching: string | null } }>(lb, ['status']);
    assert.equal(after.config.detaching, null, 'attach ends the hold');
    for (const t of list) {
      assert.ok(serviceCounters(lb, t.name).drop_detaching > 0, `${t.name}: packets were held`);
      assert.ok((await whoami(t, 1))[0]?.proxy_protocol_addr, `${t.name}: new connections work`);
    }
  });

  it('case 11: ... and the downloads held across that window continue byte-exact', async () => {
    assert.ok(keptRunning.length > 0, 'the downloads ran');
    for (const r of keptRunning) await assertByteExact(r);
  });

  let cutRunning: Running[] = [];
  let idleCut: Promise<{ closed: string; error?: string; endedAt: number }> | undefined;
  let detachedAt = 0;
  it('case 11: detach --all (maps removed) under traffic: resets every live connection, then refuses new ones', async () => {
    const list = await addServices('detach');
    cutRunning = await startDownloads(list);
    // An idle connection too: only the drain's probe makes it send something that can be turned into resets.
    const idlePort = localPortFor(SCENARIO_PORTS.detach);
    const firstHalf = Buffer.from('GET /whoami HTTP/1.0\r\n');
    idleCut = tcpExchange({
      netns: lb.topo.ns.client,
      host: lb.topo.vip.ipv4,
      port: SCENARIO_PORTS.detach,
      localPort: idlePort,
      send: [firstHalf, Buffer.from('Host: lbctl-lab.test\r\n\r\n')],
      gapMs: 25_000,
      timeoutMs: 40_000,
    }).then((res) => ({ ...res, endedAt: Date.now() }));
    await waitAcked(idlePort, firstHalf.length);
    detachedAt = Date.now();
    const detached = await cliJsonAsync<DetachJson>(lb, ['detach', '--all']);
    assert.equal(detached.removedState, true);
    assert.ok(detached.liveConnections >= list.length + 1, 'the downloads and the idle connection are live');
    assert.equal(detached.drain?.remaining, 0, 'every live connection was reset before the maps went');
    assert.equal(detached.drain?.reset, detached.liveConnections);
    for (const t of list) {
      // The VIPs are nobody's now: the balancer's stack has no route for them and answers ICMP unreachable.
      // The balancer's per-peer ICMP rate limit may swallow that: then curl's connect timeout ends it.
      const fresh = await curlOutcome(lb, url(t.f.vip, t.port, '/whoami'), {
        maxSeconds: 10,
        extra: ['--connect-timeout', '3'],
      });
      assert.ok([7, 28].includes(fresh.code), `${t.name}: not answered (${fresh.code}: ${fresh.stderr})`);
      assert.ok(fresh.seconds < 4, `${t.name}: within the connect timeout (${fresh.seconds} s)`);
    }
  });

  it('case 11: ... and the cut connections end with a reset at once, at both ends, none hangs', async () => {
    assert.ok(cutRunning.length > 0, 'the downloads ran');
    for (const r of cutRunning) {
      assert.equal(await assertContinuesOrResets(r), 'reset');
      const outcome = await r.done;
      // Each download was due to last ~10 s; a reset ends it well before curl's own deadline.
      assert.ok(outcome.seconds < TRANSFER_MAX_S - 5, `${r.t.name}: ended after ${outcome.seconds} s`);
    }
    const idle = await idleCut;
    assert.equal(idle?.closed, 'reset', `the idle connection was reset (${idle?.closed} ${idle?.error})`);
    const idleSeconds = ((idle?.endedAt ?? Date.now()) - detachedAt) / 1000;
    assert.ok(
      idleSeconds < 10,
      `the idle connection ended ${idleSeconds} s after the detach, not at its next send`,
    );
    // The backends were told too: none of the balancer's connections is still established there.
    const ss = await run('ss', ['-Htn', 'state', 'established', '( sport = :80 )'], {
      netns: lb.topo.ns.backends,
    });
    assert.equal(ss.stdout.trim(), '', `established at the backends after the drain:\n${ss.stdout}`);
  });
});
