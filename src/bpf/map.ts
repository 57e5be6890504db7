/**
 * A handle on one BPF map (usually opened from its pin path), with byte-level lookup, update, delete and
 * iteration. Keys and values are Buffers; encoding records is the job of the modules that own a map's
 * layout, not of this one.
 *
 * Per-CPU maps: the kernel reads and writes one slot per *possible* CPU, each value rounded up to 8 bytes,
 * so their value buffers are numPossibleCpus() × round_up(value_size, 8). perCpuSlices() and sumPerCpuU64()
 * take such buffers apart.
 */
import { closeSync, readFileSync } from 'node:fs';
import koffi from 'koffi';
import { LbctlError } from '../errors.js';
import {
  BPF_ANY,
  BpfMapInfo,
  check,
  cString,
  libbpf,
  libbpfError,
  numPossibleCpus,
  OPTS_SIZE,
} from './libbpf.js';
import { countMapWrite } from './test-crash-hook.js';

/** enum bpf_map_type, the values lbctl meets. */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  PERCPU_CGROUP_STORAGE: 21,
  RINGBUF: 27,
} as const;

const PER_CPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

export type UpdateFlag = 'any' | 'noexist' | 'exist';
const UPDATE_FLAGS: Record<UpdateFlag, number> = { any: BPF_ANY, noexist: 1, exist: 2 };

export interface MapInfo {
  id: number;
  /** enum bpf_map_type (see MapType). */
  type: number;
  /** Kernel name, at most 15 characters. */
  name: string;
  keySize: number;
  /** Size of one value as the program sees it (one CPU's slot for per-CPU maps). */
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export type IterationMethod = 'auto' | 'batch' | 'keys';

export interface EntriesOptions {
  /** 'batch' = bpf_map_lookup_batch, 'keys' = get_next_key + lookup, 'auto' = batch when the map supports it. */
  method?: IterationMethod;
  /** Entries per batch call (default 4096). */
  batchSize?: number;
}

/** The bpf_map_info of a map fd. */
export function mapInfoByFd(fd: number, what = `fd ${fd}`): MapInfo {
  const buf = Buffer.alloc(BpfMapInfo.size);
  const len = new Uint32Array([buf.length]);
  check(`read map info of ${what}`, libbpf().bpf_obj_get_info_by_fd(fd, buf, len));
  const raw = koffi.decode(buf, BpfMapInfo) as Record<string, unknown>;
  return {
    id: raw.id as number,
    type: raw.type as number,
    name: cString(raw.name),
    keySize: raw.key_size as number,
    valueSize: raw.value_size as number,
    maxEntries: raw.max_entries as number,
    flags: raw.map_flags as number,
  };
}

const roundUp8 = (n: number) => (n + 7) & ~7;

export class BpfMap {
  /** Open a pinned map. A missing pin is NOT_FOUND. */
  static open(pinPath: string): BpfMap {
    const fd = libbpf().bpf_obj_get(pinPath);
    if (fd < 0) {
      throw libbpfError(
        `open pinned map ${pinPath}`,
        fd,
        fd === -2 ? 'is lbctl attached? the maps are pinned by `lbctl attach`' : undefined,
      );
    }
    return new BpfMap(fd, pinPath, true);
  }

  /** Open a map by kernel id (as bpftool or bpf_map_info report it). An unknown id is NOT_FOUND. */
  static openById(id: number): BpfMap {
    const fd = libbpf().bpf_map_get_fd_by_id(id);
    if (fd < 0) throw libbpfError(`open BPF map id ${id}`, fd);
    return new BpfMap(fd, `map id ${id}`, true);
  }

  /** Wrap an fd (e.g. from a LoadedObject); the map does not close it unless `owned`. */
  static fromFd(fd: number, options: { owned?: boolean; label?: string } = {}): BpfMap {
    return new BpfMap(fd, options.label ?? `map fd ${fd}`, options.owned ?? false);
  }

  readonly info: MapInfo;
  readonly isPerCpu: boolean;
  /** Bytes of a value buffer for lookup/update: valueSize, or ncpus × round_up(valueSize, 8) per-CPU. */
  readonly valueBufferSize: number;
  /** Per-CPU maps: bytes between consecutive CPUs' slots in a value buffer (round_up(valueSize, 8)). */
  readonly perCpuStride: number;
  private fdValue: number;
  private batchUnsupported = false;

  private constructor(
    fd: number,
    /** The pin path, or a description, used in error messages. */
    readonly label: string,
    private readonly owned: boolean,
  ) {
    this.fdValue = fd;
    try {
      this.info = mapInfoByFd(fd, label);
    } catch (err) {
      if (owned) closeSync(fd);
      throw err;
    }
    this.isPerCpu = PER_CPU_TYPES.has(this.info.type);
    this.perCpuStride = this.isPerCpu ? roundUp8(this.info.valueSize) : this.info.valueSize;
    this.valueBufferSize = this.isPerCpu ? numPossibleCpus() * this.perCpuStride : this.info.valueSize;
  }

  get fd(): number {
    if (this.fdValue < 0) throw new Error(`BPF map ${this.label} is closed`);
    return this.fdValue;
  }

  /** The value for `key`, or undefined when there is no such entry. */
  lookup(key: Buffer): Buffer | undefined {
    this.checkKey(key);
    const value = Buffer.alloc(this.valueBufferSize);
    const ret = libbpf().bpf_map_lookup_elem(this.fd, key, value);
    if (ret === -2) return undefined;
    check(`look up key ${key.toString('hex')} in map ${this.label}`, ret);
    return value;
  }

  /**
   * Insert or replace an entry. 'noexist' fails with CONFLICT if the key exists, 'exist' with NOT_FOUND if
   * it does not. For per-CPU maps `value` is the full per-CPU buffer (see fillPerCpu).
   */
  update(key: Buffer, value: Buffer, flag: UpdateFlag = 'any'): void {
    this.checkKey(key);
    if (value.length !== this.valueBufferSize) {
      throw new RangeError(
        `map ${this.label}: value is ${value.length} bytes, expected ${this.valueBufferSize}`,
      );
    }
    const ret = libbpf().bpf_map_update_elem(this.fd, key, value, UPDATE_FLAGS[flag]);
    this.failIfFull(ret);
    check(`update key ${key.toString('hex')} in map ${this.label}`, ret);
    countMapWrite();
  }

  /**
   * Insert many entries with one BPF_MAP_UPDATE_BATCH call: `keys` and `values` hold `count` of each, back to
   * back, inserted or replaced (the kernel takes no BPF_NOEXIST per element here). It stops at the first
   * entry it cannot write; a full map is reported as for update().
   */
  updateBatch(keys: Buffer, values: Buffer): void {
    const count = keys.length / this.info.keySize;
    if (!Number.isInteger(count) || values.length !== count * this.valueBufferSize) {
      throw new RangeError(
        `map ${this.label}: ${keys.length} key bytes and ${values.length} value bytes do not pair up`,
      );
    }
    const done = new Uint32Array([count]);
    const opts = { sz: OPTS_SIZE.mapBatchOpts, elem_flags: 0, flags: 0 };
    const ret = libbpf().bpf_map_update_batch(this.fd, keys, values, done, opts);
    this.failIfFull(ret);
    check(`batch-update map ${this.label} (${done[0]} of ${count} written)`, ret);
  }

  /** Delete many keys (back to back in `keys`) with one call; returns how many were deleted. */
  deleteBatch(keys: Buffer): number {
    const count = keys.length / this.info.keySize;
    if (!Number.isInteger(count)) throw new RangeError(`map ${this.label}: ${keys.length} key bytes`);
    const done = new Uint32Array([count]);
    const opts = { sz: OPTS_SIZE.mapBatchOpts, elem_flags: 0, flags: 0 };
    const ret = libbpf().bpf_map_delete_batch(this.fd, keys, done, opts);
    if (ret !== -2) check(`batch-delete from map ${this.label}`, ret);
    return done[0] ?? 0;
  }

  /**
   * E2BIG from a full hash (or an index past an array's end), ENOSPC from the other map types: a limit
   * reached is CONFLICT (exit 6), the state is in the way, not the request or the kernel.
   */
  private failIfFull(ret: number): void {
    if (ret !== -7 && ret !== -28) return;
    throw new LbctlError(
      'CONFLICT',
      `map ${this.label} is full: it holds at most ${this.info.maxEntries} entries`,
      'delete unused entries, or rebuild the datapath with a larger map',
    );
  }

  /** Delete an entry; false when there was none. */
  delete(key: Buffer): boolean {
    this.checkKey(key);
    const ret = libbpf().bpf_map_delete_elem(this.fd, key);
    if (ret === -2) return false;
    check(`delete key ${key.toString('hex')} from map ${this.label}`, ret);
    countMapWrite();
    return true;
  }

  /** A per-CPU value buffer holding `value` (valueSize bytes) in every CPU's slot. */
  fillPerCpu(value: Buffer): Buffer {
    if (!this.isPerCpu) return Buffer.from(value);
    const out = Buffer.alloc(this.valueBufferSize);
    for (let off = 0; off < out.length; off += this.perCpuStride)
      value.copy(out, off, 0, this.info.valueSize);
    return out;
  }

  /**
   * All keys, via bpf_map_get_next_key. On a hash map that changes meanwhile, a key deleted under the
   * cursor makes the kernel restart from the first key, so keys may repeat; callers that care dedupe.
   */
  *keys(): Generator<Buffer> {
    const bpf = libbpf();
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.info.keySize);
      const ret = bpf.bpf_map_get_next_key(this.fd, prev, next);
      if (ret === -2) return;
      check(`iterate map ${this.label}`, ret);
      yield next;
      prev = next;
    }
  }

  /**
   * All entries as [key, value] pairs. The Buffers are fresh (views into per-batch allocations) and stay
   * valid. Entries deleted between two batch calls are skipped; ones added may or may not appear.
   */
  *entries(options: EntriesOptions = {}): Generator<[Buffer, Buffer]> {
    const method = options.method ?? 'auto';
    if (method === 'batch' || (method === 'auto' && !this.batchUnsupported)) {
      const outcome = yield* this.entriesBatched(options.batchSize ?? 4096, method === 'auto');
      if (outcome === 'done') return;
      // 'unsupported': the first batch call failed before anything was yielded
    }
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) yield [key, value]; // else deleted since get_next_key returned it
    }
  }

  private *entriesBatched(
    batchSize: number,
    fallbackAllowed: boolean,
  ): Generator<[Buffer, Buffer], 'done' | 'unsupported'> {
    const bpf = libbpf();
    const { keySize } = this.info;
    // The batch cursor is opaque: a bucket number for hash maps, an index for arrays. 8 bytes covers both.
    const tokenSize = Math.max(keySize, 8);
    let inBatch: Buffer | null = null;
    let outBatch: Buffer = Buffer.alloc(tokenSize);
    let chunk = Math.max(1, Math.min(batchSize, this.info.maxEntries));
    const count = new Uint32Array(1);
    const opts = { sz: OPTS_SIZE.mapBatchOpts, elem_flags: 0, flags: 0 };
    for (;;) {
      const keys = Buffer.alloc(chunk * keySize);
      const values = Buffer.alloc(chunk * this.valueBufferSize);
      count[0] = chunk;
      const ret = bpf.bpf_map_lookup_batch(this.fd, inBatch, outBatch, keys, values, count, opts);
      const n = count[0] ?? 0;
      if (ret < 0 && ret !== -2) {
        if (ret === -28 && n === 0) {
          chunk *= 2; // ENOSPC: one hash bucket holds more entries than fit in `chunk`
          continue;
        }
        if (inBatch === null && fallbackAllowed && (ret === -22 || ret === -95 || ret === -524)) {
          this.batchUnsupported = true; // e.g. a map type without batch ops: use get_next_key instead
          return 'unsupported';
        }
        check(`batch-read map ${this.label}`, ret);
      }
      for (let i = 0; i < n; i += 1) {
        yield [
          keys.subarray(i * keySize, (i + 1) * keySize),
          values.subarray(i * this.valueBufferSize, (i + 1) * this.valueBufferSize),
        ];
      }
      if (ret === -2) return 'done'; // ENOENT: that was the last batch
      const used = outBatch;
      outBatch = inBatch ?? Buffer.alloc(tokenSize);
      inBatch = used;
    }
  }

  /** Close the fd (if owned). Safe to call twice. */
  /**
   * The memory the kernel charges to the map (the `memlock` line of its fd's fdinfo, as bpftool shows it): for a
   * preallocated hash, max_entries times the cost of one element with the kernel's own bookkeeping.
   */
  memlockBytes(): number {
    const fdinfo = readFileSync(`/proc/self/fdinfo/${this.fd}`, 'utf8');
    const match = /^memlock:\s*(\d+)$/m.exec(fdinfo);
    if (!match) throw new LbctlError('FAILURE', `no memlock line in the fdinfo of ${this.label}`);
    return Number(match[1]);
  }

  close(): void {
    if (this.fdValue >= 0 && this.owned) closeSync(this.fdValue);
    this.fdValue = -1;
  }

  private checkKey(key: Buffer): void {
    if (key.length !== this.info.keySize) {
      throw new RangeError(`map ${this.label}: key is ${key.length} bytes, expected ${this.info.keySize}`);
    }
  }
}

/** Split a per-CPU value buffer into one valueSize-byte view per possible CPU. */
export function perCpuSlices(value: Buffer, valueSize: number): Buffer[] {
  const stride = roundUp8(valueSize);
  const slices: Buffer[] = [];
  for (let off = 0; off + valueSize <= value.length; off += stride)
    slices.push(value.subarray(off, off + valueSize));
  return slices;
}

/**
 * Sum a per-CPU value made of little-endian u64 counters: returns one total per u64 field
 * (floor(valueSize / 8) fields), each summed over every CPU's slot.
 */
export function sumPerCpuU64(value: Buffer, valueSize: number): bigint[] {
  const fields = Math.floor(valueSize / 8);
  const totals = new Array<bigint>(fields).fill(0n);
  for (const slice of perCpuSlices(value, valueSize)) {
    for (let f = 0; f < fields; f += 1) totals[f] = (totals[f] ?? 0n) + slice.readBigUInt64LE(f * 8);
  }
  return totals;
}
