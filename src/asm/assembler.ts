import { AsmError } from './errors.js';
import { helperId, type HelperSpelling } from './helpers.js';
import { splitImm64, type Instruction, type Register, type SourceLocation } from './instruction.js';
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ADDR_SPACE_CAST,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_B,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_H,
  BPF_IND,
  BPF_JA,
  BPF_JCOND,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JMP,
  BPF_JMP32,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_K,
  BPF_LD,
  BPF_LD_IMM64,
  BPF_LDX,
  BPF_LOAD_ACQ,
  BPF_LSH,
  BPF_MAY_GOTO,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
  BPF_RSH,
  BPF_ST,
  BPF_STORE_REL,
  BPF_STX,
  BPF_SUB,
  BPF_TO_BE,
  BPF_TO_LE,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
  type AluOp,
  type JumpOp,
  type MemorySize,
} from './opcodes.js';
import { resolveWithLabels, type ResolveOptions } from './references.js';

/** Where a jump or call goes: a label, or an offset in slots from the next instruction. */
export type Target = string | number;

export type AssembleOptions = ResolveOptions;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;

/**
 * Builds a program instruction by instruction, with labels.
 *
 *     const b = new Assembler();
 *     b.mov64Imm(R0, 0);
 *     b.jeqImm(R1, 0, 'out');
 *     b.call('map_lookup_elem');
 *     b.label('out');
 *     b.exit();
 *     const insns = b.assemble();
 *
 * Operand order follows the kernel's instruction macros: destination, source,
 * offset, immediate. Immediates of 64-bit ALU ops and of 64-bit jumps are
 * sign-extended by the CPU, so they must be -2**31..2**31-1; 32-bit ops also
 * accept 2**31..2**32-1. Use ldImm64 for wider constants.
 */
export class Assembler {
  readonly #insns: Instruction[] = [];
  readonly #labels = new Map<string, number>();
  #pending: string[] = [];
  #source: SourceLocation | undefined;

  /** Instructions emitted so far. */
  get length(): number {
    return this.#insns.length;
  }

  /** Marks the next instruction with a label (the first label becomes its `symbol`). */
  label(name: string): this {
    if (name === '') throw new AsmError('INVALID_ARGUMENT', 'a label needs a name');
    if (this.#labels.has(name) || this.#pending.includes(name)) {
      throw new AsmError('DUPLICATE_LABEL', `label "${name}" is already defined`, { label: name });
    }
    this.#pending.push(name);
    return this;
  }

  /** Attaches this source location to the instructions emitted from now on (undefined stops it). */
  at(source: SourceLocation | undefined): this {
    this.#source = source;
    return this;
  }

  /** Appends an instruction as given; its `symbol`, if any, becomes a label too. */
  emit(insn: Instruction): this {
    const out: Instruction = { ...insn };
    const index = this.#insns.length;
    const own = out.symbol;
    if (own !== undefined) this.label(own);
    if (this.#pending.length > 0) {
      out.symbol = own ?? this.#pending[0]!;
      for (const name of this.#pending) this.#labels.set(name, index);
      this.#pending = [];
    }
    if (out.source === undefined && this.#source !== undefined) out.source = this.#source;
    this.#insns.push(out);
    return this;
  }

  /**
   * The program, with jumps, bpf-to-bpf calls and function loads to labels
   * resolved. References to maps, kernel variables and kfuncs by name stay in
   * `reference` for the loader. The assembler can go on being used afterwards.
   */
  assemble(options: AssembleOptions = {}): Instruction[] {
    if (this.#pending.length > 0) {
      const name = this.#pending[0]!;
      throw new AsmError('DANGLING_LABEL', `label "${name}" is not followed by an instruction`, { label: name });
    }
    return resolveWithLabels(this.#insns, this.#labels, options);
  }

  // ALU

  alu64Imm(op: AluOp, dst: Register, imm: number): this {
    return this.#ins(BPF_ALU64 | op | BPF_K, reg(dst), 0, 0, int32(imm));
  }
  alu64Reg(op: AluOp, dst: Register, src: Register): this {
    return this.#ins(BPF_ALU64 | op | BPF_X, reg(dst), reg(src), 0, 0);
  }
  alu32Imm(op: AluOp, dst: Register, imm: number): this {
    return this.#ins(BPF_ALU | op | BPF_K, reg(dst), 0, 0, word(imm));
  }
  alu32Reg(op: AluOp, dst: Register, src: Register): this {
    return this.#ins(BPF_ALU | op | BPF_X, reg(dst), reg(src), 0, 0);
  }

  mov64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_MOV, dst, imm);
  }
  mov64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_MOV, dst, src);
  }
  mov32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_MOV, dst, imm);
  }
  mov32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_MOV, dst, src);
  }
  add64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_ADD, dst, imm);
  }
  add64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_ADD, dst, src);
  }
  add32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_ADD, dst, imm);
  }
  add32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_ADD, dst, src);
  }
  sub64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_SUB, dst, imm);
  }
  sub64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_SUB, dst, src);
  }
  sub32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_SUB, dst, imm);
  }
  sub32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_SUB, dst, src);
  }
  mul64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_MUL, dst, imm);
  }
  mul64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_MUL, dst, src);
  }
  mul32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_MUL, dst, imm);
  }
  mul32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_MUL, dst, src);
  }
  div64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_DIV, dst, imm);
  }
  div64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_DIV, dst, src);
  }
  div32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_DIV, dst, imm);
  }
  div32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_DIV, dst, src);
  }
  mod64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_MOD, dst, imm);
  }
  mod64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_MOD, dst, src);
  }
  mod32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_MOD, dst, imm);
  }
  mod32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_MOD, dst, src);
  }
  or64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_OR, dst, imm);
  }
  or64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_OR, dst, src);
  }
  or32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_OR, dst, imm);
  }
  or32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_OR, dst, src);
  }
  and64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_AND, dst, imm);
  }
  and64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_AND, dst, src);
  }
  and32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_AND, dst, imm);
  }
  and32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_AND, dst, src);
  }
  xor64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_XOR, dst, imm);
  }
  xor64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_XOR, dst, src);
  }
  xor32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_XOR, dst, imm);
  }
  xor32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_XOR, dst, src);
  }
  lsh64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_LSH, dst, imm);
  }
  lsh64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_LSH, dst, src);
  }
  lsh32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_LSH, dst, imm);
  }
  lsh32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_LSH, dst, src);
  }
  rsh64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_RSH, dst, imm);
  }
  rsh64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_RSH, dst, src);
  }
  rsh32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_RSH, dst, imm);
  }
  rsh32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_RSH, dst, src);
  }
  arsh64Imm(dst: Register, imm: number): this {
    return this.alu64Imm(BPF_ARSH, dst, imm);
  }
  arsh64Reg(dst: Register, src: Register): this {
    return this.alu64Reg(BPF_ARSH, dst, src);
  }
  arsh32Imm(dst: Register, imm: number): this {
    return this.alu32Imm(BPF_ARSH, dst, imm);
  }
  arsh32Reg(dst: Register, src: Register): this {
    return this.alu32Reg(BPF_ARSH, dst, src);
  }
  neg64(dst: Register): this {
    return this.#ins(BPF_ALU64 | BPF_NEG | BPF_K, reg(dst), 0, 0, 0);
  }
  neg32(dst: Register): this {
    return this.#ins(BPF_ALU | BPF_NEG | BPF_K, reg(dst), 0, 0, 0);
  }

  /* Signed division and modulo: BPF_DIV / BPF_MOD with off = 1. */
  sdiv64Imm(dst: Register, imm: number): this {
    return this.#ins(BPF_ALU64 | BPF_DIV | BPF_K, reg(dst), 0, 1, int32(imm));
  }
  sdiv64Reg(dst: Register, src: Register): this {
    return this.#ins(BPF_ALU64 | BPF_DIV | BPF_X, reg(dst), reg(src), 1, 0);
  }
  sdiv32Imm(dst: Register, imm: number): this {
    return this.#ins(BPF_ALU | BPF_DIV | BPF_K, reg(dst), 0, 1, int32(imm));
  }
  sdiv32Reg(dst: Register, src: Register): this {
    return this.#ins(BPF_ALU | BPF_DIV | BPF_X, reg(dst), reg(src), 1, 0);
  }
  smod64Imm(dst: Register, imm: number): this {
    return this.#ins(BPF_ALU64 | BPF_MOD | BPF_K, reg(dst), 0, 1, int32(imm));
  }
  smod64Reg(dst: Register, src: Register): this {
    return this.#ins(BPF_ALU64 | BPF_MOD | BPF_X, reg(dst), reg(src), 1, 0);
  }
  smod32Imm(dst: Register, imm: number): this {
    return this.#ins(BPF_ALU | BPF_MOD | BPF_K, reg(dst), 0, 1, int32(imm));
  }
  smod32Reg(dst: Register, src: Register): this {
    return this.#ins(BPF_ALU | BPF_MOD | BPF_X, reg(dst), reg(src), 1, 0);
  }

  /** dst = (s8/s16/s32) src, sign-extended to 64 bits: BPF_MOV with off = bits. */
  movsx64(dst: Register, src: Register, bits: 8 | 16 | 32): this {
    if (bits !== 8 && bits !== 16 && bits !== 32) throw badArgument(`movsx64 of ${String(bits)} bits`);
    return this.#ins(BPF_ALU64 | BPF_MOV | BPF_X, reg(dst), reg(src), bits, 0);
  }
  /** w_dst = (s8/s16) w_src, sign-extended to 32 bits. */
  movsx32(dst: Register, src: Register, bits: 8 | 16): this {
    if (bits !== 8 && bits !== 16) throw badArgument(`movsx32 of ${String(bits)} bits`);
    return this.#ins(BPF_ALU | BPF_MOV | BPF_X, reg(dst), reg(src), bits, 0);
  }

  /** Converts dst to big endian (a swap on little-endian CPUs), keeping the low `bits`. */
  be(dst: Register, bits: 16 | 32 | 64): this {
    return this.#ins(BPF_ALU | BPF_END | BPF_TO_BE, reg(dst), 0, 0, swapWidth(bits));
  }
  /** Converts dst to little endian, keeping the low `bits`. */
  le(dst: Register, bits: 16 | 32 | 64): this {
    return this.#ins(BPF_ALU | BPF_END | BPF_TO_LE, reg(dst), 0, 0, swapWidth(bits));
  }
  /** Swaps the byte order of the low `bits` of dst unconditionally (BPF_ALU64 | BPF_END). */
  bswap(dst: Register, bits: 16 | 32 | 64): this {
    return this.#ins(BPF_ALU64 | BPF_END | BPF_TO_LE, reg(dst), 0, 0, swapWidth(bits));
  }

  /** dst = src converted from address space srcAs to dstAs (arena pointers). */
  addrSpaceCast(dst: Register, src: Register, dstAs: number, srcAs: number): this {
    const imm = (u16(dstAs, 'dstAs') << 16) | u16(srcAs, 'srcAs');
    return this.#ins(BPF_ALU64 | BPF_MOV | BPF_X, reg(dst), reg(src), BPF_ADDR_SPACE_CAST, imm);
  }

  // Memory

  /** dst = *(size *)(src + off), zero-extended. */
  ldx(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.#ins(BPF_LDX | memSize(size) | BPF_MEM, reg(dst), reg(src), int16(off), 0);
  }
  /** dst = *(size *)(src + off), sign-extended (BPF_MEMSX; not for BPF_DW). */
  ldxsx(size: MemorySize, dst: Register, src: Register, off: number): this {
    if (size === BPF_DW) throw badArgument('a sign-extending load of BPF_DW');
    return this.#ins(BPF_LDX | memSize(size) | BPF_MEMSX, reg(dst), reg(src), int16(off), 0);
  }
  /** *(size *)(dst + off) = src. */
  stx(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.#ins(BPF_STX | memSize(size) | BPF_MEM, reg(dst), reg(src), int16(off), 0);
  }
  /** *(size *)(dst + off) = imm. */
  st(size: MemorySize, dst: Register, off: number, imm: number): this {
    return this.#ins(BPF_ST | memSize(size) | BPF_MEM, reg(dst), 0, int16(off), size === BPF_DW ? int32(imm) : word(imm));
  }

  /** Legacy packet access of socket filters: r0 = *(size *)skb[imm]. */
  ldAbs(size: MemorySize, imm: number): this {
    if (size === BPF_DW) throw badArgument('BPF_ABS of BPF_DW');
    return this.#ins(BPF_LD | memSize(size) | BPF_ABS, 0, 0, 0, int32(imm));
  }
  /** Legacy packet access of socket filters: r0 = *(size *)skb[src + imm]. */
  ldInd(size: MemorySize, src: Register, imm: number): this {
    if (size === BPF_DW) throw badArgument('BPF_IND of BPF_DW');
    return this.#ins(BPF_LD | memSize(size) | BPF_IND, 0, reg(src), 0, int32(imm));
  }

  // Atomics: the memory is at dst + off, src holds the operand.

  /** Any BPF_STX | BPF_ATOMIC instruction: `op` is its imm (BPF_ADD | BPF_FETCH, BPF_XCHG, ...). */
  atomic(size: MemorySize, op: number, dst: Register, src: Register, off: number): this {
    return this.#ins(BPF_STX | memSize(size) | BPF_ATOMIC, reg(dst), reg(src), int16(off), int32(op));
  }
  atomicAdd(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_ADD, dst, src, off);
  }
  atomicOr(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_OR, dst, src, off);
  }
  atomicAnd(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_AND, dst, src, off);
  }
  atomicXor(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_XOR, dst, src, off);
  }
  /** src = fetch-and-add: the old value lands in src. */
  atomicFetchAdd(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_ADD | BPF_FETCH, dst, src, off);
  }
  atomicFetchOr(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_OR | BPF_FETCH, dst, src, off);
  }
  atomicFetchAnd(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_AND | BPF_FETCH, dst, src, off);
  }
  atomicFetchXor(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_XOR | BPF_FETCH, dst, src, off);
  }
  /** src = xchg(dst + off, src). */
  atomicXchg(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_XCHG, dst, src, off);
  }
  /** r0 = cmpxchg(dst + off, r0, src): stores src if the memory equals r0; r0 gets the old value. */
  atomicCmpxchg(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(atomicSize(size), BPF_CMPXCHG, dst, src, off);
  }
  /** dst = load_acquire((size *)(src + off)). */
  loadAcquire(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(size, BPF_LOAD_ACQ, dst, src, off);
  }
  /** store_release((size *)(dst + off), src). */
  storeRelease(size: MemorySize, dst: Register, src: Register, off: number): this {
    return this.atomic(size, BPF_STORE_REL, dst, src, off);
  }

  // 64-bit immediate loads (two slots each)

  ldImm64(dst: Register, value: bigint | number): this {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw badArgument(`ldImm64 of ${value}`);
    const { imm, imm2 } = splitImm64(value);
    return this.emit({ opcode: BPF_LD_IMM64, dst: reg(dst), src: 0, off: 0, imm, imm2 });
  }
  /** dst = a map, by fd or by name for the loader to fill in. */
  ldMapFd(dst: Register, map: number | string): this {
    return this.#ldPseudo(dst, BPF_PSEUDO_MAP_FD, map, 0);
  }
  /** dst = the address of a map's value plus offset (array maps, global data), by fd or by name. */
  ldMapValue(dst: Register, map: number | string, offset = 0): this {
    return this.#ldPseudo(dst, BPF_PSEUDO_MAP_VALUE, map, offset);
  }
  /** dst = the map at an index of the fd_array given at load time. */
  ldMapIdx(dst: Register, index: number): this {
    return this.#ldPseudo(dst, BPF_PSEUDO_MAP_IDX, index, 0);
  }
  /** dst = the address of the value of the map at an fd_array index, plus offset. */
  ldMapIdxValue(dst: Register, index: number, offset = 0): this {
    return this.#ldPseudo(dst, BPF_PSEUDO_MAP_IDX_VALUE, index, offset);
  }
  /** dst = the address of a kernel variable (ksym), by BTF id or by name; btfFd 0 is vmlinux. */
  ldBtfId(dst: Register, variable: number | string, btfFd = 0): this {
    return this.#ldPseudo(dst, BPF_PSEUDO_BTF_ID, variable, btfFd);
  }
  /** dst = the address of a bpf-to-bpf function (for callbacks such as bpf_loop). */
  ldFunc(dst: Register, target: Target): this {
    if (typeof target === 'number') return this.#ldPseudo(dst, BPF_PSEUDO_FUNC, target, 0);
    const insn: Instruction = { opcode: BPF_LD_IMM64, dst: reg(dst), src: BPF_PSEUDO_FUNC, off: 0, imm: 0, imm2: 0 };
    return this.emit({ ...insn, reference: target });
  }

  #ldPseudo(dst: Register, src: number, value: number | string, imm2: number): this {
    const insn: Instruction = { opcode: BPF_LD_IMM64, dst: reg(dst), src, off: 0, imm: 0, imm2: word(imm2) };
    if (typeof value === 'string') insn.reference = value;
    else insn.imm = word(value);
    return this.emit(insn);
  }

  // Jumps

  /** goto target (16-bit offset). */
  ja(target: Target): this {
    return this.#jump(BPF_JMP | BPF_JA, 0, 0, 0, target);
  }
  /** gotol target: BPF_JMP32 | BPF_JA with a 32-bit offset in imm. */
  gotol(target: Target): this {
    if (typeof target === 'number') return this.#ins(BPF_JMP32 | BPF_JA, 0, 0, 0, int32(target));
    return this.emit({ opcode: BPF_JMP32 | BPF_JA, dst: 0, src: 0, off: 0, imm: 0, reference: target });
  }
  /** may_goto target: jumps once the kernel's loop budget is used up. */
  mayGoto(target: Target): this {
    return this.#jump(BPF_JMP | BPF_JCOND, 0, BPF_MAY_GOTO, 0, target);
  }
  jmpImm(op: JumpOp, dst: Register, imm: number, target: Target): this {
    return this.#jump(BPF_JMP | op | BPF_K, reg(dst), 0, int32(imm), target);
  }
  jmpReg(op: JumpOp, dst: Register, src: Register, target: Target): this {
    return this.#jump(BPF_JMP | op | BPF_X, reg(dst), reg(src), 0, target);
  }
  jmp32Imm(op: JumpOp, dst: Register, imm: number, target: Target): this {
    return this.#jump(BPF_JMP32 | op | BPF_K, reg(dst), 0, word(imm), target);
  }
  jmp32Reg(op: JumpOp, dst: Register, src: Register, target: Target): this {
    return this.#jump(BPF_JMP32 | op | BPF_X, reg(dst), reg(src), 0, target);
  }

  jeqImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JEQ, dst, imm, target);
  }
  jeqReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JEQ, dst, src, target);
  }
  jeq32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JEQ, dst, imm, target);
  }
  jeq32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JEQ, dst, src, target);
  }
  jneImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JNE, dst, imm, target);
  }
  jneReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JNE, dst, src, target);
  }
  jne32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JNE, dst, imm, target);
  }
  jne32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JNE, dst, src, target);
  }
  jgtImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JGT, dst, imm, target);
  }
  jgtReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JGT, dst, src, target);
  }
  jgt32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JGT, dst, imm, target);
  }
  jgt32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JGT, dst, src, target);
  }
  jgeImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JGE, dst, imm, target);
  }
  jgeReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JGE, dst, src, target);
  }
  jge32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JGE, dst, imm, target);
  }
  jge32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JGE, dst, src, target);
  }
  jltImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JLT, dst, imm, target);
  }
  jltReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JLT, dst, src, target);
  }
  jlt32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JLT, dst, imm, target);
  }
  jlt32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JLT, dst, src, target);
  }
  jleImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JLE, dst, imm, target);
  }
  jleReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JLE, dst, src, target);
  }
  jle32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JLE, dst, imm, target);
  }
  jle32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JLE, dst, src, target);
  }
  jsgtImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JSGT, dst, imm, target);
  }
  jsgtReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JSGT, dst, src, target);
  }
  jsgt32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JSGT, dst, imm, target);
  }
  jsgt32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JSGT, dst, src, target);
  }
  jsgeImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JSGE, dst, imm, target);
  }
  jsgeReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JSGE, dst, src, target);
  }
  jsge32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JSGE, dst, imm, target);
  }
  jsge32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JSGE, dst, src, target);
  }
  jsltImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JSLT, dst, imm, target);
  }
  jsltReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JSLT, dst, src, target);
  }
  jslt32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JSLT, dst, imm, target);
  }
  jslt32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JSLT, dst, src, target);
  }
  jsleImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JSLE, dst, imm, target);
  }
  jsleReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JSLE, dst, src, target);
  }
  jsle32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JSLE, dst, imm, target);
  }
  jsle32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JSLE, dst, src, target);
  }
  jsetImm(dst: Register, imm: number, target: Target): this {
    return this.jmpImm(BPF_JSET, dst, imm, target);
  }
  jsetReg(dst: Register, src: Register, target: Target): this {
    return this.jmpReg(BPF_JSET, dst, src, target);
  }
  jset32Imm(dst: Register, imm: number, target: Target): this {
    return this.jmp32Imm(BPF_JSET, dst, imm, target);
  }
  jset32Reg(dst: Register, src: Register, target: Target): this {
    return this.jmp32Reg(BPF_JSET, dst, src, target);
  }

  #jump(opcode: number, dst: number, src: number, imm: number, target: Target): this {
    if (typeof target === 'number') return this.#ins(opcode, dst, src, int16(target), imm);
    return this.emit({ opcode, dst, src, off: 0, imm, reference: target });
  }

  // Calls

  /** Calls a helper by name ('map_lookup_elem', 'bpf_map_lookup_elem') or id. */
  call(helper: HelperSpelling | number): this {
    let id: number | undefined;
    if (typeof helper === 'number') {
      if (!Number.isInteger(helper) || helper <= 0 || helper > INT32_MAX) {
        throw new AsmError('UNKNOWN_HELPER', `helper id ${helper} is not a positive 32-bit integer`);
      }
      id = helper;
    } else {
      id = helperId(helper);
      if (id === undefined) throw new AsmError('UNKNOWN_HELPER', `the kernel has no helper "${String(helper)}"`);
    }
    return this.#ins(BPF_JMP | BPF_CALL, 0, 0, 0, id);
  }
  /** Calls a bpf-to-bpf function at a label (BPF_PSEUDO_CALL), or at a relative slot offset. */
  callFunction(target: Target): this {
    if (typeof target === 'number') return this.#ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, int32(target));
    return this.emit({ opcode: BPF_JMP | BPF_CALL, dst: 0, src: BPF_PSEUDO_CALL, off: 0, imm: 0, reference: target });
  }
  /**
   * Calls a kernel function (BPF_PSEUDO_KFUNC_CALL) by BTF id, or by name for
   * the loader to look up; fdIndex is its BTF object's index in fd_array (0 = vmlinux).
   */
  kfuncCall(kfunc: number | string, fdIndex = 0): this {
    const opcode = BPF_JMP | BPF_CALL;
    const insn: Instruction = { opcode, dst: 0, src: BPF_PSEUDO_KFUNC_CALL, off: int16(fdIndex), imm: 0 };
    if (typeof kfunc === 'string') insn.reference = kfunc;
    else insn.imm = int32(kfunc);
    return this.emit(insn);
  }
  /** Calls the function whose address is in a register (`callx`; the register goes in dst). */
  callx(target: Register): this {
    return this.#ins(BPF_JMP | BPF_CALL | BPF_X, reg(target), 0, 0, 0);
  }
  exit(): this {
    return this.#ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }

  #ins(opcode: number, dst: number, src: number, off: number, imm: number): this {
    return this.emit({ opcode, dst, src, off, imm });
  }
}

function reg(r: Register): number {
  if (!Number.isInteger(r) || r < 0 || r > 10) {
    throw new AsmError('INVALID_REGISTER', `r${String(r)} is not a register (r0..r10)`);
  }
  return r;
}

function int16(v: number): number {
  if (!Number.isInteger(v) || v < -0x8000 || v > 0x7fff) {
    throw new AsmError('OUT_OF_RANGE', `offset ${v} does not fit in 16 signed bits`);
  }
  return v;
}

/** A 32-bit immediate that the CPU sign-extends to 64 bits. */
function int32(v: number): number {
  if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
    throw new AsmError('OUT_OF_RANGE', `immediate ${v} does not fit in 32 signed bits (use ldImm64 for 64-bit constants)`);
  }
  return v;
}

/** A 32-bit immediate used as 32 bits only: signed or unsigned, held signed. */
function word(v: number): number {
  if (!Number.isInteger(v) || v < INT32_MIN || v > UINT32_MAX) {
    throw new AsmError('OUT_OF_RANGE', `immediate ${v} does not fit in 32 bits`);
  }
  return v | 0;
}

function u16(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new AsmError('OUT_OF_RANGE', `${what} ${v} does not fit in 16 bits`);
  }
  return v;
}

function memSize(size: MemorySize): number {
  if (size !== BPF_B && size !== BPF_H && size !== BPF_W && size !== BPF_DW) {
    throw badArgument(`memory size ${String(size)} (use BPF_B, BPF_H, BPF_W or BPF_DW)`);
  }
  return size;
}

function atomicSize(size: MemorySize): MemorySize {
  if (size !== BPF_W && size !== BPF_DW) throw badArgument('an atomic operation other than BPF_W or BPF_DW');
  return size;
}

function swapWidth(bits: number): number {
  if (bits !== 16 && bits !== 32 && bits !== 64) throw badArgument(`a byte swap of ${bits} bits`);
  return bits;
}

function badArgument(what: string): AsmError {
  return new AsmError('INVALID_ARGUMENT', `there is no instruction for ${what}`);
}
