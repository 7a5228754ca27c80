// A set of fixed-size keys stored as bytes: what a key walk has returned, without an
// allocation per key.

const EMPTY = 0;

/** FNV-1a over `size` bytes at `offset`, never 0 (0 marks an empty slot). */
function hash(bytes: Uint8Array, offset: number, size: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < size; i++) h = Math.imul(h ^ (bytes[offset + i] as number), 0x01000193);
  return (h | 1) >>> 0;
}

/** Open addressing with linear probing, kept at most half full. */
export class KeySet {
  readonly #size: number;
  #hashes: Uint32Array;
  #keys: Uint8Array;
  #mask: number;
  #count = 0;

  constructor(keySize: number, capacity = 1024) {
    this.#size = keySize;
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.#hashes = new Uint32Array(cap);
    this.#keys = new Uint8Array(cap * keySize);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#count;
  }

  /** Adds `key` (its first keySize bytes); false when it was already there. */
  add(key: Uint8Array): boolean {
    const size = this.#size;
    const h = hash(key, 0, size);
    const hashes = this.#hashes;
    const keys = this.#keys;
    let i = h & this.#mask;
    for (;;) {
      const slot = hashes[i] as number;
      if (slot === EMPTY) break;
      if (slot === h) {
        const at = i * size;
        let same = true;
        for (let j = 0; j < size; j++) {
          if (keys[at + j] !== key[j]) {
            same = false;
            break;
          }
        }
        if (same) return false;
      }
      i = (i + 1) & this.#mask;
    }
    hashes[i] = h;
    const at = i * size;
    for (let j = 0; j < size; j++) keys[at + j] = key[j] as number;
    if (++this.#count * 2 > hashes.length) this.#grow();
    return true;
  }

  #grow(): void {
    const size = this.#size;
    const oldHashes = this.#hashes;
    const oldKeys = this.#keys;
    const cap = oldHashes.length * 2;
    const hashes = new Uint32Array(cap);
    const keys = new Uint8Array(cap * size);
    const mask = cap - 1;
    for (let o = 0; o < oldHashes.length; o++) {
      const h = oldHashes[o] as number;
      if (h === EMPTY) continue;
      let i = h & mask;
      while (hashes[i] !== EMPTY) i = (i + 1) & mask;
      hashes[i] = h;
      keys.set(oldKeys.subarray(o * size, (o + 1) * size), i * size);
    }
    this.#hashes = hashes;
    this.#keys = keys;
    this.#mask = mask;
  }
}
