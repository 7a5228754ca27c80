// fanotify permission events: the kernel asks before a marked file is opened or executed, and
// the answer (allow or deny) decides whether the open or exec happens at all. Events are read
// on the event loop; each is answered before the next is read, and its fd closed.
import { readlinkSync } from 'node:fs';
import { BpfError, TsbpfError } from './errors.js';
import { Readiness, UV_READABLE } from './ringbuf/readiness.js';
import { fanotifyInit, fanotifyMark, writeFd } from './sys/fanotify.js';
import { readFd } from './sys/file.js';
import { FD } from './sys/fd.js';

/** fanotify event bits (linux/fanotify.h). */
export const FanotifyMask = {
  OPEN: 0x20,
  OPEN_EXEC: 0x1000,
  OPEN_PERM: 0x10000,
  ACCESS_PERM: 0x20000,
  OPEN_EXEC_PERM: 0x40000,
  EVENT_ON_CHILD: 0x8000000,
} as const;

const FAN_CLOEXEC = 0x1;
const FAN_NONBLOCK = 0x2;
const FAN_CLASS_CONTENT = 0x4;
const FAN_MARK_ADD = 0x1;
const FAN_ALLOW = 0x1;
const FAN_DENY = 0x2;
const O_RDONLY = 0;
const O_LARGEFILE = 0o100000;
const AT_FDCWD = -100;
const METADATA_LEN = 24;
const FAN_NOFD = -1;
const EAGAIN = 11;

export interface FanotifyEvent {
  /** The FanotifyMask bits of the event. */
  mask: number;
  /** The process that opens or executes. */
  pid: number;
  /** The file's path, as /proc/self/fd tells it. */
  path: string;
}

/** Answers a permission event: true allows the open or exec, false makes it fail with EPERM. */
export type FanotifyDecision = (event: FanotifyEvent) => boolean;

/**
 * A fanotify group of the content class (permission events), with inode marks: only the marked
 * files (or a marked directory's children, with EVENT_ON_CHILD) are asked about. Needs
 * CAP_SYS_ADMIN and a kernel with CONFIG_FANOTIFY_ACCESS_PERMISSIONS. While the group is open
 * every open of a marked file waits for the answer; close() lets the waiting ones through.
 */
export class FanotifyPermissions implements Disposable {
  readonly #fd: FD;
  readonly #buf = new Uint8Array(64 * METADATA_LEN);
  readonly #response = new Uint8Array(8);
  #readiness: Readiness | undefined;

  constructor() {
    const fd = fanotifyInit(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
    if (fd < 0) throw new BpfError('fanotify_init', -fd, 'a permission-class group');
    this.#fd = new FD(fd, 'fanotify group');
  }

  /** Asks about `mask` (FanotifyMask.OPEN_PERM, OPEN_EXEC_PERM, ...) events of `path`. */
  mark(path: string, mask: number): void {
    const r = fanotifyMark(this.#fd.value, FAN_MARK_ADD, mask, AT_FDCWD, path);
    if (r < 0) throw new BpfError('fanotify_mark', -r, path);
  }

  /** Answers events as they come with `decide`, until close(). */
  start(decide: FanotifyDecision): void {
    if (this.#readiness !== undefined) throw new TsbpfError('EBUSY', 'fanotify group already started');
    this.#readiness = new Readiness([this.#fd.value], UV_READABLE, () => this.#drain(decide));
    this.#readiness.start();
  }

  #drain(decide: FanotifyDecision): void {
    if (this.#fd.closed) return;
    const view = new DataView(this.#buf.buffer);
    for (;;) {
      const n = readFd(this.#fd.value, this.#buf);
      if (n === -EAGAIN || n <= 0) return;
      for (let at = 0; at + METADATA_LEN <= n; ) {
        const len = view.getUint32(at, true);
        const mask = Number(view.getBigUint64(at + 8, true) & 0xffffffffn);
        const fd = view.getInt32(at + 16, true);
        const pid = view.getInt32(at + 20, true);
        if (fd !== FAN_NOFD) {
          let allow = true;
          try {
            allow = decide({ mask, pid, path: readlinkSync(`/proc/self/fd/${fd}`) });
          } finally {
            // Answer even if deciding failed: the opener waits for it.
            const r = new DataView(this.#response.buffer);
            r.setInt32(0, fd, true);
            r.setUint32(4, allow ? FAN_ALLOW : FAN_DENY, true);
            writeFd(this.#fd.value, this.#response);
            new FD(fd, 'fanotify event file').close();
          }
        }
        at += len > 0 ? len : METADATA_LEN;
      }
    }
  }

  close(): void {
    this.#readiness?.stop();
    this.#readiness = undefined;
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
