// Writing records into a BPF_MAP_TYPE_USER_RINGBUF map, for BPF programs to read with
// bpf_user_ringbuf_drain.
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { MapType } from '../sys/types.js';
import { openMap, type MapSource } from './map-source.js';
import { pageSize } from './mapping.js';
import { RingPages } from './pages.js';
import { RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RINGBUF_HDR_SZ, RINGBUF_LEN_MASK, checkRingSize, recordSpace } from './layout.js';
import type { Position64 } from './position.js';
import { Readiness, UV_WRITABLE } from './readiness.js';

/** The largest sample the kernel hands a BPF program (the size limit of a bpf_dynptr). */
export const USER_RINGBUF_MAX_RECORD = (1 << 24) - 1;

/** How long to wait before looking again when the kernel freed some room, but not enough. */
const RETRY_MS = 1;

interface SpaceWaiter {
  readonly space: number;
  finish(ok: boolean): void;
}

export interface WaitOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * The producer side of a user ring buffer. reserve() hands out a view into the ring to fill,
 * then submit() passes it to the kernel or discard() drops it; write() does all three for a
 * buffer. Reservations may be outstanding together and be committed in any order; the BPF
 * side sees them in reservation order and stops at the first one still being written.
 *
 * When the ring is full, reserve() returns undefined and write() false; waitForSpace() and
 * writeAsync() wait for the BPF side to consume, woken by the event loop.
 *
 * Not safe for several writers on the same map without a lock around reserve().
 */
export class UserRingBufWriter implements Disposable {
  readonly mapFd: number;
  readonly mapId: number;
  /** The size of the data area in bytes (the map's max_entries). */
  readonly size: number;
  readonly #mask: number;
  readonly #pages: RingPages;
  readonly #consumerPos: Position64;
  readonly #producerPos: Position64;
  readonly #words: Int32Array;
  readonly #data: Uint8Array;
  #prod: number;
  /** Reservations not yet submitted or discarded, and the newest one's header offset. */
  #outstanding = 0;
  #last = -1;
  #closed = false;
  readonly #waiters = new Set<SpaceWaiter>();
  /** Writability of the map fd, shared by every waiter. */
  #writable: Readiness | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(source: MapSource) {
    const { fd, info } = openMap(source, MapType.USER_RINGBUF, 'UserRingBufWriter');
    this.mapFd = fd;
    this.mapId = info.id;
    this.size = info.maxEntries;
    checkRingSize(this.size, this.#describe());
    this.#mask = this.size - 1;
    this.#pages = new RingPages(fd, this.size, 'producer', this.#describe());
    this.#consumerPos = this.#pages.consumerPos;
    this.#producerPos = this.#pages.producerPos;
    this.#words = this.#pages.words;
    this.#data = this.#pages.data;
    this.#prod = this.#producerPos.load();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes free for new records (each takes its length plus 8, rounded up to 8). */
  get available(): number {
    this.#checkOpen();
    return this.size - (this.#prod - this.#consumerPos.loadBehind(this.#prod));
  }

  /**
   * A view of `length` bytes in the ring to fill, or undefined when the ring lacks the room.
   * The BPF side sees nothing of it until submit().
   */
  reserve(length: number): Uint8Array | undefined {
    this.#checkOpen();
    const space = this.#space(length);
    if (space > this.available) return undefined;
    const at = this.#prod & this.#mask;
    this.#words[(at >> 2) + 1] = 0;
    Atomics.store(this.#words, at >> 2, (length | RINGBUF_BUSY_BIT) | 0);
    this.#producerPos.store(this.#prod + space, this.#prod);
    this.#prod += space;
    this.#outstanding++;
    this.#last = at;
    return this.#data.subarray(at + RINGBUF_HDR_SZ, at + RINGBUF_HDR_SZ + length);
  }

  /** Hands a reserved record to the BPF side; without an argument, the one reservation outstanding. */
  submit(record?: Uint8Array): void {
    this.#commit(record, 0);
  }

  /** Drops a reserved record (as submit() picks it); the BPF side skips it. */
  discard(record?: Uint8Array): void {
    this.#commit(record, RINGBUF_DISCARD_BIT);
  }

  /** Copies `bytes` in as one record; false when the ring lacks the room. */
  write(bytes: Uint8Array): boolean {
    const record = this.reserve(bytes.byteLength);
    if (record === undefined) return false;
    record.set(bytes);
    this.#commit(record, 0);
    return true;
  }

  /** write(), waiting for room when the ring is full. Resolves false on timeout or abort. */
  async writeAsync(bytes: Uint8Array, options: WaitOptions = {}): Promise<boolean> {
    if (this.write(bytes)) return true;
    if (!(await this.waitForSpace(bytes.byteLength, options))) return false;
    return this.write(bytes);
  }

  /**
   * Resolves true once a record of `length` bytes fits, false on timeout, abort or close.
   * Woken by the event loop when the BPF side consumes records.
   */
  waitForSpace(length: number, options: WaitOptions = {}): Promise<boolean> {
    this.#checkOpen();
    const space = this.#space(length);
    if (space <= this.available) return Promise.resolve(true);
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => waiter.finish(false);
      const waiter: SpaceWaiter = {
        space,
        finish: (ok) => {
          if (!this.#waiters.delete(waiter)) return;
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(ok);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(() => waiter.finish(false), Math.max(0, timeoutMs));
      this.#watchSpace();
    });
  }

  /** Unmaps the ring; records reserved and not submitted stay busy for the BPF side. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writable?.stop();
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    for (const w of [...this.#waiters]) w.finish(false);
    this.#pages.unmap();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #describe(): string {
    return `user ring buffer writer of map ${this.mapId}`;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(this.#describe());
  }

  #watchSpace(): void {
    if (this.#retry !== undefined || this.#closed) return;
    this.#writable ??= new Readiness([this.mapFd], UV_WRITABLE, (_index, status) => this.#checkSpace(status));
    try {
      this.#writable.start();
    } catch {
      for (const w of [...this.#waiters]) w.finish(false);
    }
  }

  #checkSpace(status: number): void {
    const free = this.#closed || status < 0 ? -1 : this.available;
    for (const w of [...this.#waiters]) {
      if (free < 0) w.finish(false);
      else if (w.space <= free) w.finish(true);
    }
    this.#writable?.stop();
    if (this.#waiters.size === 0) return;
    // Writable means "not full": with too little room for a waiter, look again shortly rather than spin.
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#waiters.size > 0) this.#watchSpace();
    }, RETRY_MS);
  }

  #space(length: number): number {
    if (!Number.isInteger(length) || length < 0 || length > USER_RINGBUF_MAX_RECORD || recordSpace(length) > this.size) {
      throw new InvalidArgumentError(`${this.#describe()}: a record of ${length} bytes can never fit (ring of ${this.size} bytes, at most ${USER_RINGBUF_MAX_RECORD})`);
    }
    return recordSpace(length);
  }

  #commit(record: Uint8Array | undefined, flag: number): void {
    this.#checkOpen();
    let at: number;
    if (record === undefined) {
      if (this.#outstanding !== 1) {
        throw new InvalidArgumentError(`${this.#describe()}: ${this.#outstanding === 0 ? 'nothing is reserved' : `${this.#outstanding} records are reserved; say which`}`);
      }
      at = this.#last;
    } else {
      at = record.byteOffset - pageSize() - RINGBUF_HDR_SZ;
      if (record.buffer !== this.#data.buffer || at < 0 || at >= this.size || (at & 7) !== 0) {
        throw new InvalidArgumentError(`${this.#describe()}: the record was not reserved from this ring`);
      }
    }
    const header = Atomics.load(this.#words, at >> 2);
    const length = header & RINGBUF_LEN_MASK;
    if (header >= 0 || (record !== undefined && record.byteLength !== length)) {
      throw new InvalidArgumentError(`${this.#describe()}: the record is not reserved (already submitted or discarded)`);
    }
    Atomics.store(this.#words, at >> 2, length | flag);
    this.#outstanding--;
  }
}
