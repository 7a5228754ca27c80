// The life of an event reader, shared by ring buffer and perf buffer readers: records are
// pulled by `for await`, pushed to a callback, or waited for once; the event loop wakes all
// three; close() or an AbortSignal ends them.
import { BpfError, ClosedError, InvalidArgumentError } from '../errors.js';
import { Readiness, UV_READABLE } from './readiness.js';

/** What take() returns when no record is ready. */
export const NONE: unique symbol = Symbol('no record');

/** Lets a set of readers pull records from its members. */
export const takeRecord: unique symbol = Symbol('takeRecord');
/** Lets a set of readers hand back what it took from its members. */
export const releaseRecords: unique symbol = Symbol('releaseRecords');

type Mode = 'idle' | 'iterating' | 'callbacks' | 'polling';

interface Waiter<Item> {
  resolve(result: IteratorResult<Item>): void;
  reject(err: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * A source of records woken by the readiness of fds. Subclasses say how to take one record,
 * how to hand back what was taken, how to drain everything to the callback, and how to tear
 * down; this class does the waiting, the modes and the ending.
 *
 * One mode at a time: iterating (`for await`), callbacks (`start`), or one `poll`.
 */
export abstract class EventStream<Item> implements AsyncIterable<Item>, Disposable {
  #readiness: Readiness | undefined;
  #mode: Mode = 'idle';
  #closed = false;
  #waiter: Waiter<Item> | undefined;
  #pollWaiter: ((ready: boolean) => void) | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #ref = true;

  /** What this is, for messages: "ring buffer reader of map 12". */
  protected abstract describe(): string;
  /** The next record, or NONE when none is ready. Taking a record releases the one before. */
  protected abstract take(): Item | typeof NONE;
  /** Hands every record taken so far back to the kernel. */
  protected abstract release(): void;
  /** Whether a record may be ready, without taking it. */
  protected abstract pending(): boolean;
  /** Callback mode: delivers what the fd at `index` (every fd for -1) has to the callback. */
  protected abstract dispatch(index: number): void;
  /** Releases mappings and fds; called once, by close(). */
  protected abstract teardown(): void;

  /** To be called at the end of a subclass constructor, once the fds to watch are known. */
  protected watch(fds: readonly number[], signal: AbortSignal | undefined): void {
    this.#readiness = new Readiness(fds, UV_READABLE, (index, status) => this.#ready(index, status));
    if (signal === undefined) return;
    if (signal.aborted) {
      this.close();
      return;
    }
    this.#signal = signal;
    this.#onAbort = () => this.close();
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Changes the fds watched, for sets that grow. */
  protected rewatch(fds: readonly number[]): void {
    this.#readiness?.setFds(fds);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws ClosedError after close(). */
  protected checkOpen(): void {
    if (this.#closed) throw new ClosedError(this.describe());
  }

  /** Callback mode: from now on, every wake-up drains to the callback the subclass holds. */
  protected startCallbacks(): void {
    this.checkOpen();
    if (this.#mode === 'callbacks') return;
    this.#enter('callbacks');
    this.#readiness!.start();
  }

  /** Stops delivering to callbacks; the reader stays open and can be started or iterated again. */
  stop(): void {
    if (this.#mode !== 'callbacks') return;
    this.#mode = 'idle';
    this.#readiness?.stop();
  }

  /** Lets the process exit while this reader waits (like `timer.unref()`). */
  unref(): this {
    this.#ref = false;
    this.#readiness?.ref(false);
    return this;
  }

  /** Makes waiting keep the process alive again (the default). */
  ref(): this {
    this.#ref = true;
    this.#readiness?.ref(true);
    return this;
  }

  /**
   * Waits until the kernel signals records (true), the timeout passes (false) or the reader
   * closes (false). No timeout waits for as long as it takes.
   */
  protected waitReady(timeoutMs?: number): Promise<boolean> {
    this.checkOpen();
    this.#enter('polling');
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (ready: boolean): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.#pollWaiter = undefined;
        if (this.#mode === 'polling') this.#mode = 'idle';
        this.#readiness?.stop();
        resolve(ready);
      };
      this.#pollWaiter = finish;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
        if (!this.#ref) timer.unref();
      }
      try {
        this.#readiness!.start();
      } catch (err) {
        finish(false);
        throw err;
      }
    });
  }

  /**
   * Iterates the records as they come. Ends (done) when the reader is closed or its signal
   * aborts, also while waiting; `break` hands back the records taken and leaves it open.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Item> {
    if (!this.#closed) this.#enter('iterating');
    const it: AsyncIterableIterator<Item> = {
      next: () => this.#next(),
      return: () => this.#endIteration(),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** Ends every mode, hands back what was taken, and releases the mappings and fds. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mode = 'idle';
    this.#readiness?.stop();
    if (this.#signal !== undefined && this.#onAbort !== undefined) this.#signal.removeEventListener('abort', this.#onAbort);
    const waiter = this.#waiter;
    const pollWaiter = this.#pollWaiter;
    this.#waiter = undefined;
    this.#pollWaiter = undefined;
    try {
      this.release();
    } finally {
      this.teardown();
      waiter?.resolve(DONE);
      pollWaiter?.(false);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [takeRecord](): Item | typeof NONE {
    return this.take();
  }

  [releaseRecords](): void {
    this.release();
  }

  #enter(mode: Mode): void {
    if (this.#mode === mode) return;
    if (this.#mode !== 'idle') {
      throw new InvalidArgumentError(`${this.describe()} is already ${this.#mode === 'callbacks' ? 'delivering to a callback (stop() it first)' : this.#mode}`);
    }
    this.#mode = mode;
  }

  #next(): Promise<IteratorResult<Item>> {
    if (this.#closed || this.#mode !== 'iterating') return Promise.resolve(DONE);
    if (this.#waiter !== undefined) return Promise.reject(new InvalidArgumentError(`${this.describe()}: next() called while another is pending`));
    let item: Item | typeof NONE;
    try {
      item = this.take();
    } catch (err) {
      return Promise.reject(err);
    }
    if (item !== NONE) return Promise.resolve({ value: item, done: false });
    return new Promise<IteratorResult<Item>>((resolve, reject) => {
      this.#waiter = { resolve, reject };
      try {
        this.#readiness!.start();
      } catch (err) {
        this.#waiter = undefined;
        reject(err);
      }
    });
  }

  #endIteration(): Promise<IteratorResult<Item>> {
    if (this.#mode === 'iterating') {
      this.#mode = 'idle';
      this.#readiness?.stop();
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (!this.#closed) this.release();
      waiter?.resolve(DONE);
    }
    return Promise.resolve(DONE);
  }

  #ready(index: number, status: number): void {
    if (status < 0) {
      this.#fail(new BpfError('uv_poll', -status, this.describe()));
      return;
    }
    switch (this.#mode) {
      case 'callbacks':
        this.dispatch(index);
        return;
      case 'iterating': {
        const waiter = this.#waiter;
        if (waiter === undefined) {
          this.#readiness?.stop();
          return;
        }
        let item: Item | typeof NONE;
        try {
          item = this.take();
        } catch (err) {
          this.#waiter = undefined;
          this.#readiness?.stop();
          waiter.reject(err);
          return;
        }
        if (item === NONE) return;
        this.#waiter = undefined;
        this.#readiness?.stop();
        waiter.resolve({ value: item, done: false });
        return;
      }
      case 'polling':
        if (index >= 0 || this.pending()) this.#pollWaiter?.(true);
        return;
      default:
        this.#readiness?.stop();
    }
  }

  #fail(err: Error): void {
    const waiter = this.#waiter;
    const callbacks = this.#mode === 'callbacks';
    this.#waiter = undefined;
    this.close();
    if (waiter !== undefined) waiter.reject(err);
    else if (callbacks) throw err;
  }
}
