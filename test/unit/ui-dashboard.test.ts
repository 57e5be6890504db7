/**
 * Component tests of the `top` dashboard on fixed snapshots (ink-testing-library): the rates it shows, the
 * sorting and filtering of the connection table, the decoded header lines, the fit at 80x24, and the keys
 * driving the live app through a fake snapshot source. Written with createElement so the plain .ts test glob
 * runs them.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanup, render } from 'ink-testing-library';
import { createElement as h } from 'react';
import { renderTopText, topSnapshotJson } from '../../src/cli/top-render.js';
import type { DatapathSnapshot } from '../../src/core/datapath-snapshot.js';
import type { UiState } from '../../src/ui/dashboard-reducer.js';
import { advance, type DashboardState, initialState } from '../../src/ui/dashboard-state.js';
import { TopApp } from '../../src/ui/top-app.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { FIRST, headerEvent, probed, renderFrame, SECOND, SERVICES, snapshot, T0 } from './ui-fixtures.js';

const TWO: DashboardState = advance(advance(initialState(), FIRST), SECOND);

const frame = renderFrame;

/** The client column of the connection table's rows, in display order. */
function tableClients(text: string): string[] {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.startsWith('CLIENT'));
  const out: string[] = [];
  for (const line of lines.slice(header + 1)) {
    const m = /^(\d+\.\d+\.\d+\.\d+:\d+) /.exec(line);
    if (!m) break;
    out.push(m[1] ?? '');
  }
  return out;
}

afterEach(() => cleanup());

describe('top dashboard: panels on fixed snapshots', () => {
  it('shows rates as deltas per interval, totals and the datapath cost', () => {
    const text = frame(TWO);
    assert.match(text, /pkts\/s 200 {3}bits\/s 1\.0M {3}conn\/s 8 {3}hdr\/s 8 {3}reinj\/s 0/);
    assert.match(text, /total {2}pkts 2\.4k {3}bytes 750kB {3}conns 116 {3}headers 116/);
    assert.match(text, /issues failures 0 drops 6: drop_no_backend 6 \(1\/s\)/);
    assert.match(
      text,
      /datapath 100 ns\/pkt {2}0\.00% CPU {2}if lbc-test,lbb-test {2}prog 42 {2}BPF stats on while top runs/,
    );
    assert.match(text, /lbctl top {2}lb-test {2}up 1h00m {2}every 2s/);
  });

  it('shows per-service rates, backends with their share of live connections and PPv2 settings', () => {
    const text = frame(TWO, {}, { columns: 140, rows: 30 });
    const web = text.split('\n').find((l) => l.startsWith('web '));
    const api = text.split('\n').find((l) => l.startsWith('api '));
    assert.match(
      web ?? '',
      /^web +fullnat +6 +6 +750k +2 v2 \(28 B\) +198\.51\.100\.2:80 50%, 198\.51\.100\.3:80 50%$/,
    );
    assert.match(api ?? '', /^api +fullnat +2 +2 +250k +1 v2 unique-id crc32c.* +198\.51\.100\.4:80 100%$/);
  });

  it('marks the backends the liveness agent took out, in the summary and the services pane', () => {
    const services = [probed(SERVICES[0] as (typeof SERVICES)[number], ['198.51.100.3']), SERVICES[1]];
    const state = advance(advance(initialState(), { ...FIRST, services } as typeof FIRST), {
      ...SECOND,
      services,
    } as typeof SECOND);
    const web = frame(state, {}, { columns: 140, rows: 30 })
      .split('\n')
      .find((l) => l.startsWith('web '));
    assert.match(web ?? '', /v2 \(28 B\) +198\.51\.100\.2:80 50%, 198\.51\.100\.3:80 down$/);
    const pane = frame(state, { view: 'services' }, { columns: 140, rows: 40 });
    assert.match(pane, /web {2}203\.0\.113\.10:80\/tcp .* liveness 1\/2 up/);
    assert.match(pane, /-> 198\.51\.100\.3:80 {2}down {2}weight 1 {2}table 0\.0%/);
    assert.match(pane, /-> 198\.51\.100\.4:80 {2}weight 1/, 'no health column without liveness');

    const render = { limit: 5, sort: { key: 'age' as const, reverse: false } };
    const text = renderTopText(state, render);
    assert.match(text, /web .*│ 1\/2 up +│ 198\.51\.100\.2:80 198\.51\.100\.3:80 \(down\)/);
    assert.match(text, /api .*│ - +│ 198\.51\.100\.4:80/);
    const json = topSnapshotJson(state, render);
    assert.deepEqual(
      json.services.map((s) => [
        s.key,
        s.health,
        s.backends.map((b) => `${b.address} ${b.health} ${b.share}`),
      ]),
      [
        [
          '203.0.113.10:80/tcp',
          { probed: true, up: 1, down: 1, failOpen: false },
          ['198.51.100.2 up 1', '198.51.100.3 down 0'],
        ],
        ['203.0.113.11:80/tcp', { probed: false, up: 1, down: 0, failOpen: false }, ['198.51.100.4 up 1']],
      ],
    );
  });

  it('shows decoded headers newest first, with TLVs, and raw hex on request', () => {
    const text = frame(TWO);
    const feed = text.split('\n').filter((l) => / inj /.test(l));
    assert.equal(feed.length, 2);
    assert.match(
      feed[0] ?? '',
      /inj {3}api PROXY TCP4 192\.0\.2\.11:40003 -> 203\.0\.113\.11:80 UNIQUE_ID=abab/,
    );
    assert.match(feed[1] ?? '', /inj {3}web PROXY TCP4 192\.0\.2\.10:40001 -> 203\.0\.113\.10:80$/);
    const raw = frame(TWO, { rawHex: true });
    assert.match(raw, /inj {3}web 0d0a0d0a000d0a515549540a2111000cc000020acb00710a9c410050/);
  });

  it('says first when detach holds or drains the datapath, in the dashboard, the text and --json', () => {
    const held = advance(initialState(), { ...FIRST, detaching: 'hold' });
    assert.match(frame(held).split('\n')[0] ?? '', /^HOLDING \(detach --keep-maps: .*until lbctl attach\)/);
    const render = { limit: 5, sort: { key: 'age' as const, reverse: false } };
    assert.match(renderTopText(held, render), /instance +\S+ +HOLDING/);
    assert.equal(topSnapshotJson(held, render).detaching, 'hold');
    const draining = advance(initialState(), { ...FIRST, detaching: 'drain' });
    assert.match(frame(draining).split('\n')[0] ?? '', /^DRAINING \(detach is resetting connections\)/);
    assert.doesNotMatch(frame(TWO), /HOLDING|DRAINING/, 'nothing in normal service');
    assert.equal(topSnapshotJson(TWO, render).detaching, null);
  });

  it('says why there are no headers when the datapath reports none', () => {
    const state = advance(initialState(), { ...FIRST, eventsError: 'the datapath emits no events (off)' });
    assert.match(frame(state), /^HEADERS 0 recent.*\n.*the datapath emits no events \(off\)/m);
  });

  it('sorts the connection table and says how', () => {
    assert.deepEqual(tableClients(frame(TWO)), ['192.0.2.9:40002', '192.0.2.10:40001', '192.0.2.11:40003']);
    const byClient = frame(TWO, { sort: { key: 'client', reverse: true } });
    assert.deepEqual(tableClients(byClient), ['192.0.2.11:40003', '192.0.2.10:40001', '192.0.2.9:40002']);
    assert.match(byClient, /sort client \(reversed\)/);
  });

  it('filters connections and headers, and counts the rows not shown', () => {
    const text = frame(TWO, { filter: 'api' });
    assert.deepEqual(tableClients(text), ['192.0.2.11:40003']);
    assert.match(text, /CONNECTIONS 3 {2}rows 1-1 of 1, 0 not shown {2}sort age {2}filter "api"/);
    assert.equal(text.split('\n').filter((l) => / inj /.test(l)).length, 1, 'only the api header');
    const paged = frame(TWO, { view: 'connections' }, { columns: 100, rows: 8 });
    assert.match(paged, /rows 1-3 of 3, 0 not shown/);
    const tiny = frame(TWO, {}, { columns: 80, rows: 16 });
    assert.match(tiny, /CONNECTIONS 3 {2}rows 1-3 of 3, 0 not shown/);
    assert.ok(!/^pkts\/s/m.test(tiny), 'no room for sparklines at 16 rows');
  });

  it('counts connections the collector did not keep as not shown', () => {
    const state = advance(initialState(), {
      ...SECOND,
      connections: {
        rows: SECOND.connections?.rows ?? [],
        total: 1003,
        readAtMs: T0,
        scanMs: 1,
        scanCpuMs: 1,
        nextInMs: 1,
      },
    });
    assert.match(frame(state, { view: 'connections' }), /CONNECTIONS 1\.0k {2}rows 1-3 of 3, 1000 not shown/);
  });

  it('fits 80x24: at most 23 lines, none wider than 80 columns, every pane present', () => {
    const text = frame(TWO, {}, { columns: 80, rows: 24 });
    const lines = text.split('\n');
    assert.ok(lines.length <= 23, `${lines.length} lines`);
    for (const line of lines) assert.ok(line.length <= 80, `too wide: ${line}`);
    for (const title of ['lbctl top', 'datapath', 'pkts/s', 'SERVICE', 'CONNECTIONS', 'HEADERS', 'q quit']) {
      assert.ok(text.includes(title), `missing ${title}`);
    }
  });

  it('never overflows the terminal, in any pane and size (a clipped pane would lose its title)', () => {
    const titles: Record<UiState['view'], string[]> = {
      overview: ['lbctl top', 'rate ', 'SERVICE', 'CONNECTIONS', 'HEADERS', 'q quit'],
      connections: ['lbctl top', 'CONNECTIONS', 'CLIENT', 'q quit'],
      headers: ['lbctl top', 'HEADERS', 'q quit'],
      services: ['lbctl top', 'SERVICES 2', 'q quit'],
      cpus: ['lbctl top', 'PER-CPU', 'q quit'],
    };
    for (const size of [
      { columns: 60, rows: 16 },
      { columns: 80, rows: 24 },
      { columns: 120, rows: 40 },
      { columns: 200, rows: 60 },
    ]) {
      for (const view of Object.keys(titles) as Array<UiState['view']>) {
        const text = frame(TWO, { view }, size);
        const lines = text.split('\n');
        assert.ok(
          lines.length <= size.rows - 1,
          `${view} at ${size.columns}x${size.rows}: ${lines.length} lines`,
        );
        for (const title of titles[view]) {
          assert.ok(
            text.includes(title),
            `${view} at ${size.columns}x${size.rows}: missing "${title}"\n${text}`,
          );
        }
        cleanup();
      }
    }
  });

  it('uses a wide terminal for more columns', () => {
    const text = frame(TWO, {}, { columns: 140, rows: 40 });
    assert.match(text, /CLIENT +VIP +BACKEND +SERVICE +ST +PPV2 +IN +OUT +AGE +IDLE/);
  });

  it('shows the per-CPU breakdown and the help screen', () => {
    assert.match(frame(TWO, { view: 'cpus' }), /cpu0 +200 +1\.0M +8 +8 +2\.4k +750kB +116 +6/);
    assert.match(frame(TWO, { help: true }), /q, Ctrl\+C +quit/);
  });
});

/** Snapshots with counters growing steadily: 100 packets/s and 5 connections/s, one header per tick. */
class FakeSource {
  calls = 0;
  collect(): DatapathSnapshot {
    const t = this.calls++;
    return snapshot(
      t,
      { fwd_packets: 100 * t, conn_new: 5 * t, ppv2_injected: 5 * t },
      { events: [headerEvent('192.0.2.10', 40000 + t, T0 + t * 1000)] },
    );
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  await waitFor(what, check, { timeoutMs: 3000, intervalMs: 10 });
}

describe('top dashboard: the live app and its keys', () => {
  it('polls the source, shows rates, and handles sort, filter, pane, hex, pause and quit keys', async () => {
    const source = new FakeSource();
    const app = render(h(TopApp, { source, intervalMs: 25, size: { columns: 100, rows: 30 } }));
    const text = () => app.lastFrame() ?? '';
    await until(() => /conn\/s 5 /.test(text()), 'rates after the second snapshot');
    assert.match(text(), /pkts\/s 100 /);

    app.stdin.write('s');
    await until(() => /sort bytes /.test(text()), 'sort by bytes');
    app.stdin.write('/');
    app.stdin.write('api');
    await until(() => /filter: api_/.test(text()), 'the filter prompt');
    app.stdin.write('\r');
    await until(() => /filter "api"/.test(text()), 'the applied filter');
    assert.deepEqual(tableClients(text()), ['192.0.2.11:40003']);

    app.stdin.write('3');
    await until(() => /^HEADERS/m.test(text()), 'the headers pane');
    app.stdin.write('\u001b'); // Esc clears the filter: the web headers come back
    await until(
      () => /inj {3}web PROXY TCP4 192\.0\.2\.10:400\d\d -> 203\.0\.113\.10:80/.test(text()),
      'headers',
    );
    app.stdin.write('x');
    await until(() => /raw hex \(x: decoded\)/.test(text()), 'raw hex');

    app.stdin.write('p');
    await until(() => /^PAUSED/m.test(text()), 'pause');
    const frozen = text().replace(/^.*PAUSED.*$/m, '');
    const calls = source.calls;
    await until(() => source.calls > calls + 2, 'collection to continue while paused');
    assert.equal(text().replace(/^.*PAUSED.*$/m, ''), frozen, 'the display is frozen');

    app.stdin.write('q');
    const stopped = source.calls;
    // Not a wait for something to happen but a window in which nothing may: polling every 25 ms, an app
    // that ignored q would be called about four more times.
    await sleep(100);
    assert.ok(source.calls <= stopped + 1, 'q unmounts the app and stops polling');
  });

  it('reports a failed collection and keeps polling', async () => {
    let fail = true;
    const source = {
      calls: 0,
      collect(): DatapathSnapshot {
        this.calls++;
        if (fail) throw new Error('map gone');
        return snapshot(this.calls, {});
      },
    };
    const app = render(h(TopApp, { source, intervalMs: 20, size: { columns: 100, rows: 30 } }));
    await until(() => /collection failed: map gone/.test(app.lastFrame() ?? ''), 'the error line');
    fail = false;
    await until(() => /datapath .* ns\/pkt/.test(app.lastFrame() ?? ''), 'recovery');
    app.unmount();
  });
});

/** Every package a module pulls in statically, following its relative imports through src/. */
function staticPackages(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s(?!type\b)[^;]*?from\s+'([^']+)';/gms)) {
      const spec = m[1] ?? '';
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const base = join(dirname(file), spec.replace(/\.js$/, ''));
      const resolved = [`${base}.ts`, `${base}.tsx`].find((f) => existsSync(f));
      if (resolved) visit(resolved);
    }
  };
  visit(entry);
  return packages;
}

describe('top command: loading', () => {
  it('does not load Ink or React unless it mounts the dashboard (scripts start faster; CI detection)', () => {
    const packages = staticPackages(join(REPO_ROOT, 'src/commands/top.ts'));
    assert.ok(packages.has('@oclif/core'), 'the graph was followed');
    assert.ok(!packages.has('ink') && !packages.has('react'), [...packages].join(', '));
  });
});
