/**
 * The cases issue 13 found on a fresh clone, through the built CLI: each error is one line that says what
 * and why, with the documented exit code, the same with --json. Parsing and validation only: nothing here
 * reaches the kernel.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExitCode } from '../../src/exit-codes.js';
import { type CliResult, lbctlEach, parseJson } from '../helpers/cli.js';
import { assertCliError, type ErrorExpectation } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';

// Root: `service add` checks privileges before it validates its backends.
const { skip, assertPrerequisites } = suitePrerequisites({ root: true });

const ENDPOINTS = ['--src', '192.0.2.10:51234', '--dst', '203.0.113.10:80'];
const LONG_VALUE = 'a'.repeat(70_000);

const CASES: Array<[string[], number, ErrorExpectation, string?]> = [
  [['service', 'add', '203.0.113.10:80'], ExitCode.USAGE, { mentions: ['--backend'], hint: true }],
  [['apply'], ExitCode.USAGE, { mentions: ['--filename'], hint: true }],
  [['top', '--once', '--iterations', '2'], ExitCode.USAGE, { mentions: ['--once', '--iterations'] }],
  [
    ['ppv2', 'encode', '--v1', '--tlv', 'unique-id=x', ...ENDPOINTS],
    ExitCode.USAGE,
    { mentions: ['--v1', '--tlv'] },
  ],
  [['conn', 'list', '--limit', '0'], ExitCode.USAGE, { mentions: ['--limit', '1', '0'], hint: true }],
  ...['-1', '1.5', '1e3'].map((w): [string[], number, ErrorExpectation] => [
    ['service', 'add', '203.0.113.10:80', '--backend', `198.51.100.2:80:${w}`],
    ExitCode.USAGE,
    { mentions: [`"${w}"`], hint: true },
  ]),
  [['ppv2', 'decode'], ExitCode.INVALID_DATA, { hint: true }, '\u0000\u00ffrandom\u0013bytes'],
  [
    ['ppv2', 'encode', ...ENDPOINTS, '--tlv', `authority=${LONG_VALUE}`],
    ExitCode.USAGE,
    { mentions: ['70010'] },
  ],
];

describe('errors say what and why, with the documented exit code', { skip }, () => {
  it('each case: one line, its code, the same code and kind with --json', async () => {
    assertPrerequisites();
    const runs = await lbctlEach(
      CASES.flatMap(([args, , , input]) => [
        [args, { input }] as const,
        [[...args, '--json'], { input }] as const,
      ]),
    );
    CASES.forEach(([args, code, expect], i) => {
      const context = args.join(' ').slice(0, 80);
      const [res, json] = [runs[2 * i], runs[2 * i + 1]] as [CliResult, CliResult];
      assertCliError(res, code, expect, context);
      assert.doesNotMatch(res.stderr, /following error|Parsing --|IPv6 endpoint/, context);
      assert.ok(res.stderr.length < 400, `${context}: ${res.stderr.length} characters`);
      assert.equal(json.code, code, context);
      assert.equal(parseJson<{ error: { exitCode: number } }>(json).error.exitCode, code, context);
    });
  });
});
