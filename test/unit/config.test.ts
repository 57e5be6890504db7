import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_TIMEOUTS_S, decodeConfig, encodeConfig } from '../../src/bpf/records.js';
import { readConfig, updateTimeouts } from '../../src/core/config.js';
import type { DatapathMaps } from '../../src/core/maps.js';
import { lbctlErrorOf } from '../helpers/errors.js';

/** A stand-in for the pinned lb_config array: one value, updated in place. */
function fakeMaps(initial: Buffer | undefined) {
  let value = initial;
  const writes: Buffer[] = [];
  const config = {
    lookup: () => value,
    update: (_key: Buffer, next: Buffer) => {
      value = next;
      writes.push(next);
    },
  };
  const maps = { get: (name: string) => (name === 'config' ? config : assert.fail(name)) };
  return { maps: maps as unknown as DatapathMaps, writes, current: () => value };
}

const stored = (timeouts = { synSentS: 30, establishedS: 900, finS: 60, closedS: 10, udpS: 60 }) =>
  encodeConfig({
    bootId: 0x0123456789abcdefn,
    events: true,
    detaching: null,
    timeouts,
    snatPorts: { min: 0, max: 0 },
  });

describe('config: conntrack timeouts in lb_config', () => {
  it('shows a stored 0 as the default it stands for', () => {
    const { maps } = fakeMaps(stored({ synSentS: 0, establishedS: 120, finS: 0, closedS: 3, udpS: 0 }));
    const view = readConfig(maps);
    assert.deepEqual(view.timeoutsSeconds, {
      synSentS: 30,
      establishedS: 120,
      finS: 60,
      closedS: 3,
      udpS: 60,
    });
    assert.deepEqual(view.defaultsSeconds, DEFAULT_TIMEOUTS_S);
    assert.equal(view.bootId, '0123456789abcdef');
  });

  it('changes only the given timeouts and keeps the boot id and events switch', () => {
    const { maps, writes, current } = fakeMaps(stored());
    const view = updateTimeouts(maps, { closedS: 2, finS: 5 });
    assert.equal(writes.length, 1, 'one map update');
    const record = decodeConfig(current() as Buffer);
    assert.deepEqual(record.timeouts, { synSentS: 30, establishedS: 900, finS: 5, closedS: 2, udpS: 60 });
    assert.equal(record.bootId, 0x0123456789abcdefn);
    assert.equal(record.events, true);
    assert.deepEqual(view.timeoutsSeconds, record.timeouts);
  });

  it('sets the UDP flow timeout alone', () => {
    const { maps, current } = fakeMaps(stored());
    updateTimeouts(maps, { udpS: 15 });
    const record = decodeConfig(current() as Buffer);
    assert.equal(record.timeouts.udpS, 15);
    assert.equal(record.timeouts.establishedS, 900);
    assert.throws(() => updateTimeouts(maps, { udpS: -3 }), lbctlErrorOf('USAGE', { mentions: ['UDP'] }));
  });

  it('restores a default with 0', () => {
    const { maps, current } = fakeMaps(
      stored({ synSentS: 30, establishedS: 900, finS: 60, closedS: 2, udpS: 0 }),
    );
    updateTimeouts(maps, { closedS: 0 });
    assert.equal(decodeConfig(current() as Buffer).timeouts.closedS, DEFAULT_TIMEOUTS_S.closedS);
  });

  it('refuses negative, fractional and absurd values without writing anything', () => {
    for (const bad of [-1, 1.5, 86_401, Number.NaN]) {
      const { maps, writes } = fakeMaps(stored());
      assert.throws(
        () => updateTimeouts(maps, { closedS: bad }),
        lbctlErrorOf('USAGE', { mentions: ['CLOSED'] }),
      );
      assert.equal(writes.length, 0);
    }
  });

  it('reports a missing record as NOT_FOUND with the fix', () => {
    const { maps } = fakeMaps(undefined);
    assert.throws(() => readConfig(maps), lbctlErrorOf('NOT_FOUND', { hint: true }));
  });
});
