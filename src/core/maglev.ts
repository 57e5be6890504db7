/**
 * Weighted Maglev lookup table (Eisenbud et al., NSDI 2016). The datapath picks a backend for a new
 * connection as table[hash(5-tuple) % size]; conntrack then pins the choice for the connection's life.
 * Maglev is used because a change to the backend set moves only about 1/N of the table's slots, so most
 * *new* connections keep landing where they did before a change, and the table costs one array lookup in
 * the kernel. Weights are honoured by letting each backend claim slots in proportion to its weight.
 */
export interface MaglevBackend {
  /** Stable identity (e.g. "198.51.100.2:80"): a backend keeps its preference list across rebuilds. */
  key: string;
  weight: number;
}

/** Returns, for every slot, the index into `backends` that owns it. `size` must be prime. */
export function maglevTable(backends: readonly MaglevBackend[], size: number): number[] {
  if (!isPrime(size)) throw new RangeError(`maglev table size ${size} is not prime`);
  const active = backends.map((b, index) => ({ ...b, index })).filter((b) => b.weight > 0);
  if (active.length === 0) return [];
  if (active.length > size) throw new RangeError(`${active.length} backends do not fit ${size} slots`);

  const table = new Array<number>(size).fill(-1);
  const offsets = active.map((b) => fnv1a(b.key, 0x811c9dc5) % size);
  const skips = active.map((b) => (fnv1a(b.key, 0x01000193) % (size - 1)) + 1);
  const nextProbe = new Array<number>(active.length).fill(0);
  const credit = new Array<number>(active.length).fill(0);
  const maxWeight = Math.max(...active.map((b) => b.weight));

  let filled = 0;
  while (filled < size) {
    for (let i = 0; i < active.length && filled < size; i++) {
      // Each round every backend earns weight/maxWeight of a turn; the heaviest claims a slot every round.
      credit[i] = (credit[i] ?? 0) + (active[i]?.weight ?? 0);
      if ((credit[i] ?? 0) < maxWeight) continue;
      credit[i] = (credit[i] ?? 0) - maxWeight;
      let slot = probe(offsets[i] ?? 0, skips[i] ?? 1, nextProbe[i] ?? 0, size);
      while (table[slot] !== -1) {
        nextProbe[i] = (nextProbe[i] ?? 0) + 1;
        slot = probe(offsets[i] ?? 0, skips[i] ?? 1, nextProbe[i] ?? 0, size);
      }
      table[slot] = active[i]?.index ?? -1;
      nextProbe[i] = (nextProbe[i] ?? 0) + 1;
      filled++;
    }
  }
  return table;
}

function probe(offset: number, skip: number, n: number, size: number): number {
  return (offset + n * skip) % size;
}

/** 32-bit FNV-1a with a chosen basis, so one function yields the two independent hashes Maglev needs. */
function fnv1a(text: string, basis: number): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
