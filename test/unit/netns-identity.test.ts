import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { usesInstanceMaps } from '../../src/core/attach-guard.js';
import { decideInstance, type NamespaceFacts, type NetnsId } from '../../src/core/netns-identity.js';

const HOST: NetnsId = { dev: 4, ino: 4026531840 };
const LB: NetnsId = { dev: 4, ino: 4026532301 };
const OTHER: NetnsId = { dev: 4, ino: 4026532999 };

/** lbctl on the host, PID 1 readable, bpffs mounted, one `ip netns` namespace "lb". */
const facts = (over: Partial<NamespaceFacts>): NamespaceFacts => ({
  flag: undefined,
  current: HOST,
  init: HOST,
  hostBoundTo: undefined,
  named: [{ name: 'lb', id: LB }],
  pinRootOnBpffs: true,
  ...over,
});

const instanceName = (f: NamespaceFacts) => {
  const d = decideInstance(f);
  return d.kind === 'instance' ? d.name : `refused: ${d.message}`;
};
const refused = (f: NamespaceFacts) => decideInstance(f).kind === 'refuse';

describe('decideInstance: the instance follows the network namespace identity', () => {
  it('the host namespace is the host instance; --netns names the instance', () => {
    assert.equal(instanceName(facts({})), 'host');
    assert.deepEqual(decideInstance(facts({ flag: 'lb' })), { kind: 'instance', name: 'lb', netns: 'lb' });
  });

  it('inside a named namespace with the host bpffs (nsenter --net) the instance is that name', () => {
    assert.deepEqual(decideInstance(facts({ current: LB })), { kind: 'instance', name: 'lb', netns: 'lb' });
    // PID 1 unreadable (no CAP_SYS_PTRACE over it): the /run/netns name still decides
    assert.equal(instanceName(facts({ current: LB, init: undefined })), 'lb');
  });

  it('inside a named namespace with a private /sys (ip netns exec) it refuses, with or without --netns', () => {
    for (const flag of [undefined, 'lb']) {
      const d = decideInstance(facts({ current: LB, pinRootOnBpffs: false, flag }));
      assert.equal(d.kind, 'refuse');
      assert.match(d.kind === 'refuse' ? d.hint : '', /--netns lb/);
    }
  });

  it('the host namespace without a bpffs yet is still the host (attach mounts it)', () => {
    assert.equal(instanceName(facts({ pinRootOnBpffs: false })), 'host');
    assert.equal(instanceName(facts({ pinRootOnBpffs: false, init: undefined })), 'host');
  });

  it('an unnamed namespace is refused once the host instance is bound to another namespace', () => {
    assert.ok(refused(facts({ current: OTHER, init: undefined, hostBoundTo: HOST })));
    assert.ok(refused(facts({ current: OTHER, hostBoundTo: HOST })));
    // nothing attached on the host yet: nothing to confuse it with
    assert.equal(instanceName(facts({ current: OTHER, init: undefined })), 'host');
  });

  it('a namespace the host instance is bound to stays the host, even when it also has an ip netns name', () => {
    const named = [{ name: 'default', id: HOST }];
    assert.equal(instanceName(facts({ init: undefined, hostBoundTo: HOST, named })), 'host');
    assert.equal(instanceName(facts({ named })), 'host');
  });

  it('identity is the (dev, ino) pair: the same inode on another nsfs is another namespace', () => {
    const lookalike = { dev: 5, ino: LB.ino };
    assert.equal(instanceName(facts({ current: lookalike, init: undefined })), 'host');
  });
});

describe('usesInstanceMaps: may attach replace the program on an interface', () => {
  it('only a program that uses every pinned state map of the instance', () => {
    assert.equal(usesInstanceMaps([7, 8, 9, 10], [8, 9]), true);
    assert.equal(usesInstanceMaps([7, 8, 10], [8, 9]), false);
    assert.equal(usesInstanceMaps([11, 12], [8, 9]), false);
  });

  it('an instance with nothing pinned owns no program', () => {
    assert.equal(usesInstanceMaps([7, 8], []), false);
  });
});
