// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M in
// which each backend owns about M/N entries, filled by letting the backends take turns along
// their own permutations of the table. Removing one backend frees only its entries and moves
// few others, so a balancer that hashes a flow into the table keeps most flows on their
// backend when the set changes.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../index.js';

export const DEFAULT_RING_SIZE = 65537;
/** The largest table the datapath holds per VIP. */
export const MAX_RING_SIZE = 65537;

export interface MaglevBackend {
  /** Stable name of the backend (its address): it fixes the backend's permutation. */
  name: string;
  /** Relative share of the table, > 0. */
  weight: number;
}

/** Whether n is prime (trial division: table sizes are at most a few hundred thousand). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export function checkRingSize(size: number): number {
  if (!isPrime(size) || size > MAX_RING_SIZE || size < 3) throw new InvalidArgumentError(`ring size must be a prime from 3 to ${MAX_RING_SIZE}, got ${size}`);
  return size;
}

/** The backend's permutation: start at offset, step by skip (1..M-1, so every slot is visited). */
function permutation(name: string, size: number): { offset: number; skip: number } {
  const h = createHash('sha256').update(name).digest();
  return { offset: h.readUInt32LE(0) % size, skip: (h.readUInt32LE(4) % (size - 1)) + 1 };
}

/**
 * The table: for each of `size` slots, the index into `backends` that owns it, or -1 for all
 * slots when there is no backend. Weighted as in the paper's section 3.4: a backend takes a
 * turn in a round in proportion to its weight over the largest weight. Turns go in the order of
 * the names, so the table depends on the set of backends only, not on the order given.
 */
export function maglevTable(backends: readonly MaglevBackend[], size = DEFAULT_RING_SIZE): Int32Array {
  checkRingSize(size);
  const table = new Int32Array(size).fill(-1);
  const n = backends.length;
  if (n === 0) return table;
  let maxWeight = 0;
  for (const b of backends) {
    if (!(b.weight > 0) || !Number.isFinite(b.weight)) throw new InvalidArgumentError(`backend ${b.name}: weight must be > 0, got ${b.weight}`);
    maxWeight = Math.max(maxWeight, b.weight);
  }
  const order = backends.map((_, i) => i).sort((a, b) => (backends[a]!.name < backends[b]!.name ? -1 : backends[a]!.name > backends[b]!.name ? 1 : a - b));
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n);
  const credit = new Float64Array(n);
  const share = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const b = backends[order[i]!]!;
    const p = permutation(b.name, size);
    offset[i] = p.offset;
    skip[i] = p.skip;
    share[i] = b.weight / maxWeight;
  }
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      credit[i]! += share[i]!;
      while (credit[i]! >= 1) {
        credit[i]! -= 1;
        let slot = (offset[i]! + next[i]! * skip[i]!) % size;
        while (table[slot]! >= 0) {
          next[i]!++;
          slot = (offset[i]! + next[i]! * skip[i]!) % size;
        }
        table[slot] = order[i]!;
        next[i]!++;
        if (++filled === size) return table;
      }
    }
  }
}
