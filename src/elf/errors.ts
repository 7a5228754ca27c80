import { TsbpfError } from '../errors.js';

/** Context attached to an {@link ElfError}: where in the file the problem is. */
export interface ElfErrorContext {
  /** Section name, or `#<index>` when the name itself could not be read. */
  readonly section?: string | undefined;
  /** Byte offset in the file. */
  readonly offset?: number | undefined;
  readonly cause?: unknown;
}

/**
 * A malformed, truncated or unsupported ELF file. `code` is always `EBADELF`;
 * the message names the structure, section and file offset involved.
 */
export class ElfError extends TsbpfError {
  declare readonly code: 'EBADELF';
  readonly section: string | undefined;
  readonly offset: number | undefined;

  constructor(message: string, context: ElfErrorContext = {}) {
    const where: string[] = [];
    if (context.section !== undefined) where.push(`section ${context.section}`);
    if (context.offset !== undefined) where.push(`offset 0x${context.offset.toString(16)}`);
    super('EBADELF', where.length > 0 ? `${message} (${where.join(', ')})` : message, { cause: context.cause });
    this.section = context.section;
    this.offset = context.offset;
  }
}
