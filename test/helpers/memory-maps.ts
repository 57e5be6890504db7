/**
 * In-memory stand-ins for the pinned maps, for control-plane unit tests: hash maps keyed by the key's bytes,
 * with the update flags the kernel enforces.
 */
import type { DatapathMaps } from '../../src/core/maps.js';
import { LbctlError } from '../../src/errors.js';

/** A hash map keyed by the key's bytes, with the update flags the kernel enforces. */
export class MemoryMap {
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

  *keys(): Generator<Buffer> {
    for (const k of this.data.keys()) yield Buffer.from(k, 'hex');
  }

  *entries(): Generator<[Buffer, Buffer]> {
    for (const [k, v] of this.data) yield [Buffer.from(k, 'hex'), v];
  }

  fillPerCpu(value: Buffer): Buffer {
    return value;
  }
}

export function memoryMaps() {
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
