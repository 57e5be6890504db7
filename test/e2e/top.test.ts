/**
 * Issue "lbctl top": the dashboard end to end. The real CLI runs inside tmux against a balancer with real
 * nginx and HAProxy backends while a loop of curls from the client namespace keeps traffic flowing; the
 * test reads the screen with capture-pane and drives the keys with send-keys. The scripted outputs
 * (--once/--iterations/--json, non-TTY tables) are checked against `lbctl stats`.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { progInfoById } from '../../src/bpf/prog-info.js';
import type { TopSnapshotJson } from '../../src/cli/top-render.js';
import type { StatsOutput } from '../../src/commands/stats.js';
import { run } from '../../src/sys/run.js';
import { lbctl, parseJson, REPO_ROOT } from '../helpers/cli.js';
import { assertCliError } from '../helpers/errors.js';
import { skipOrFailUnderCi, suitePrerequisites } from '../helpers/prereq.js';
import { Tmux } from '../helpers/tmux.js';
import { waitFor } from '../helpers/wait.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'curl', 'tmux'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const VIP = '203.0.113.10';
const RUN_JS = join(REPO_ROOT, 'bin/run.js');

/** curl in a loop from the client namespace until stopped: new connections, so new headers, all the time. */
function startTraffic(lb: Balancer, urls: string[]): { stop(): Promise<void>; requests(): number } {
  let stopped = false;
  let requests = 0;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      await lb
        .curl(urls[i % urls.length] ?? '')
        .then(() => requests++)
        .catch(() => undefined);
      await sleep(50); // pacing: a new connection every ~50 ms, not a wait for anything
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
    requests: () => requests,
  };
}

/** The number after `label` on the dashboard's rate line ("rate   pkts/s 52.7   ...   conn/s 5 ..."). */
function rate(screen: string, label: string): number {
  const line = screen.split('\n').find((l) => l.startsWith('rate ')) ?? '';
  const m = new RegExp(`${label.replace('/', '\\/')} ([\\d.]+)([kMG]?)`).exec(line);
  if (!m) return Number.NaN;
  return Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1);
}

/**
 * Processes holding a BPF_ENABLE_STATS file descriptor: run-time statistics stay on while any exists (or
 * while the sysctl says so).
 */
function bpfStatsHolders(): Map<number, string> {
  const holders = new Map<number, string>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:bpf-stats') {
          holders.set(Number(pid), readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
          break;
        }
      }
    } catch {
      // the process exited meanwhile
    }
  }
  return holders;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every connection row of the screen has its VIP, BACKEND and ST cells right under their titles. */
function assertColumnsAlign(screen: string, client: string): void {
  const lines = screen.split('\n');
  const titles = lines.find((l) => l.startsWith('CLIENT ')) ?? '';
  const rows = lines.filter((l) => l.startsWith(`${client}:`));
  assert.ok(rows.length > 0, `connection rows on the screen:\n${screen}`);
  for (const title of ['VIP', 'BACKEND', 'ST']) {
    const at = titles.search(new RegExp(` ${title} `)) + 1;
    assert.ok(at > 0, `the ${title} title`);
    for (const row of rows) {
      assert.equal(row[at - 1], ' ', `a gap before ${title}: ${row}`);
      assert.notEqual(row[at], ' ', `a value under ${title}: ${row}`);
    }
  }
}

describe('lbctl top against a live balancer', { skip }, () => {
  let lb: Balancer;
  let traffic: ReturnType<typeof startTraffic> | undefined;
  let scratch: string;
  let tmux: Tmux;

  before(async () => {
    assertPrerequisites();
    scratch = await mkdtemp(join(tmpdir(), 'lbctl-top-'));
    tmux = new Tmux(join(scratch, 'tmux.sock'));
    lb = await startBalancer('lbctl-top');
    const [b1, b2, hap] = lb.topo.backends.ipv4;
    lb.cliJson([
      'service',
      'add',
      `${VIP}:80`,
      '--backend',
      `${b1}:80`,
      '--backend',
      `${b2}:80`,
      '--ppv2',
      '--name',
      'web',
    ]);
    lb.cliJson([
      'service',
      'add',
      `${VIP}:82`,
      '--backend',
      `${hap}:80`,
      '--ppv2',
      '--ppv2-tlv',
      'unique-id',
      '--ppv2-tlv',
      'crc32c',
      '--name',
      'hap',
    ]);
    traffic = startTraffic(lb, [`http://${VIP}:80/whoami`, `http://${VIP}:82/whoami`]);
    const loop = traffic;
    await waitFor('answers to the traffic loop through the balancer', () => loop.requests() >= 3, {
      timeoutMs: 15_000,
    });
  });

  after(async () => {
    await tmux?.close();
    await traffic?.stop();
    await lb?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('shows live rates and decoded headers in tmux, follows a resize, and q exits 0 restoring the terminal', async () => {
    const client = lb.topo.client.ipv4[0] ?? '';
    const exitFile = join(scratch, 'top-exit');
    const holdersBefore = bpfStatsHolders();
    await tmux.start(
      `echo before-top-marker; ${process.execPath} ${RUN_JS} --netns ${lb.topo.ns.lb} top --interval 1; ` +
        `echo top-exit=$? > ${exitFile}; echo after-top-marker; exec sleep 3600`,
      80,
      24,
    );
    try {
      const header = new RegExp(`PROXY TCP4 ${escapeRegExp(client)}:\\d+ -> ${escapeRegExp(VIP)}:8[02]`);
      const screen = await tmux.waitFor(
        'non-zero connection and header rates and a decoded header from the real client',
        (s) => rate(s, 'conn/s') > 0 && rate(s, 'hdr/s') > 0 && header.test(s),
      );
      assert.ok(rate(screen, 'pkts/s') > 0, screen);
      assert.match(screen, /^lbctl top {2}lbctl-top-[0-9a-f]{8}-lb {2}up /m);
      assert.match(screen, /^web +fullnat /m, 'the services table');
      assert.match(screen, /^CONNECTIONS \d+ {2}rows 1-\d+ of \d+, \d+ not shown/m);
      assert.match(screen, new RegExp(`^${escapeRegExp(client)}:\\d+ +${escapeRegExp(VIP)}:8[02] `, 'm'));
      const lines = screen.replace(/\n+$/, '').split('\n');
      assert.ok(lines.length <= 24 && lines.every((l) => l.length <= 80), 'fits 80x24');
      assertColumnsAlign(screen, client);
      assert.equal(
        await tmux.pane('#{alternate_on} #{cursor_flag}'),
        '1 0',
        'alternate screen, cursor hidden',
      );

      // The kernel's run-time statistics are on while top runs (top holds a BPF_ENABLE_STATS fd), so the
      // datapath's cost per packet shows.
      await tmux.waitFor('the datapath cost', (s) => /^datapath \d+ ns\/pkt {2}\d+\.\d\d% CPU/m.test(s));
      const topHolders = [...bpfStatsHolders()].filter(
        ([pid, cmd]) => !holdersBefore.has(pid) && / top /.test(cmd),
      );
      assert.equal(topHolders.length, 1, 'top holds run-time statistics while it runs');

      await tmux.resize(140, 40);
      await tmux.waitFor('the wide layout after a resize', (s) =>
        /CLIENT +VIP +BACKEND +SERVICE +ST /.test(s),
      );

      await tmux.keys('3'); // the headers pane
      await tmux.waitFor('the headers pane', (s) => /^HEADERS \d+ recent/m.test(s) && header.test(s));
      await tmux.keys('x');
      await tmux.waitFor('raw hex', (s) => /^\S+ inj +(web|hap) 0d0a0d0a000d0a515549540a21/m.test(s));
      await tmux.keys('x');
      // Enter opens the highlighted (newest) header whole: decoded fields, every TLV, the raw bytes.
      await tmux.keys('Enter');
      const detail = await tmux.waitFor(
        'the detail view',
        (s) => /^DETAIL/m.test(s) && /^raw \d+ B/m.test(s),
      );
      assert.match(detail, new RegExp(`^source +${escapeRegExp(client)} port \\d+`, 'm'));
      assert.match(detail, /^version 2 {2}command PROXY {2}family INET/m);
      assert.match(detail, /^ {2}0d0a 0d0a 000d 0a51 5549 540a 21/m, 'the raw hex, signature first');
      await tmux.keys('Escape');
      await tmux.waitFor('back to the feed', (s) => /^HEADERS \d+ recent/m.test(s) && !/^DETAIL/m.test(s));

      await tmux.keys('q');
      await waitFor('top to exit after q', () => existsSync(exitFile), { timeoutMs: 15_000 });
      assert.equal(readFileSync(exitFile, 'utf8').trim(), 'top-exit=0');
      const restored = await tmux.waitFor('the shell screen', (s) => s.includes('after-top-marker'), 5_000);
      assert.equal(
        await tmux.pane('#{alternate_on} #{cursor_flag}'),
        '0 1',
        'main screen back, cursor shown',
      );
      assert.ok(restored.includes('before-top-marker'), 'what was on the screen before top is back');
      assert.ok(!restored.includes('CONNECTIONS'), 'no dashboard left on the main screen');
      for (const [pid] of topHolders)
        assert.ok(!bpfStatsHolders().has(pid), 'its hold on statistics is gone');
    } finally {
      // A failure above leaves top running: it would share the events ring with the tests below.
      await tmux.close();
    }
  });

  it('leaves run-time statistics off after it exits, unless someone else turned them on', async (t) => {
    const sysctl = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
    const others = bpfStatsHolders();
    if (sysctl !== '0' || others.size > 0) {
      const who = [...others.values()].join('; ');
      skipOrFailUnderCi(
        t,
        `statistics are kept on by kernel.bpf_stats_enabled=${sysctl} or by: ${who || 'nobody'}`,
      );
      return;
    }
    type Status = {
      runTimeStats: { enabled: boolean };
      interfaces: Array<{ progId: number | null; program: { runCount: number | null } | null }>;
    };
    const status = lb.cliJson<Status>(['status']);
    assert.equal(status.runTimeStats.enabled, false, 'status knows statistics are off');
    assert.equal(status.interfaces[0]?.program?.runCount, null, 'and marks run counts unavailable');
    assert.match(lb.cli(['status']).stdout, /BPF run-time stats +off: program run counts are unavailable/);
    const progId = status.interfaces[0]?.progId ?? -1;
    const runs = () => progInfoById(progId).runCnt;
    const before = runs();
    const requests = traffic?.requests() ?? 0;
    // Answered requests went through the datapath program: had statistics stayed on, it counted them.
    await waitFor('traffic through the datapath meanwhile', () => (traffic?.requests() ?? 0) >= requests + 3);
    const after = runs();
    if (bpfStatsHolders().size > 0) {
      skipOrFailUnderCi(t, 'another process turned statistics on meanwhile; nothing to conclude');
      return;
    }
    assert.equal(after, before, 'run_cnt no longer counts: statistics are off again');
  });

  it('--once --json counters match `stats --json` taken at the same moment', async () => {
    const env = { ...process.env, NO_COLOR: '1' };
    const cli = (args: string[]) =>
      run(process.execPath, [RUN_JS, '--netns', lb.topo.ns.lb, ...args], {
        env,
        allowFailure: true,
        timeoutMs: 30_000,
      });
    // Started together: top reads its counters one interval after stats does, a difference the comparison
    // below allows for (two intervals' worth of each counter's rate).
    const [top, stats] = await Promise.all([
      cli(['top', '--once', '--json', '--interval', '1']),
      cli(['stats', '--json']),
    ]);
    assert.equal(top.code, 0, top.stderr);
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(top.stdout.trim().split('\n').length, 1, 'one JSON document');
    const snap = JSON.parse(top.stdout) as TopSnapshotJson;
    const totals = JSON.parse(stats.stdout) as StatsOutput;

    assert.ok(snap.intervalSeconds >= 0.9 && snap.intervalSeconds < 2, `interval ${snap.intervalSeconds}`);
    assert.ok(snap.rates.focus.connections > 0 && snap.rates.focus.headers > 0, 'traffic shows as rates');
    assert.deepEqual(Object.keys(snap.counters.global), Object.keys(totals.global), 'same counters');
    assert.deepEqual(
      snap.counters.services.map((s) => [s.id, s.key, s.name]),
      totals.services.map((s) => [s.id, s.key, s.name]),
    );
    // "The same moment": the two readings differ by at most about one interval's traffic.
    const within = (name: string, a: number, b: number, perSecond: number) => {
      const slack = Math.ceil(perSecond * 2 * snap.intervalSeconds) + 2;
      assert.ok(Math.abs(a - b) <= slack, `${name}: top ${a}, stats ${b}, allowed difference ${slack}`);
    };
    for (const [name, value] of Object.entries(snap.counters.global)) {
      within(name, value, totals.global[name] ?? Number.NaN, snap.rates.global[name] ?? 0);
    }
    for (const [i, service] of snap.counters.services.entries()) {
      for (const [name, value] of Object.entries(service.counters)) {
        within(
          `${service.name}.${name}`,
          value,
          totals.services[i]?.counters[name] ?? Number.NaN,
          snap.rates.services[i]?.counters[name] ?? 0,
        );
      }
    }
    assert.ok(
      snap.headers.some((h) => h.header?.src === lb.topo.client.ipv4[0] && h.header?.dst === VIP),
      'headers of the interval, decoded',
    );
    assert.ok(snap.connections && snap.connections.total > 0 && snap.connections.rows.length > 0);
  });

  it('prints NDJSON snapshots with --iterations, and tables when stdout is not a terminal', () => {
    const ndjson = lb.cli(['top', '--iterations', '3', '--interval', '0.3', '--json']);
    assert.equal(ndjson.code, 0, ndjson.stderr);
    const lines = ndjson.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const line of lines) {
      const snap = JSON.parse(line) as TopSnapshotJson;
      assert.ok(Math.abs(snap.intervalSeconds - 0.3) < 0.2, `interval ${snap.intervalSeconds}`);
      assert.equal(typeof snap.rates.global.fwd_packets, 'number');
    }

    const tables = lb.cli(['top', '--interval', '0.5']);
    assert.equal(tables.code, 0, tables.stderr);
    assert.match(tables.stdout, /│ counter +│ total +│ per second +│/);
    assert.match(tables.stdout, /│ web +│ fullnat +│/);
    assert.ok(!tables.stdout.includes('\u001b['), 'no terminal escapes in a pipe');

    const focused = parseJson<TopSnapshotJson>(
      lb.cli(['top', '--once', '--json', '--service', 'hap', '--interval', '0.5']),
    );
    assert.equal(focused.focus, `${VIP}:82/tcp`);
    assert.deepEqual(
      focused.counters.services.map((s) => s.name),
      ['hap'],
    );
    assert.ok(focused.connections?.rows.every((c) => c.service === 'hap'));
  });

  it('refuses an unknown service and a bad interval with the documented exit codes', () => {
    // The hint lists the services there are.
    const unknown = lb.cli(['top', '--once', '--service', 'nope']);
    assertCliError(unknown, 3, { mentions: ['nope', 'web', 'hap'], hint: true });
    assertCliError(lb.cli(['top', '--once', '--interval', '0']), 2, { mentions: ['--interval'] });
    assertCliError(lb.cli(['top', '--once', '--iterations', '2']), 2);
    // A namespace without a balancer: the backends'.
    const none = lbctl(['--netns', lb.topo.ns.backends, 'top', '--once']);
    assertCliError(none, 3, { hint: true });
  });
  // Last: it detaches the balancer the tests above share.
  it('follows a detach within one interval, lines its columns up at 200x60, and picks up the next attach', async () => {
    await tmux.start(
      `${process.execPath} ${RUN_JS} --netns ${lb.topo.ns.lb} top --interval 1; exec sleep 3600`,
      200,
      60,
    );
    try {
      const wide = await tmux.waitFor(
        'services and connections',
        (s) => /^web +fullnat /m.test(s) && /^CLIENT /m.test(s),
      );
      assertColumnsAlign(wide, lb.topo.client.ipv4[0] ?? '');
      lb.cliJson(['detach', '--all']);
      // One interval (1 s) for top's next reading, plus the screen capture's own polling.
      const gone = await tmux.waitFor(
        'not attached, with nothing of the old datapath',
        (s) => /NOT ATTACHED/.test(s) && !/^web /m.test(s) && !/^CONNECTIONS/m.test(s),
        1_800,
      );
      assert.match(gone, /not attached: no datapath is pinned/);
      lb.cliJson(['attach', lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend]);
      const [b1] = lb.topo.backends.ipv4;
      lb.cliJson(['service', 'add', `${VIP}:80`, '--backend', `${b1}:80`, '--ppv2', '--name', 'web2']);
      await tmux.waitFor(
        'the new datapath and its service',
        (s) => /^web2 +fullnat /m.test(s) && !/NOT ATTACHED/.test(s),
        10_000,
      );
    } finally {
      await tmux.close();
    }
  });
});
