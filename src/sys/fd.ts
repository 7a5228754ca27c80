import { ClosedError } from '../errors.js';
import { native } from './native.js';

const leaked = new FinalizationRegistry<number>((fd) => {
  native.close(fd);
});

/**
 * The single owner of a kernel file descriptor. close() and [Symbol.dispose] release it
 * exactly once; a FinalizationRegistry closes a forgotten one as a last resort.
 */
export class FD {
  #fd: number;
  readonly #what: string;

  constructor(fd: number, what = 'file descriptor') {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`invalid file descriptor ${fd}`);
    this.#fd = fd;
    this.#what = what;
    leaked.register(this, fd, this);
  }

  /** The raw descriptor; throws ClosedError after close(). */
  get value(): number {
    if (this.#fd < 0) throw new ClosedError(this.#what);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Hands the raw descriptor to the caller, who now owns it. */
  release(): number {
    const fd = this.value;
    leaked.unregister(this);
    this.#fd = -1;
    return fd;
  }

  close(): void {
    if (this.#fd < 0) return;
    leaked.unregister(this);
    native.close(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return this.#fd < 0 ? `${this.#what} (closed)` : `${this.#what} fd ${this.#fd}`;
  }
}
