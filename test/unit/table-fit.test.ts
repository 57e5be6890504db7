/**
 * Tables that fit a terminal (issue 13, point 4): the pure width rules, the YAML output, and the stats layout
 * of one row per service.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { load, YAML11_SCHEMA } from 'js-yaml';
import { drawTable, ROWS_PER_BLOCK, renderColumns, renderTable } from '../../src/cli/output.js';
import { toYaml } from '../../src/cli/output-format.js';
import { counterRows, renderCounterRows, shownCounters } from '../../src/cli/stats-render.js';
import {
  ELLIPSIS,
  fitColumnWidths,
  fitRows,
  outputWidth,
  tableFrameWidth,
  truncateText,
} from '../../src/cli/table-fit.js';
import { counters } from './ui-fixtures.js';

const LONG_TLV = `v2 0xe0=${'ab'.repeat(128)} (300 B)`;
const lineWidths = (text: string) => text.split('\n').map((l) => [...l].length);
/** The cells of each table line (cli-table3 draws borders with box characters). */
const cellLines = (text: string) =>
  text.split('\n').map((line) =>
    line
      .split('\u2502')
      .slice(1, -1)
      .map((c) => c.trim()),
  );

describe('truncateText', () => {
  it('keeps text that fits and cuts the rest to the width, ending in an ellipsis', () => {
    assert.equal(truncateText('203.0.113.10:80/tcp', 19), '203.0.113.10:80/tcp');
    assert.equal(truncateText('203.0.113.10:80/tcp', 10), `203.0.113${ELLIPSIS}`);
    assert.equal([...truncateText(LONG_TLV, 7)].length, 7);
    assert.equal(truncateText('abc', 0), '');
    assert.equal(truncateText('abc', Number.POSITIVE_INFINITY), 'abc');
  });
});

describe('fitColumnWidths', () => {
  const head = ['id', 'name', 'ppv2'];
  const rows = [
    ['1', 'web', LONG_TLV],
    ['2', 'api-with-a-long-name', 'off'],
  ];

  it('keeps natural widths when the table fits', () => {
    assert.deepEqual(fitColumnWidths(head, rows, 1000), [2, 20, [...LONG_TLV].length]);
  });

  it('narrows the widest column first, so one long value gives up its width before short ones', () => {
    const widths = fitColumnWidths(head, rows, 60);
    assert.equal(widths.reduce((a, b) => a + b, 0) + tableFrameWidth(3), 60);
    assert.deepEqual(widths.slice(0, 2), [2, 20], 'id and name stay whole');
  });

  it("cuts a 'first' column before wider normal ones, and never a 'whole' one", () => {
    const h = ['service', 'ppv2', 'bytes'];
    const r = [['[2001:db8:f::10]:443/tcp', 'v2 unique-id crc32c (52 B)', '123456789012']];
    const widths = fitColumnWidths(h, r, 50, ['normal', 'first', 'whole']);
    assert.deepEqual(widths, [24, 4 + (50 - tableFrameWidth(3) - 24 - 12 - 4), 12]);
    assert.deepEqual(
      fitColumnWidths(h, r, 20, ['normal', 'first', 'whole']),
      [7, 4, 12],
      'numbers stay whole',
    );
  });

  it('shares the cut between columns that are both too wide, never below the header', () => {
    const widths = fitColumnWidths(head, rows, 30);
    assert.equal(widths.reduce((a, b) => a + b, 0) + tableFrameWidth(3), 30);
    assert.ok((widths[1] ?? 0) < 20 && (widths[2] ?? 0) < [...LONG_TLV].length);
    const tiny = fitColumnWidths(head, rows, 5);
    assert.deepEqual(tiny, [2, 4, 4], 'headers are the floor: a table too narrow for them stays wider');
  });
});

describe('renderTable with a width', () => {
  const head = ['id', 'service', 'ppv2'];
  const rows = [
    [1, '203.0.113.10:80/tcp', LONG_TLV],
    [2, '[2001:db8:f::10]:443/tcp', 'v2 unique-id crc32c (52 B)'],
  ];

  for (const width of [40, 60, 80, 120]) {
    it(`renders every line within ${width} columns, long values ending in an ellipsis`, () => {
      const text = renderTable(head, rows, { maxWidth: width });
      assert.ok(Math.max(...lineWidths(text)) <= width, text);
      assert.ok(text.includes(ELLIPSIS), text);
    });
  }

  it('renders every value whole without a width (a pipe, or -o wide)', () => {
    const text = renderTable(head, rows);
    assert.ok(text.includes(LONG_TLV));
    assert.ok(!text.includes(ELLIPSIS));
    assert.deepEqual(fitRows(head, [['a', 'b', 'c']], Number.POSITIVE_INFINITY), [['a', 'b', 'c']]);
  });

  it('shows wide-only columns with wide, and adding a column is one entry', () => {
    const columns = [
      { head: 'id', cell: (n: number) => n },
      { head: 'square', cell: (n: number) => n * n, wide: true },
    ];
    assert.ok(!renderColumns(columns, [3]).includes('square'));
    assert.ok(renderColumns(columns, [3], { wide: true }).includes('9'));
  });
});

describe('drawTable in blocks (long tables)', () => {
  const head = ['ID', 'BACKEND', 'SHARE'];
  // Widths vary from block to block: the widest cell of each column sits in a late block.
  const rows = Array.from({ length: 230 }, (_, i) => [
    String(i),
    i === 201 ? '[2001:db8:ffff:ffff::abcd]:65535' : `198.51.100.${i % 250}:80`,
    i % 7 === 0 ? '100.00%' : '1%',
  ]);

  for (const perBlock of [1, 7, 50, 229]) {
    it(`draws the same lines in blocks of ${perBlock} rows as cli-table3 in one piece`, () => {
      assert.equal(drawTable(head, rows, perBlock), drawTable(head, rows, Number.POSITIVE_INFINITY));
    });
  }

  it('draws a short table in one piece, and each row once in a long one', () => {
    assert.ok(ROWS_PER_BLOCK < rows.length);
    const text = drawTable(head, rows);
    assert.equal(text.split('\n').length, rows.length + 4); // top border, head, separator, rows, bottom
    assert.equal(text.match(/198\.51\.100\.7:80 /g)?.length, 1);
  });
});

describe('outputWidth', () => {
  it('cuts only on a terminal: a pipe is never cut, whatever COLUMNS says', () => {
    assert.equal(outputWidth({ isTTY: false, columns: 80 }, { COLUMNS: '40' }), Number.POSITIVE_INFINITY);
    assert.equal(outputWidth({}, {}), Number.POSITIVE_INFINITY);
  });
  it("uses the terminal's width, which a positive integer COLUMNS overrides", () => {
    assert.equal(outputWidth({ isTTY: true, columns: 132 }, {}), 132);
    assert.equal(outputWidth({ isTTY: true, columns: 132 }, { COLUMNS: '70' }), 70);
    assert.equal(outputWidth({ isTTY: true, columns: 132 }, { COLUMNS: 'wide' }), 132);
    assert.equal(outputWidth({ isTTY: true, columns: 132 }, { COLUMNS: '0' }), 132);
  });
});

describe('toYaml', () => {
  it('round-trips a service document, quoting strings that would read as other types', () => {
    const doc = {
      services: [
        {
          id: 1,
          name: 'yes',
          key: '203.0.113.10:80/tcp',
          vip: '2001:db8:f::10',
          snat: null,
          tag: '007',
          o: '0o17',
        },
        { id: 2, name: null, ppv2: { tlvs: [{ name: 'AUTHORITY', text: 'a: b #c' }], enabled: true } },
      ],
      empty: [],
      off: 'off',
    };
    const text = toYaml(doc);
    assert.deepEqual(load(text), doc);
    assert.deepEqual(load(text, { schema: YAML11_SCHEMA }), doc, 'YAML 1.1 readers see the same strings');
    assert.match(text, /name: "yes"/);
    assert.match(text, /tag: "007"/);
  });

  it('prints the document --json prints: undefined fields left out, toJSON applied', () => {
    const when = new Date(Date.UTC(2026, 0, 2));
    assert.deepEqual(load(toYaml({ a: undefined, b: [1, undefined], when })), {
      b: [1, null],
      when: when.toJSON(),
    });
  });
});

describe('stats: one row per service', () => {
  const doc = {
    global: counters({
      conn_new: 12,
      fwd_packets: 90,
      drop_no_backend: 2,
      ppv2_fail_grow: 1,
      mss_clamped: 12,
    }),
    services: Array.from({ length: 9 }, (_, i) => ({
      id: i + 1,
      key: `203.0.113.${10 + i}:80/tcp`,
      name: i % 2 ? `service-number-${i}` : null,
      counters: counters({
        conn_new: i,
        fwd_packets: 10 * i,
        drop_no_backend: i === 3 ? 2 : 0,
        mss_clamped: i,
      }),
    })),
  };

  it('has the total and each service as rows, so 9 services fit 80 columns', () => {
    const rows = counterRows(doc);
    const text = renderCounterRows('service', rows, shownCounters(rows, false), { maxWidth: 80 });
    assert.ok(Math.max(...lineWidths(text)) <= 80, text);
    const lines = cellLines(text);
    assert.deepEqual(lines[3], ['-', 'total', '12', '90/0', '0B/0B', '0', '3'], text);
    assert.deepEqual(lines[7], ['4', 'service-number-3', '3', '30/0', '0B/0B', '0', '2'], text);
    assert.ok(lines.some((l) => l[0] === 'drop_no_backend' && l[1] === '2' && l[2] === 'service-number-3 2'));
    assert.ok(
      lines.some((l) => l[0] === 'mss_clamped' && l[2]?.endsWith(ELLIPSIS)),
      'the long list is cut',
    );
  });

  it('has one column per shown counter with -o wide', () => {
    const rows = counterRows(doc);
    const names = shownCounters(rows, false);
    assert.deepEqual(names, ['fwd_packets', 'conn_new', 'ppv2_fail_grow', 'mss_clamped', 'drop_no_backend']);
    const header = renderCounterRows('service', rows, names, { wide: true }).split('\n')[1] ?? '';
    for (const name of names) assert.ok(header.includes(name), header);
    assert.equal(shownCounters(rows, true).length, Object.keys(doc.global).length);
  });
});
