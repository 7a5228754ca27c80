// BTF-based tracing: tp_btf, fentry, fexit, fmod_ret, LSM and freplace programs, attached to the
// kernel function, tracepoint, hook or program they were loaded for (attach_btf_id).
import { BpfError, InvalidArgumentError, NotSupportedError } from '../errors.js';
import { linkCreate } from '../sys/attrs.js';
import type { FD } from '../sys/fd.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { programFd, programLabel, requireType, type AttachableProgram } from './attachable.js';
import { Link } from './link.js';
import { rawTracepointOpen } from '../sys/attrs.js';
import { ENODEV, ENOTSUPP, EOPNOTSUPP, ESRCH } from '../sys/errno.js';

export interface TracingOptions {
  program: AttachableProgram;
  /** A value the program reads with bpf_get_attach_cookie() (needs program.expectedAttachType). */
  cookie?: bigint;
  /** For freplace: the program and BTF function id to replace, if not the ones it was loaded for. */
  target?: { program: AttachableProgram; btfId: number };
}

const NO_TRAMPOLINE = new Set([ESRCH, ENODEV, EOPNOTSUPP, ENOTSUPP]);

const TRAMPOLINE_TYPES = new Set<AttachType>([AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN, AttachType.LSM_MAC]);

/** The NotSupportedError of a kernel that cannot build BPF trampolines (no ftrace direct calls). */
export function trampolineNotSupported(program: AttachableProgram, cause?: BpfError): NotSupportedError {
  const feature = program.type === ProgramType.LSM ? 'LSM programs (ftrace trampolines)' : 'fentry/fexit (ftrace trampolines)';
  const e = new NotSupportedError(feature, `attaching ${programLabel(program)} failed${cause ? ` with ${cause.code}` : ''}; the kernel needs ftrace with direct calls`);
  if (cause) (e as { cause?: unknown }).cause = cause;
  return e;
}

/** Attaches a TRACING, LSM or EXT program where its attach_btf_id says. */
export function attachTracing(opts: TracingOptions): Link {
  const p = opts.program;
  requireType('tracing', p, ProgramType.TRACING, ProgramType.LSM, ProgramType.EXT);
  if (p.expectedAttachType === AttachType.TRACE_ITER) throw new InvalidArgumentError(`${programLabel(p)} is an iterator; use attachIter`);
  const label = programLabel(p);
  let fd: FD;
  try {
    if (opts.target || opts.cookie !== undefined) {
      if (p.type !== ProgramType.EXT && p.expectedAttachType === undefined) {
        throw new InvalidArgumentError(`a cookie needs the program's expectedAttachType (${label} does not say)`);
      }
      fd = linkCreate(
        {
          progFd: programFd(p),
          targetFd: opts.target ? programFd(opts.target.program) : 0,
          attachType: p.type === ProgramType.EXT ? 0 : (p.expectedAttachType as number),
          tail: { kind: 'tracing', targetBtfId: opts.target?.btfId ?? 0, cookie: opts.cookie ?? 0n },
        },
        label,
      );
    } else {
      fd = rawTracepointOpen(programFd(p), undefined, 0n, label);
    }
  } catch (err) {
    const mayNeedTrampoline = p.type !== ProgramType.TRACING || p.expectedAttachType === undefined || TRAMPOLINE_TYPES.has(p.expectedAttachType);
    if (err instanceof BpfError && NO_TRAMPOLINE.has(err.errno) && mayNeedTrampoline && p.type !== ProgramType.EXT) throw trampolineNotSupported(p, err);
    throw err;
  }
  return new Link({ hook: 'tracing', target: label, mechanism: 'bpf_link', program: p, fd });
}
