/**
 * The dashboard at every terminal size: columns that line up with their titles, endpoints that keep their
 * port, shares that add up to 100%, hidden rows that are counted, and the detail view Enter opens.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { cleanup } from 'ink-testing-library';
import { connectionColumns } from '../../src/ui/connections-panel.js';
import { handleKey, initialUi, type UiState } from '../../src/ui/dashboard-reducer.js';
import { advance, type DashboardState, initialState } from '../../src/ui/dashboard-state.js';
import { detailItemFor, detailLines, hexLines } from '../../src/ui/detail-view.js';
import { fitEndpoint, fitList, percentages } from '../../src/ui/format.js';
import { toHeaderLine } from '../../src/ui/header-feed.js';
import type { TerminalSize } from '../../src/ui/layout.js';
import { backendShares, serviceColumns } from '../../src/ui/services-panel.js';
import { CONNECTIONS, connection, headerEvent, renderFrame, service, snapshot, T0 } from './ui-fixtures.js';

afterEach(cleanup);

const SIZES: TerminalSize[] = [
  { columns: 80, rows: 24 },
  { columns: 100, rows: 30 },
  { columns: 140, rows: 40 },
  { columns: 200, rows: 60 },
];

const V6_CLIENT = '[2001:db8:c0ff:ee00:1234:5678:9abc:10]:51234';
const V6 = connection(V6_CLIENT, {
  vip: '[2001:db8:ffff:eeee:dddd:cccc:bbbb:10]:443',
  backend: '[2001:db8:b::1234:5678:9abc:2]:8443',
  ageSeconds: 2,
  service: 'v6',
  serviceId: 3,
});

function stateWith(extra: Parameters<typeof snapshot>[2]): DashboardState {
  const first = snapshot(0, { conn_new: 0 }, extra);
  const second = snapshot(2, { conn_new: 10, fwd_packets: 100 }, extra);
  return advance(advance(initialState(), first), second);
}

const frame = (state: DashboardState, ui: Partial<UiState>, size: TerminalSize): string[] =>
  renderFrame(state, ui, size).split('\n');

/** Where each column after the first starts, from the widths: one space separates columns. */
function columnStarts(widths: number[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const w of widths) {
    starts.push(at);
    at += w + 1;
  }
  return starts;
}

describe('dashboard fitting', () => {
  it('shortens an endpoint in its address, never its port', () => {
    assert.equal(fitEndpoint(V6_CLIENT, 20), '[2001:d…bc:10]:51234');
    assert.equal(fitEndpoint(V6_CLIENT, 20).length, 20);
    assert.equal(fitEndpoint('192.0.2.10:51234', 14), '192.….10:51234');
    assert.equal(fitEndpoint('192.0.2.10:80', 20), '192.0.2.10:80       ');
    fc.assert(
      fc.property(
        fc.ipV6(),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 12, max: 50 }),
        (a, p, w) => {
          const text = fitEndpoint(`[${a}]:${p}`, w);
          assert.equal(text.length, w);
          assert.ok(text.trimEnd().endsWith(`]:${p}`), text);
        },
      ),
    );
  });

  it('rounds shares so they add up to exactly 100', () => {
    assert.deepEqual(percentages([1, 1, 1]), [34, 33, 33]);
    assert.deepEqual(percentages([0, 0]), [0, 0]);
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 1, maxLength: 12 }), (counts) => {
        const total = percentages(counts).reduce((a, b) => a + b, 0);
        assert.equal(total, counts.some((c) => c > 0) ? 100 : 0);
      }),
    );
    const three = service(1, 'web', '203.0.113.10', ['198.51.100.2', '198.51.100.3', '198.51.100.4']);
    assert.deepEqual(backendShares(three, null), ['~34%', '~33%', '~33%']);
    const live = new Map([
      ['198.51.100.2:80', 1],
      ['198.51.100.3:80', 1],
      ['198.51.100.4:80', 1],
    ]);
    assert.deepEqual(backendShares(three, { live, liveTotal: 3 }), ['34%', '33%', '33%']);
  });

  it('lists what fits and counts the rest', () => {
    assert.equal(fitList(['aaaa', 'bbbb', 'cccc'], 40), 'aaaa, bbbb, cccc');
    assert.equal(fitList(['aaaa', 'bbbb', 'cccc'], 15), 'aaaa +2 more');
    assert.equal(fitList(['aaaa', 'bbbb', 'cccc', 'dddd'], 19), 'aaaa, bbbb +2 more');
  });

  for (const size of SIZES) {
    it(`aligns every column with its title at ${size.columns}x${size.rows}`, () => {
      const state = stateWith({
        connections: {
          rows: [...CONNECTIONS, V6],
          total: 4,
          readAtMs: T0,
          scanMs: 1,
          scanCpuMs: 1,
          nextInMs: 0,
        },
      });
      for (const view of ['overview', 'connections'] as const) {
        const lines = frame(state, { view }, size);
        for (const line of lines) assert.ok(line.length <= size.columns, `fits: ${line}`);
        const head = lines.findIndex((l) => l.startsWith('CLIENT'));
        assert.ok(head > 0, 'the column titles are shown');
        const columns = connectionColumns(size.columns);
        const starts = columnStarts(columns.map((c) => c.width));
        const titles = lines[head] ?? '';
        const rows = lines.slice(head + 1).filter((l) => /^(192\.0\.2\.|\[2001)/.test(l));
        assert.ok(rows.length >= (view === 'overview' ? 1 : 4), `rows under the titles (${view})`);
        columns.forEach((col, i) => {
          const at = starts[i] ?? 0;
          if (at >= size.columns) return;
          if (col.align === 'left') assert.equal(titles.slice(at, at + col.title.length), col.title);
          for (const row of rows)
            if (at > 0) assert.equal(row[at - 1], ' ', `a gap before ${col.title}: ${row}`);
        });
        const v6 = rows.find((r) => r.startsWith('[2001'));
        if (view === 'connections') assert.ok(v6, 'the IPv6 row is shown');
        if (v6) assert.match(v6, /^\[2001\S*\]:51234 /, 'the IPv6 client keeps its port');
      }

      const services = frame(state, { view: 'overview' }, size);
      const svcColumns = serviceColumns(size.columns);
      const svcStarts = columnStarts(svcColumns.map((c) => c.width));
      const svcHead = services.findIndex((l) => l.startsWith('SERVICE'));
      const web = services.find((l) => l.startsWith('web '));
      assert.ok(svcHead > 0 && web, 'the services table');
      svcColumns.forEach((col, i) => {
        const at = svcStarts[i] ?? 0;
        if (col.align === 'left')
          assert.equal(services[svcHead]?.slice(at, at + col.title.length), col.title);
        if (at > 0) assert.equal(web?.[at - 1], ' ', `a gap before ${col.title}`);
      });
      const shares = [...(web ?? '').matchAll(/(\d+)%/g)].map((m) => Number(m[1]));
      if (!/more/.test(web ?? ''))
        assert.equal(
          shares.reduce((a, b) => a + b, 0),
          100,
          web,
        );
    });
  }

  it('counts the services it cannot show', () => {
    const many = Array.from({ length: 12 }, (_, i) =>
      service(i + 1, `svc${i + 1}`, `203.0.113.${i + 10}`, ['198.51.100.2']),
    );
    const lines = frame(stateWith({ services: many }), {}, { columns: 80, rows: 24 });
    const shown = lines.filter((l) => /^svc\d+ /.test(l)).length;
    const more = lines.find((l) => /^\+\d+ more services/.test(l));
    assert.ok(more, lines.join('\n'));
    assert.equal(Number(/^\+(\d+)/.exec(more ?? '')?.[1]), 12 - shown);
  });
});

describe('dashboard detail view', () => {
  const withTlvs = toHeaderLine(headerEvent('192.0.2.11', 40003, T0, 2));

  it('shows the whole decoded header, every TLV and the raw hex', () => {
    const lines = detailLines({ kind: 'header', header: withTlvs }, 'api', 60);
    const text = lines.join('\n');
    assert.match(text, /command PROXY {2}family INET/);
    assert.match(text, /source {7}192\.0\.2\.11 port 40003/);
    assert.match(text, /UNIQUE_ID \(type 0x05, 16 B\)/);
    assert.match(text, /CRC32C \(type 0x03, 4 B\)/);
    const hex = lines
      .filter((l) => /^ {2}[0-9a-f]{4}( |$)/.test(l))
      .join('')
      .replace(/\s/g, '');
    assert.equal(hex, withTlvs.hex, 'the raw bytes, all of them');
    for (const l of lines) assert.ok(l.length <= 60 || !/^ {2}[0-9a-f]{4}/.test(l), 'hex wraps at the width');
    assert.deepEqual(hexLines('0d0a0d0a0000', 12), ['  0d0a 0d0a', '  0000']);
  });

  it("finds a connection's header in the feed", () => {
    const line = toHeaderLine(headerEvent('192.0.2.10', 40001, T0));
    const item = detailItemFor('connections', 0, CONNECTIONS, [line]);
    assert.equal(item?.kind, 'connection');
    const text = detailLines(item as NonNullable<typeof item>, 'web', 80).join('\n');
    assert.match(text, /client 192\.0\.2\.10:40001 -> VIP 203\.0\.113\.10:80/);
    assert.match(text, /source {7}192\.0\.2\.10 port 40001/);
    const other = detailItemFor('connections', 1, CONNECTIONS, [line]);
    assert.match(detailLines(other as NonNullable<typeof other>, 'web', 80).join('\n'), /not in the feed/);
    assert.equal(detailItemFor('headers', 3, CONNECTIONS, [line]), null, 'no such row');
  });

  it('moves a highlight with the arrows, opens with Enter and closes with Esc', () => {
    const bounds = { pageSize: 3, maxScroll: 7, length: 10 };
    let ui = initialUi({ view: 'connections' });
    for (let i = 0; i < 4; i++) ui = handleKey(ui, '', { downArrow: true }, bounds).ui;
    assert.equal(ui.selected, 4);
    assert.equal(ui.scroll, 2, 'the page follows the highlight');
    ui = handleKey(ui, '', { end: true }, bounds).ui;
    assert.deepEqual([ui.selected, ui.scroll], [9, 7]);
    ui = handleKey(ui, '', { return: true }, bounds).ui;
    assert.equal(ui.detail, true);
    ui = handleKey(ui, 'j', {}, { pageSize: 5, maxScroll: 2, length: 7 }).ui;
    assert.equal(ui.detailScroll, 1);
    assert.equal(ui.selected, 9, 'the list keeps its place');
    ui = handleKey(ui, '', { escape: true }, bounds).ui;
    assert.equal(ui.detail, false);
    const empty = handleKey(initialUi({ view: 'headers' }), '', { return: true }, { ...bounds, length: 0 });
    assert.equal(empty.ui.detail, false, 'nothing to open');
    const overview = handleKey(initialUi(), '', { return: true }, bounds);
    assert.equal(overview.ui.detail, false, 'the overview has no highlighted row');
  });

  it('renders the detail in place of the pane', () => {
    const state = stateWith({ events: [headerEvent('192.0.2.11', 40003, T0, 2)] });
    const text = renderFrame(
      state,
      { view: 'headers', detail: true },
      { columns: 80, rows: 24 },
      { headers: state.headers, detail: { kind: 'header', header: state.headers[0] ?? withTlvs } },
    );
    assert.match(text, /DETAIL/);
    assert.match(text, /UNIQUE_ID \(type 0x05, 16 B\)/);
  });
});
