import { TsbpfError } from '../errors.js';

/**
 * `EBADBTF`: malformed or truncated BTF / BTF.ext data.
 * `ENOENT`: a type id, name or symbol that does not exist.
 * `EINVAL`: an operation that does not apply to the type (sizeof a FWD, ...).
 * `ELOOP`: a chain of type references too deep or cyclic to resolve.
 */
export type BtfErrorCode = 'EBADBTF' | 'ENOENT' | 'EINVAL' | 'ELOOP';

export interface BtfErrorContext {
  readonly typeId?: number;
  /** The ELF section or BTF.ext subsection the data came from. */
  readonly section?: string | undefined;
  /** Byte offset in the BTF or BTF.ext blob. */
  readonly offset?: number;
  readonly cause?: unknown;
}

export class BtfError extends TsbpfError {
  declare readonly code: BtfErrorCode;
  readonly typeId: number | undefined;
  readonly section: string | undefined;
  readonly offset: number | undefined;

  constructor(code: BtfErrorCode, message: string, context: BtfErrorContext = {}) {
    const where: string[] = [];
    if (context.typeId !== undefined) where.push(`type [${context.typeId}]`);
    if (context.section !== undefined) where.push(`section ${context.section}`);
    if (context.offset !== undefined) where.push(`offset 0x${context.offset.toString(16)}`);
    super(code, where.length > 0 ? `${message} (${where.join(', ')})` : message, { cause: context.cause });
    this.typeId = context.typeId;
    this.section = context.section;
    this.offset = context.offset;
  }
}
