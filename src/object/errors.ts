// Errors of reading a BPF object and of turning its spec into kernel objects.
import { coreReloKindName } from '../btf/ext.js';
import type { CoreOutcome } from '../core/relocate.js';
import { BpfError, NotSupportedError, TsbpfError, VerifierError, type SourceLocation } from '../errors.js';

/** Where in an object a problem is. */
export interface ObjectErrorContext {
  /** The object file, when it came from one. */
  readonly file?: string;
  readonly section?: string;
  readonly symbol?: string;
  readonly program?: string;
  readonly map?: string;
  readonly cause?: unknown;
}

/**
 * A malformed or unsupported BPF object, or a spec that cannot be loaded as it is. `code` is
 * `EBADOBJ` for malformed input, `ENOENT` for something the object refers to that does not
 * exist (a kernel symbol, a map of a relocation), `ENOTSUP` for a construct tsbpf does not load.
 */
export class ObjectError extends TsbpfError {
  readonly file: string | undefined;
  readonly section: string | undefined;
  readonly symbol: string | undefined;
  readonly program: string | undefined;
  readonly map: string | undefined;

  constructor(message: string, context: ObjectErrorContext = {}, code = 'EBADOBJ') {
    const where: string[] = [];
    if (context.file !== undefined) where.push(context.file);
    if (context.program !== undefined) where.push(`program ${context.program}`);
    if (context.map !== undefined) where.push(`map ${context.map}`);
    if (context.section !== undefined) where.push(`section ${context.section}`);
    if (context.symbol !== undefined) where.push(`symbol ${context.symbol}`);
    super(code, where.length > 0 ? `${where.join(', ')}: ${message}` : message, { cause: context.cause });
    this.file = context.file;
    this.section = context.section;
    this.symbol = context.symbol;
    this.program = context.program;
    this.map = context.map;
  }
}

/**
 * Errors of the ELF, BTF and instruction layers (and anything unexpected) as ObjectErrors with
 * the object's context, keeping their `code` when it names a malformed input (`EBAD*`).
 * ObjectErrors pass through.
 */
export function asObjectError(err: unknown, context: ObjectErrorContext = {}): TsbpfError {
  if (err instanceof ObjectError) return err;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const c = typeof code === 'string' && (code.startsWith('EBAD') || code === 'ENOENT' || code === 'ENOTSUP') ? code : 'EBADOBJ';
    return new ObjectError(err.message, { ...context, cause: err }, c === 'ENOENT' && !(err instanceof TsbpfError) ? 'EBADOBJ' : c);
  }
  return new ObjectError(String(err), context);
}

/** What tsbpf knows about the instruction a program was rejected at. */
export interface FailureContext {
  /** The index (8-byte slot) of the instruction the verifier stopped at. */
  readonly instruction?: number;
  /** The C source line of that instruction, from the object's line info. */
  readonly source?: SourceLocation;
  /** The CO-RE relocation the instruction depended on, when it could not be resolved. */
  readonly core?: CoreOutcome;
  /** A fact about this kernel that explains the failure. */
  readonly hint?: string;
}

/**
 * The verifier rejected a program of an object. Besides the kernel's log and reason, it says
 * where in the C source the failing instruction came from (`source`, from the object's line
 * info), and when the instruction was poisoned because a CO-RE relocation found nothing in the
 * kernel's BTF, which type and field that was (`core`).
 */
export class ProgramVerifierError extends VerifierError {
  readonly core: CoreOutcome | undefined;
  readonly section: string | undefined;

  constructor(base: VerifierError, context: FailureContext & { section?: string }) {
    const lines: string[] = [];
    if (context.core !== undefined) {
      lines.push(
        `CO-RE relocation failed: ${context.core.local} (${coreReloKindName(context.core.kind)}) does not exist in the kernel's BTF, ` +
          `and instruction ${context.instruction ?? '?'}, which depends on it, is reachable`,
      );
    }
    if (context.hint !== undefined) lines.push(context.hint);
    const failedInstruction = context.instruction ?? base.failedInstruction;
    const source = context.source ?? base.source;
    super(base.program, base.errno, base.log, [...lines, ...base.reason], {
      ...(failedInstruction !== undefined ? { failedInstruction } : {}),
      ...(source !== undefined ? { source } : {}),
    });
    this.core = context.core;
    this.section = context.section;
  }
}

/** `file.c:12:5: text` */
export function formatSource(s: SourceLocation): string {
  const where = `${s.file ?? '?'}:${s.line ?? '?'}${s.column ? `:${s.column}` : ''}`;
  return s.text !== undefined && s.text !== '' ? `${where}: ${s.text.trim()}` : where;
}

/** BPF_PROG_LOAD failed for a program of an object without a verifier log (EPERM, E2BIG, ...). */
export class ProgramLoadError extends BpfError {
  readonly program: string;
  readonly section: string;

  constructor(program: string, section: string, base: BpfError) {
    super(base.command, base.errno, `program ${program} in section ${section}`, { cause: base });
    this.program = program;
    this.section = section;
  }
}

/**
 * A program of an object needs a feature this kernel lacks (fentry without trampolines, ...),
 * or one tsbpf does not have yet (`by`).
 */
export class ProgramNotSupportedError extends NotSupportedError {
  readonly program: string;
  readonly section: string;

  constructor(program: string, section: string, feature: string, detail?: string, options: { by?: 'kernel' | 'tsbpf' } = {}) {
    super(feature, `${detail ?? 'no details'} (program ${program} in section ${section})`, options);
    this.program = program;
    this.section = section;
  }
}
