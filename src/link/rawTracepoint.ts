// Raw tracepoints: BPF_RAW_TRACEPOINT_OPEN by name, giving a bpf_link.
import { BpfError } from '../errors.js';
import { rawTracepointOpen } from '../sys/attrs.js';
import type { FD } from '../sys/fd.js';
import { ProgramType } from '../sys/types.js';
import { programFd, requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import { Link } from './link.js';
import { ENOENT } from '../sys/errno.js';

export interface RawTracepointOptions {
  program: AttachableProgram;
  /** The tracepoint's name without its group: 'sched_switch'. */
  name: string;
  /** A value the program reads with bpf_get_attach_cookie() (Linux 6.10+). */
  cookie?: bigint;
}

/** Attaches a RAW_TRACEPOINT (or writable) program to a tracepoint by name. */
export function attachRawTracepoint(opts: RawTracepointOptions): Link {
  requireType('raw tracepoint', opts.program, ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE);
  if (!opts.name || opts.name.includes('/')) throw new TargetNotFoundError('raw tracepoint', opts.name || "''", 'give the name without its group');
  let fd: FD;
  try {
    fd = rawTracepointOpen(programFd(opts.program), opts.name, opts.cookie);
  } catch (err) {
    if (err instanceof BpfError && err.errno === ENOENT) throw new TargetNotFoundError('raw tracepoint', opts.name, undefined, { cause: err });
    throw err;
  }
  return new Link({ hook: 'raw_tracepoint', target: opts.name, mechanism: 'bpf_link', program: opts.program, fd });
}
