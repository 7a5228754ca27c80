// A program attached to a hook. It owns the attachment: close() removes it exactly once.
import { BpfError, ClosedError, InvalidArgumentError } from '../errors.js';
import { bpfFdKind } from '../program/fdinfo.js';
import { allIds, getFdById, linkDetach, linkUpdate, objGet, objPin } from '../sys/attrs.js';
import type { FD } from '../sys/fd.js';
import { AttachFlags, Cmd, LinkType } from '../sys/types.js';
import { programFd, programId, type AttachableProgram } from './attachable.js';
import { LinkOperationError, TargetNotFoundError } from './errors.js';
import { bpfLinkInfo, describeDetails, type LinkDetails, type LinkInfo, type LinkMechanism } from './info.js';
import { checkPinnedPath, preparePinPath, removePin } from '../map/bpffs.js';
import { EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP } from '../sys/errno.js';

export type { AttachableProgram } from './attachable.js';
export type { LinkDetails, LinkInfo, LinkMechanism } from './info.js';

// The target of a legacy attachment can disappear first (an interface deleted, a socket
// closed); removing what is already gone is not an error on close().
const GONE = new Set(['ENODEV', 'ENOENT', 'EBADF', 'ENOTSOCK', 'ESRCH', 'EINVAL']);

/** What an attach function hands to a new Link. */
export interface LinkInit {
  /** The hook, as in `attachXdp` → 'xdp'. */
  hook: string;
  /** What it is attached to, for messages: 'eth0 (ifindex 2) driver'. */
  target: string;
  mechanism: LinkMechanism;
  program?: AttachableProgram;
  /** The attached program's id, for info() of attachments that are not bpf_links. */
  progId?: number;
  /** The bpf_link, when the attachment is one. */
  fd?: FD;
  /** What the attachment keeps open besides the link fd (perf event fds, parts), closed after it. */
  holds?: ReadonlyArray<{ close(): void }>;
  /** Removes an attachment that is not a bpf_link. */
  detach?: () => void;
  /** Swaps the program of an attachment that is not a bpf_link. */
  update?: (next: AttachableProgram, previous: AttachableProgram | undefined) => void;
  /** The details of an attachment that is not a bpf_link; or facts a bpf_link's info lacks. */
  describe?: () => LinkDetails;
  /** The links a link over several attachments is made of (one perf event per CPU). */
  parts?: readonly Link[];
}

export interface UpdateOptions {
  /** Replace only if this program is the one attached (BPF_F_REPLACE). */
  expected?: AttachableProgram;
}

/**
 * An attachment of a program to a hook: a bpf_link where the kernel has one, else a perf event,
 * a netlink attachment, a PROG_ATTACH or a socket option. close() (or `using`) detaches it once;
 * a pinned bpf_link stays attached until unpinned.
 */
export class Link {
  readonly hook: string;
  readonly target: string;
  readonly mechanism: LinkMechanism;
  readonly #fd: FD | undefined;
  readonly #holds: ReadonlyArray<{ close(): void }>;
  readonly #detach: (() => void) | undefined;
  readonly #update: LinkInit['update'];
  readonly #describe: LinkInit['describe'];
  readonly #parts: readonly Link[];
  #program: AttachableProgram | undefined;
  #progId: number;
  #closed = false;
  #detached = false;
  #pinnedPath: string | undefined;
  #id: number | undefined;

  constructor(init: LinkInit) {
    this.hook = init.hook;
    this.target = init.target;
    this.mechanism = init.mechanism;
    this.#fd = init.fd;
    this.#holds = init.holds ?? [];
    this.#detach = init.detach;
    this.#update = init.update;
    this.#describe = init.describe;
    this.#parts = init.parts ?? [];
    this.#program = init.program;
    this.#progId = init.progId ?? 0;
  }

  /** Opens a bpf_link pinned in bpffs. Closing it leaves the pin, and so the attachment, in place. */
  static openPinned(path: string): Link {
    let fd: FD;
    try {
      fd = objGet(path, 0, 'pinned link');
    } catch (err) {
      checkPinnedPath(path);
      throw err;
    }
    const kind = bpfFdKind(fd.value);
    if (kind !== 'link') {
      fd.close();
      throw new InvalidArgumentError(`${path} is a pinned ${kind ?? 'object'}, not a link`);
    }
    const link = Link.#fromFd(fd);
    link.#pinnedPath = path;
    return link;
  }

  /** Opens a bpf_link by its id. */
  /** The ids of every bpf_link in the kernel, ascending (links of other processes included). */
  static ids(): number[] {
    return allIds(Cmd.LINK_GET_NEXT_ID);
  }

  static fromId(id: number): Link {
    if (!Number.isInteger(id) || id <= 0) throw new InvalidArgumentError(`invalid link id ${id}`);
    let fd: FD;
    try {
      fd = getFdById(Cmd.LINK_GET_FD_BY_ID, id);
    } catch (err) {
      if (err instanceof BpfError && err.errno === ENOENT) throw new TargetNotFoundError('link', `id ${id}`, undefined, { cause: err });
      throw err;
    }
    return Link.#fromFd(fd);
  }

  static #fromFd(fd: FD): Link {
    try {
      const info = bpfLinkInfo(fd.value);
      const link = new Link({ hook: info.typeName, target: describeDetails(info.details), mechanism: 'bpf_link', fd });
      link.#id = info.id;
      return link;
    } catch (err) {
      fd.close();
      throw err;
    }
  }

  /**
   * The raw bpf_link fd, a number as on Program and BpfMap; throws LinkOperationError for
   * attachments that are not bpf_links (see `mechanism`) and ClosedError after close().
   */
  get fd(): number {
    return this.#live().value;
  }

  /** The bpf_link id; 0 for attachments that are not bpf_links. */
  get id(): number {
    if (this.#id === undefined) this.#id = this.#fd ? bpfLinkInfo(this.#live().value).id : 0;
    return this.#id;
  }

  /** The program attached, when this Link attached it or updated to it. */
  get program(): AttachableProgram | undefined {
    return this.#program;
  }

  /** The links this one is made of, for a link over several attachments. */
  get parts(): readonly Link[] {
    return this.#parts;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether detach() removed the attachment while the link stays open. */
  get detached(): boolean {
    return this.#detached;
  }

  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  #live(): FD {
    if (this.#closed) throw new ClosedError(`${this}`);
    if (!this.#fd) throw new LinkOperationError(`${this} is a ${this.mechanism} attachment, not a bpf_link`);
    return this.#fd;
  }

  /** Pins the bpf_link in bpffs: it stays attached after this process exits, until unpinned. */
  pin(path: string): void {
    const fd = this.#live();
    objPin(fd.value, preparePinPath(path));
    this.#pinnedPath = path;
  }

  /** Removes the pin made by pin() or opened by openPinned(). */
  unpin(): void {
    if (this.#pinnedPath === undefined) return;
    removePin(this.#pinnedPath);
    this.#pinnedPath = undefined;
  }

  /** Attaches another program in place of the current one, atomically where the kernel can. */
  update(program: AttachableProgram, opts: UpdateOptions = {}): void {
    if (this.#closed) throw new ClosedError(`${this}`);
    if (this.#detached) throw new LinkOperationError(`${this} was detached`);
    if (this.#fd) {
      const expected = opts.expected ? programFd(opts.expected) : 0;
      try {
        linkUpdate(this.#fd.value, programFd(program), expected, expected ? AttachFlags.REPLACE : 0, `${this}`);
      } catch (err) {
        if (err instanceof BpfError && (err.errno === EOPNOTSUPP || err.errno === ENOTSUPP)) {
          throw new LinkOperationError(`${this.hook} links cannot change their program; attach a new one`);
        }
        throw err;
      }
    } else if (this.#update) {
      this.#update(program, opts.expected ?? this.#program);
      this.#progId = programId(program);
    } else {
      throw new LinkOperationError(`${this.hook} attachments cannot change their program; attach a new one`);
    }
    this.#program = program;
  }

  /**
   * Removes the program from the hook now. A bpf_link's fd stays open (LINK_DETACH), so info()
   * and close() still work; other attachments are simply removed.
   */
  detach(): void {
    if (this.#closed) throw new ClosedError(`${this}`);
    if (this.#detached) return;
    if (this.#parts.length > 0) {
      for (const p of this.#parts) p.detach();
    } else if (this.#fd) {
      try {
        linkDetach(this.#fd.value, `${this}`);
      } catch (err) {
        if (err instanceof BpfError && (err.errno === EOPNOTSUPP || err.errno === ENOTSUPP || err.errno === EINVAL)) {
          throw new LinkOperationError(`the kernel cannot detach ${this.hook} links; close them (and remove their pins) instead`);
        }
        throw err;
      }
    } else {
      this.#detach?.();
    }
    this.#detached = true;
  }

  /** What the link is attached to, decoded per hook. */
  info(): LinkInfo {
    if (this.#closed) throw new ClosedError(`${this}`);
    if (this.#fd) {
      const info = bpfLinkInfo(this.#fd.value);
      const extra = this.#describe?.();
      if (extra && extra.kind === info.details.kind) info.details = { ...extra, ...info.details } as LinkDetails;
      return info;
    }
    const details = this.#describe?.() ?? { kind: 'unknown', type: 0 };
    return { id: 0, type: LinkType.UNSPEC, typeName: this.hook, progId: this.#progId, mechanism: this.mechanism, details };
  }

  /** Detaches (unless pinned, or already detached) and releases everything the link holds. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let failure: unknown;
    if (this.#fd) {
      this.#fd.close();
    } else if (!this.#detached && this.#detach) {
      try {
        this.#detach();
      } catch (err) {
        if (!(err instanceof BpfError && GONE.has(err.code))) failure = err;
      }
    }
    for (const h of this.#holds) {
      try {
        h.close();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `${this.hook} link on ${this.target}${this.#closed ? ' (closed)' : ''}`;
  }
}
