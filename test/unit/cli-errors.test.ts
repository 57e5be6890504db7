/**
 * Errors say what and why in one line with the documented kind (issue 13 point 3): oclif's parser errors
 * keep their reason, echoed values are clipped, weights are judged as weights, and undecodable input to
 * `ppv2 decode` is INVALID_DATA. Parser cases run oclif's real parser on the real commands' flags.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Command, Parser } from '@oclif/core';
import { decodeUserBytes } from '../../src/cli/bytes-input.js';
import { toLbctlError } from '../../src/cli/error-report.js';
import Apply from '../../src/commands/apply.js';
import ConnList from '../../src/commands/conn/list.js';
import Ppv2Encode from '../../src/commands/ppv2/encode.js';
import ServiceAdd from '../../src/commands/service/add.js';
import ServiceShow from '../../src/commands/service/show.js';
import Top from '../../src/commands/top.js';
import { parseBackend } from '../../src/core/service-spec.js';
import { clipQuotedValues, clipValue, LbctlError } from '../../src/errors.js';
import { lbctlErrorOf } from '../helpers/errors.js';

/** The error oclif's parser throws for `argv`, as the CLI reports it. */
async function parseErrorOf(command: typeof Command, argv: string[]): Promise<LbctlError> {
  try {
    await Parser.parse(argv, {
      flags: { ...command.baseFlags, ...command.flags },
      args: command.args,
      strict: command.strict,
    });
  } catch (err) {
    return toLbctlError(err, command.id ?? 'test');
  }
  assert.fail(`${argv.join(' ')} parsed`);
}

describe('parser errors keep their reason, on one line, exit 2', () => {
  const cases: Array<[string, typeof Command, string[], string[]]> = [
    ['a missing required flag', ServiceAdd, ['203.0.113.10:80'], ['--backend']],
    ['apply without -f', Apply, [], ['--filename']],
    ['exclusive flags (top)', Top, ['--once', '--iterations', '2'], ['--once', '--iterations']],
    ['exclusive flags (ppv2 encode)', Ppv2Encode, ['--v1', '--tlv', 'unique-id=x'], ['--v1', '--tlv']],
    ['an integer below its minimum', ConnList, ['--limit', '0'], ['--limit', 'at least 1', '(got 0)']],
    ['not an integer', ConnList, ['--limit', 'many'], ['--limit', '"many"']],
    ['a missing argument', ServiceShow, [], ['SERVICE']],
    ['an extra argument', ServiceShow, ['web', 'api'], ['"api"']],
  ];
  for (const [what, command, argv, mentions] of cases) {
    it(what, async () => {
      const err = await parseErrorOf(command, argv);
      lbctlErrorOf('USAGE', { mentions, hint: true })(err);
      assert.equal(err.exitCode, 2);
      assert.doesNotMatch(err.message, /following error|^Parsing|See more help/, err.message);
    });
  }

  it('clips a long value it echoes', async () => {
    const err = await parseErrorOf(ConnList, ['--limit', 'x'.repeat(70_000)]);
    lbctlErrorOf('USAGE', { mentions: ['--limit', '70000 characters'] })(err);
    assert.ok(err.message.length < 200, err.message);
  });
});

describe('backend weights are judged as weights', () => {
  for (const weight of ['-1', '1.5', '1e3', '65536', '']) {
    it(`refuses weight "${weight}" as a weight, for IPv4 and IPv6 backends`, () => {
      for (const backend of [`198.51.100.2:80:${weight}`, `[2001:db8::2]:80:${weight}`]) {
        assert.throws(
          () => parseBackend(backend),
          lbctlErrorOf('USAGE', { mentions: [`"${weight}"`, '65535'], hint: true }),
        );
      }
    });
  }

  it('reads weights 0 to 65535, defaults to 1, and still asks for brackets around bare IPv6', () => {
    assert.equal(parseBackend('198.51.100.2:80:0').weight, 0);
    assert.equal(parseBackend('[2001:db8::2]:443:65535').weight, 65535);
    assert.deepEqual(parseBackend('198.51.100.2:80'), {
      family: 4,
      address: '198.51.100.2',
      port: 80,
      weight: 1,
    });
    assert.throws(() => parseBackend('2001:db8::2:80'), lbctlErrorOf('USAGE', { mentions: ['brackets'] }));
    assert.throws(() => parseBackend('198.51.100.2:0:3'), lbctlErrorOf('USAGE', { mentions: ['"0"'] }));
  });
});

describe('echoed values are clipped', () => {
  it('clipValue keeps short values and cuts long ones, saying how long they were', () => {
    assert.equal(clipValue('web'), 'web');
    const clipped = clipValue('a'.repeat(70_000));
    assert.ok(clipped.length < 120, clipped);
    assert.match(clipped, /^a+… \(70000 characters\)$/);
  });

  it('every LbctlError clips the quoted values it echoes and keeps the reason after them', () => {
    const value = `authority=${'a'.repeat(70_000)}`;
    const err = new LbctlError('USAGE', `invalid TLV "${value}": value is 70000 bytes, more than 65535`);
    lbctlErrorOf('USAGE', { mentions: ['70010 characters', 'more than 65535'] })(err);
    assert.ok(err.message.length < 200, err.message);
  });

  it('leaves short quotes and unbalanced quotes alone', () => {
    const message = 'name "web" is used by "api"; a "b';
    assert.equal(clipQuotedValues(message), message);
    const unbalanced = `a "${'x'.repeat(500)}`;
    assert.equal(clipQuotedValues(unbalanced), unbalanced);
  });
});

describe('ppv2 decode input that is no header is INVALID_DATA (exit 7)', () => {
  it('random bytes, bad hex and bad base64', () => {
    const random = Buffer.from([0x64, 0x00, 0xff, 0x13, 0x80, 0x7f, 0x01]);
    assert.throws(() => decodeUserBytes(random), lbctlErrorOf('INVALID_DATA', { hint: true }));
    assert.throws(() => decodeUserBytes(Buffer.from('0d0a0'), 'hex'), lbctlErrorOf('INVALID_DATA'));
    assert.throws(() => decodeUserBytes(Buffer.from('!!'), 'base64'), lbctlErrorOf('INVALID_DATA'));
  });
});
