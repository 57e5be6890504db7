/**
 * Backend health in the control plane: which backends fill the Maglev ring (down ones do not, unless all
 * are down), and how addService / updateService / setBackendHealth keep the LB_BE_F_DOWN flags and the ring
 * in step, on in-memory stand-ins for the pinned hash maps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBackend, decodeMaglevRing, encodeBackendId, LB_LIMITS } from '../../src/bpf/records.js';
import { ringMembers, summarizeHealth } from '../../src/core/backend-health.js';
import { parseEndpoint } from '../../src/core/endpoint.js';
import type { DatapathMaps } from '../../src/core/maps.js';
import { parseBackend } from '../../src/core/service-spec.js';
import {
  addService,
  findService,
  type ServiceView,
  setBackendHealth,
  setBackendsHealth,
  updateService,
} from '../../src/core/services.js';
import type { InstanceState } from '../../src/core/state-file.js';
import { LbctlError } from '../../src/errors.js';

/** A hash map keyed by the key's bytes, with the update flags the kernel enforces. */
class MemoryMap {
  readonly data = new Map<string, Buffer>();
  writes = 0;
  failNextUpdate = false;

  lookup(key: Buffer): Buffer | undefined {
    return this.data.get(key.toString('hex'));
  }

  update(key: Buffer, value: Buffer, flag: 'any' | 'noexist' | 'exist' = 'any'): void {
    if (this.failNextUpdate) {
      this.failNextUpdate = false;
      throw new LbctlError('FAILURE', 'update failed (test)');
    }
    const k = key.toString('hex');
    if (flag === 'noexist' && this.data.has(k)) throw new LbctlError('CONFLICT', `exists: ${k}`);
    if (flag === 'exist' && !this.data.has(k)) throw new LbctlError('NOT_FOUND', `missing: ${k}`);
    this.data.set(k, Buffer.from(value));
    this.writes++;
  }

  delete(key: Buffer): boolean {
    return this.data.delete(key.toString('hex'));
  }

  *entries(): Generator<[Buffer, Buffer]> {
    for (const [k, v] of this.data) yield [Buffer.from(k, 'hex'), v];
  }

  *keys(): Generator<Buffer> {
    for (const k of this.data.keys()) yield Buffer.from(k, 'hex');
  }

  fillPerCpu(value: Buffer): Buffer {
    return value;
  }
}

function memoryMaps() {
  const maps = new Map<string, MemoryMap>();
  const get = (name: string) => {
    let map = maps.get(name);
    if (!map) {
      map = new MemoryMap();
      maps.set(name, map);
    }
    return map;
  };
  return { maps: { get } as unknown as DatapathMaps, map: get };
}

const state = (): InstanceState => ({ version: 1, interfaces: {}, serviceNames: {} });

function webService(liveness = true, backends = ['198.51.100.2:80', '198.51.100.3:80', '198.51.100.4:80']) {
  const { maps, map } = memoryMaps();
  const st = state();
  const service = addService(
    maps,
    st,
    {
      name: 'web',
      vip: parseEndpoint('203.0.113.10:80'),
      mode: 'fullnat',
      backends: backends.map(parseBackend),
      ppv2: { enabled: true, uniqueId: false, crc32c: false, tlvs: [] },
      liveness,
    },
    '198.51.100.1',
  );
  return { maps, map, st, service };
}

const byAddress = (s: ServiceView, address: string) => {
  const b = s.backends.find((x) => x.address === address);
  assert.ok(b, `backend ${address} in ${s.key}`);
  return b;
};

describe('ringMembers: who gets Maglev slots', () => {
  const be = (id: number, weight: number, down: boolean) => ({ id, weight, down });

  it('leaves out the backends that are down', () => {
    const { members, failOpen } = ringMembers([be(1, 1, false), be(2, 1, true), be(3, 2, false)]);
    assert.deepEqual(
      members.map((b) => b.id),
      [1, 3],
    );
    assert.equal(failOpen, false);
  });

  it('keeps every backend when all of them are down (fail-open)', () => {
    const { members, failOpen } = ringMembers([be(1, 1, true), be(2, 1, true)]);
    assert.deepEqual(
      members.map((b) => b.id),
      [1, 2],
    );
    assert.equal(failOpen, true);
  });

  it('fails open when only drained (weight 0) backends are up, and not when all are drained', () => {
    assert.equal(ringMembers([be(1, 0, false), be(2, 1, true)]).failOpen, true);
    assert.equal(ringMembers([be(1, 0, false), be(2, 0, true)]).failOpen, false);
    assert.equal(ringMembers([]).failOpen, false);
  });

  it('summarizes up, down and fail-open', () => {
    assert.deepEqual(summarizeHealth(true, [be(1, 1, false), be(2, 1, true)]), {
      probed: true,
      up: 1,
      down: 1,
      failOpen: false,
    });
    assert.deepEqual(summarizeHealth(true, [be(1, 1, true)]), {
      probed: true,
      up: 0,
      down: 1,
      failOpen: true,
    });
  });
});

describe('services: backend health in the kernel records', () => {
  it('adds backends up, with liveness recorded and every backend in the ring', () => {
    const { service } = webService();
    assert.equal(service.liveness, true);
    assert.deepEqual(service.health, { probed: true, up: 3, down: 0, failOpen: false });
    for (const b of service.backends) {
      assert.equal(b.health, 'up');
      assert.ok(b.share > 0.3 && b.share < 0.37, `share ${b.share}`);
    }
  });

  it('takes a down backend out of the ring, keeps the others where they were, and puts it back', () => {
    const { maps, map, st, service } = webService();
    const ringOf = () => decodeMaglevRing(map('maglev').lookup(encodeBackendId(service.id)) as Buffer);
    const before = ringOf();
    const down = byAddress(service, '198.51.100.3');

    const after = setBackendHealth(maps, st, service, down.id, true);
    assert.equal(byAddress(after, '198.51.100.3').health, 'down');
    assert.equal(byAddress(after, '198.51.100.3').share, 0);
    assert.ok(Math.abs(byAddress(after, '198.51.100.2').share - 0.5) < 0.03);
    assert.deepEqual(after.health, { probed: true, up: 2, down: 1, failOpen: false });
    assert.equal(decodeBackend(map('backends').lookup(encodeBackendId(down.id)) as Buffer).down, true);
    const ring = ringOf();
    assert.ok(!ring.includes(down.id), 'no slot for the down backend');
    // Maglev: the down backend's slots go to the others; few slots of the backends that stay up move.
    let moved = 0;
    for (let i = 0; i < LB_LIMITS.maglevSize; i++)
      if (before[i] !== down.id && ring[i] !== before[i]) moved++;
    assert.ok(moved < LB_LIMITS.maglevSize * 0.1, `${moved} slots of backends that stayed up moved`);

    const back = setBackendHealth(maps, st, after, down.id, false);
    assert.equal(byAddress(back, '198.51.100.3').health, 'up');
    assert.deepEqual(ringOf(), before, 'the same table as before it went down');
  });

  it('keeps every backend in the ring when all are down, and says so', () => {
    const { maps, st, service } = webService();
    const all = setBackendsHealth(
      maps,
      st,
      service,
      service.backends.map((b) => ({ backendId: b.id, down: true })),
    );
    assert.deepEqual(all.health, { probed: true, up: 0, down: 3, failOpen: true });
    for (const b of all.backends) {
      assert.equal(b.health, 'down');
      assert.ok(b.share > 0.3, `fail-open share ${b.share}`);
    }
  });

  it('keeps the health of backends that stay through service set; new ones start up', () => {
    const { maps, st, service } = webService();
    const down = setBackendHealth(maps, st, service, byAddress(service, '198.51.100.3').id, true);
    const updated = updateService(maps, st, down, {
      backends: ['198.51.100.3:80:2', '198.51.100.4:80', '198.51.100.5:80'].map(parseBackend),
      ppv2: { enabled: false, uniqueId: false, crc32c: false, tlvs: [] },
    });
    assert.equal(byAddress(updated, '198.51.100.3').health, 'down', 're-weighted, still down');
    assert.equal(byAddress(updated, '198.51.100.3').weight, 2);
    assert.equal(byAddress(updated, '198.51.100.3').share, 0);
    assert.equal(byAddress(updated, '198.51.100.4').health, 'up');
    assert.equal(byAddress(updated, '198.51.100.5').health, 'up');
    assert.deepEqual(updated.health, { probed: true, up: 2, down: 1, failOpen: false });
  });

  it('marks every backend up when liveness is turned off', () => {
    const { maps, st, service } = webService();
    const down = setBackendHealth(maps, st, service, byAddress(service, '198.51.100.2').id, true);
    const off = updateService(maps, st, down, { liveness: false });
    assert.equal(off.liveness, false);
    assert.deepEqual(off.health, { probed: false, up: 3, down: 0, failOpen: false });
    assert.ok(off.backends.every((b) => b.health === 'up' && b.share > 0.3));
    assert.equal(updateService(maps, st, off, { liveness: true }).health.up, 3, 'on again: all up');
  });

  it('refuses to mark a backend of an unprobed service down, or one it does not have', () => {
    const { maps, st, service } = webService(false);
    const id = byAddress(service, '198.51.100.2').id;
    assert.throws(() => setBackendHealth(maps, st, service, id, true), { kind: 'CONFLICT' });
    assert.throws(() => setBackendHealth(maps, st, service, 0x12345, false), { kind: 'NOT_FOUND' });
    assert.equal(setBackendHealth(maps, st, service, id, false).health.up, 3, 'marking up is harmless');
  });

  it('restores the flag when the ring write fails', () => {
    const { maps, map, st, service } = webService();
    const id = byAddress(service, '198.51.100.2').id;
    map('maglev').failNextUpdate = true;
    // The fake map's own failure comes through, unchanged.
    assert.throws(() => setBackendHealth(maps, st, service, id, true), {
      kind: 'FAILURE',
      message: 'update failed (test)',
    });
    assert.equal(findService(maps, st, 'web').health.down, 0);
    assert.equal(byAddress(findService(maps, st, 'web'), '198.51.100.2').share > 0, true);
  });
});
