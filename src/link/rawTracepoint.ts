// Raw tracepoints: BPF_RAW_TRACEPOINT_OPEN by name, giving a bpf_link.
import { BpfError } from '../errors.js';
import { bpf, Attr, cString } from '../sys/syscall.js';
import { FD } from '../sys/fd.js';
import { Cmd, ProgramType } from '../sys/types.js';
import { programFd, requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import { Link } from './link.js';

export interface RawTracepointOptions {
  program: AttachableProgram;
  /** The tracepoint's name without its group: 'sched_switch'. */
  name: string;
  /** A value the program reads with bpf_get_attach_cookie() (Linux 6.10+). */
  cookie?: bigint;
}

const ENOENT = 2;

/** BPF_RAW_TRACEPOINT_OPEN: a raw tracepoint by name, or (name undefined) a tracing program by its BTF id. */
export function rawTracepointOpen(progFd: number, name: string | undefined, cookie: bigint | undefined, context: string): FD {
  const n = name === undefined ? undefined : cString(name);
  const attr = new Attr(24).ptr(0, n).u32(8, progFd).u64(16, cookie ?? 0n);
  return new FD(bpf(Cmd.RAW_TRACEPOINT_OPEN, attr, context), `link ${context}`);
}

/** Attaches a RAW_TRACEPOINT (or writable) program to a tracepoint by name. */
export function attachRawTracepoint(opts: RawTracepointOptions): Link {
  requireType('raw tracepoint', opts.program, ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE);
  if (!opts.name || opts.name.includes('/')) throw new TargetNotFoundError('raw tracepoint', opts.name || "''", 'give the name without its group');
  let fd: FD;
  try {
    fd = rawTracepointOpen(programFd(opts.program), opts.name, opts.cookie, `raw tracepoint ${opts.name}`);
  } catch (err) {
    if (err instanceof BpfError && err.errno === ENOENT) throw new TargetNotFoundError('raw tracepoint', opts.name, undefined, { cause: err });
    throw err;
  }
  return new Link({ hook: 'raw_tracepoint', target: opts.name, mechanism: 'bpf_link', program: opts.program, fd });
}
