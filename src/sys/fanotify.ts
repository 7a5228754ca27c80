// fanotify(7) permission events: the group fd, inode marks, the events read from the group and
// the answers written back. Every event fd the kernel hands over is answered (when it asks for
// an answer) and closed here, whatever the caller's decision does.
import { readlinkSync } from 'node:fs';
import { NotSupportedError } from '../errors.js';
import { EAGAIN, EINTR } from './errno.js';
import { loadNative, native } from './native.js';
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
/** struct fanotify_event_metadata: event_len u32, vers u8, reserved u8, metadata_len u16, mask u64, fd s32, pid s32. */
export const FanotifyEventMetadata = { event_len: 0, vers: 4, metadata_len: 6, mask: 8, fd: 16, pid: 20, size: 24 } as const;
/** struct fanotify_response: the event's fd and FAN_ALLOW or FAN_DENY. */
export const FanotifyResponse = { fd: 0, response: 4, size: 8 } as const;
const M = FanotifyEventMetadata;
const FAN_NOFD = -1;
const AT_FDCWD = -100;

/** One event as read from the group; `path` is where its fd points, undefined if that cannot be told. */
export interface FanotifyEvent {
  mask: number;
  pid: number;
  path: string | undefined;
}

function requireAddon(): void {
  if (typeof loadNative().fanotifyInit !== 'function') {
    throw new NotSupportedError('fanotify in the native addon', 'the addon in use was built before fanotify support; rebuild it with `npm run build:native`', { by: 'tsbpf' });
  }
}

/** A permission-event group (FAN_CLASS_CONTENT, non-blocking, close-on-exec): its fd, or -errno. */
export function fanotifyInitPermission(): number {
  requireAddon();
  return native.fanotifyInit(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, EVENT_FLAGS);
}

/** fanotify_mark(2) on the inode at `path` (absolute, or relative to the working directory): 0 or -errno. */
export function fanotifyMarkInode(fd: number, flags: number, mask: number, path: string): number {
  return native.fanotifyMark(fd, flags, mask, AT_FDCWD, cString(path));
}

/** Where an event fd points: /proc/self/fd names the file the opener asked for, symlinks resolved. */
function fdPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Reads events from a group until none is left and answers each permission event with what
 * `decide` returns (FAN_ALLOW or FAN_DENY), then closes its fd. `decide` must not throw: a
 * caller with a policy that can fail catches inside it. Returns 0 when the queue is empty,
 * or -errno from read(2) other than EAGAIN.
 */
export class FanotifyReader {
  readonly #fd: number;
  readonly #buf = new Uint8Array(16384);
  readonly #view = new DataView(this.#buf.buffer);
  readonly #answer = new Uint8Array(FanotifyResponse.size);
  readonly #answerView = new DataView(this.#answer.buffer);
  readonly #event: FanotifyEvent = { mask: 0, pid: 0, path: undefined };
  /** Queue overflows the kernel reported (events it dropped). */
  overflows = 0;
  /** Records of an unknown metadata version, skipped (their fds still answered and closed). */
  malformed = 0;

  constructor(fd: number) {
    this.#fd = fd;
  }

  drain(decide: (event: FanotifyEvent) => number): number {
    for (;;) {
      const n = native.read(this.#fd, this.#buf);
      if (n === -EAGAIN) return 0;
      if (n === -EINTR) continue;
      if (n < 0) return n;
      if (n === 0) return 0;
      this.#parse(n, decide);
    }
  }

  #parse(n: number, decide: (event: FanotifyEvent) => number): void {
    const view = this.#view;
    let off = 0;
    while (off + M.size <= n) {
      const len = view.getUint32(off + M.event_len, true);
      const vers = view.getUint8(off + M.vers);
      const mask = Number(view.getBigUint64(off + M.mask, true));
      const fd = view.getInt32(off + M.fd, true);
      const pid = view.getInt32(off + M.pid, true);
      if (mask & FAN_Q_OVERFLOW) this.overflows++;
      if (fd !== FAN_NOFD && fd >= 0) {
        let response = FAN_ALLOW;
        if (vers !== FANOTIFY_METADATA_VERSION) this.malformed++;
        else {
          const e = this.#event;
          e.mask = mask;
          e.pid = pid;
          e.path = fdPath(fd);
          response = decide(e);
        }
        // Answer before closing: the kernel finds the event by its fd number.
        if (mask & (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM)) this.#respond(fd, response);
        native.close(fd);
      }
      // A length shorter than the metadata would never move on: stop at what was read.
      if (len < M.size) break;
      off += len;
    }
  }

  #respond(fd: number, response: number): void {
    this.#answerView.setInt32(FanotifyResponse.fd, fd, true);
    this.#answerView.setUint32(FanotifyResponse.response, response, true);
    native.write(this.#fd, this.#answer);
  }
}
