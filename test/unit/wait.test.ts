/** The one condition wait the tests share: it returns what the check found, or fails saying what it awaited. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/wait.js';

describe('waitFor', () => {
  it('returns the first value that is neither undefined nor false, sync or async', async () => {
    let calls = 0;
    assert.equal(
      await waitFor('the third call', () => (++calls === 3 ? 'ready' : undefined), { intervalMs: 1 }),
      'ready',
    );
    assert.equal(calls, 3);
    let polls = 0;
    assert.equal(await waitFor('an async true', async () => ++polls > 1, { intervalMs: 1 }), true);
  });

  it('fails after the timeout, naming the condition and the detail', async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor('something that never comes', () => false, {
        timeoutMs: 50,
        intervalMs: 5,
        detail: () => 'last: 0',
      }),
      (err: Error) => err.message.includes('something that never comes') && err.message.includes('last: 0'),
    );
    assert.ok(Date.now() - started >= 50, 'waited out the timeout');
  });

  it('lets an exception from the check through at once', async () => {
    const boom = new RangeError('check failed');
    await assert.rejects(
      waitFor('a throwing check', () => {
        throw boom;
      }),
      (err: unknown) => err === boom,
    );
  });
});
