import {
  BPF_CALL,
  BPF_CLASS,
  BPF_EXIT,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD_IMM64,
  BPF_OP,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_X,
} from './opcodes.js';

/** A register number, 0..10 (r10 is the read-only frame pointer). */
export type Register = number;

export const R0: Register = 0;
export const R1: Register = 1;
export const R2: Register = 2;
export const R3: Register = 3;
export const R4: Register = 4;
export const R5: Register = 5;
export const R6: Register = 6;
export const R7: Register = 7;
export const R8: Register = 8;
export const R9: Register = 9;
export const R10: Register = 10;
/**
 * The frame pointer, r10.
 * @alias
 */
export const RFP: Register = R10;

/** Where an instruction came from, as line info in BTF.ext or a source map gives it. */
export interface SourceLocation {
  file?: string;
  line?: number;
  column?: number;
  /** The text of the source line. */
  text?: string;
}

/**
 * One eBPF instruction as plain data.
 *
 * A 64-bit immediate load (`BPF_LD | BPF_IMM | BPF_DW`, "ld_imm64") is ONE
 * Instruction covering two 8-byte slots: `imm` is the first slot's imm and
 * `imm2` the second's. For a constant they are its low and high halves
 * (see {@link imm64}); for the pseudo sources they keep the kernel's meaning,
 * e.g. BPF_PSEUDO_MAP_VALUE has the map fd in `imm` and the value offset in `imm2`.
 * Every other instruction is one slot and has no `imm2`.
 *
 * `symbol`, `reference` and `source` are metadata: encoding ignores them,
 * the assembler, the loader and the disassembler use them.
 */
export interface Instruction {
  /** The opcode byte. */
  opcode: number;
  /** Destination register, 0..15 as encoded. */
  dst: number;
  /** Source register, or the pseudo source of a call or ld_imm64. */
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /** 32-bit immediate, held signed (-2**31..2**31-1); encoding also accepts 2**31..2**32-1. */
  imm: number;
  /** ld_imm64 only: the second slot's imm. Missing means 0. */
  imm2?: number;
  /** A label or function name that marks this instruction. */
  symbol?: string;
  /**
   * The symbol this instruction refers to and that still has to be (or was)
   * filled in: the label of a jump, the function of a bpf-to-bpf call or of a
   * BPF_PSEUDO_FUNC load, a map or kernel variable of a ld_imm64, the name of a kfunc.
   */
  reference?: string;
  source?: SourceLocation;
}

export function isLdImm64(insn: Instruction): boolean {
  return insn.opcode === BPF_LD_IMM64;
}

/** The number of 8-byte slots the instruction occupies: 2 for ld_imm64, else 1. */
export function instructionSlots(insn: Instruction): 1 | 2 {
  return insn.opcode === BPF_LD_IMM64 ? 2 : 1;
}

/** The number of 8-byte slots of a whole program. */
export function programSlots(insns: readonly Instruction[]): number {
  let n = 0;
  for (const insn of insns) n += instructionSlots(insn);
  return n;
}

/** The slot at which each instruction starts. */
export function slotOffsets(insns: readonly Instruction[]): number[] {
  const out = new Array<number>(insns.length);
  let slot = 0;
  for (let i = 0; i < insns.length; i++) {
    out[i] = slot;
    slot += instructionSlots(insns[i]!);
  }
  return out;
}

/** The 64-bit value of a ld_imm64: imm2 as the high half, imm as the low half. */
export function imm64(insn: Instruction): bigint {
  const hi = BigInt(insn.imm2 ?? 0) & 0xffffffffn;
  const lo = BigInt(insn.imm) & 0xffffffffn;
  return BigInt.asIntN(64, (hi << 32n) | lo);
}

/** The two signed 32-bit halves of a 64-bit value, for `imm` and `imm2`. */
export function splitImm64(value: bigint | number): { imm: number; imm2: number } {
  const v = BigInt.asUintN(64, BigInt(value));
  return {
    imm: Number(BigInt.asIntN(32, v)),
    imm2: Number(BigInt.asIntN(32, v >> 32n)),
  };
}

/** A jump with a target: conditional jumps, goto, gotol and may_goto (not call or exit). */
export function isJump(insn: Instruction): boolean {
  const cls = BPF_CLASS(insn.opcode);
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return false;
  const op = BPF_OP(insn.opcode);
  return op !== BPF_CALL && op !== BPF_EXIT;
}

/** A call of a helper function by id. */
export function isHelperCall(insn: Instruction): boolean {
  return insn.opcode === (BPF_JMP | BPF_CALL) && insn.src === 0;
}

/** A bpf-to-bpf call (BPF_PSEUDO_CALL). */
export function isFunctionCall(insn: Instruction): boolean {
  return insn.opcode === (BPF_JMP | BPF_CALL) && insn.src === BPF_PSEUDO_CALL;
}

/** A call of a kernel function by BTF id (BPF_PSEUDO_KFUNC_CALL). */
export function isKfuncCall(insn: Instruction): boolean {
  return insn.opcode === (BPF_JMP | BPF_CALL) && insn.src === BPF_PSEUDO_KFUNC_CALL;
}

/** A call through a register (`callx`). */
export function isIndirectCall(insn: Instruction): boolean {
  return insn.opcode === (BPF_JMP | BPF_CALL | BPF_X);
}

/** A ld_imm64 of a bpf-to-bpf function's address (BPF_PSEUDO_FUNC). */
export function isFunctionReference(insn: Instruction): boolean {
  return insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_FUNC;
}
