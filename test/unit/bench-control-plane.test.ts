/** The control-plane benchmark's arguments and report table (bench/control-plane.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControlPlaneArgs, renderControlPlane } from '../../bench/control-plane.js';
import { UsageError } from '../../bench/plan.js';

describe('bench --control-plane', () => {
  it('takes sizes, repetitions and a timeout, and refuses anything else', () => {
    assert.deepEqual(
      parseControlPlaneArgs(['--backends', '5,7', '--services', '0,3', '--repetitions', '2']),
      {
        repetitions: 2,
        backendSizes: [5, 7],
        serviceCounts: [0, 3],
        timeoutMs: 120_000,
      },
    );
    assert.equal(parseControlPlaneArgs(['--timeout', '9']).timeoutMs, 9000);
    assert.throws(() => parseControlPlaneArgs(['--backends', '0']), UsageError);
    assert.throws(() => parseControlPlaneArgs(['--repetitions']), UsageError);
    assert.throws(() => parseControlPlaneArgs(['--quick']), UsageError);
  });

  it('reports per-second rates, and a stopped run as a lower bound', () => {
    const table = renderControlPlane([
      { operation: 'service add', size: 2000, exitCode: 0, medianMs: 500, timedOut: false, timesMs: [500] },
      { operation: 'apply', size: 250, exitCode: -1, medianMs: 120000, timedOut: true, timesMs: [120000] },
    ]);
    assert.match(table, /\| service add \| 2000 \| 0 \| 500 \| 2\.00 ops, 4000 items \|/);
    assert.match(table, /\| apply \| 250 \| -1 \| > 120000 \|/);
  });
});
