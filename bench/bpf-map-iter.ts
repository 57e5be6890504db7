/**
 * Micro-benchmark: reading every entry of a 100k-entry BPF map with bpf_map_lookup_batch versus
 * bpf_map_get_next_key + bpf_map_lookup_elem, through BpfMap.entries(). Needs root.
 *
 *   node --import tsx bench/bpf-map-iter.ts [entries=100000] [rounds=5]
 *
 * The maps are created unpinned and freed when the process exits.
 */
import { libbpf } from '../src/bpf/libbpf.js';
import { BpfMap, type IterationMethod, MapType } from '../src/bpf/map.js';

const entries = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 5);

function createMap(type: number, name: string, keySize: number, valueSize: number): BpfMap {
  const fd = libbpf().bpf_map_create(type, name, keySize, valueSize, entries, null);
  if (fd < 0) throw new Error(`bpf_map_create ${name}: errno ${-fd} (run as root)`);
  return BpfMap.fromFd(fd, { owned: true, label: name });
}

function fill(map: BpfMap): void {
  const key = Buffer.alloc(map.info.keySize);
  const value = Buffer.alloc(map.valueBufferSize);
  for (let i = 0; i < entries; i += 1) {
    key.writeUInt32LE(i, 0);
    value.writeBigUInt64LE(BigInt(i), 0);
    map.update(key, value);
  }
}

function timeIteration(map: BpfMap, method: IterationMethod, batchSize?: number): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    const start = process.hrtime.bigint();
    let n = 0;
    for (const [key] of map.entries({ method, batchSize })) n += key.length > 0 ? 1 : 0;
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (n !== entries) throw new Error(`${map.label} ${method}: saw ${n} entries, expected ${entries}`);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN; // median
}

const maps = [
  // A conntrack-like hash: 16-byte key (a v4 4-tuple with padding), 32-byte value.
  createMap(MapType.HASH, 'bench_hash', 16, 32),
  // A per-CPU stats-like hash: the value buffer is ncpus × 16 bytes.
  createMap(MapType.PERCPU_HASH, 'bench_pcpu', 4, 16),
];
try {
  console.log(`${entries} entries, median of ${rounds} rounds, node ${process.version}`);
  for (const map of maps) {
    const start = process.hrtime.bigint();
    fill(map);
    const fillMs = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`\n${map.label} (key ${map.info.keySize} B, value buffer ${map.valueBufferSize} B)`);
    console.log(`  fill (update):                   ${fillMs.toFixed(1)} ms`);
    console.log(`  get_next_key + lookup:           ${timeIteration(map, 'keys').toFixed(1)} ms`);
    for (const batchSize of [256, 4096, 16384]) {
      const label = `batch (${batchSize}/call):`.padEnd(33);
      console.log(`  ${label}${timeIteration(map, 'batch', batchSize).toFixed(1)} ms`);
    }
  }
} finally {
  for (const map of maps) map.close();
}
