/** What went wrong while building, encoding or decoding instructions. */
export type AsmErrorCode =
  /** A jump, call or function load names a label that is not defined. */
  | 'UNKNOWN_LABEL'
  /** The same label is defined twice. */
  | 'DUPLICATE_LABEL'
  /** A label with no instruction after it. */
  | 'DANGLING_LABEL'
  /** A helper name or id that the kernel's `enum bpf_func_id` does not have. */
  | 'UNKNOWN_HELPER'
  /** A field does not fit its width: a jump offset beyond 16 bits, an immediate beyond 32. */
  | 'OUT_OF_RANGE'
  /** A register outside r0..r10 (r11 only where the encoding allows it). */
  | 'INVALID_REGISTER'
  /** A byte buffer whose length is not a whole number of instructions. */
  | 'TRUNCATED'
  /** An argument that names no instruction form (bad size, operation, option). */
  | 'INVALID_ARGUMENT';

export interface AsmErrorContext {
  /** Index of the instruction in its array, when one is concerned. */
  index?: number;
  /** The label or symbol concerned. */
  label?: string;
}

export class AsmError extends Error {
  override readonly name = 'AsmError';
  readonly code: AsmErrorCode;
  readonly index?: number;
  readonly label?: string;

  constructor(code: AsmErrorCode, message: string, context: AsmErrorContext = {}) {
    super(message);
    this.code = code;
    if (context.index !== undefined) this.index = context.index;
    if (context.label !== undefined) this.label = context.label;
  }
}
