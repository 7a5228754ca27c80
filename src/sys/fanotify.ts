// fanotify(7) permission events: the group fd, inode marks, the events read from the group and
// the answers written back. Every event fd the kernel hands over is answered and closed here,
// whatever the caller's decision does.
//
// Events are read on a thread of their own. An open by this very process of a file it watches
// waits for this process's answer: were the answer given on the main thread while that thread
// is the one waiting in open(2) (a readFileSync, a library reading a config file), the process
// and everything else opening the file would hang until killed. The reader thread answers its
// own process's events at once (allow) and hands every other event to the main thread.
import { Worker } from 'node:worker_threads';
import { NotSupportedError } from '../errors.js';
import { EAGAIN, EINTR } from './errno.js';
import { FD } from './fd.js';
import { loadNative, native, nativeAddonPath } from './native.js';
import { cString } from './syscall.js';

// fanotify_init flags (include/uapi/linux/fanotify.h)
const FAN_CLOEXEC = 0x1;
const FAN_NONBLOCK = 0x2;
const FAN_CLASS_CONTENT = 0x4;

// fanotify_mark flags
export const FAN_MARK_ADD = 0x1;
export const FAN_MARK_REMOVE = 0x2;

// Event mask bits
const FAN_Q_OVERFLOW = 0x4000;
export const FAN_OPEN_PERM = 0x10000;
export const FAN_OPEN_EXEC_PERM = 0x40000;
export const FAN_EVENT_ON_CHILD = 0x08000000;

// Answers
export const FAN_ALLOW = 0x1;
export const FAN_DENY = 0x2;

/** The event fds' open flags: O_RDONLY | O_CLOEXEC, so no child process inherits one. */
const EVENT_FLAGS = 0o2000000;
const FANOTIFY_METADATA_VERSION = 3;
const AT_FDCWD = -100;
const UV_READABLE = 1;

/** struct fanotify_event_metadata: event_len u32, vers u8, reserved u8, metadata_len u16, mask u64, fd s32, pid s32. */
export const FanotifyEventMetadata = { event_len: 0, vers: 4, metadata_len: 6, mask: 8, fd: 16, pid: 20, size: 24 } as const;
/** struct fanotify_response: the event's fd and FAN_ALLOW or FAN_DENY. */
export const FanotifyResponse = { fd: 0, response: 4, size: 8 } as const;

/** One permission event of another process, for the main thread to answer. */
export interface FanotifyEvent {
  fd: number;
  mask: number;
  pid: number;
  /** Where the event fd points, undefined if that cannot be told. */
  path: string | undefined;
}

/** What the reader thread tells the main thread. */
type ReaderMessage =
  | { event: FanotifyEvent }
  | { own: number }
  | { overflow: number }
  | { malformed: number }
  | { error: number; call: string }
  | { stopped: true };

/** What a group needs from its owner: a decision per event, and where errors go. */
export interface FanotifyHandlers {
  /** FAN_ALLOW or FAN_DENY for an event of another process. It must not throw. */
  decide(event: FanotifyEvent): number;
  /** A system call of the reader thread failed (`call`, errno), or the thread died. */
  error(call: string, errno: number, cause?: unknown): void;
}

// The reader thread, as source: it runs from this string (not a module file), so it works
// alike from dist/, under a TypeScript loader and in the one-file build. It loads the same
// addon and gets the struct offsets above through workerData.
const READER_SOURCE = `
const { parentPort, workerData: w } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
const addon = require(w.addon);
const M = w.metadata, R = w.response;
const buf = new Uint8Array(16384), view = new DataView(buf.buffer);
const answer = new Uint8Array(R.size), answerView = new DataView(answer.buffer);
let handle;
function allow(fd) {
  answerView.setInt32(R.fd, fd, true);
  answerView.setUint32(R.response, w.allow, true);
  addon.write(w.fd, answer);
  addon.close(fd);
}
function drain() {
  for (;;) {
    const n = addon.read(w.fd, buf);
    if (n === -w.eintr) continue;
    if (n <= 0) {
      if (n < 0 && n !== -w.eagain) parentPort.postMessage({ error: -n, call: 'read' });
      return;
    }
    for (let off = 0; off + M.size <= n; ) {
      const len = view.getUint32(off + M.event_len, true);
      const mask = Number(view.getBigUint64(off + M.mask, true));
      const fd = view.getInt32(off + M.fd, true);
      const pid = view.getInt32(off + M.pid, true);
      if (mask & w.overflow) parentPort.postMessage({ overflow: 1 });
      if (fd >= 0) {
        if (view.getUint8(off + M.vers) !== w.version) {
          allow(fd);
          parentPort.postMessage({ malformed: 1 });
        } else if (pid === w.self) {
          allow(fd);
          parentPort.postMessage({ own: 1 });
        } else {
          let path;
          try { path = readlinkSync('/proc/self/fd/' + fd); } catch {}
          parentPort.postMessage({ event: { fd, mask, pid, path } });
        }
      }
      if (len < M.size) break;
      off += len;
    }
  }
}
parentPort.on('message', () => {
  if (typeof handle === 'object') addon.pollStop(handle);
  parentPort.postMessage({ stopped: true });
  parentPort.close();
});
handle = addon.pollStart(w.fd, w.readable, drain);
if (typeof handle === 'number') parentPort.postMessage({ error: -handle, call: 'uv_poll_start' });
else drain();
`;

function requireAddon(): void {
  if (typeof loadNative().fanotifyInit !== 'function') {
    throw new NotSupportedError('fanotify in the native addon', 'the addon in use was built before fanotify support; rebuild it with `npm run build:native`', { by: 'tsbpf' });
  }
}

/**
 * A permission-event group (FAN_CLASS_CONTENT) whose events a reader thread reads: events of
 * this process are allowed there, the others go to `handlers.decide` on the main thread. The
 * reader reads a duplicate of the group fd; the group, and with it every mark, goes when both
 * are closed (the duplicate once the reader has stopped), and the kernel then allows whatever
 * still waits.
 */
export class FanotifyGroup {
  readonly #fd: FD;
  /** The reader's duplicate, closed here once the reader stopped using it (or died). */
  #readerFd: number;
  readonly #worker: Worker;
  readonly #released: Promise<void>;
  readonly #handlers: FanotifyHandlers;
  readonly #answer = new Uint8Array(FanotifyResponse.size);
  readonly #answerView = new DataView(this.#answer.buffer);
  /** Events of this process the reader allowed. */
  own = 0;
  /** Queue overflows the kernel reported (events it dropped). */
  overflows = 0;
  /** Records of an unknown metadata version (allowed, fds closed). */
  malformed = 0;

  /** Throws NotSupportedError without the addon's fanotify calls; -errno results are errors for the caller to type. */
  static open(handlers: FanotifyHandlers): FanotifyGroup | number {
    requireAddon();
    const fd = native.fanotifyInit(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, EVENT_FLAGS);
    if (fd < 0) return fd;
    const owner = new FD(fd, 'fanotify group');
    const readerFd = native.dup(fd);
    if (readerFd < 0) {
      owner.close();
      return readerFd;
    }
    return new FanotifyGroup(owner, readerFd, handlers);
  }

  private constructor(fd: FD, readerFd: number, handlers: FanotifyHandlers) {
    this.#fd = fd;
    this.#readerFd = readerFd;
    this.#handlers = handlers;
    this.#worker = new Worker(READER_SOURCE, {
      eval: true,
      // The source is CommonJS whatever flags the process runs with (--input-type=module...).
      execArgv: [],
      workerData: {
        addon: nativeAddonPath(),
        fd: readerFd,
        self: process.pid,
        metadata: FanotifyEventMetadata,
        response: FanotifyResponse,
        version: FANOTIFY_METADATA_VERSION,
        allow: FAN_ALLOW,
        overflow: FAN_Q_OVERFLOW,
        readable: UV_READABLE,
        eagain: EAGAIN,
        eintr: EINTR,
      },
    });
    this.#worker.on('message', (m: ReaderMessage) => this.#message(m));
    this.#worker.on('error', (err) => this.#handlers.error('reader thread', 0, err));
    this.#released = new Promise((resolve) => {
      this.#worker.on('exit', () => {
        // A reader that ended before close() leaves nobody reading: every watched open would
        // wait for ever. The group goes with it, so the kernel allows them.
        const early = !this.#fd.closed;
        this.#fd.close();
        this.#releaseReaderFd();
        if (early) this.#handlers.error('reader thread', 0, new Error('the fanotify reader thread ended; the group is closed'));
        resolve();
      });
    });
  }

  /** Resolves once the group is gone: the reader thread has ended and both fds are closed. */
  released(): Promise<void> {
    return this.#released;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** fanotify_mark(2) on the inode at `path`: 0 or -errno. */
  mark(flags: number, mask: number, path: string): number {
    return native.fanotifyMark(this.#fd.value, flags, mask, AT_FDCWD, cString(path));
  }

  /** Whether the reader thread keeps the process alive (it does by default). */
  ref(on: boolean): void {
    if (on) this.#worker.ref();
    else this.#worker.unref();
  }

  /** Closes this thread's fd and stops the reader, whose fd is closed next: the group goes, and its marks. */
  close(): void {
    if (this.#fd.closed) return;
    this.#fd.close();
    if (this.#readerFd >= 0) this.#worker.postMessage('stop');
  }

  #message(m: ReaderMessage): void {
    if ('event' in m) this.#answerEvent(m.event);
    else if ('own' in m) this.own += m.own;
    else if ('overflow' in m) this.overflows += m.overflow;
    else if ('malformed' in m) this.malformed += m.malformed;
    else if ('error' in m) this.#handlers.error(m.call, m.error);
    else if ('stopped' in m) this.#releaseReaderFd();
  }

  #answerEvent(e: FanotifyEvent): void {
    // After close() the event is left unanswered: the reader closes the last group fd right
    // after, and the kernel allows it then.
    if (!this.#fd.closed) {
      const response = this.#handlers.decide(e);
      this.#answerView.setInt32(FanotifyResponse.fd, e.fd, true);
      this.#answerView.setUint32(FanotifyResponse.response, response, true);
      // Answer before closing: the kernel finds the event by its fd number.
      native.write(this.#fd.value, this.#answer);
    }
    native.close(e.fd);
  }

  #releaseReaderFd(): void {
    if (this.#readerFd < 0) return;
    native.close(this.#readerFd);
    this.#readerFd = -1;
  }
}
