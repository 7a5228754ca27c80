// Walking a map's keys with BPF_MAP_GET_NEXT_KEY, robust against concurrent deletion.
import { BpfError, NotSupportedError } from '../errors.js';
import { addressOf } from '../sys/memory.js';
import { Cmd } from '../sys/types.js';
import { ElemAttr } from '../sys/elem.js';
import { IterationAbortedError } from './errors.js';
import { KeySet } from './keyset.js';
import { EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP } from '../sys/errno.js';

interface Slot {
  bytes: Uint8Array;
  addr: bigint;
}

function slot(size: number): Slot {
  const bytes = new Uint8Array(new ArrayBuffer(Math.max(size, 1)));
  return { bytes: bytes.subarray(0, size), addr: addressOf(bytes) };
}

export interface WalkOptions {
  fd: number;
  /** Where lookup() of the current key writes the value; 0n when lookup() is not used. */
  valueAddr: bigint;
  keySize: number;
  maxEntries: number;
  /** Whether GET_NEXT_KEY restarts from the first key when the current one is gone (hashes, tries). */
  restarts: boolean;
  /** The map, for messages. */
  what: string;
  /** The map type's name, for messages. */
  typeName: string;
}

/** How many recently returned keys a walk keeps to resume from after a restart. */
const HISTORY = 16;

/**
 * One pass over a map's keys. Semantics:
 * - The walk stays one key ahead: the next key is fetched before the current one is handed
 *   out, so deleting the key just returned (draining a map while walking it) is safe.
 * - When another writer deletes the key the walk stands on, GET_NEXT_KEY on hashes and tries
 *   starts again from the first key. The walk notices (it gets back a key it has already
 *   returned) and resumes after the most recently returned key that still exists, found
 *   among the last 16; only when none does it walks on from the first key, skipping keys
 *   already returned. Every key is returned at most once, and every key present for the
 *   whole walk is returned.
 * - Keys added or deleted during the walk may or may not be returned.
 * - The walk always ends: a map holds at most max_entries keys, so a walk of a hash or trie
 *   that takes more than 8 * (max_entries + 1) + 1024 steps (keys returned plus keys skipped
 *   after restarts) throws IterationAbortedError rather than chase a map that changes faster
 *   than it can be read. Array-like maps never restart and end after max_entries keys.
 */
export class KeyWalker {
  readonly #o: WalkOptions;
  readonly #slots: [Slot, Slot];
  // GET_NEXT_KEY from slot i into slot 1-i, and LOOKUP of slot i, prefilled.
  readonly #nextFrom: [ElemAttr, ElemAttr];
  readonly #lookupAt: [ElemAttr, ElemAttr];
  #current: 0 | 1 = 0;
  #hasAhead = false;
  #started = false;
  readonly #seen: KeySet | undefined;
  #steps = 0;
  readonly #stepLimit: number;
  // Recently returned keys, a ring of HISTORY slots, for resuming after a restart.
  #history: Uint8Array | undefined;
  #historyAddr = 0n;
  #historyCount = 0;
  // After a restart: following already-returned keys until an unreturned one appears.
  #following = false;

  constructor(o: WalkOptions) {
    this.#o = o;
    const a = slot(o.keySize);
    const b = slot(o.keySize);
    this.#slots = [a, b];
    this.#nextFrom = [new ElemAttr(o.fd, a.addr, b.addr), new ElemAttr(o.fd, b.addr, a.addr)];
    this.#lookupAt = [new ElemAttr(o.fd, a.addr, o.valueAddr), new ElemAttr(o.fd, b.addr, o.valueAddr)];
    this.#seen = o.restarts ? new KeySet(o.keySize, 256) : undefined;
    this.#stepLimit = 8 * (o.maxEntries + 1) + 1024;
  }

  /** The key returned by the last successful next(); overwritten by the following call. */
  get key(): Uint8Array {
    return this.#slots[this.#current].bytes;
  }

  /** BPF_MAP_LOOKUP_ELEM of the current key into the value buffer: 0 or -errno. */
  lookup(): number {
    return this.#lookupAt[this.#current].run(Cmd.MAP_LOOKUP_ELEM, 0);
  }

  /** Moves to the next key; false at the end. The caller checks the map is still open. */
  next(): boolean {
    if (!this.#started) {
      this.#started = true;
      // The first key lands in slot 1, the "ahead" slot while slot 0 is current.
      this.#hasAhead = this.#check(new ElemAttr(this.#o.fd, 0n, this.#slots[1].addr).run(Cmd.MAP_GET_NEXT_KEY, 0));
    }
    for (;;) {
      if (!this.#hasAhead) return false;
      const cur = (1 - this.#current) as 0 | 1;
      this.#current = cur;
      const seen = this.#seen;
      if (seen !== undefined) {
        if (++this.#steps > this.#stepLimit) throw new IterationAbortedError(this.#o.what, this.#steps - 1);
        if (!seen.add(this.#slots[cur].bytes)) {
          // Returned before: the walk restarted because the key it stood on vanished.
          if (!this.#following) {
            this.#following = true;
            if (this.#resume()) continue;
          }
          this.#hasAhead = this.#check(this.#nextFrom[cur].run(Cmd.MAP_GET_NEXT_KEY, 0));
          continue;
        }
        this.#following = false;
        this.#remember(this.#slots[cur].bytes);
      }
      this.#hasAhead = this.#check(this.#nextFrom[cur].run(Cmd.MAP_GET_NEXT_KEY, 0));
      return true;
    }
  }

  #remember(key: Uint8Array): void {
    const size = this.#o.keySize;
    if (this.#history === undefined) {
      this.#history = new Uint8Array(new ArrayBuffer(Math.max(HISTORY * size, 1)));
      this.#historyAddr = addressOf(this.#history);
    }
    const at = (this.#historyCount++ % HISTORY) * size;
    const h = this.#history;
    for (let i = 0; i < size; i++) h[at + i] = key[i] as number;
  }

  // Fetches, into the ahead slot, the successor of the most recent returned key that still
  // exists. False when none of the remembered keys exists any more.
  #resume(): boolean {
    const size = this.#o.keySize;
    const ahead = (1 - this.#current) as 0 | 1;
    const probe = new ElemAttr(this.#o.fd, 0n, this.#o.valueAddr);
    const step = new ElemAttr(this.#o.fd, 0n, this.#slots[ahead].addr);
    const remembered = Math.min(this.#historyCount, HISTORY);
    // The newest remembered key is the one whose successor vanished; try it first anyway:
    // GET_NEXT_KEY from an existing key skips whatever was deleted after it.
    for (let back = 1; back <= remembered; back++) {
      const addr = this.#historyAddr + BigInt(((this.#historyCount - back) % HISTORY) * size);
      probe.setKey(addr);
      if (probe.run(Cmd.MAP_LOOKUP_ELEM, 0) !== 0) continue;
      step.setKey(addr);
      this.#hasAhead = this.#check(step.run(Cmd.MAP_GET_NEXT_KEY, 0));
      return true;
    }
    return false;
  }
  // The result of GET_NEXT_KEY: true for a key, false at the end.
  #check(r: number): boolean {
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    if (r === -EOPNOTSUPP || r === -ENOTSUPP || (r === -EINVAL && this.#o.keySize === 0)) {
      throw new NotSupportedError(`iterating the keys of ${this.#o.typeName} maps`, this.#o.what);
    }
    throw new BpfError('BPF_MAP_GET_NEXT_KEY', -r, this.#o.what);
  }
}
