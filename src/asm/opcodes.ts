// Opcode fields of eBPF instructions, named and valued as in the kernel's UAPI
// (include/uapi/linux/bpf_common.h and bpf.h). An opcode byte is either
//   class | size | mode          (BPF_LD, BPF_LDX, BPF_ST, BPF_STX)
//   class | op | source          (BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32)

/* Instruction classes: the low 3 bits. */
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

/* Load and store sizes. */
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

/* Load and store modes. */
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

/* Operand source for ALU and jumps: immediate or register. */
export const BPF_K = 0x00;
export const BPF_X = 0x08;
/* Byte order for BPF_END in class BPF_ALU (in BPF_ALU64 it is an unconditional swap). */
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

/* ALU operations. */
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

/* Jump operations. */
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
export const BPF_JCOND = 0xe0;

/** src_reg of a BPF_JCOND jump: `may_goto`. */
export const BPF_MAY_GOTO = 0;

/* Atomic operations, in the imm of BPF_STX | BPF_ATOMIC; ADD, OR, AND, XOR take the ALU values. */
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
export const BPF_LOAD_ACQ = 0x100;
export const BPF_STORE_REL = 0x110;

/** off of BPF_ALU64 | BPF_MOV | BPF_X converting between address spaces (imm = dst_as << 16 | src_as). */
export const BPF_ADDR_SPACE_CAST = 1;

/* src_reg of a ld_imm64 (BPF_LD | BPF_IMM | BPF_DW). */
/** imm: a map fd. */
export const BPF_PSEUDO_MAP_FD = 1;
/** imm: a map fd; second imm: an offset into its value. */
export const BPF_PSEUDO_MAP_VALUE = 2;
/** imm: a BTF id of a kernel variable; second imm: the fd of the BTF object holding it (0 = vmlinux). */
export const BPF_PSEUDO_BTF_ID = 3;
/** imm: the offset, in instructions, from the next instruction to a bpf-to-bpf function. */
export const BPF_PSEUDO_FUNC = 4;
/** imm: an index into the fd_array given at load time. */
export const BPF_PSEUDO_MAP_IDX = 5;
/** imm: an index into fd_array; second imm: an offset into the map's value. */
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

/* src_reg of a BPF_JMP | BPF_CALL. */
/** imm: the offset, in instructions, from the next instruction to the called function. */
export const BPF_PSEUDO_CALL = 1;
/** imm: the BTF id of a kernel function; off: its BTF object's index in fd_array (0 = vmlinux). */
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** The opcode of the two-slot 64-bit immediate load. */
export const BPF_LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;

/** Size in bytes of one instruction slot. */
export const BPF_INSN_SIZE = 8;

/* Field extractors, as the kernel's macros of the same names. */
export function BPF_CLASS(code: number): number {
  return code & 0x07;
}
export function BPF_SIZE(code: number): number {
  return code & 0x18;
}
export function BPF_MODE(code: number): number {
  return code & 0xe0;
}
export function BPF_OP(code: number): number {
  return code & 0xf0;
}
export function BPF_SRC(code: number): number {
  return code & 0x08;
}

/** Bytes moved by a load or store of the given size field. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size & 0x18) {
    case BPF_B:
      return 1;
    case BPF_H:
      return 2;
    case BPF_W:
      return 4;
    default:
      return 8;
  }
}

export type MemorySize = typeof BPF_B | typeof BPF_H | typeof BPF_W | typeof BPF_DW;

export type AluOp =
  | typeof BPF_ADD
  | typeof BPF_SUB
  | typeof BPF_MUL
  | typeof BPF_DIV
  | typeof BPF_OR
  | typeof BPF_AND
  | typeof BPF_LSH
  | typeof BPF_RSH
  | typeof BPF_NEG
  | typeof BPF_MOD
  | typeof BPF_XOR
  | typeof BPF_MOV
  | typeof BPF_ARSH
  | typeof BPF_END;

/** The conditional jump operations (those comparing dst with src or imm). */
export type JumpOp =
  | typeof BPF_JEQ
  | typeof BPF_JGT
  | typeof BPF_JGE
  | typeof BPF_JSET
  | typeof BPF_JNE
  | typeof BPF_JSGT
  | typeof BPF_JSGE
  | typeof BPF_JLT
  | typeof BPF_JLE
  | typeof BPF_JSLT
  | typeof BPF_JSLE;
