// Errors of CO-RE relocation.
import { TsbpfError } from '../errors.js';

export interface CoreErrorContext {
  readonly program?: string;
  /** The index of the relocated instruction in the program. */
  readonly instruction?: number;
  /** The relocation kind, e.g. FIELD_BYTE_OFFSET. */
  readonly kind?: string;
  /** The local type and access path, e.g. `struct task_struct.pid`. */
  readonly access?: string;
  readonly cause?: unknown;
}

/**
 * A CO-RE relocation tsbpf cannot apply: a malformed relocation (`EBADOBJ`), candidates in the
 * target BTF that disagree (`EINVAL`), an unsupported construct (`ENOTSUP`), or an instruction
 * that does not have the form the relocation expects.
 */
export class CoreError extends TsbpfError {
  readonly program: string | undefined;
  readonly instruction: number | undefined;
  readonly kind: string | undefined;
  readonly access: string | undefined;

  constructor(code: string, message: string, context: CoreErrorContext = {}) {
    const where: string[] = [];
    if (context.program !== undefined) where.push(`program ${context.program}`);
    if (context.instruction !== undefined) where.push(`instruction ${context.instruction}`);
    if (context.kind !== undefined) where.push(context.kind);
    if (context.access !== undefined) where.push(context.access);
    super(code, `CO-RE relocation${where.length > 0 ? ` (${where.join(', ')})` : ''}: ${message}`, { cause: context.cause });
    this.program = context.program;
    this.instruction = context.instruction;
    this.kind = context.kind;
    this.access = context.access;
  }
}
