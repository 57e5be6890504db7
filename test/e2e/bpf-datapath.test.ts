/**
 * The BPF bindings end to end, on a real tc hook: load the fixture object with pinned maps, attach it at tc
 * ingress inside a namespace, send packets, read counters, hash entries and ring buffer records, reload the
 * object onto the same pins, and tear everything down again. Needs root.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBpffs, ensurePinDir, isOnBpffs, removePinDir } from '../../src/bpf/bpffs.js';
import { BpfMap, MapType, perCpuSlices, sumPerCpuU64 } from '../../src/bpf/map.js';
import { withNetns } from '../../src/bpf/netns.js';
import { type LoadedObject, loadObject, mapPinPath } from '../../src/bpf/object.js';
import { enableRunTimeStats, nsPerRun, progInfoByFd, progInfoById } from '../../src/bpf/prog-info.js';
import { RingBufferReader } from '../../src/bpf/ringbuf.js';
import { attachTc, detachTc, LBCTL_TC_HANDLE, queryTc, removeClsact } from '../../src/bpf/tc.js';
import type { LbctlError } from '../../src/errors.js';
import {
  buildFixture,
  createVethPair,
  destroyVethPair,
  makeScratchDir,
  removeScratchDir,
  sendUdp,
  sh,
  uniqueSuffix,
  type VethPair,
} from '../fixtures/bpf/fixture.js';
import { missingPrerequisites } from '../helpers/prereq.js';

const missing = missingPrerequisites({ root: true, binaries: ['clang', 'ip', 'tc'] });
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing: ${missing.join(', ')}` : false;

const UDP = 17;
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** struct event in counter.bpf.c */
function decodeEvent(b: Buffer) {
  return {
    ifindex: b.readUInt32LE(0),
    len: b.readUInt32LE(4),
    protocol: b.readUInt8(8),
    saddr: [...b.subarray(12, 16)].join('.'),
    daddr: [...b.subarray(16, 20)].join('.'),
  };
}

describe('BPF bindings on a tc ingress hook', { skip }, () => {
  const suffix = uniqueSuffix();
  const pinDir = `/sys/fs/bpf/lbctl-test-${suffix}`;
  let scratch: string | undefined;
  let objectPath = '';
  let pair: VethPair | undefined;
  let obj: LoadedObject | undefined;
  let progId = 0;
  let createdClsact = false;
  let stopStats: (() => void) | undefined;
  const readers: RingBufferReader[] = [];
  const maps: BpfMap[] = [];

  const openMap = (name: string) => {
    const m = BpfMap.open(mapPinPath(pinDir, name));
    maps.push(m);
    return m;
  };

  before(() => {
    assert.deepEqual(missing, [], `prerequisites missing: ${missing.join(', ')}`);
    scratch = makeScratchDir();
    objectPath = buildFixture('counter', scratch);
    pair = createVethPair(suffix);
  });

  after(() => {
    // Undo everything, each step on its own so one failure does not leave the rest behind.
    const steps: Array<() => void> = [
      () => stopStats?.(),
      () => {
        for (const r of readers) r.close();
      },
      () => {
        for (const m of maps) m.close();
      },
      () => obj?.close(),
      () => {
        if (pair && existsSync(`/run/netns/${pair.receiverNs}`)) {
          withNetns(pair.receiverNs, () => detachTc({ dev: pair?.receiverIf ?? '', direction: 'ingress' }));
        }
      },
      () => destroyVethPair(pair),
      () => removePinDir(pinDir),
      () => removeScratchDir(scratch),
    ];
    const errors: unknown[] = [];
    for (const step of steps) {
      try {
        step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });

  it('mounts bpffs where it is missing, once', () => {
    assert.ok(scratch);
    const root = join(scratch, 'bpffs');
    try {
      assert.equal(ensureBpffs(root), true);
      assert.ok(isOnBpffs(join(root, 'some', 'pin')));
      assert.equal(ensureBpffs(root), false);
    } finally {
      spawnSync('umount', [root]);
    }
    assert.equal(isOnBpffs(root), false);
  });

  it('creates the pin directory on bpffs', () => {
    ensurePinDir(pinDir);
    assert.ok(isOnBpffs(pinDir));
    assert.ok(existsSync(pinDir));
  });

  it('loads the object and pins every map under the pin directory', () => {
    obj = loadObject(objectPath, { pinDir });
    assert.deepEqual([...obj.programs.keys()], ['count_packets']);
    assert.ok(obj.programFd('count_packets') > 0);
    assert.deepEqual(readdirSync(pinDir).sort(), ['big_hash', 'events', 'pkt_stats', 'proto_seen']);
    for (const m of obj.maps.values()) {
      assert.equal(m.reused, false, `${m.name} should be new`);
      assert.ok(m.fd > 0);
    }
    // The .rodata map holding emit_events is loaded but deliberately not pinned.
    const internal = [...obj.maps.values()].filter((m) => m.pinPath === undefined);
    assert.equal(internal.length, 1);
    assert.match(internal[0]?.name ?? '', /\.rodata$/);
    const info = progInfoByFd(obj.programFd('count_packets'));
    assert.equal(info.name, 'count_packets');
    assert.equal(info.type, 3); // BPF_PROG_TYPE_SCHED_CLS
    assert.match(info.tag, /^[0-9a-f]{16}$/);
  });

  it('reports pinned map info, including per-CPU value sizing', () => {
    const stats = openMap('pkt_stats');
    assert.equal(stats.info.type, MapType.PERCPU_ARRAY);
    assert.equal(stats.info.name, 'pkt_stats');
    assert.deepEqual([stats.info.keySize, stats.info.valueSize, stats.info.maxEntries], [4, 16, 1]);
    assert.ok(stats.isPerCpu);
    assert.equal(stats.valueBufferSize % 16, 0);
    assert.ok(stats.valueBufferSize >= 16);
    const byId = BpfMap.openById(stats.info.id);
    maps.push(byId);
    assert.deepEqual(byId.info, stats.info);
    const ringbuf = openMap('events');
    assert.equal(ringbuf.info.type, MapType.RINGBUF);
  });

  it('attaches at tc ingress in the namespace, idempotently, creating the clsact qdisc once', () => {
    assert.ok(pair && obj);
    const { receiverNs, receiverIf } = pair;
    const progFd = obj.programFd('count_packets');
    stopStats = enableRunTimeStats();
    withNetns(receiverNs, () => {
      assert.equal(queryTc({ dev: receiverIf, direction: 'ingress' }), undefined);
      const first = attachTc({ dev: receiverIf, direction: 'ingress', progFd });
      const again = attachTc({ dev: receiverIf, direction: 'ingress', progFd });
      assert.equal(first.createdClsact, true);
      assert.equal(again.createdClsact, false);
      assert.equal(again.progId, first.progId);
      assert.deepEqual(queryTc({ dev: receiverIf, direction: 'ingress' }), { progId: first.progId });
      progId = first.progId;
      createdClsact = first.createdClsact;
      const filters = sh('tc', 'filter', 'show', 'dev', receiverIf, 'ingress');
      assert.match(
        filters,
        new RegExp(`handle 0x${LBCTL_TC_HANDLE.toString(16)} count_packets.*direct-action`),
      );
    });
    assert.equal(progInfoById(progId).name, 'count_packets');
  });

  it('counts packets into the per-CPU array and the hash map', () => {
    assert.ok(pair);
    sendUdp(pair, 5);
    const stats = openMap('pkt_stats');
    const value = stats.lookup(u32(0));
    assert.ok(value);
    const slices = perCpuSlices(value, stats.info.valueSize);
    assert.equal(slices.length, stats.valueBufferSize / 16);
    const [packets = 0n, bytes = 0n] = sumPerCpuU64(value, stats.info.valueSize);
    assert.ok(packets >= 5n, `packets ${packets}`); // plus ARP and IPv6 neighbour discovery
    assert.ok(bytes >= 5n * 42n, `bytes ${bytes}`);

    const protoSeen = openMap('proto_seen');
    const udp = protoSeen.lookup(u32(UDP));
    assert.equal(udp?.readBigUInt64LE(0), 5n);
    assert.equal(protoSeen.lookup(u32(6)), undefined); // no TCP was sent
  });

  it('delivers ring buffer records with drain() and poll()', () => {
    assert.ok(pair);
    const records: Buffer[] = [];
    const reader = RingBufferReader.open(mapPinPath(pinDir, 'events'), (r) => records.push(r));
    readers.push(reader);
    assert.equal(reader.drain(), 5);
    const events = records.map(decodeEvent);
    assert.equal(events.length, 5);
    for (const ev of events) {
      assert.deepEqual([ev.protocol, ev.saddr, ev.daddr], [UDP, pair.senderAddr, pair.receiverAddr]);
    }
    assert.equal(reader.poll(0), 0); // nothing left, and a zero timeout does not block
    sendUdp(pair, 2);
    assert.equal(reader.poll(1000), 2);
    assert.equal(records.length, 7);
    // Records are copies: they outlive the ring buffer's mapping.
    reader.close();
    assert.deepEqual(records.map(decodeEvent), [...events, ...records.slice(5).map(decodeEvent)]);
    assert.equal(decodeEvent(records[6] ?? Buffer.alloc(20)).protocol, UDP);
  });

  it('delivers ring buffer records from the event loop with watch()', async () => {
    assert.ok(pair);
    const records: Buffer[] = [];
    let done = () => {};
    const arrived = new Promise<void>((resolve) => {
      done = resolve;
    });
    const reader = RingBufferReader.open(mapPinPath(pinDir, 'events'), (r) => {
      records.push(r);
      if (records.length === 3) done();
    });
    readers.push(reader);
    reader.watch();
    sendUdp(pair, 3);
    const timeout = setTimeout(done, 5000);
    await arrived;
    clearTimeout(timeout);
    reader.unwatch();
    assert.equal(records.length, 3);
  });

  it('reports run time statistics while they are enabled', () => {
    const info = progInfoById(progId);
    assert.ok(info.runCnt >= 10n, `run_cnt ${info.runCnt}`);
    assert.ok(info.runTimeNs > 0n);
    const perRun = nsPerRun(info);
    assert.ok(perRun !== undefined && perRun > 0);
  });

  it('iterates the hash map the same way with batch and get_next_key', () => {
    const big = openMap('big_hash');
    for (let i = 0; i < 5000; i += 1)
      big.update(u32(i), Buffer.from(new BigUint64Array([BigInt(i) * 3n]).buffer));
    const collect = (method: 'batch' | 'keys') =>
      new Map(
        [...big.entries({ method, batchSize: 512 })].map(([k, v]) => [
          k.readUInt32LE(0),
          v.readBigUInt64LE(0),
        ]),
      );
    const viaBatch = collect('batch');
    const viaKeys = collect('keys');
    assert.equal(viaBatch.size, 5000);
    assert.deepEqual(viaBatch, viaKeys);
    assert.equal(viaBatch.get(4999), 4999n * 3n);
    assert.equal([...big.keys()].length, 5000);
  });

  it('reuses the pinned maps when the object is loaded again', () => {
    assert.ok(obj && pair);
    const before = sumPerCpuU64(openMap('pkt_stats').lookup(u32(0)) ?? Buffer.alloc(0), 16);
    obj.close();
    obj = loadObject(objectPath, { pinDir });
    for (const m of obj.maps.values()) assert.equal(m.reused, m.pinPath !== undefined, `${m.name} reuse`);
    // Same kernel maps: the values survived, and the old handles see what the new object's maps hold.
    const stats = BpfMap.fromFd(obj.maps.get('pkt_stats')?.fd ?? -1);
    assert.deepEqual(sumPerCpuU64(stats.lookup(u32(0)) ?? Buffer.alloc(0), 16), before);
    assert.equal(stats.info.id, openMap('pkt_stats').info.id);
    assert.equal(openMap('big_hash').lookup(u32(42))?.readBigUInt64LE(0), 126n);

    // Re-attaching the new program replaces lbctl's filter in place; counting goes on in the same maps.
    const { receiverNs, receiverIf } = pair;
    const progFd = obj.programFd('count_packets');
    const result = withNetns(receiverNs, () => attachTc({ dev: receiverIf, direction: 'ingress', progFd }));
    assert.equal(result.createdClsact, false);
    assert.notEqual(result.progId, progId);
    progId = result.progId;
    sendUdp(pair, 1);
    assert.equal(openMap('proto_seen').lookup(u32(UDP))?.readBigUInt64LE(0), 11n);
  });

  it('detaches and removes only what it created, leaving nothing behind', async () => {
    assert.ok(pair && obj);
    const { receiverNs, receiverIf } = pair;
    withNetns(receiverNs, () => {
      assert.equal(detachTc({ dev: receiverIf, direction: 'ingress' }), true);
      assert.equal(detachTc({ dev: receiverIf, direction: 'ingress' }), false);
      assert.equal(queryTc({ dev: receiverIf, direction: 'ingress' }), undefined);
      assert.equal(createdClsact, true);
      assert.equal(removeClsact(receiverIf), true);
      assert.doesNotMatch(sh('tc', 'qdisc', 'show', 'dev', receiverIf), /clsact/);
      assert.equal(sh('tc', 'filter', 'show', 'dev', receiverIf, 'ingress').trim(), '');
    });
    for (const r of readers.splice(0)) r.close();
    for (const m of maps.splice(0)) m.close();
    obj.close();
    obj = undefined;
    assert.equal(removePinDir(pinDir), true);
    assert.equal(existsSync(pinDir), false);
    assert.equal(removePinDir(pinDir), false);
    // With the filter and the object gone the kernel frees the program, after an RCU grace period.
    const deadline = Date.now() + 5000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      try {
        progInfoById(progId);
        await sleep(20);
      } catch (err) {
        assert.equal((err as LbctlError).kind, 'NOT_FOUND');
        gone = true;
      }
    }
    assert.ok(gone, `program ${progId} still exists`);
  });

  it('keeps a clsact qdisc it did not create', () => {
    assert.ok(pair);
    const { receiverNs, receiverIf } = pair;
    const local = loadObject(objectPath, { pinDir });
    try {
      withNetns(receiverNs, () => {
        sh('tc', 'qdisc', 'add', 'dev', receiverIf, 'clsact');
        const result = attachTc({
          dev: receiverIf,
          direction: 'ingress',
          progFd: local.programFd('count_packets'),
        });
        assert.equal(result.createdClsact, false);
        assert.equal(detachTc({ dev: receiverIf, direction: 'ingress' }), true);
        assert.match(sh('tc', 'qdisc', 'show', 'dev', receiverIf), /clsact/);
        sh('tc', 'qdisc', 'del', 'dev', receiverIf, 'clsact');
      });
    } finally {
      local.close();
      removePinDir(pinDir);
    }
  });
});
