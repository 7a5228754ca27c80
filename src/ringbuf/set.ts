// Several ring buffers served together: one iteration or one callback for all of them.
import { InvalidArgumentError } from '../errors.js';
import type { MapSource } from './map-source.js';
import { RingBufReader, drainLap, type RecordCallback, type RingBufReaderOptions } from './reader.js';
import { EventStream, NONE, releaseRecords, takeRecord } from './stream.js';

/** A record and the name of the ring buffer it came from. */
export interface TaggedRecord<T> {
  readonly name: string;
  readonly record: T;
}

export type TaggedRecordCallback<T> = (record: T, name: string) => void;

export interface RingBufSetOptions {
  /** Aborting closes the set and every reader in it. */
  signal?: AbortSignal;
}

interface Member<T> {
  readonly name: string;
  readonly reader: RingBufReader<T>;
  readonly deliver: RecordCallback<T>;
}

/**
 * Ring buffers read as one stream: `for await` yields `{ name, record }` from whichever has
 * records, and a callback gets `(record, name)`. Each ring is still drained in batches with
 * one consumer update per batch. The set owns the readers add() makes: use them through the
 * set, and close() closes them all.
 */
export class RingBufSet<T = Uint8Array> extends EventStream<TaggedRecord<T>> {
  readonly #members: Member<T>[] = [];
  #callback: TaggedRecordCallback<T> | undefined;
  /** The member iteration takes from until it runs dry. */
  #current = 0;

  constructor(options: RingBufSetOptions = {}) {
    super();
    this.watch([], options.signal);
  }

  protected describe(): string {
    return `ring buffer set (${this.#members.map((m) => m.name).join(', ')})`;
  }

  /** Adds a ring buffer under `name`; returns its reader, which the set now owns. */
  add(name: string, source: MapSource, options: Omit<RingBufReaderOptions<T>, 'signal'> = {}): RingBufReader<T> {
    this.checkOpen();
    if (this.#members.some((m) => m.name === name)) throw new InvalidArgumentError(`${this.describe()} already has a ring buffer named "${name}"`);
    const reader = new RingBufReader<T>(source, options);
    this.#members.push({ name, reader, deliver: (record) => this.#callback?.(record, name) });
    this.rewatch(this.#members.map((m) => m.reader.mapFd));
    return reader;
  }

  /** The reader added under `name`. */
  get(name: string): RingBufReader<T> | undefined {
    return this.#members.find((m) => m.name === name)?.reader;
  }

  get names(): string[] {
    return this.#members.map((m) => m.name);
  }

  /** Delivers every ring's records to `callback` as the kernel signals them, until stop() or close(). */
  start(callback: TaggedRecordCallback<T>): this {
    this.#callback = callback;
    this.startCallbacks();
    return this;
  }

  /** Reads every record ready now in every ring; returns how many were delivered. */
  drain(callback: TaggedRecordCallback<T>): number {
    this.checkOpen();
    let n = 0;
    for (const m of this.#members) {
      if (!m.reader.closed) n += m.reader.drain((record) => callback(record, m.name));
    }
    return n;
  }

  /** Delivers what is ready, or waits for a signal (at most `timeoutMs`) and delivers what came. */
  async poll(callback: TaggedRecordCallback<T>, timeoutMs?: number): Promise<number> {
    const n = this.drain(callback);
    if (n > 0) return n;
    if (!(await this.waitReady(timeoutMs)) || this.closed) return 0;
    return this.drain(callback);
  }

  protected dispatch(index: number): void {
    if (index >= 0) {
      const m = this.#members[index];
      if (m !== undefined && !m.reader.closed) m.reader[drainLap](m.deliver);
      return;
    }
    for (const m of this.#members) if (!m.reader.closed) m.reader[drainLap](m.deliver);
  }

  protected take(): TaggedRecord<T> | typeof NONE {
    const members = this.#members;
    for (let k = 0; k < members.length; k++) {
      const i = (this.#current + k) % members.length;
      const m = members[i]!;
      if (m.reader.closed) continue;
      const record = m.reader[takeRecord]();
      if (record === NONE) continue;
      this.#current = i;
      return { name: m.name, record };
    }
    return NONE;
  }

  protected pending(): boolean {
    return this.#members.some((m) => !m.reader.closed && m.reader.pendingBytes > 0);
  }

  protected release(): void {
    for (const m of this.#members) if (!m.reader.closed) m.reader[releaseRecords]();
  }

  protected teardown(): void {
    for (const m of this.#members) m.reader.close();
  }
}
