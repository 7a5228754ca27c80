// Deciding opens and execs before they happen, with fanotify permission events: the kernel holds
// the opener until it has an answer, so a denied open never returns a file descriptor and a
// denied exec never runs. Only inodes are marked (the files and directories named, a directory
// for its direct children), never a mount or a filesystem, so nothing else waits on us.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClosedError, InvalidArgumentError, TsbpfError } from './errors.js';
import { errnoMessage, errnoName } from './sys/errno.js';
import {
  FAN_ALLOW,
  FAN_DENY,
  FAN_EVENT_ON_CHILD,
  FAN_MARK_ADD,
  FAN_MARK_REMOVE,
  FAN_OPEN_EXEC_PERM,
  FAN_OPEN_PERM,
  type FanotifyEvent,
  FanotifyGroup,
} from './sys/fanotify.js';

/** What the process is doing to the file: opening it, or executing it. */
export type PermissionKind = 'open' | 'exec';
export type PermissionDecision = 'allow' | 'deny';

export interface PermissionRequest {
  /** The file, as the kernel resolved it (symlinks followed). */
  readonly path: string;
  /** The process (thread group id) opening or executing it. */
  readonly pid: number;
  readonly kind: PermissionKind;
}

export interface PermissionWatcherOptions {
  /**
   * Decides one open or exec of a watched file, synchronously: the process waits for the answer.
   * It must not itself open a watched file (the process would wait for itself).
   */
  decide(request: PermissionRequest): PermissionDecision;
  /** The answer when `decide` throws or the file's path cannot be read (default 'allow'). */
  fallback?: PermissionDecision;
  /** Errors of `decide` and of reading events. Without it, each is thrown from the event loop (an uncaught exception) once its event is answered. */
  onError?(error: unknown): void;
}

export interface WatchKinds {
  /** Ask about opens (default true). An exec opens the file too, so it is asked about as an open as well. */
  open?: boolean;
  /** Ask about execs (default true). */
  exec?: boolean;
}

export interface PermissionStats {
  allowed: number;
  denied: number;
  /** Decisions that fell back to `fallback`: `decide` threw or the path could not be read. */
  errors: number;
  /** Events the kernel could not queue (it reports an overflow). */
  overflows: number;
}

/** A fanotify call failed: `call` is the system call, `path` the file it was about. */
export class FanotifyError extends TsbpfError {
  readonly errno: number;
  readonly call: string;
  readonly path: string | undefined;

  constructor(call: string, errno: number, path?: string) {
    const code = errnoName(errno);
    const hint = code === 'EPERM' ? '; fanotify permission events need CAP_SYS_ADMIN (run as root)' : '';
    super(code, `${call}${path !== undefined ? ` (${path})` : ''}: ${errnoMessage(errno)} [${code}]${hint}`);
    this.errno = errno;
    this.call = call;
    this.path = path;
  }
}

function maskOf(kinds: WatchKinds): number {
  const mask = (kinds.open !== false ? FAN_OPEN_PERM : 0) | (kinds.exec !== false ? FAN_OPEN_EXEC_PERM : 0);
  if (mask === 0) throw new InvalidArgumentError('watch: nothing to watch (open and exec are both false)');
  return mask;
}

function checkPath(path: string): string {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError('watch: the path is empty');
  if (path.includes('\0')) throw new InvalidArgumentError(`watch: the path ${JSON.stringify(path)} contains a NUL byte`);
  return resolve(path);
}

/**
 * Answers opens and execs of the files it watches with a decision taken on Node's event loop.
 * Files not decided (anything in a watched directory the callback lets through) are allowed,
 * and so are this process's own opens, answered from a thread of their own so that a
 * synchronous open of a watched file here cannot wait on itself. close() removes every mark;
 * the kernel allows whatever was still waiting.
 *
 * A program this process starts must not be one it refuses to exec: spawn() waits for the
 * child's exec, and the exec waits for this process's answer.
 */
export class PermissionWatcher {
  readonly #group: FanotifyGroup;
  readonly #decide: (request: PermissionRequest) => PermissionDecision;
  readonly #fallback: number;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #stats = { allowed: 0, denied: 0, errors: 0 };

  constructor(options: PermissionWatcherOptions) {
    if (typeof options?.decide !== 'function') throw new InvalidArgumentError('PermissionWatcher: decide must be a function');
    if (options.fallback !== undefined && options.fallback !== 'allow' && options.fallback !== 'deny') {
      throw new InvalidArgumentError(`PermissionWatcher: fallback must be 'allow' or 'deny', not ${JSON.stringify(options.fallback)}`);
    }
    this.#decide = options.decide;
    this.#fallback = options.fallback === 'deny' ? FAN_DENY : FAN_ALLOW;
    this.#onError = options.onError;
    const group = FanotifyGroup.open({
      decide: this.#answer,
      error: (call, errno, cause) => this.#error(cause ?? new FanotifyError(call, errno)),
    });
    if (typeof group === 'number') throw new FanotifyError('fanotify_init', -group);
    this.#group = group;
  }

  /** Asks about opens and/or execs of `path`: a file, or a directory's direct children. */
  watch(path: string, kinds: WatchKinds = {}): void {
    this.#mark(FAN_MARK_ADD, path, kinds);
  }

  /** Stops asking about what watch() asked for. */
  unwatch(path: string, kinds: WatchKinds = {}): void {
    this.#mark(FAN_MARK_REMOVE, path, kinds);
  }

  #mark(flags: number, path: string, kinds: WatchKinds): void {
    const abs = checkPath(path);
    let mask = maskOf(kinds);
    if (this.#group.closed) throw new ClosedError('permission watcher');
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).errno;
      throw new FanotifyError('fanotify_mark', typeof errno === 'number' ? -errno : 2, abs);
    }
    if (isDir) mask |= FAN_EVENT_ON_CHILD;
    const r = this.#group.mark(flags, mask, abs);
    if (r < 0) throw new FanotifyError('fanotify_mark', -r, abs);
  }

  /** Decisions so far (a copy); `allowed` counts this process's own opens too. */
  get stats(): PermissionStats {
    const g = this.#group;
    return { ...this.#stats, allowed: this.#stats.allowed + g.own + g.malformed, overflows: g.overflows };
  }

  get closed(): boolean {
    return this.#group.closed;
  }

  /** Whether watching keeps the process alive (it does by default). */
  ref(on: boolean): void {
    this.#group.ref(on);
  }

  close(): void {
    this.#group.close();
  }

  /**
   * Resolves once close() has taken full effect: the reader thread has ended and the group is
   * gone with its marks (close() itself returns at once; the kernel allows the opens still
   * waiting as the group goes).
   */
  released(): Promise<void> {
    return this.#group.released();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  readonly #answer = (event: FanotifyEvent): number => {
    const stats = this.#stats;
    let answer = this.#fallback;
    if (event.path === undefined) {
      stats.errors++;
    } else {
      const kind: PermissionKind = event.mask & FAN_OPEN_EXEC_PERM ? 'exec' : 'open';
      try {
        answer = this.#decide({ path: event.path, pid: event.pid, kind }) === 'deny' ? FAN_DENY : FAN_ALLOW;
      } catch (err) {
        stats.errors++;
        this.#error(err);
      }
    }
    if (answer === FAN_DENY) stats.denied++;
    else stats.allowed++;
    return answer;
  };

  /** Never throws: it runs between reading an event and answering it. */
  #error(error: unknown): void {
    try {
      if (this.#onError === undefined) throw error;
      this.#onError(error);
    } catch (err) {
      // Thrown from the event loop once the event is answered: an uncaught exception.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
