/**
 * Issue 13, points 4 and 5, end to end on a real attached datapath: services are addressable by the id
 * `service list` shows; piped output is never cut while a terminal's is; `--dry-run` on `service add|set|
 * delete` and `detach` changes neither the service list nor the kernel maps; `detach --all` asks on a
 * terminal (tmux gives the CLI a real pty) and proceeds without one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { load } from 'js-yaml';
import { BpfMap } from '../../src/bpf/map.js';
import { mapPinPath } from '../../src/bpf/object.js';
import { MAP_NAMES } from '../../src/bpf/records.js';
import type { ServiceView } from '../../src/core/services.js';
import { createVethPair, destroyVethPair, uniqueSuffix, type VethPair } from '../fixtures/bpf/fixture.js';
import { type CliResult, lbctl, parseJson, REPO_ROOT } from '../helpers/cli.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { Tmux } from '../helpers/tmux.js';

const { skip, assertPrerequisites } = suitePrerequisites({ root: true, binaries: ['ip', 'tc', 'tmux'] });

const VIP = '203.0.113.10';
/** A 120-byte custom TLV: its summary alone is wider than any terminal. */
const LONG_HEX = 'ab'.repeat(120);

interface Status {
  attached: boolean;
  pinDir: string;
}

describe('tables, ids and guarded commands', { skip }, () => {
  let pair: VethPair | undefined;
  let scratch = '';
  let tmux: Tmux | undefined;
  const cli = (args: string[]): CliResult => lbctl(['--netns', pair?.receiverNs ?? '', ...args]);
  const ok = (args: string[]): CliResult => {
    const res = cli(args);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return res;
  };
  const json = <T>(args: string[]): T => parseJson<T>(ok([...args, '--json']));
  const services = () => json<{ services: ServiceView[] }>(['service', 'list']).services;
  const backend = (port: number) => `${pair?.senderAddr}:${port}`;

  /** Every entry of the service, backend and Maglev maps, as hex: what a change would have to touch. */
  const mapContents = (): string[] => {
    const { pinDir } = json<Status>(['status']);
    return (['services', 'backends', 'maglev'] as const).flatMap((role) => {
      const map = BpfMap.open(mapPinPath(pinDir, MAP_NAMES[role]));
      try {
        return [...map.entries()].map(([k, v]) => `${role} ${k.toString('hex')} ${v.toString('hex')}`).sort();
      } finally {
        map.close();
      }
    });
  };

  before(async () => {
    assertPrerequisites();
    scratch = await mkdtemp(join(tmpdir(), 'lbctl-tables-'));
    pair = createVethPair(uniqueSuffix());
    ok(['attach', pair.receiverIf, '--max-connections', '1024']);
    ok(['service', 'add', `${VIP}:80`, '--backend', backend(80), '--name', 'web']);
    ok(['service', 'add', `${VIP}:81`, '--backend', backend(81), '--ppv2', '--ppv2-tlv', `0xE0=${LONG_HEX}`]);
    ok(['service', 'add', `${VIP}:82`, '--backend', backend(82)]);
  });

  after(async () => {
    await tmux?.close();
    if (pair) cli(['detach', '--all', '--drain-timeout', '0']);
    destroyVethPair(pair);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('service show|set|delete take the id service list shows, and a deleted id is not handed out again', () => {
    const listed = services();
    assert.deepEqual(
      listed.map((s) => [s.id, s.port]),
      [
        [1, 80],
        [2, 81],
        [3, 82],
      ],
    );
    const table = ok(['service', 'list']).stdout;
    for (const s of listed)
      assert.match(table, new RegExp(`│ ${s.id} +│ ${s.name ?? '-'} +│ ${s.key.replace(/[.[\]]/g, '\\$&')}`));
    assert.equal(json<ServiceView>(['service', 'show', '3']).key, `${VIP}:82/tcp`);
    ok(['service', 'set', '3', '--add-backend', backend(83)]);
    assert.equal(json<ServiceView>(['service', 'show', '3']).backends.length, 2);
    ok(['service', 'delete', '3']);
    assert.deepEqual(
      services().map((s) => s.id),
      [1, 2],
    );
    ok(['service', 'add', `${VIP}:82`, '--backend', backend(82)]);
    assert.equal(services().find((s) => s.port === 82)?.id, 4, 'id 3 is not reused at once');
    assert.equal(cli(['service', 'delete', '3']).code, 3, 'the old id no longer names a service');
  });

  it('-o json equals --json, -o yaml is the same document, piped tables keep a long TLV whole', () => {
    const viaJson = ok(['service', 'list', '--json']).stdout;
    assert.equal(ok(['service', 'list', '-o', 'json']).stdout, viaJson);
    assert.deepEqual(load(ok(['service', 'list', '-o', 'yaml']).stdout), JSON.parse(viaJson));
    assert.deepEqual(
      (load(ok(['stats', '-o', 'yaml']).stdout) as { services: unknown[] }).services.length,
      3,
    );
    for (const args of [
      ['service', 'list'],
      ['service', 'show', '2'],
      ['service', 'list', '-o', 'wide'],
    ]) {
      const out = ok(args).stdout;
      assert.ok(out.includes(LONG_HEX), `${args.join(' ')} piped is whole`);
      assert.ok(!out.includes('…'), `${args.join(' ')} piped has no ellipsis`);
    }
    assert.match(ok(['service', 'list', '-o', 'wide']).stdout, /│ snat /);
    assert.ok(ok(['service', 'list']).stdout.includes(LONG_HEX), 'COLUMNS does not cut a pipe');
    assert.ok(
      lbctl(['--netns', pair?.receiverNs ?? '', 'service', 'list'], {
        env: { COLUMNS: '60' },
      }).stdout.includes(LONG_HEX),
    );
  });

  it('stats has one row per service', () => {
    const lines = ok(['stats', '--all']).stdout.split('\n');
    const rows = lines.filter((l) => /^│ (-|\d+) +│/.test(l));
    assert.deepEqual(
      rows.map((l) => l.split('│')[2]?.trim()),
      ['total', 'web', `${VIP}:81/tcp`, `${VIP}:82/tcp`],
    );
  });

  it('--dry-run prints the plan and changes neither the service list nor the maps', () => {
    const listBefore = ok(['service', 'list', '--json']).stdout;
    const mapsBefore = mapContents();
    const add = ok(['service', 'add', `${VIP}:90`, '--backend', backend(90), '--name', 'new', '--dry-run']);
    assert.match(add.stdout, /add +│ 203\.0\.113\.10:90\/tcp │ new/);
    assert.match(add.stdout, /nothing was changed/);
    const set = ok(['service', 'set', 'web', '--add-backend', backend(84), '--mode', 'dnat', '--dry-run']);
    assert.match(set.stdout, /mode fullnat → dnat; backends \+192\.0\.2\.1:84/);
    const del = json<{ dryRun: boolean; plan: Array<{ action: string; id: number }> }>([
      'service',
      'delete',
      '1',
      '--dry-run',
    ]);
    assert.deepEqual([del.dryRun, del.plan[0]?.action, del.plan[0]?.id], [true, 'delete', 1]);
    const detach = ok(['detach', '--all', '--dry-run']);
    assert.match(detach.stdout, /delete 3 service\(s\), the pinned maps and the state file/);
    assert.equal(ok(['service', 'list', '--json']).stdout, listBefore);
    assert.deepEqual(mapContents(), mapsBefore);
    assert.equal(json<Status>(['status']).attached, true);
  });

  it('on a terminal: tables fit its width, and detach --all asks; no keeps everything, yes detaches', async () => {
    const run = `${process.execPath} ${join(REPO_ROOT, 'bin/run.js')} --netns ${pair?.receiverNs}`;
    const script = join(scratch, 'session.sh');
    await writeFile(
      script,
      [
        'export NO_COLOR=1',
        `${run} service list; echo LISTED`,
        `${run} detach --all; echo "FIRST=$?"`,
        `${run} detach --all --drain-timeout 0; echo "SECOND=$?"`,
        'sleep 60',
      ].join('\n'),
    );
    tmux = new Tmux(join(scratch, 'tmux.sock'));
    await tmux.start(`sh ${script}`, 80, 40);
    const listed = await tmux.waitFor('the service list', (s) => s.includes('LISTED'));
    const tableLines = listed.split('\n').filter((l) => l.startsWith('│'));
    assert.ok(tableLines.length >= 4, listed);
    for (const line of tableLines) {
      assert.ok(
        line.trimEnd().endsWith('│') && [...line.trimEnd()].length <= 80,
        `cut to 80 columns: ${line}`,
      );
    }
    assert.ok(listed.includes('…'), 'the long TLV is cut with an ellipsis');
    await tmux.waitFor('the question', (s) => s.includes('Detach? [y/N]'));
    const screen = await tmux.capture();
    assert.match(screen, /delete 3 service\(s\), the pinned maps and the state file/);
    await tmux.keys('n', 'Enter');
    await tmux.waitFor('the first detach to give up', (s) => s.includes('FIRST=1'));
    assert.match(await tmux.capture(), /not confirmed: nothing was changed/);
    assert.equal(json<Status>(['status']).attached, true, 'a no changes nothing');
    assert.equal(services().length, 3);
    await tmux.waitFor('the second question', (s) => s.split('Detach? [y/N]').length === 3);
    await tmux.keys('y', 'Enter');
    await tmux.waitFor('the second detach', (s) => s.includes('SECOND=0'));
    assert.equal(json<Status>(['status']).attached, false, 'a yes detaches');
  });

  it('without a terminal, detach --all proceeds without asking, as scripts expect', () => {
    assert.ok(pair);
    ok(['attach', pair.receiverIf, '--max-connections', '1024']);
    ok(['service', 'add', `${VIP}:80`, '--backend', backend(80)]);
    const res = cli(['detach', '--all', '--drain-timeout', '0']);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(!res.stderr.includes('[y/N]'));
    assert.equal(json<Status>(['status']).attached, false);
  });
});
