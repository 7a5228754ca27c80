// Tracepoints: a perf event of type TRACEPOINT on the id tracefs gives, with the program on it.
import { BpfError } from '../errors.js';
import { ProgramType } from '../sys/types.js';
import { requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import type { Link } from './link.js';
import { attachToPerfEvent } from './perf.js';
import { perfEventOpen, PerfType } from '../sys/perf.js';
import { tracepointId } from './tracefs.js';
import { ENOENT } from '../sys/errno.js';

export interface TracepointOptions {
  program: AttachableProgram;
  /** The tracepoint's group (subsystem), as in events/<group>/<name>: 'sched'. */
  group: string;
  /** 'sched_process_exec' */
  name: string;
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint;
}

/** Attaches a TRACEPOINT program to a kernel tracepoint. */
export function attachTracepoint(opts: TracepointOptions): Link {
  requireType('tracepoint', opts.program, ProgramType.TRACEPOINT);
  const target = `${opts.group}/${opts.name}`;
  const id = tracepointId(opts.group, opts.name);
  let perf;
  try {
    perf = perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id) }, -1, 0, `tracepoint ${target}`);
  } catch (err) {
    if (err instanceof BpfError && err.errno === ENOENT) throw new TargetNotFoundError('tracepoint', target, undefined, { cause: err });
    throw err;
  }
  return attachToPerfEvent(opts.program, perf, {
    hook: 'tracepoint',
    target,
    ...(opts.cookie !== undefined ? { cookie: opts.cookie } : {}),
    describe: () => ({ kind: 'perf_event', event: 'tracepoint', name: target }),
  });
}
