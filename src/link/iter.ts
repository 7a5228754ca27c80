// BPF iterators: a link for the program (with its map, cgroup or task), and reading its output
// through a new iterator fd per pass.
import { BpfError, ClosedError, InvalidArgumentError } from '../errors.js';
import { iterCreate, linkCreate, type IterTarget } from '../sys/attrs.js';
import { readFd } from '../sys/file.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { programFd, programLabel, requireType, type AttachableProgram } from './attachable.js';
import { openCgroup } from './cgroup.js';
import { LinkOperationError } from './errors.js';
import { Link } from './link.js';
import { mapFd, type MapLike } from './maps.js';
import type { FD } from '../sys/fd.js';
import { EAGAIN, EINTR } from '../sys/errno.js';

export type CgroupIterOrder = 'self' | 'descendants_pre' | 'descendants_post' | 'ancestors_up';

export interface IterOptions {
  program: AttachableProgram;
  /** The map a map-element iterator walks. */
  map?: MapLike;
  /** The cgroup a cgroup iterator starts at, and how it walks. */
  cgroup?: { path: string; order?: CgroupIterOrder };
  /** Limit a task, task_file or task_vma iterator to one thread, process, or pidfd's process. */
  task?: { tid?: number; pid?: number; pidfd?: number };
}

const ORDER: Record<CgroupIterOrder, number> = { self: 1, descendants_pre: 2, descendants_post: 3, ancestors_up: 4 };

/** Creates an iterator link; read it with readIter()/readAllIter(). */
export function attachIter(opts: IterOptions): Link {
  requireType('iter', opts.program, ProgramType.TRACING);
  const given = [opts.map, opts.cgroup, opts.task].filter((x) => x !== undefined).length;
  if (given > 1) throw new InvalidArgumentError('an iterator takes at most one of map, cgroup and task');
  let iter: IterTarget | undefined;
  let cg: FD | undefined;
  let what = '';
  if (opts.map !== undefined) {
    iter = { mapFd: mapFd(opts.map) };
    what = ' on a map';
  } else if (opts.cgroup) {
    cg = openCgroup(opts.cgroup.path);
    const order = ORDER[opts.cgroup.order ?? 'self'];
    if (order === undefined) throw new InvalidArgumentError(`unknown cgroup iterator order '${String(opts.cgroup.order)}'`);
    iter = { cgroupFd: cg.value, order };
    what = ` on cgroup ${opts.cgroup.path}`;
  } else if (opts.task) {
    iter = { tid: opts.task.tid ?? 0, pid: opts.task.pid ?? 0, pidFd: opts.task.pidfd ?? 0 };
    what = ` on task ${opts.task.tid ?? opts.task.pid ?? `pidfd ${opts.task.pidfd}`}`;
  }
  const target = `${programLabel(opts.program)}${what}`;
  try {
    const fd = linkCreate(
      {
        progFd: programFd(opts.program),
        targetFd: 0,
        attachType: AttachType.TRACE_ITER,
        tail: iter ? { kind: 'iter', target: iter } : undefined,
      },
      `iterator ${target}`,
    );
    return new Link({ hook: 'iter', target, mechanism: 'bpf_link', program: opts.program, fd });
  } finally {
    cg?.close();
  }
}

/** Runs the iterator once and yields its output in chunks as the kernel produces them. */
export async function* readIter(link: Link, chunkSize = 64 * 1024): AsyncGenerator<string, void, undefined> {
  if (link.closed) throw new ClosedError(`${link}`);
  if (link.mechanism !== 'bpf_link') throw new LinkOperationError(`${link} is not an iterator link`);
  const it = iterCreate(link.fd);
  try {
    const buf = new Uint8Array(new ArrayBuffer(chunkSize));
    const decoder = new TextDecoder();
    for (;;) {
      const n = readFd(it.value, buf);
      if (n === -EINTR || n === -EAGAIN) continue;
      if (n < 0) throw new BpfError('read', -n, `iterator ${link.target}`);
      if (n === 0) break;
      yield decoder.decode(buf.subarray(0, n), { stream: true });
    }
    const tail = decoder.decode();
    if (tail) yield tail;
  } finally {
    it.close();
  }
}

/** Runs the iterator once and returns all its output. */
export async function readAllIter(link: Link): Promise<string> {
  let out = '';
  for await (const chunk of readIter(link)) out += chunk;
  return out;
}
