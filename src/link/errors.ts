// Errors of the attach functions: a target that does not exist, a program of the wrong type,
// a target a section needs but was not given.
import { InvalidArgumentError, TsbpfError } from '../errors.js';
import { programTypeName } from '../program/names.js';

/** What kind of thing a hook attaches to. */
export type TargetKind =
  | 'interface'
  | 'cgroup'
  | 'process'
  | 'symbol'
  | 'kernel symbol'
  | 'tracepoint'
  | 'raw tracepoint'
  | 'file'
  | 'library'
  | 'network namespace'
  | 'socket'
  | 'link'
  | 'iterator target'
  | 'USDT probe';

/** The target named in the options does not exist (no such interface, cgroup, symbol...). */
export class TargetNotFoundError extends TsbpfError {
  readonly kind: TargetKind;
  readonly target: string;
  constructor(kind: TargetKind, target: string, detail?: string, options?: { cause?: unknown }) {
    super('ENOENT', `${kind} ${target} not found${detail ? `: ${detail}` : ''}`, options);
    this.kind = kind;
    this.target = target;
  }
}

/** The program's type does not fit the hook it was given to. */
export class ProgramTypeError extends InvalidArgumentError {
  readonly hook: string;
  readonly actual: number;
  readonly expected: readonly number[];
  constructor(hook: string, program: string, actual: number, expected: readonly number[]) {
    const want = expected.map(programTypeName).join(' or ');
    super(`${hook} needs a ${want} program; ${program} is ${programTypeName(actual)}`);
    this.hook = hook;
    this.actual = actual;
    this.expected = expected;
  }
}

/** A section's hook needs a target (an interface, a cgroup...) that was not given. */
export class MissingTargetError extends InvalidArgumentError {
  readonly section: string;
  readonly missing: string;
  constructor(section: string, missing: string) {
    super(`section ${section} attaches to a ${missing}; pass targets.${missing}`);
    this.section = section;
    this.missing = missing;
  }
}

/** The attachment cannot do this (pin a netlink attachment, update a tracepoint...). */
export class LinkOperationError extends TsbpfError {
  constructor(message: string) {
    super('EOPNOTSUPP', message);
  }
}
