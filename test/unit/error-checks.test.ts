/** The error checks every error test goes through must fail on each thing they promise to check. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LbctlError } from '../../src/errors.js';
import { assertCliError, lbctlErrorOf } from '../helpers/errors.js';

const result = (code: number, stderr: string) => ({ code, stdout: '', stderr, stdoutBytes: Buffer.alloc(0) });

describe('error checks', () => {
  it('lbctlErrorOf passes the promised kind, naming its inputs, with a hint', () => {
    const err = new LbctlError('USAGE', 'port "0" is out of range', 'use 1-65535');
    assert.equal(lbctlErrorOf('USAGE', { mentions: ['"0"'], hint: true })(err), true);
  });

  it('lbctlErrorOf fails another kind, another class, two lines, a missing input or hint', () => {
    const usage = new LbctlError('USAGE', 'port "0" is out of range');
    assert.throws(() => lbctlErrorOf('NOT_FOUND')(usage));
    assert.throws(() => lbctlErrorOf('USAGE')(new RangeError('port "0" is out of range')));
    assert.throws(() => lbctlErrorOf('USAGE')(new LbctlError('USAGE', 'two\nlines')));
    assert.throws(() => lbctlErrorOf('USAGE')(new LbctlError('USAGE', '')));
    assert.throws(() => lbctlErrorOf('USAGE', { mentions: ['"80"'] })(usage));
    assert.throws(() => lbctlErrorOf('USAGE', { hint: true })(usage));
  });

  it('assertCliError checks the exit code, one stderr line, the inputs named and the hint', () => {
    const line = 'Error: no service "web" (hint: lbctl service list)\n';
    assertCliError(result(3, line), 3, { mentions: ['"web"'], hint: true });
    assert.throws(() => assertCliError(result(2, line), 3));
    assert.throws(() => assertCliError(result(3, `${line}${line}`), 3));
    assert.throws(() => assertCliError(result(3, ''), 3));
    assert.throws(() => assertCliError(result(3, line), 3, { mentions: ['"api"'] }));
    assert.throws(() => assertCliError(result(3, 'Error: no service "web"\n'), 3, { hint: true }));
  });
});
