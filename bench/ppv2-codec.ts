/**
 * Micro-benchmark of the PROXY codec's hot paths (run: node --import tsx bench/ppv2-codec.ts). Timing lives
 * here, not in tests: the machine is shared and noisy, so numbers are for comparison within one run.
 */
import { crc32c, decodeProxyHeader, encodeV2 } from '../src/ppv2/index.js';

function measure(label: string, iterations: number, fn: (i: number) => number): void {
  let sink = 0;
  for (let i = 0; i < iterations / 10; i++) sink ^= fn(i); // warm-up for the JIT
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink ^= fn(i);
  const ns = Number(process.hrtime.bigint() - started) / iterations;
  console.log(`${label.padEnd(40)} ${ns.toFixed(1).padStart(8)} ns/op   (sink ${sink & 1})`);
}

const header64 = Uint8Array.from({ length: 64 }, (_, i) => i * 7);
measure('crc32c, 64-byte header', 1_000_000, (i) => {
  header64[0] = i & 0xff;
  return crc32c(header64);
});

const tcp4 = {
  version: 2,
  command: 'PROXY',
  family: 'INET',
  transport: 'STREAM',
  src: '192.0.2.10',
  dst: '203.0.113.10',
  srcPort: 51234,
  dstPort: 80,
  tlvs: [],
} as const;
const encoded = encodeV2({ ...tcp4, tlvs: [] });
measure('encode v2 TCP4 + CRC32C', 200_000, () => encodeV2({ ...tcp4, tlvs: [] }, { crc32c: true }).length);
measure('decode v2 TCP4', 500_000, () => (decodeProxyHeader(encoded).status === 'complete' ? 1 : 0));
