// Element commands on attrs prefilled once per map: the fd, key and value addresses never
// change while the map is open, so a call writes at most the flags word. This is ElemOp
// (src/sys/attrs.ts) specialised for one map's fixed buffers.
import { native } from './native.js';
import { MapElemAttr as ELEM } from './layout.js';
import type { Cmd } from './types.js';
import { EINTR } from './errno.js';

const ATTR_SIZE = 32;
// Word indexes of the attr's members: u32 words for map_fd and the low half of flags, u64 for the pointers.
const FD_WORD = ELEM.map_fd / 4;
const FLAGS_WORD = ELEM.flags / 4;
const KEY_SLOT = ELEM.key / 8;
const VALUE_SLOT = ELEM.value / 8;
const VALUE_WORD = ELEM.value / 4;

/** A 32-byte bpf_attr for the element commands: map_fd, key, value/next_key, flags. */
export class ElemAttr {
  readonly bytes: Uint8Array;
  readonly #words: Uint32Array;
  readonly #addrs: BigUint64Array;
  readonly #call: (cmd: number) => number;

  constructor(fd: number, key: bigint, value: bigint) {
    const buf = new ArrayBuffer(ATTR_SIZE);
    this.bytes = new Uint8Array(buf);
    this.#words = new Uint32Array(buf);
    this.#addrs = new BigUint64Array(buf);
    this.#words[FD_WORD] = fd;
    this.#addrs[KEY_SLOT] = key;
    this.#addrs[VALUE_SLOT] = value;
    this.#call = native.bpfBound(this.bytes);
  }

  /** Runs `cmd` with these flags (below 2^32); returns 0 or -errno. */
  run(cmd: Cmd, flags: number): number {
    const w = this.#words;
    if (w[FLAGS_WORD] !== flags) w[FLAGS_WORD] = flags;
    const call = this.#call;
    let r = call(cmd);
    while (r === -EINTR) r = call(cmd);
    return r;
  }

  /** Points the key field elsewhere (a walk alternating between two key buffers). */
  setKey(key: bigint): void {
    this.#addrs[KEY_SLOT] = key;
  }

  /** Points the value field at lo + hi * 2^32, without a bigint. */
  aimValue(lo: number, hi: number): void {
    this.#words[VALUE_WORD] = lo;
    this.#words[VALUE_WORD + 1] = hi;
  }
}

const SLAB_SIZE = 16 * 1024;

/**
 * Where raw lookups land: the kernel copies a found value straight into a slot of a shared
 * slab, and that slot becomes the Uint8Array returned, so a lookup copies nothing in
 * JavaScript. Slots are 8-byte aligned; values are views of the shared ArrayBuffer, as with
 * bytes() decoding. JavaScript is single-threaded, so aim() and take() of one call cannot
 * interleave with another's.
 */
class DirectSlab {
  #slab = new ArrayBuffer(0);
  #lo = 0;
  #hi = 0;
  #used = SLAB_SIZE;

  /** Aims `attr`'s value field at a free slot of `size` bytes. */
  aim(attr: ElemAttr, size: number): void {
    if (this.#used + size > SLAB_SIZE) this.#refill();
    const lo = this.#lo + this.#used;
    attr.aimValue(lo >>> 0, lo > 0xffffffff ? this.#hi + 1 : this.#hi);
  }

  /** The slot the kernel just filled, as a new array; the next aim() moves past it. */
  take(size: number): Uint8Array {
    const out = new Uint8Array(this.#slab, this.#used, size);
    this.#used += (size + 7) & ~7;
    return out;
  }

  #refill(): void {
    this.#slab = new ArrayBuffer(SLAB_SIZE);
    const addr = native.addressOf(this.#slab);
    this.#lo = Number(addr & 0xffffffffn);
    this.#hi = Number(addr >> 32n);
    this.#used = 0;
  }
}

export const directSlab = new DirectSlab();

/** The attrs one map's element operations need, built once when the map is opened. */
export class ElemAttrs {
  /** key + value: LOOKUP, UPDATE, LOOKUP_AND_DELETE. */
  readonly keyValue: ElemAttr;
  /** key only: DELETE (the kernel rejects a non-zero value field there). */
  readonly keyOnly: ElemAttr;
  /** value only: queue/stack/bloom push, pop, peek. */
  readonly valueOnly: ElemAttr;
  /** key + a value pointer aimed into the direct slab: raw LOOKUP, LOOKUP_AND_DELETE. */
  readonly keyDirect: ElemAttr;
  /** no key + a value pointer aimed into the direct slab: raw pop, peek. */
  readonly direct: ElemAttr;
  /** key + a value pointer aimed at the caller's buffer: lookupInto. */
  readonly keyOut: ElemAttr;

  constructor(fd: number, key: bigint, value: bigint) {
    this.keyValue = new ElemAttr(fd, key, value);
    this.keyOnly = new ElemAttr(fd, key, 0n);
    this.valueOnly = new ElemAttr(fd, 0n, value);
    this.keyDirect = new ElemAttr(fd, key, 0n);
    this.direct = new ElemAttr(fd, 0n, 0n);
    this.keyOut = new ElemAttr(fd, key, 0n);
  }
}
