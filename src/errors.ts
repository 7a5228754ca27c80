import { errnoMessage, errnoName } from './sys/errno.js';

/** The base of every error tsbpf throws. `code` is an errno name or a tsbpf code. */
export class TsbpfError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

function permissionHint(command: string, code: string): string {
  // Root has every capability: the refusal is about something else, and saying "run as root"
  // to root sends the reader the wrong way.
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    return code === 'EPERM'
      ? '; not for lack of privileges (this is root): the kernel refuses it to everyone here, as it does a hook or map type it keeps from all, under lockdown or by an LSM policy'
      : '';
  }
  const net = /PROG_LOAD|LINK_CREATE|PROG_ATTACH/.test(command) ? ' and CAP_NET_ADMIN or CAP_PERFMON for the hook' : '';
  return `; run as root, or grant CAP_BPF${net} (and raise RLIMIT_MEMLOCK on kernels before 5.11)`;
}

/** A bpf(2) or related syscall failed. */
export class BpfError extends TsbpfError {
  readonly errno: number;
  readonly command: string;
  constructor(command: string, errno: number, context?: string, options?: { cause?: unknown; hint?: boolean }) {
    const code = errnoName(errno);
    const where = context ? ` (${context})` : '';
    const hint = options?.hint !== false && (code === 'EPERM' || code === 'EACCES') ? permissionHint(command, code) : '';
    super(code, `${command}${where}: ${errnoMessage(errno)} [${code}]${hint}`, options);
    this.errno = errno;
    this.command = command;
  }
}

/** Where in a program's C source the verifier stopped, when line info tells. */
export interface SourceLocation {
  file?: string;
  line?: number;
  column?: number;
  text?: string;
}

/** The verifier rejected a program; `log` is the whole verifier log. */
export class VerifierError extends BpfError {
  readonly log: string;
  readonly program: string;
  /** The lines of the log that explain the failure, as shown in the message. */
  readonly reason: string[];
  /** The index of the instruction the verifier failed at, when the log names it. */
  failedInstruction: number | undefined;
  /** The C source line of that instruction, when the program carried line info. */
  source: SourceLocation | undefined;
  constructor(program: string, errno: number, log: string, reason: string[], at?: { failedInstruction?: number; source?: SourceLocation }) {
    super('BPF_PROG_LOAD', errno, `program ${program}`, { hint: false });
    this.log = log;
    this.program = program;
    this.reason = reason;
    this.failedInstruction = at?.failedInstruction;
    this.source = at?.source;
    if (reason.length > 0) this.message += `\nverifier: ${reason.join('\nverifier: ')}`;
    if (this.source?.line !== undefined) {
      this.message += `\nat ${this.source.file ?? '?'}:${this.source.line}${this.source.text ? `: ${this.source.text.trim()}` : ''}`;
    }
  }
}

/**
 * A feature is missing: from the running kernel (`by: 'kernel'`, the default), or from tsbpf
 * itself (`by: 'tsbpf'`: another kernel would not help, a later tsbpf may).
 */
export class NotSupportedError extends TsbpfError {
  readonly feature: string;
  readonly detail: string | undefined;
  readonly by: 'kernel' | 'tsbpf';
  constructor(feature: string, detail?: string, options: { by?: 'kernel' | 'tsbpf' } = {}) {
    const by = options.by ?? 'kernel';
    const what = by === 'kernel' ? `this kernel does not support ${feature}` : `tsbpf does not support ${feature} yet`;
    super('ENOTSUP', `${what}${detail ? `: ${detail}` : ''}`);
    this.feature = feature;
    this.detail = detail;
    this.by = by;
  }
}

/** An argument was malformed before anything reached the kernel. */
export class InvalidArgumentError extends TsbpfError {
  constructor(message: string) {
    super('EINVAL', message);
  }
}

/** An object was used after close(). */
export class ClosedError extends TsbpfError {
  constructor(what: string) {
    super('EBADF', `${what} is closed`);
  }
}
