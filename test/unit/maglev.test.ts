import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMaglevRing } from '../../src/core/maglev.js';

const SIZE = 251;
const share = (ring: Uint32Array, id: number) => ring.filter((v) => v === id).length / ring.length;
const equal = (keys: string[]) => keys.map((key, i) => ({ id: i + 1, key, weight: 1 }));

describe('buildMaglevRing', () => {
  it('fills every slot with an active backend', () => {
    const ring = buildMaglevRing(equal(['a', 'b']), SIZE);
    assert.equal(ring.length, SIZE);
    assert.ok(ring.every((v) => v === 1 || v === 2));
  });

  it('splits slots evenly for equal weights', () => {
    const ring = buildMaglevRing(equal(['a', 'b', 'c', 'd']), SIZE);
    for (const id of [1, 2, 3, 4]) assert.ok(Math.abs(share(ring, id) - 0.25) < 0.02, `share of ${id}`);
  });

  it('splits slots in proportion to weights', () => {
    const ring = buildMaglevRing(
      [
        { id: 1, key: 'a', weight: 3 },
        { id: 2, key: 'b', weight: 1 },
      ],
      SIZE,
    );
    assert.ok(Math.abs(share(ring, 1) - 0.75) < 0.02, `share ${share(ring, 1)}`);
  });

  it('moves few slots when a backend is added', () => {
    const before = buildMaglevRing(equal(['a', 'b', 'c']), SIZE);
    const after = buildMaglevRing(equal(['a', 'b', 'c', 'd']), SIZE);
    const moved = before.filter((v, slot) => after[slot] !== v).length / SIZE;
    // Ideal is 1/4 (the newcomer's share); Maglev stays close to it.
    assert.ok(moved < 0.35, `moved ${moved}`);
  });

  it('rejects a ring size that is not prime', () => {
    assert.throws(() => buildMaglevRing(equal(['a']), 250), RangeError);
  });
});
