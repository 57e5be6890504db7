import assert from 'node:assert/strict';
import type { CliResult } from './cli.js';

/**
 * Error tests check the contract (the kind, the exit code, one line, a hint where one is promised), not
 * the prose: rewording a message must not break a test, a wrong kind or code must.
 */
export interface ErrorExpectation {
  /** Strings the message must contain: the offending input itself (a value, a name), never wording. */
  mentions?: string[];
  /** The error carries a suggested fix. */
  hint?: boolean;
}

/** A validator for assert.throws / assert.rejects: an LbctlError of `kind` with a one-line message. */
export function lbctlErrorOf(kind: string, expect: ErrorExpectation = {}): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof Error, `expected an LbctlError, got ${String(err)}`);
    const { name, kind: actual, hint } = err as Error & { kind?: string; hint?: string };
    assert.equal(name, 'LbctlError', `expected an LbctlError, got ${name}: ${err.message}`);
    assert.equal(actual, kind, err.message);
    assertOneLine(err.message, expect);
    if (expect.hint) assert.ok(hint, `a hint with: ${err.message}`);
    return true;
  };
}

/** A validator for assert.throws: an error of class `type` (e.g. the codec's Ppv2ValueError), one line. */
export function errorOf(type: abstract new (...args: never[]) => Error, expect: ErrorExpectation = {}) {
  return (err: unknown): true => {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${String(err)}`);
    assertOneLine(err.message, expect);
    if (expect.hint) assert.ok((err as { hint?: string }).hint, `a hint with: ${err.message}`);
    return true;
  };
}

/** The CLI failed with exit `code` and said why on one line of stderr (with a hint when `hint`). */
export function assertCliError(
  res: CliResult,
  code: number,
  expect: ErrorExpectation = {},
  context = '',
): void {
  assert.equal(res.code, code, `${context} exit ${res.code}: ${res.stderr}`);
  const line = res.stderr.replace(/\n$/, '');
  assertOneLine(line, expect);
  if (expect.hint) assert.match(line, /\(hint: .+\)$/, `a hint: ${context}`);
}

function assertOneLine(text: string, expect: ErrorExpectation): void {
  assert.ok(text.trim() !== '' && !text.includes('\n'), `one non-empty line: ${JSON.stringify(text)}`);
  for (const part of expect.mentions ?? []) assert.ok(text.includes(part), `names ${part}: ${text}`);
}
