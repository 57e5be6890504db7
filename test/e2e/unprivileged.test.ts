/**
 * lbctl run by a user who is not root (issue 13 point 9): every command that needs root exits 4 with one
 * line that says permission denied and how to fix it, with HOME pointing at root's home or at the user's
 * own; the commands that need no root still work; oclif prints no data-directory warnings.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ExitCode } from '../../src/exit-codes.js';
import { type CliResult, type LbctlOptions, lbctl, lbctlEach, REPO_ROOT } from '../helpers/cli.js';
import { assertCliError } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { UNPRIVILEGED } from '../helpers/unprivileged.js';

const NOBODY = 65534;
/**
 * A real other user, not root with capabilities dropped: its own uid, no groups, HOME as given. It keeps one
 * capability, CAP_DAC_READ_SEARCH, only so that it can read the checkout wherever it is (CI clones into a
 * directory only root may enter); lbctl's privilege check asks for others (CAP_NET_ADMIN, CAP_BPF).
 */
const AS_NOBODY = [
  'setpriv',
  `--reuid=${NOBODY}`,
  `--regid=${NOBODY}`,
  '--clear-groups',
  '--inh-caps=+dac_read_search',
  '--ambient-caps=+dac_read_search',
  '--',
];

const { skip, assertPrerequisites } = suitePrerequisites({ root: true, binaries: ['setpriv'] });

/** One invocation per command that needs root, with arguments that parse (parsing comes first). */
const ROOT_COMMANDS: string[][] = [
  ['attach', 'lbctl-none0'],
  ['detach', '--all'],
  ['status'],
  ['stats'],
  ['top', '--once'],
  ['agent'],
  ['conn', 'list'],
  ['config', 'show'],
  ['config', 'set', '--timeout-syn', '5'],
  ['service', 'list'],
  ['service', 'show', 'web'],
  ['service', 'add', '203.0.113.10:80', '--backend', '198.51.100.2:80'],
  ['service', 'set', 'web', '--mode', 'dnat'],
  ['service', 'delete', 'web'],
  ['apply', '-f', '/nonexistent.yaml'],
  ['export'],
  ['lab', 'up'],
  ['lab', 'down'],
  ['lab', 'status'],
  ['lab', 'demo'],
];

const HEX_HEADER = '0d0a0d0a000d0a515549540a2111000cc000020acb00710ac8220050';

/** Every command class under src/commands that declares it needs root, as "service add". */
async function commandsNeedingRoot(dir = join(REPO_ROOT, 'src/commands'), prefix: string[] = []) {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      found.push(...(await commandsNeedingRoot(join(dir, entry.name), [...prefix, entry.name])));
    } else if (entry.name.endsWith('.ts')) {
      const module = (await import(pathToFileURL(join(dir, entry.name)).href)) as {
        default: { needsRoot?: string };
      };
      if (module.default.needsRoot) found.push([...prefix, entry.name.replace(/\.ts$/, '')].join(' '));
    }
  }
  return found;
}

describe('run by a user who is not root', { skip }, () => {
  let ownHome = '';
  const homes = () => [
    ['HOME=/root', '/root'],
    ['its own HOME', ownHome],
  ];
  const nobodyOptions = (home: string, input?: string): LbctlOptions => ({
    prefix: AS_NOBODY,
    env: { HOME: home, XDG_DATA_HOME: undefined },
    input,
  });
  const asNobody = (args: string[], home: string, input?: string) => lbctl(args, nobodyOptions(home, input));

  before(() => {
    assertPrerequisites();
    ownHome = mkdtempSync(join(tmpdir(), 'lbctl-nobody-'));
    spawnSync('chown', [`${NOBODY}:${NOBODY}`, ownHome]);
    const reach = spawnSync(AS_NOBODY[0] as string, [...AS_NOBODY.slice(1), process.execPath, '-e', '0'], {
      cwd: REPO_ROOT,
    });
    assert.equal(reach.status, 0, `uid ${NOBODY} cannot run node here: ${reach.stderr}`);
  });

  after(() => {
    if (ownHome) rmSync(ownHome, { recursive: true, force: true });
  });

  it('the list below covers every command that declares it needs root', async () => {
    const listed = new Set(
      ROOT_COMMANDS.map((args) =>
        args
          .filter((a) => /^[a-z]+$/.test(a))
          .slice(0, 2)
          .join(' '),
      ),
    );
    const needing = await commandsNeedingRoot();
    assert.ok(needing.length >= ROOT_COMMANDS.length / 2, `found the commands that need root: ${needing}`);
    for (const command of needing) assert.ok(listed.has(command), `${command} is tested`);
  });

  it('every command that needs root exits 4 with permission denied and the fix, plain and --json', async () => {
    const cases = homes().flatMap(([label, home]) =>
      ROOT_COMMANDS.map((args) => ({ args, home: home as string, context: `${args.join(' ')} (${label})` })),
    );
    const runs = await lbctlEach(
      cases.flatMap(({ args, home }) =>
        [args, [...args, '--json']].map((a) => [a, nobodyOptions(home)] as const),
      ),
    );
    cases.forEach(({ context }, i) => {
      const [res, json] = [runs[2 * i], runs[2 * i + 1]] as [CliResult, CliResult];
      assertCliError(
        res,
        ExitCode.PERMISSION,
        { mentions: ['permission denied', 'root'], hint: true },
        context,
      );
      assert.equal(res.stdout, '', context);
      assert.equal(json.code, ExitCode.PERMISSION, context);
      assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'PERMISSION');
      assert.equal(json.stderr, '', `no warnings: ${context}`);
    });
  });

  it('lab status does not claim the lab is down: it says it cannot tell without root', () => {
    const res = asNobody(['lab', 'status'], '/root');
    assertCliError(res, ExitCode.PERMISSION, { mentions: ['lab'], hint: true });
    assert.doesNotMatch(res.stdout + res.stderr, /lab is down/);
  });

  it('help, version and ppv2 encode/decode work, with no warnings on stderr', () => {
    for (const [label, home] of homes()) {
      const cases: Array<[string[], string | undefined]> = [
        [['--help'], undefined],
        [['--version'], undefined],
        [['service', 'list', '--help'], undefined],
        [
          ['ppv2', 'encode', '--src', '192.0.2.10:51234', '--dst', '203.0.113.10:80', '--format', 'hex'],
          undefined,
        ],
        [['ppv2', 'decode', HEX_HEADER], undefined],
        [['ppv2', 'decode', '--json'], HEX_HEADER],
      ];
      for (const [args, input] of cases) {
        const context = `${args.join(' ')} (${label})`;
        const res = asNobody(args, home as string, input);
        assert.equal(res.code, 0, `${context}: ${res.stderr}`);
        assert.equal(res.stderr, '', `no warnings: ${context}`);
        assert.notEqual(res.stdout, '', context);
      }
    }
  });

  it('root with its capabilities dropped is refused the same way', () => {
    for (const args of [['service', 'list'], ['lab', 'status'], ['status']]) {
      const res = lbctl(args, { prefix: [...UNPRIVILEGED, '--'] });
      assertCliError(res, ExitCode.PERMISSION, { mentions: ['CAP_NET_ADMIN'], hint: true }, args.join(' '));
    }
  });

  it('usage errors still come first: a bad flag is exit 2 even without root', () => {
    assertCliError(asNobody(['conn', 'list', '--limit', '0'], '/root'), ExitCode.USAGE, {
      mentions: ['--limit'],
    });
  });
});
