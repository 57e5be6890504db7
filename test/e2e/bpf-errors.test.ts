/**
 * How the BPF bindings fail: each error path must surface as an LbctlError with the right kind (and so the
 * right exit code) and a message that says what went wrong. Needs root (and drops it for one test).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensurePinDir, removePinDir } from '../../src/bpf/bpffs.js';
import { libbpf } from '../../src/bpf/libbpf.js';
import { BpfMap, MapType } from '../../src/bpf/map.js';
import { enterNetns, withNetns } from '../../src/bpf/netns.js';
import { loadObject, mapPinPath, verifierReason } from '../../src/bpf/object.js';
import { RingBufferReader } from '../../src/bpf/ringbuf.js';
import { attachTc, ensureClsact, ifindexByName, queryTc, removeClsact } from '../../src/bpf/tc.js';
import { LbctlError } from '../../src/errors.js';
import {
  buildFixture,
  createVethPair,
  destroyVethPair,
  makeScratchDir,
  removeScratchDir,
  uniqueSuffix,
  type VethPair,
} from '../fixtures/bpf/fixture.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { UNPRIVILEGED } from '../helpers/unprivileged.js';

const { skip, assertPrerequisites } = suitePrerequisites({
  root: true,
  binaries: ['clang', 'ip', 'tc', 'setpriv'],
});

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/** assert.throws for an LbctlError of `kind`, one line, naming each of `mentions` (offending inputs). */
function throwsLbctl(fn: () => unknown, kind: string, mentions: string[] = []): LbctlError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  lbctlErrorOf(kind, { mentions })(caught);
  return caught as LbctlError;
}

describe('BPF binding error paths', { skip }, () => {
  const suffix = uniqueSuffix();
  const pinDir = `/sys/fs/bpf/lbctl-test-err-${suffix}`;
  let scratch = '';
  let counterObject = '';
  let rejectedObject = '';
  let pair: VethPair | undefined;

  before(() => {
    assertPrerequisites();
    scratch = makeScratchDir();
    counterObject = buildFixture('counter', scratch);
    rejectedObject = buildFixture('rejected', scratch);
    pair = createVethPair(suffix);
  });

  after(() => {
    try {
      destroyVethPair(pair);
    } finally {
      try {
        removePinDir(pinDir);
      } finally {
        removeScratchDir(scratch);
      }
    }
  });

  it('reports an unknown interface as NOT_FOUND', () => {
    throwsLbctl(() => ifindexByName('nosuchif0'), 'NOT_FOUND', ['nosuchif0']);
    throwsLbctl(() => attachTc({ dev: 'nosuchif0', direction: 'ingress', progFd: 0 }), 'NOT_FOUND');
    throwsLbctl(() => queryTc({ dev: 999_999, direction: 'ingress' }), 'NOT_FOUND');
    // The receiver's interface exists only inside its namespace.
    assert.ok(pair);
    const { receiverNs, receiverIf } = pair;
    throwsLbctl(() => ifindexByName(receiverIf), 'NOT_FOUND');
    assert.ok(withNetns(receiverNs, () => ifindexByName(receiverIf)) > 0);
    throwsLbctl(() => ifindexByName('has/slash'), 'USAGE');
  });

  it('rejects out-of-range tc handles and priorities, and removes a clsact qdisc a failed attach created', () => {
    assert.ok(pair);
    const { receiverNs, receiverIf } = pair;
    throwsLbctl(() => queryTc({ dev: 1, direction: 'ingress', priority: 0x10000 }), 'USAGE', ['65536']);
    throwsLbctl(() => queryTc({ dev: 1, direction: 'ingress', handle: 0 }), 'USAGE', ['0']);
    withNetns(receiverNs, () => {
      // fd 0 is not a BPF program: the attach fails after the clsact qdisc was created for it.
      assert.throws(() => attachTc({ dev: receiverIf, direction: 'ingress', progFd: 0 }), LbctlError);
      assert.equal(ensureClsact(receiverIf), true, 'the failed attach must not leave its qdisc behind');
      assert.equal(removeClsact(receiverIf), true);
    });
  });

  it('reports a missing network namespace as NOT_FOUND and restores the original one', () => {
    throwsLbctl(() => enterNetns(`lbctl-missing-${suffix}`), 'NOT_FOUND', [`lbctl-missing-${suffix}`]);
    throwsLbctl(() => enterNetns('/proc/self/ns/uts'), 'USAGE', ['/proc/self/ns/uts']);
    assert.ok(pair);
    const { receiverNs, receiverIf } = pair;
    assert.throws(() =>
      withNetns(receiverNs, () => {
        throw new Error('boom');
      }),
    );
    throwsLbctl(() => ifindexByName(receiverIf), 'NOT_FOUND'); // back in the original namespace
  });

  it('reports a verifier rejection with the verifier reason and its full log', () => {
    const err = throwsLbctl(
      () => loadObject(rejectedObject, { pinDir }),
      'FAILURE',
      // The program, and where in its source the verifier stopped.
      ['unchecked_read', 'rejected.bpf.c:'],
    );
    // The verifier's full log travels as the cause, and its reason (the kernel's words) is in the message.
    const log = String((err.cause as Error).message);
    assert.match(log, /processed \d+ insns/);
    const reason = verifierReason(log);
    assert.ok(reason && err.message.includes(reason), `the verifier's reason in: ${err.message}`);
  });

  it('reports a missing object file as NOT_FOUND, and a pin directory off bpffs as USAGE', () => {
    throwsLbctl(() => loadObject(join(scratch, 'missing.bpf.o'), { pinDir }), 'NOT_FOUND');
    throwsLbctl(() => loadObject(counterObject, { pinDir: join(scratch, 'pins') }), 'USAGE', [
      join(scratch, 'pins'),
    ]);
    throwsLbctl(() => removePinDir(scratch), 'USAGE');
    throwsLbctl(() => removePinDir('/sys/fs/bpf'), 'USAGE');
  });

  it('reports a pinned map that no longer matches the object, with libbpf’s reason', () => {
    ensurePinDir(pinDir);
    const bpf = libbpf();
    // proto_seen is a 256-entry hash in the object; pin a 16-entry one under its name.
    const fd = bpf.bpf_map_create(MapType.HASH, 'proto_seen', 4, 8, 16, null);
    assert.ok(fd > 0);
    try {
      assert.equal(bpf.bpf_obj_pin(fd, mapPinPath(pinDir, 'proto_seen')), 0);
    } finally {
      closeSync(fd);
    }
    const err = throwsLbctl(() => loadObject(counterObject, { pinDir }), 'CONFLICT', ['proto_seen']);
    assert.ok(err.hint, 'with a hint');
    removePinDir(pinDir);
  });

  it('maps map operation failures to error kinds', () => {
    const obj = loadObject(counterObject, { pinDir });
    try {
      const hash = BpfMap.open(mapPinPath(pinDir, 'proto_seen'));
      try {
        hash.update(u32(1), u64(10));
        throwsLbctl(() => hash.update(u32(1), u64(11), 'noexist'), 'CONFLICT');
        throwsLbctl(() => hash.update(u32(2), u64(11), 'exist'), 'NOT_FOUND');
        hash.update(u32(1), u64(12), 'exist');
        assert.equal(hash.lookup(u32(1))?.readBigUInt64LE(0), 12n);
        assert.equal(hash.delete(u32(1)), true);
        assert.equal(hash.delete(u32(1)), false);
        assert.equal(hash.lookup(u32(1)), undefined);
        assert.throws(() => hash.lookup(Buffer.alloc(2)), RangeError);
        assert.throws(() => hash.update(u32(1), Buffer.alloc(4)), RangeError);
        for (let i = 0; i < hash.info.maxEntries; i += 1) hash.update(u32(i), u64(i));
        throwsLbctl(() => hash.update(u32(1000), u64(1)), 'CONFLICT', ['256', 'proto_seen']);
      } finally {
        hash.close();
      }
      // A ring buffer has no lookup or batch ops; iteration must still not crash, and opening a ring
      // buffer reader on a hash map must fail cleanly.
      const events = BpfMap.open(mapPinPath(pinDir, 'events'));
      try {
        assert.throws(() => [...events.entries()], LbctlError);
      } finally {
        events.close();
      }
      throwsLbctl(() => RingBufferReader.open(mapPinPath(pinDir, 'proto_seen'), () => {}), 'USAGE', [
        'proto_seen',
      ]);
      throwsLbctl(() => BpfMap.open(mapPinPath(pinDir, 'no_such_map')), 'NOT_FOUND');
      throwsLbctl(() => obj.programFd('no_such_prog'), 'NOT_FOUND', ['no_such_prog']);
    } finally {
      obj.close();
      removePinDir(pinDir);
    }
  });

  it('reports missing privileges as PERMISSION', () => {
    // Every capability dropped. Since Linux 6.5 opening a pinned map checks only file permissions, so the
    // pin directory is handed to another user (0700): without CAP_DAC_OVERRIDE the child cannot reach it.
    const obj = loadObject(counterObject, { pinDir });
    obj.close();
    chownSync(pinDir, 65534, 65534);
    chmodSync(pinDir, 0o700);
    const script = fileURLToPath(new URL('../fixtures/bpf/unprivileged.ts', import.meta.url));
    const [setpriv, ...dropAll] = UNPRIVILEGED;
    const child = spawnSync(
      setpriv,
      [
        ...dropAll,
        process.execPath,
        '--import',
        'tsx',
        script,
        counterObject,
        pinDir,
        mapPinPath(pinDir, 'proto_seen'),
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 },
    );
    removePinDir(pinDir);
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), {
      load: 'PERMISSION',
      openMap: 'PERMISSION',
      attach: 'PERMISSION',
      stats: 'PERMISSION',
    });
  });
});
