export * from './opcodes.js';
export * from './instruction.js';
export { AsmError, type AsmErrorCode, type AsmErrorContext } from './errors.js';
export { encode, encodeInstruction, decode, type ByteOrder, type ByteOrderOptions } from './encoding.js';
export { resolveReferences, type ResolveOptions } from './references.js';
export { Assembler, type AssembleOptions, type Target } from './assembler.js';
export { BPF_FUNC, BPF_FUNC_MAX_ID, helperId, helperName, type HelperName, type HelperSpelling } from './helpers.js';
export {
  disassemble,
  disassembleLines,
  formatInstruction,
  type DisassembleOptions,
  type DisassembledLine,
  type FormatInstructionOptions,
  type FormatOptions,
} from './disassembler.js';
