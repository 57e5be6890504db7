/**
 * Addressable services and guarded destructive commands (issue 13, points 4 and 5): which service a
 * reference names, how ids are handed out, what --dry-run plans say, and when lbctl asks before acting.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { applyReport, renderApplyReport } from '../../src/cli/apply-render.js';
import { askYesNo, confirmOrAbort, mustAsk, type PromptStreams } from '../../src/cli/confirm.js';
import { detachPlanLines } from '../../src/cli/detach-render.js';
import { planAdd, planChange, planDelete } from '../../src/core/service-plan.js';
import { freeServiceId, resolveService } from '../../src/core/services.js';
import { NO_SNAT } from '../../src/core/snat-plan.js';
import { LbctlError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { specFrom, viewOf } from './k8s-fixtures.js';

const web = viewOf(specFrom('203.0.113.10:80', ['198.51.100.2:80'], { name: 'web' }), 3, '198.51.100.1');
const digits = viewOf(specFrom('203.0.113.11:80', ['198.51.100.3:80'], { name: '7' }), 4, '198.51.100.1');
const plain = viewOf(specFrom('[2001:db8:f::10]:443', ['[2001:db8:b::2]:443']), 7, '2001:db8:b::1');
const SERVICES = [web, digits, plain];

const exitCodeOf = (fn: () => unknown): number => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LbctlError, String(err));
    return err.exitCode;
  }
  assert.fail('expected an error');
};

describe('resolveService', () => {
  it('finds a service by the id list shows, its name, or VIP:PORT with or without /tcp', () => {
    assert.equal(resolveService(SERVICES, '3'), web);
    assert.equal(resolveService(SERVICES, 'web'), web);
    assert.equal(resolveService(SERVICES, '203.0.113.10:80'), web);
    assert.equal(resolveService(SERVICES, '203.0.113.10:80/tcp'), web);
    assert.equal(resolveService(SERVICES, '[2001:db8:f::10]:443'), plain);
    assert.equal(resolveService([web, plain], '7'), plain);
  });

  it('refuses a number that is one service id and another one name (exit 2), instead of guessing', () => {
    assert.equal(
      exitCodeOf(() => resolveService(SERVICES, '7')),
      ExitCode.USAGE,
    );
    assert.equal(resolveService([web, digits], '7'), digits, 'a name alone is found');
    assert.equal(resolveService(SERVICES, '4'), digits, 'its id too');
  });

  it('says NOT_FOUND with the ids and names that exist', () => {
    try {
      resolveService(SERVICES, '9');
      assert.fail('expected NOT_FOUND');
    } catch (err) {
      assert.ok(err instanceof LbctlError);
      assert.equal(err.exitCode, ExitCode.NOT_FOUND);
      assert.match(err.hint ?? '', /3 \(web\), 4 \(7\), 7 \(\[2001:db8:f::10\]:443\/tcp\)/);
    }
    assert.equal(
      exitCodeOf(() => resolveService(SERVICES, '03')),
      ExitCode.NOT_FOUND,
    );
  });
});

describe('freeServiceId', () => {
  it('takes the first free id after the last one given, so a deleted id is not handed out at once', () => {
    assert.equal(freeServiceId([], 0), 1);
    assert.equal(freeServiceId([web], 3), 4, 'after 3, not the free 1');
    assert.equal(freeServiceId([web, digits], 3), 5);
    assert.equal(freeServiceId([], 255), 1, 'wraps around after the last id');
    assert.equal(freeServiceId([viewOf(specFrom('203.0.113.1:1', ['198.51.100.2:1']), 1, null)], 255), 2);
  });
});

describe('--dry-run plans', () => {
  const render = (entries: Parameters<typeof applyReport>[0]) =>
    renderApplyReport(applyReport(entries, { dryRun: true, ignored: [], notes: [] }));

  it('service add: the settings of the new service and the id it would get, after the same checks', () => {
    const spec = specFrom('203.0.113.20:80', ['198.51.100.2:80', '198.51.100.3:80:3'], {
      name: 'api',
      ppv2: ['unique-id'],
    });
    const entry = planAdd(SERVICES, spec, { override: '198.51.100.1', sources: new Map() }, 7);
    assert.equal(entry.action, 'add');
    assert.equal(entry.id, 8);
    const text = render([entry]);
    assert.match(text, /add\s+│ 203\.0\.113\.20:80\/tcp │ api/);
    assert.match(
      text,
      /mode fullnat; snat 198\.51\.100\.1; backends \+198\.51\.100\.2:80 \+198\.51\.100\.3:80:3; ppv2 v2 unique-id; liveness off/,
    );
    assert.match(text, /dry run: 1 to add, 0 to change, 0 to delete, 0 unchanged; nothing was changed/);
    const duplicate = specFrom('203.0.113.10:80', ['198.51.100.2:80']);
    assert.equal(
      exitCodeOf(() => planAdd(SERVICES, duplicate, NO_SNAT, 0)),
      ExitCode.CONFLICT,
    );
  });

  it('service set: only what differs, as apply shows it', () => {
    const entry = planChange(web, {
      backends: specFrom('203.0.113.10:80', ['198.51.100.4:80']).backends,
      mode: 'dnat',
    });
    assert.equal(entry.action, 'change');
    const text = render([entry]);
    assert.match(text, /mode fullnat → dnat; backends \+198\.51\.100\.4:80 -198\.51\.100\.2:80/);
    assert.equal(planChange(web, { liveness: false }).action, 'unchanged');
  });

  it('service delete: the service and its id', () => {
    const entry = planDelete(web);
    assert.deepEqual([entry.action, entry.id, entry.key], ['delete', 3, '203.0.113.10:80/tcp']);
    assert.match(render([entry]), /0 to add, 0 to change, 1 to delete/);
  });

  it('detach: what goes, what is reset or held', () => {
    const base = { interfaces: ['eth0', 'eth1'], nothingLeft: true, removesState: true, services: 9 };
    assert.deepEqual(detachPlanLines({ ...base, liveConnections: 4 }, { drainTimeoutMs: 3000 }), [
      'detach lbctl from eth0, eth1',
      'reset 4 live connection(s) at both ends (for at most 3 s; any left then are cut)',
      'delete 9 service(s), the pinned maps and the state file',
    ]);
    assert.match(
      detachPlanLines({ ...base, liveConnections: 4 }, { drainTimeoutMs: 0 })[1] ?? '',
      /cut 4 live connection\(s\) at once/,
    );
    assert.deepEqual(
      detachPlanLines({ ...base, removesState: false, liveConnections: 2 }, { keepMaps: true }),
      [
        'detach lbctl from eth0, eth1',
        'hold: packets of 9 service(s) and 2 live connection(s) are dropped until lbctl attach',
      ],
    );
    assert.deepEqual(
      detachPlanLines(
        { ...base, nothingLeft: false, removesState: false, services: 0, liveConnections: 0 },
        {},
      ),
      ['detach lbctl from eth0, eth1'],
    );
  });
});

describe('confirmation', () => {
  const streams = (tty: boolean): PromptStreams & { input: PassThrough; output: PassThrough } => {
    const input = Object.assign(new PassThrough(), { isTTY: tty });
    const output = Object.assign(new PassThrough(), { isTTY: tty });
    return { input, output };
  };
  const written = (s: { output: PassThrough }) => s.output.read()?.toString() ?? '';

  it('asks only a terminal, and not with --yes', () => {
    assert.equal(mustAsk(streams(true), false), true);
    assert.equal(mustAsk(streams(true), true), false);
    assert.equal(mustAsk(streams(false), false), false, 'scripts and pipes proceed as before');
    const half = { input: Object.assign(new PassThrough(), { isTTY: true }), output: new PassThrough() };
    assert.equal(mustAsk(half, false), false, 'stderr redirected: nobody would see the question');
  });

  for (const [answer, expected] of [
    ['y\n', true],
    ['YES\n', true],
    [' yes \n', true],
    ['n\n', false],
    ['\n', false],
    ['yess\n', false],
  ] as const) {
    it(`reads one line: ${JSON.stringify(answer)} is ${expected ? 'yes' : 'no'}`, async () => {
      const s = streams(true);
      const asked = askYesNo('Delete?', s);
      s.input.write(answer);
      assert.equal(await asked, expected);
      assert.equal(written(s), 'Delete? [y/N] ');
    });
  }

  it('takes the end of input as a no', async () => {
    const s = streams(true);
    const asked = askYesNo('Detach?', s);
    s.input.end();
    assert.equal(await asked, false);
  });

  it('shows the plan above the question and aborts with exit 1 on a no, changing nothing', async () => {
    const s = streams(true);
    const done = confirmOrAbort(['delete 2 service(s)'], 'Detach?', { yes: false, streams: s });
    s.input.write('no\n');
    await assert.rejects(
      done,
      (err: unknown) => err instanceof LbctlError && err.exitCode === ExitCode.FAILURE,
    );
    assert.equal(written(s), 'delete 2 service(s)\nDetach? [y/N] ');
  });

  it('proceeds without a word when not asked', async () => {
    for (const [tty, yes] of [
      [false, false],
      [true, true],
    ] as const) {
      const s = streams(tty);
      await confirmOrAbort(['delete 2 service(s)'], 'Detach?', { yes, streams: s });
      assert.equal(written(s), '');
    }
  });
});
