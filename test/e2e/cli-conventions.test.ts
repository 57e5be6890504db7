import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ENVIRONMENT } from '../../src/cli/help.js';
import { EXIT_CODE_MEANINGS, ExitCode } from '../../src/exit-codes.js';
import { lbctl, parseJson, REPO_ROOT } from '../helpers/cli.js';
import { assertCliError } from '../helpers/errors.js';

const RUN = `${process.execPath} ${REPO_ROOT}/bin/run.js`;
const SRC = '192.0.2.10:51234';
const DST = '203.0.113.10:80';

interface ErrorDoc {
  error: { code: string; exitCode: number; message: string; hint?: string };
}

describe('CLI conventions', () => {
  it('round-trips encode | decode --json through a shell pipe (raw bytes)', () => {
    const pipeline = `${RUN} ppv2 encode --src ${SRC} --dst ${DST} --tlv unique-id=conn-0001 --tlv authority=example.com --tlv 0xE0=00ff --crc32c | ${RUN} ppv2 decode --json`;
    const result = spawnSync('sh', ['-c', pipeline], { env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(result.status, 0, result.stderr.toString());
    const doc = JSON.parse(result.stdout.toString());
    assert.equal(doc.header.src, '192.0.2.10');
    assert.equal(doc.header.srcPort, 51234);
    assert.equal(doc.header.dst, '203.0.113.10');
    assert.deepEqual(doc.tlvs.map((t: { name: string; text: string }) => [t.name, t.text]).slice(0, 3), [
      ['UNIQUE_ID', 'conn-0001'],
      ['AUTHORITY', 'example.com'],
      ['CUSTOM(0xe0)', '00ff'],
    ]);
    assert.equal(doc.tlvs[3].name, 'CRC32C');
  });

  it('round-trips hex and base64 output formats and v1 lines', () => {
    for (const format of ['hex', 'base64']) {
      const encoded = lbctl([
        'ppv2',
        'encode',
        '--src',
        '[2001:db8::10]:40000',
        '--dst',
        '[2001:db8:1::a]:443',
        '--format',
        format,
      ]);
      assert.equal(encoded.code, 0);
      const decoded = parseJson<{ header: { src: string; family: string } }>(
        lbctl(['ppv2', 'decode', '--json', encoded.stdout.trim()]),
      );
      assert.equal(decoded.header.family, 'INET6');
      assert.equal(decoded.header.src, '2001:db8::10');
    }
    const v1 = lbctl(['ppv2', 'encode', '--v1', '--src', SRC, '--dst', DST]);
    assert.equal(v1.stdout, 'PROXY TCP4 192.0.2.10 203.0.113.10 51234 80\r\n');
    const decoded = parseJson<{ header: { version: number } }>(
      lbctl(['ppv2', 'decode', '--json'], { input: v1.stdoutBytes }),
    );
    assert.equal(decoded.header.version, 1);
  });

  it('reports an invalid header with exit code 7, the same with and without --json', () => {
    const corrupted = '0d0a0d0a000d0a515549540a2411000cc000020acb00710ac8220050'; // command nibble 4
    const human = lbctl(['ppv2', 'decode', corrupted]);
    const json = lbctl(['ppv2', 'decode', '--json', corrupted]);
    assertCliError(human, ExitCode.INVALID_DATA);
    assert.equal(json.code, ExitCode.INVALID_DATA);
    assert.equal(human.stdout, '');
    const doc = parseJson<ErrorDoc>(json);
    assert.equal(doc.error.code, 'INVALID_DATA');
    assert.equal(doc.error.exitCode, 7);
  });

  it('treats bad flags, bad values and unknown commands as usage errors (exit 2) with a hint', () => {
    const cases = [
      ['ppv2', 'encode', '--src', '192.0.2.10', '--dst', DST],
      ['ppv2', 'encode', '--src', SRC, '--dst', '[2001:db8::1]:80'],
      ['ppv2', 'encode', '--src', SRC, '--dst', DST, '--tlv', 'unique-id='],
      ['ppv2', 'encode', '--no-such-flag'],
      ['ppv2', 'encode', '--src', SRC, '--dst', DST, '--format', 'xml'],
      ['ppv2', 'encod'],
    ];
    for (const args of cases) {
      assertCliError(lbctl(args), ExitCode.USAGE, { hint: true }, args.join(' '));
      const json = lbctl([...args, '--json']);
      assert.equal(json.code, ExitCode.USAGE, args.join(' '));
      assert.equal(parseJson<ErrorDoc>(json).error.code, 'USAGE');
    }
  });

  it('suggests the nearest command for a typo', () => {
    assertCliError(lbctl(['ppv2', 'decod']), ExitCode.USAGE, { mentions: ['ppv2 decode'], hint: true });
  });

  it('colours tables only when asked: FORCE_COLOR colours, NO_COLOR wins over nothing', () => {
    const hex = lbctl([
      'ppv2',
      'encode',
      '--src',
      SRC,
      '--dst',
      DST,
      '--tlv',
      'authority=a.example',
      '--format',
      'hex',
    ]).stdout.trim();
    const ESC = '\u001b[';
    const plain = lbctl(['ppv2', 'decode', hex], { env: { NO_COLOR: '1' } });
    assert.ok(!plain.stdout.includes(ESC), 'NO_COLOR output has no escape codes');
    const piped = lbctl(['ppv2', 'decode', hex], { env: { NO_COLOR: undefined, FORCE_COLOR: undefined } });
    assert.ok(!piped.stdout.includes(ESC), 'a pipe gets no colour by default');
    const forced = lbctl(['ppv2', 'decode', hex], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    assert.ok(forced.stdout.includes(ESC), 'FORCE_COLOR=1 colours the table header');
  });

  it('is on PATH after set-up, as this checkout, so the hints lbctl prints work as printed', () => {
    const found = spawnSync('sh', ['-c', 'command -v lbctl'], { encoding: 'utf8' });
    assert.equal(found.status, 0, 'lbctl on PATH (scripts/setup.sh links it)');
    assert.equal(realpathSync(found.stdout.trim()), realpathSync(`${REPO_ROOT}/bin/run.js`));
    const version = spawnSync('lbctl', ['--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^lbctl\/\d+\.\d+\.\d+ /);
  });

  it('takes --netns and --json anywhere, and every command takes them (an alias with --netns works)', () => {
    const encode = ['ppv2', 'encode', '--src', SRC, '--dst', DST, '--format', 'hex'];
    for (const args of [
      ['--json', '--netns', 'lb-alias', ...encode],
      ['--netns=lb-alias', ...encode, '--json'],
      [...encode.slice(0, 2), '--json', '--netns', 'lb-alias', ...encode.slice(2)],
      ['ppv2', '--json', 'encode', '--netns', 'lb-alias', ...encode.slice(2)],
    ]) {
      const res = lbctl(args);
      assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(parseJson<{ header: { version: number } }>(res).header.version, 2, args.join(' '));
    }
    const lab = lbctl(['--json', '--netns', 'lb-alias', 'lab', 'status']);
    assert.equal(lab.code, 0, lab.stderr);
    assert.equal(typeof parseJson<{ up: boolean }>(lab).up, 'boolean');
  });

  it('the root help lists the global flags, the environment variables and every exit code', () => {
    const res = lbctl(['--help']);
    assert.equal(res.code, 0, res.stderr);
    for (const flag of ['--netns NAME', '--json', '-h, --help', '-v, --version']) {
      assert.ok(res.stdout.includes(flag), flag);
    }
    for (const [name] of ENVIRONMENT) assert.ok(res.stdout.includes(name), name);
    for (const [name, code] of Object.entries(ExitCode)) {
      assert.match(res.stdout, new RegExp(`^\\s+${code} ${name}\\s+\\S`, 'm'), `exit code ${code}`);
    }
  });

  it('has -h, help [COMMAND], version and --version/-v', () => {
    for (const args of [['-h'], ['--help'], ['help']]) {
      const res = lbctl(args);
      assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stdout, /^USAGE$/m, args.join(' '));
      assert.match(res.stdout, /^\s+service\s/m, `${args.join(' ')} lists the topics`);
    }
    const sub = lbctl(['help', 'service', 'add']);
    assert.equal(sub.code, 0, sub.stderr);
    assert.match(sub.stdout, /\$ lbctl service add VIP --backend/);
    const versions = [['version'], ['--version'], ['-v']].map((args) => lbctl(args));
    for (const v of versions) assert.equal(v.code, 0, v.stderr);
    assert.match(versions[0]?.stdout ?? '', /^lbctl\/\d+\.\d+\.\d+ linux-/);
    assert.equal(new Set(versions.map((v) => v.stdout.trim())).size, 1, 'the same version three ways');
  });

  it('generates bash and zsh completion that knows the commands (oclif autocomplete plugin)', () => {
    const home = mkdtempSync(join(tmpdir(), 'lbctl-ac-'));
    try {
      const res = lbctl(['autocomplete', '--refresh-cache'], {
        env: { HOME: home, XDG_CACHE_HOME: undefined },
      });
      assert.equal(res.code, 0, res.stderr);
      const dir = join(home, '.cache', 'lbctl', 'autocomplete', 'functions');
      const bash = readFileSync(join(dir, 'bash', 'lbctl.bash'), 'utf8');
      const zsh = readFileSync(join(dir, 'zsh', '_lbctl'), 'utf8');
      for (const script of [bash, zsh]) {
        for (const command of ['attach', 'service', 'top', 'ppv2'])
          assert.ok(script.includes(command), command);
      }
      assert.ok(zsh.includes('--max-connections'), 'flags too');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('documents every exit code in the README table', () => {
    const readme = readFileSync(`${REPO_ROOT}/README.md`, 'utf8');
    for (const [name, code] of Object.entries(ExitCode)) {
      const meaning = EXIT_CODE_MEANINGS[name as keyof typeof ExitCode];
      assert.ok(readme.includes(`| ${code} | ${name} | ${meaning} |`), `README row for ${name}`);
    }
  });
});
