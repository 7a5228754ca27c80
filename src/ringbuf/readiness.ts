// Readiness of file descriptors through the event loop: one uv_poll per fd, only while needed.
import { BpfError } from '../errors.js';
import { pollRef, pollStart, pollStop } from '../sys/poll.js';

export const UV_READABLE = 1;
export const UV_WRITABLE = 2;

/**
 * Watches a list of fds while started. `onReady(index, status)` gets the position of the fd in
 * the list; a negative status is an -errno from the event loop.
 *
 * The event loop registers fds with epoll at its next poll phase, and a file whose poll clears
 * what it reports (perf events do) loses a signal that came in between: the registration
 * consumes it and epoll_wait finds nothing. So after each start, once that poll phase is past,
 * `onReady(-1, 0)` asks for one look at every fd.
 */
export class Readiness {
  #fds: readonly number[];
  #handles: object[] | undefined;
  #ref = true;
  #starts = 0;
  readonly #events: number;
  readonly #onReady: (index: number, status: number) => void;

  constructor(fds: readonly number[], events: number, onReady: (index: number, status: number) => void) {
    this.#fds = fds;
    this.#events = events;
    this.#onReady = onReady;
  }

  get watching(): boolean {
    return this.#handles !== undefined;
  }

  /** Replaces the watched fds, carrying on watching if it was. */
  setFds(fds: readonly number[]): void {
    const was = this.watching;
    this.stop();
    this.#fds = fds;
    if (was) this.start();
  }

  start(): void {
    if (this.#handles !== undefined) return;
    const handles: object[] = [];
    for (let i = 0; i < this.#fds.length; i++) {
      const fd = this.#fds[i]!;
      const h = pollStart(fd, this.#events, (status) => this.#onReady(i, status));
      if (typeof h === 'number') {
        for (const started of handles) pollStop(started);
        throw new BpfError('uv_poll_start', -h, `fd ${fd}`);
      }
      if (!this.#ref) pollRef(h, false);
      handles.push(h);
    }
    this.#handles = handles;
    const start = ++this.#starts;
    // An immediate runs after the poll phase of the loop turn it was queued in; the second is
    // after a poll phase that began after start(), wherever start() was called from.
    setImmediate(() =>
      setImmediate(() => {
        if (this.#handles !== undefined && this.#starts === start) this.#onReady(-1, 0);
      }),
    );
  }

  stop(): void {
    const handles = this.#handles;
    if (handles === undefined) return;
    this.#handles = undefined;
    for (const h of handles) pollStop(h);
  }

  /** Whether watching keeps the process alive (it does by default). */
  ref(on: boolean): void {
    this.#ref = on;
    if (this.#handles !== undefined) for (const h of this.#handles) pollRef(h, on);
  }
}
