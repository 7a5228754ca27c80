// A 64-bit position in a mapped page that the kernel reads or writes as a whole.
import { endianness } from 'node:os';

const LOW = endianness() === 'LE' ? 0 : 1;
const HIGH_UNIT = 0x100000000;

/**
 * Positions only grow, and rings are far smaller than 4 GiB, so the low 32 bits and the
 * position on the other side of the ring tell everything: reading them needs one 32-bit
 * load, and storing needs one 32-bit store unless the high half changes (every 4 GiB), when
 * the whole 64 bits are stored at once. Positions stay below 2**53, as JS numbers.
 */
export class Position64 {
  readonly #halves: Uint32Array;
  readonly #whole: BigInt64Array;

  constructor(buffer: ArrayBuffer, byteOffset: number) {
    this.#halves = new Uint32Array(buffer, byteOffset, 2);
    this.#whole = new BigInt64Array(buffer, byteOffset, 1);
  }

  /** The whole position; allocates, so for setting up only. */
  load(): number {
    return Number(BigInt.asUintN(64, Atomics.load(this.#whole, 0)));
  }

  /** The low 32 bits. */
  loadLow(): number {
    return Atomics.load(this.#halves, LOW);
  }

  /** The position that is `near` plus how far the stored one is ahead of it (at most 4 GiB). */
  loadAhead(near: number): number {
    return near + ((Atomics.load(this.#halves, LOW) - near) >>> 0);
  }

  /** The position that is `near` minus how far the stored one is behind it (at most 4 GiB). */
  loadBehind(near: number): number {
    return near - ((near - Atomics.load(this.#halves, LOW)) >>> 0);
  }

  /** Stores `value`, which was `previous` when last stored. */
  store(value: number, previous: number): void {
    if (Math.floor(value / HIGH_UNIT) === Math.floor(previous / HIGH_UNIT)) Atomics.store(this.#halves, LOW, value >>> 0);
    else Atomics.store(this.#whole, 0, BigInt(value));
  }
}
