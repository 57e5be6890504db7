/**
 * One datapath per network namespace (issue 12, point 5): lbctl knows its instance by the namespace's
 * identity, whichever way it is started in it, and never replaces a live datapath whose maps it cannot
 * reach.
 *   - `lbctl --netns NS` and `nsenter --net=/run/netns/NS lbctl` are the same instance (same pinned maps);
 *   - `ip netns exec NS lbctl ...` (a private /sys without the host's bpffs) is refused with exit 2 and a hint,
 *     with or without --netns, and changes nothing;
 *   - an attach under another name for the same namespace (another pin directory) is refused with exit 6:
 *     the live program keeps its id and its maps.
 */

import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removePinDir } from '../../src/bpf/bpffs.js';
import { BpfMap } from '../../src/bpf/map.js';
import { mapPinPath } from '../../src/bpf/object.js';
import { progMapIds } from '../../src/bpf/prog-info.js';
import { MAP_NAMES } from '../../src/bpf/records.js';
import { ExitCode } from '../../src/exit-codes.js';
import { createVethPair, destroyVethPair, sh, uniqueSuffix, type VethPair } from '../fixtures/bpf/fixture.js';
import { type CliResult, lbctl, parseJson } from '../helpers/cli.js';
import { assertCliError } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';

const { skip, assertPrerequisites } = suitePrerequisites({
  root: true,
  binaries: ['ip', 'nsenter', 'mount', 'umount'],
});

const PIN_ROOT = '/sys/fs/bpf/lbctl';
const VIP = '192.0.2.100';

interface Status {
  instance: string;
  netns: string | null;
  netnsInode: number | null;
  pinDir: string;
  attached: boolean;
  interfaces: Array<{ interface: string; progId: number | null }>;
}
interface ServiceList {
  services: Array<{ vip: string; port: number }>;
}

describe('one datapath per network namespace', { skip }, () => {
  let pair: VethPair | undefined;
  let ns = '';
  let alias = '';
  let ifname = '';

  const viaNetns = (args: string[], name = ns) => lbctl(['--netns', name, ...args]);
  const viaIpNetnsExec = (args: string[]) => lbctl(args, { prefix: ['ip', 'netns', 'exec', ns] });
  const viaNsenter = (args: string[]) => lbctl(args, { prefix: ['nsenter', `--net=/run/netns/${ns}`] });
  const json = <T>(res: CliResult): T => {
    assert.equal(res.code, 0, res.stderr);
    return parseJson<T>(res);
  };
  const liveProgId = (): number | null | undefined =>
    json<Status>(viaNetns(['status', '--json'])).interfaces.find((i) => i.interface === ifname)?.progId;
  const listedVips = (res: CliResult) => json<ServiceList>(res).services.map((s) => `${s.vip}:${s.port}`);

  before(() => {
    assertPrerequisites();
    pair = createVethPair(uniqueSuffix());
    ns = pair.senderNs;
    ifname = pair.senderIf;
    alias = `${ns}-alias`;
    json(viaNetns(['attach', ifname, '--max-connections', '1024', '--json']));
    json(viaNetns(['service', 'add', `${VIP}:80`, '--backend', `${pair.receiverAddr}:80`, '--json']));
  });

  after(() => {
    const steps = [
      () => existsSync(`/run/netns/${alias}`) && sh('ip', 'netns', 'del', alias),
      () => viaNetns(['detach', '--all', '--drain-timeout', '0']),
      () => destroyVethPair(pair),
      () => removePinDir(join(PIN_ROOT, ns)),
      () => removePinDir(join(PIN_ROOT, alias)),
      // the refused attach still took the alias instance's lock
      () => rmSync(join(process.env.LBCTL_STATE_ROOT ?? '/run/lbctl', `${alias}.lock`), { force: true }),
    ];
    for (const step of steps) {
      try {
        step();
      } catch (err) {
        console.error('cleanup:', err);
      }
    }
  });

  it('nsenter --net into the namespace is that namespace’s instance, not the host’s', () => {
    const fromHost = json<Status>(viaNetns(['status', '--json']));
    const fromInside = json<Status>(viaNsenter(['status', '--json']));
    assert.equal(fromInside.instance, ns);
    assert.equal(fromInside.netnsInode, statSync(`/run/netns/${ns}`).ino, 'known by the namespace inode');
    assert.equal(fromHost.netnsInode, fromInside.netnsInode);
    assert.equal(fromInside.pinDir, fromHost.pinDir);
    assert.equal(fromInside.attached, true);
    assert.deepEqual(fromInside.interfaces, fromHost.interfaces);
    assert.deepEqual(listedVips(viaNsenter(['service', 'list', '--json'])), [`${VIP}:80`]);
  });

  it('a re-attach through nsenter reuses the pinned maps: the service survives', () => {
    const outcome = json<{ instance: string; interfaces: Array<{ action: string }> }>(
      viaNsenter(['attach', ifname, '--json']),
    );
    assert.equal(outcome.instance, ns);
    assert.equal(outcome.interfaces[0]?.action, 'replaced');
    assert.deepEqual(listedVips(viaNetns(['service', 'list', '--json'])), [`${VIP}:80`]);
    assertProgramUsesPinnedMaps(liveProgId());
  });

  for (const withFlag of [false, true]) {
    it(`ip netns exec NS lbctl ${withFlag ? '--netns NS ' : ''}is refused with exit 2 and changes nothing`, () => {
      const flag = withFlag ? ['--netns', ns] : [];
      const progBefore = liveProgId();
      for (const args of [['status'], ['service', 'list'], ['attach', ifname]]) {
        assertCliError(
          viaIpNetnsExec([...flag, ...args]),
          ExitCode.USAGE,
          { mentions: [ns], hint: true },
          args.join(' '),
        );
      }
      assert.equal(liveProgId(), progBefore, 'the live program was not replaced');
      assert.deepEqual(listedVips(viaNetns(['service', 'list', '--json'])), [`${VIP}:80`]);
      assertProgramUsesPinnedMaps(progBefore);
    });
  }

  it('attach never replaces a live lbctl program whose maps it cannot reach', () => {
    // A second `ip netns` name for the same namespace is a second instance (its own pin directory) that
    // finds the first one's filter on the interface.
    sh('touch', `/run/netns/${alias}`);
    sh('mount', '--bind', `/run/netns/${ns}`, `/run/netns/${alias}`);
    const progBefore = liveProgId();
    assertCliError(viaNetns(['attach', ifname], alias), ExitCode.CONFLICT, {
      mentions: [ifname],
      hint: true,
    });
    assert.equal(liveProgId(), progBefore, 'the live program was not replaced');
    assert.equal(existsSync(join(PIN_ROOT, alias)), false, 'the refused attach pinned nothing');
    assertProgramUsesPinnedMaps(progBefore);
    assert.deepEqual(listedVips(viaNetns(['service', 'list', '--json'])), [`${VIP}:80`]);
  });

  /** The program tc runs works on the maps `service list` reads: the services are reachable. */
  function assertProgramUsesPinnedMaps(progId: number | null | undefined): void {
    assert.ok(progId, 'a program is attached');
    const services = BpfMap.open(mapPinPath(join(PIN_ROOT, ns), MAP_NAMES.services));
    try {
      assert.ok(
        progMapIds(progId).includes(services.info.id),
        'the live program uses the pinned services map',
      );
    } finally {
      services.close();
    }
  }
});
