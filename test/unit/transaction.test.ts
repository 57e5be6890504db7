import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withRollback } from '../../src/core/transaction.js';
import { conflictError, LbctlError } from '../../src/errors.js';

describe('withRollback', () => {
  it('keeps every change when the work succeeds, and returns its result', () => {
    const undone: string[] = [];
    const result = withRollback((journal) => {
      journal.record('a', () => undone.push('a'));
      return 42;
    });
    assert.equal(result, 42);
    assert.deepEqual(undone, []);
  });

  it('undoes newest first and rethrows the error that stopped the work', () => {
    const undone: string[] = [];
    const stop = conflictError('slot taken');
    assert.throws(
      () =>
        withRollback((journal) => {
          for (const name of ['first', 'second', 'third']) journal.record(name, () => undone.push(name));
          throw stop;
        }),
      (err: unknown) => err === stop,
    );
    assert.deepEqual(undone, ['third', 'second', 'first']);
  });

  it('still runs the other undos when one fails, and reports it with the original kind', () => {
    const undone: string[] = [];
    assert.throws(
      () =>
        withRollback((journal) => {
          journal.record('first', () => undone.push('first'));
          journal.record('stuck', () => {
            throw new Error('map busy');
          });
          journal.record('third', () => undone.push('third'));
          throw conflictError('slot taken');
        }),
      (err: unknown) =>
        err instanceof LbctlError && err.kind === 'CONFLICT' && /stuck: map busy/.test(err.message),
    );
    assert.deepEqual(undone, ['third', 'first']);
  });

  it('lets the caller word the failure, with how many undos were journalled and which failed', () => {
    const seen: Array<{ size: number; failures: string[] }> = [];
    const worded = new Error('worded');
    assert.throws(
      () =>
        withRollback(
          (journal) => {
            journal.record('one', () => {});
            journal.record('two', () => {
              throw new Error('gone');
            });
            throw new Error('step failed');
          },
          (_err, journal, failures) => {
            seen.push({ size: journal.size, failures });
            return worded;
          },
        ),
      (err: unknown) => err === worded,
    );
    assert.deepEqual(seen, [{ size: 2, failures: ['two: gone'] }]);
  });
});
