import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maglevTable } from '../../src/core/maglev.js';

const SIZE = 251;
const share = (table: number[], index: number) => table.filter((v) => v === index).length / table.length;

describe('maglevTable', () => {
  it('fills every slot with an active backend', () => {
    const table = maglevTable(
      [
        { key: 'a', weight: 1 },
        { key: 'b', weight: 1 },
      ],
      SIZE,
    );
    assert.equal(table.length, SIZE);
    assert.ok(table.every((v) => v === 0 || v === 1));
  });

  it('splits slots evenly for equal weights', () => {
    const backends = ['a', 'b', 'c', 'd'].map((key) => ({ key, weight: 1 }));
    const table = maglevTable(backends, SIZE);
    for (let i = 0; i < backends.length; i++) assert.ok(Math.abs(share(table, i) - 0.25) < 0.02);
  });

  it('splits slots in proportion to weights', () => {
    const table = maglevTable(
      [
        { key: 'a', weight: 3 },
        { key: 'b', weight: 1 },
      ],
      SIZE,
    );
    assert.ok(Math.abs(share(table, 0) - 0.75) < 0.02, `share ${share(table, 0)}`);
  });

  it('gives a zero-weight (drained) backend no slots', () => {
    const table = maglevTable(
      [
        { key: 'a', weight: 0 },
        { key: 'b', weight: 2 },
      ],
      SIZE,
    );
    assert.ok(table.every((v) => v === 1));
  });

  it('moves few slots when a backend is added', () => {
    const before = maglevTable(
      ['a', 'b', 'c'].map((key) => ({ key, weight: 1 })),
      SIZE,
    );
    const after = maglevTable(
      ['a', 'b', 'c', 'd'].map((key) => ({ key, weight: 1 })),
      SIZE,
    );
    const moved = before.filter((v, slot) => after[slot] !== v).length / SIZE;
    // Ideal is 1/4 (the newcomer's share); Maglev stays close to it.
    assert.ok(moved < 0.35, `moved ${moved}`);
  });

  it('is deterministic', () => {
    const backends = [
      { key: 'x', weight: 2 },
      { key: 'y', weight: 5 },
    ];
    assert.deepEqual(maglevTable(backends, SIZE), maglevTable(backends, SIZE));
  });

  it('returns an empty table when no backend is active, and rejects a non-prime size', () => {
    assert.deepEqual(maglevTable([{ key: 'a', weight: 0 }], SIZE), []);
    assert.throws(() => maglevTable([{ key: 'a', weight: 1 }], 250), /not prime/);
  });
});
