import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  advance,
  counterRates,
  datapathCost,
  initialState,
  summarize,
} from '../../src/ui/dashboard-state.js';
import { bitsPerSecond, duration, fit, si, sparkline } from '../../src/ui/format.js';
import { counters, FIRST, SECOND, snapshot } from './ui-fixtures.js';

describe('dashboard state: rates are deltas per interval', () => {
  it('divides each counter delta by the seconds between the readings', () => {
    const rates = counterRates({ a: 10, b: 5 }, { a: 30, b: 5 }, 2);
    assert.deepEqual(rates, { a: 10, b: 0 });
  });

  it('reports 0, not a negative rate, when a counter went down (slot reset)', () => {
    assert.deepEqual(counterRates({ a: 100 }, { a: 3 }, 1), { a: 0 });
  });

  it('has no rates on the first snapshot', () => {
    const state = advance(initialState(), FIRST);
    assert.equal(state.seconds, 0);
    assert.equal(state.focus.rateSummary.packets, 0);
    assert.equal(state.focus.totalSummary.packets, 2000);
    assert.deepEqual(state.cost, { nsPerPacket: null, cpuPercent: null });
    assert.deepEqual(state.history.packets, [], 'no sparkline sample without a rate');
  });

  it('computes the headline rates, per service and the datapath cost from two snapshots', () => {
    const state = advance(advance(initialState(), FIRST), SECOND);
    assert.equal(state.seconds, 2);
    const r = state.focus.rateSummary;
    assert.equal(r.packets, 200); // (2400 - 2000) / 2
    assert.equal(r.bytes, 125_000); // (750k - 500k) / 2
    assert.equal(r.connections, 8);
    assert.equal(r.headers, 8);
    assert.equal(r.drops, 1);
    assert.equal(state.services[1]?.rateSummary.connections, 6); // web: 3/4 of 16 new over 2 s
    assert.equal(state.services[2]?.rateSummary.connections, 2);
    // Programs ran 400 times in 2 s at 100 ns each.
    assert.equal(state.cost.nsPerPacket, 100);
    assert.equal(state.cost.cpuPercent, (40_000 / 2e9) * 100);
    assert.deepEqual(state.history.packets, [200]);
    assert.deepEqual(state.history.bits, [1_000_000]);
  });

  it('summarizes failures and drops over every counter of their group', () => {
    const s = summarize(
      counters({ ppv2_fail_grow: 2, ppv2_fail_write: 1, drop_no_backend: 4, drop_ct_insert: 1 }),
    );
    assert.equal(s.failures, 3);
    assert.equal(s.drops, 5);
  });

  it('keeps a bounded sparkline history', () => {
    let state = initialState();
    for (let t = 0; t < 10; t++)
      state = advance(state, snapshot(t, { conn_new: t * t }), { historySize: 4, headerCapacity: 10 });
    assert.deepEqual(state.history.connections, [11, 13, 15, 17]);
  });

  it('keeps the newest decoded headers first, bounded, and counts skipped events', () => {
    const state = advance(
      advance(initialState(), FIRST),
      { ...SECOND, eventsSkipped: 3 },
      { historySize: 60, headerCapacity: 1 },
    );
    assert.equal(state.headers.length, 1);
    assert.equal(state.headers[0]?.client, '192.0.2.11:40003', 'newest first');
    assert.equal(state.headersSkipped, 3);
  });

  it('focuses on one service with --service', () => {
    const focused = (t: number, n: number) => ({
      ...snapshot(t, { conn_new: n }),
      focusService: '203.0.113.11:80/tcp',
    });
    const state = advance(advance(initialState(), focused(0, 0)), focused(1, 40));
    assert.equal(state.focus.rateSummary.connections, 10, 'api has a quarter of the connections');
    assert.equal(state.global.rateSummary.connections, 40);
  });

  it('matches programs by id, so a re-attached program starts a new series', () => {
    const a = { progId: 1, name: 'p', interfaces: [], runCount: 10, runTimeNs: 1000 };
    const b = { progId: 2, name: 'p', interfaces: [], runCount: 5, runTimeNs: 500 };
    assert.deepEqual(datapathCost([a], [b], 1), { nsPerPacket: null, cpuPercent: null });
    assert.equal(datapathCost([a], [{ ...a, runCount: 20, runTimeNs: 3000 }], 1).nsPerPacket, 200);
  });
});

describe('dashboard formatting', () => {
  it('writes compact SI numbers', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [0.5, '0.5'],
      [12.34, '12.3'],
      [999, '999'],
      [1234, '1.2k'],
      [12_345, '12.3k'],
      [123_456, '123k'],
      [999_999, '1.0M'],
      [2.5e9, '2.5G'],
    ];
    for (const [n, text] of cases) assert.equal(si(n), text, String(n));
    assert.equal(bitsPerSecond(125_000), '1.0Mb/s');
  });

  it('writes durations', () => {
    assert.equal(duration(45), '45s');
    assert.equal(duration(723), '12m03s');
    assert.equal(duration(3 * 3600 + 5 * 60), '3h05m');
    assert.equal(duration(2 * 86400 + 3600), '2d01h');
  });

  it('draws sparklines scaled to the largest value, right-aligned', () => {
    assert.equal(sparkline([0, 4, 8], 5), '  ▁▅█');
    assert.equal(sparkline([1, 100], 2), '▂█', 'a trickle is not drawn as zero');
    assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8, 9], 3), '▆▇█');
    assert.equal(sparkline([0, 0], 2), '▁▁');
  });

  it('fits text into columns with an ellipsis', () => {
    assert.equal(fit('abcdef', 4), 'abc…');
    assert.equal(fit('ab', 4, 'right'), '  ab');
  });
});
