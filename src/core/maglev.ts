import { LB_LIMITS } from '../bpf/records.js';

/**
 * Weighted Maglev lookup table (Eisenbud et al., NSDI 2016). The datapath picks a backend for a new
 * connection as ring[hash(5-tuple) % size]; conntrack then pins the choice for the connection's life.
 * Maglev is used because a change to the backend set moves only about 1/N of the slots, so most *new*
 * connections keep landing where they did before a change, and a lookup costs one array read in the kernel.
 */
function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Maglev lookup table (Eisenbud et al., NSDI 2016) with weights: each backend fills slots along its own
 * permutation (offset + j*skip mod M, from hashes of its `key`), taking turns; a backend with weight w takes w
 * turns per round relative to the lightest. Backends with weight 0 get no slots (drain: existing connections
 * stay pinned by conntrack). Deterministic for a given backend set, and a change of one backend moves few
 * slots. Returns backend ids; all zeros when no backend has weight.
 */
export function buildMaglevRing(
  backends: readonly { id: number; weight: number; key: string }[],
  size: number = LB_LIMITS.maglevSize,
): Uint32Array {
  if (!isPrime(size)) throw new RangeError(`Maglev ring size ${size} is not prime`);
  const ring = new Uint32Array(size);
  const live = backends
    .filter((b) => b.weight > 0)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (live.length === 0) return ring;
  const maxWeight = Math.max(...live.map((b) => b.weight));
  const state = live.map((b) => ({
    id: b.id,
    offset: fnv1a(b.key, 0x5bd1e995) % size,
    skip: (fnv1a(b.key, 0x27d4eb2f) % (size - 1)) + 1,
    next: 0,
    credit: 0,
    weight: b.weight,
  }));
  let filled = 0;
  while (filled < size) {
    for (const s of state) {
      s.credit += s.weight;
      while (s.credit >= maxWeight && filled < size) {
        s.credit -= maxWeight;
        let slot = (s.offset + s.next * s.skip) % size;
        while (ring[slot] !== 0) {
          s.next++;
          slot = (s.offset + s.next * s.skip) % size;
        }
        ring[slot] = s.id;
        s.next++;
        filled++;
      }
      if (filled >= size) break;
    }
  }
  return ring;
}

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
