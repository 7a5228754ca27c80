// Disassembly in the syntax llvm-objdump 19 prints for BPF (`llvm-objdump -d`),
// line for line, so a dump of a loaded program can be compared with a dump
// of the object it came from.
//
// Where llvm 19 prints `<unknown>` for an instruction the kernel accepts, this
// prints what llvm would with the alu32 feature, or the later llvm syntax:
//   - 32-bit atomics other than `lock ... += ...` without alu32 use w registers;
//   - load-acquire / store-release (imm BPF_LOAD_ACQ / BPF_STORE_REL) print as
//     `r0 = load_acquire((u64 *)(r1 + 0x0))`, `store_release((u64 *)(r1 + 0x0), r2)`
//     (llvm 19 misreads them as `lock ... += ...`).
// Atomic imms the kernel rejects print `<unknown>` (llvm 19 reads some as `lock +=`).
import { encodeInstruction, type ByteOrderOptions } from './encoding.js';
import { imm64, isJump, isLdImm64, slotOffsets, type Instruction } from './instruction.js';
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_B,
  BPF_CALL,
  BPF_CLASS,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_H,
  BPF_IMM,
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
  BPF_LD,
  BPF_LDX,
  BPF_LOAD_ACQ,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MODE,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OP,
  BPF_OR,
  BPF_RSH,
  BPF_SIZE,
  BPF_SRC,
  BPF_ST,
  BPF_STORE_REL,
  BPF_SUB,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
} from './opcodes.js';

export interface FormatOptions {
  /**
   * Print 8/16/32-bit loads, stores and atomics with w registers, as
   * `llvm-objdump --mattr=+alu32` does. Default false, as plain `llvm-objdump -d`.
   */
  alu32?: boolean;
}

export interface FormatInstructionOptions extends FormatOptions {
  /** The jump target's name to append as ` <name>`, as objdump does for jumps. */
  target?: string;
}

export interface DisassembleOptions extends FormatOptions, ByteOrderOptions {
  /** Print the instruction bytes between slot number and text, as objdump does by default. Default false. */
  rawBytes?: boolean;
  /** Print `; <source line>` before the first instruction of each line that has `source.text`. Default true. */
  source?: boolean;
  /**
   * A name for the start of the code when no instruction symbol is there,
   * as objdump names a section without a symbol at its start (e.g. '.text').
   */
  section?: string;
}

export interface DisassembledLine {
  /** Index of the instruction in the array. */
  index: number;
  /** Slot number, as the left column of objdump. */
  slot: number;
  instruction: Instruction;
  /** The instruction's text, including ` <target>` of a jump. */
  text: string;
  /** The name objdump gives a jump target: `label` or `label+0x18`. */
  target?: string;
}

const UNKNOWN = '<unknown>';

/** The text of one instruction, e.g. `r1 = *(u32 *)(r1 + 0x0)`, or `<unknown>`. */
export function formatInstruction(insn: Instruction, options: FormatInstructionOptions = {}): string {
  const text = instructionText(insn, options.alu32 ?? false);
  if (text === undefined) return UNKNOWN;
  return options.target !== undefined && isJump(insn) ? `${text} <${options.target}>` : text;
}

/** Every instruction with its slot, text and jump target name. */
export function disassembleLines(
  insns: readonly Instruction[],
  options: FormatOptions & Pick<DisassembleOptions, 'section'> = {},
): DisassembledLine[] {
  const slots = slotOffsets(insns);
  const symbols = symbolTable(insns, slots, options.section);
  return insns.map((instruction, index) => {
    const slot = slots[index]!;
    const target = isJump(instruction) ? targetName(symbols, slot + 1 + jumpDelta(instruction)) : undefined;
    const text = formatInstruction(instruction, { alu32: options.alu32 ?? false, ...(target !== undefined && { target }) });
    return target === undefined ? { index, slot, instruction, text } : { index, slot, instruction, text, target };
  });
}

/**
 * The program as `llvm-objdump -d` prints a section after its
 * "Disassembly of section" line: a `<symbol>:` header before each instruction
 * that has a symbol, then `slot:<TAB>[bytes<TAB>]text` lines. Runs of
 * all-zero slots print as one `...` line, as objdump skips them.
 */
export function disassemble(insns: readonly Instruction[], options: DisassembleOptions = {}): string {
  const withSource = options.source ?? true;
  const out: string[] = [];
  let inZeros = false;
  let lastSource: string | undefined;
  const row = (slot: number, bytes: Uint8Array, text: string): void => {
    if (bytes.every((b) => b === 0)) {
      if (!inZeros) out.push('\t\t...');
      inZeros = true;
      return;
    }
    inZeros = false;
    const raw = options.rawBytes ? `${hexBytes(bytes)}\t` : '';
    out.push(`${String(slot).padStart(8)}:\t${raw}${text}`);
  };
  if (options.section !== undefined && insns.length > 0 && insns[0]!.symbol === undefined) {
    out.push(`${address(0)} <${options.section}>:`);
  }
  for (const line of disassembleLines(insns, options)) {
    const insn = line.instruction;
    if (insn.symbol !== undefined) {
      if (out.length > 0) out.push('');
      out.push(`${address(line.slot)} <${insn.symbol}>:`);
      inZeros = false;
    }
    if (withSource && insn.source?.text !== undefined) {
      const key = `${insn.source.file ?? ''}:${insn.source.line ?? ''}:${insn.source.text}`;
      if (key !== lastSource) out.push(`; ${insn.source.text.replace(/\n+$/, '')}`);
      lastSource = key;
    }
    const bytes = encodeInstruction(insn, options);
    if (isLdImm64(insn) && line.text === UNKNOWN) {
      // objdump steps over an undecodable first slot alone and reads the second one on its own.
      const second: Instruction = { opcode: 0, dst: 0, src: 0, off: 0, imm: insn.imm2 ?? 0 };
      row(line.slot, bytes.subarray(0, 8), UNKNOWN);
      row(line.slot + 1, bytes.subarray(8), formatInstruction(second, options));
    } else {
      row(line.slot, bytes, line.text);
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function address(slot: number): string {
  return (slot * 8).toString(16).padStart(16, '0');
}

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

interface SymbolEntry {
  slot: number;
  name: string;
}

function symbolTable(insns: readonly Instruction[], slots: readonly number[], section: string | undefined): SymbolEntry[] {
  const table: SymbolEntry[] = [];
  if (section !== undefined && (insns.length === 0 || insns[0]!.symbol === undefined)) table.push({ slot: 0, name: section });
  insns.forEach((insn, i) => {
    if (insn.symbol !== undefined) table.push({ slot: slots[i]!, name: insn.symbol });
  });
  return table;
}

function jumpDelta(insn: Instruction): number {
  return insn.opcode === (BPF_JMP32 | BPF_JA) ? insn.imm | 0 : insn.off;
}

/**
 * objdump names a target by the last symbol at or below its address,
 * addresses being unsigned 64-bit, so a target before the start wraps around
 * and falls to the last symbol.
 */
function targetName(symbols: readonly SymbolEntry[], targetSlot: number): string | undefined {
  if (symbols.length === 0) return undefined;
  let found: SymbolEntry | undefined;
  if (targetSlot < 0) {
    found = symbols[symbols.length - 1];
  } else {
    let lo = 0;
    let hi = symbols.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (symbols[mid]!.slot <= targetSlot) lo = mid + 1;
      else hi = mid;
    }
    found = lo > 0 ? symbols[lo - 1] : undefined;
  }
  if (found === undefined) return undefined;
  const delta = BigInt.asUintN(64, BigInt(targetSlot - found.slot) * 8n);
  return delta === 0n ? found.name : `${found.name}+0x${delta.toString(16)}`;
}

/** A value in llvm's hex form: 0x1f, -0x1f. */
function hex(v: number | bigint): string {
  return v < 0 ? `-0x${(-BigInt(v)).toString(16)}` : `0x${v.toString(16)}`;
}

/** A jump offset: +0x3, -0x1. */
function signedOffset(v: number): string {
  return v >= 0 ? `+${hex(v)}` : hex(v);
}

/** A memory operand: r1 + 0x8, r10 - 0x8. */
function memory(base: string, off: number): string {
  return off >= 0 ? `${base} + ${hex(off)}` : `${base} - ${hex(-off)}`;
}

const SIZE_NAMES: Readonly<Record<number, string>> = { [BPF_B]: '8', [BPF_H]: '16', [BPF_W]: '32', [BPF_DW]: '64' };

const ALU_SYMBOLS: Readonly<Record<number, string>> = {
  [BPF_ADD]: '+=',
  [BPF_SUB]: '-=',
  [BPF_MUL]: '*=',
  [BPF_DIV]: '/=',
  [BPF_OR]: '|=',
  [BPF_AND]: '&=',
  [BPF_LSH]: '<<=',
  [BPF_RSH]: '>>=',
  [BPF_MOD]: '%=',
  [BPF_XOR]: '^=',
  [BPF_ARSH]: 's>>=',
};

const JUMP_SYMBOLS: Readonly<Record<number, string>> = {
  [BPF_JEQ]: '==',
  [BPF_JGT]: '>',
  [BPF_JGE]: '>=',
  [BPF_JSET]: '&',
  [BPF_JNE]: '!=',
  [BPF_JSGT]: 's>',
  [BPF_JSGE]: 's>=',
  [BPF_JLT]: '<',
  [BPF_JLE]: '<=',
  [BPF_JSLT]: 's<',
  [BPF_JSLE]: 's<=',
};

const ATOMIC_NAMES: Readonly<Record<number, [symbol: string, name: string]>> = {
  [BPF_ADD]: ['+', 'add'],
  [BPF_OR]: ['|', 'or'],
  [BPF_AND]: ['&', 'and'],
  [BPF_XOR]: ['^', 'xor'],
};

/** Thrown inside instructionText when a field has no llvm spelling. */
class NoSpelling {}

/** llvm names registers r0..r11 (r11 being its internal register); 12..15 do not decode. */
function r(n: number): string {
  if (n > 11) throw new NoSpelling();
  return `r${n}`;
}

function w(n: number): string {
  if (n > 11) throw new NoSpelling();
  return `w${n}`;
}

function instructionText(insn: Instruction, alu32: boolean): string | undefined {
  try {
    switch (BPF_CLASS(insn.opcode)) {
      case BPF_ALU:
      case BPF_ALU64:
        return aluText(insn);
      case BPF_JMP:
      case BPF_JMP32:
        return jumpText(insn);
      case BPF_LD:
        return ldText(insn);
      case BPF_LDX:
        return ldxText(insn, alu32);
      case BPF_ST:
        return stText(insn);
      default:
        return stxText(insn, alu32);
    }
  } catch (e) {
    if (e instanceof NoSpelling) return undefined;
    throw e;
  }
}

function aluText(insn: Instruction): string | undefined {
  const is64 = BPF_CLASS(insn.opcode) === BPF_ALU64;
  const fromReg = BPF_SRC(insn.opcode) === BPF_X;
  const op = BPF_OP(insn.opcode);
  const reg = is64 ? r : w;
  switch (op) {
    case BPF_END: {
      if (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) return undefined;
      if (is64) return fromReg ? undefined : `${r(insn.dst)} = bswap${insn.imm} ${r(insn.dst)}`;
      return `${r(insn.dst)} = ${fromReg ? 'be' : 'le'}${insn.imm} ${r(insn.dst)}`;
    }
    case BPF_NEG:
      return fromReg ? undefined : `${reg(insn.dst)} = -${reg(insn.dst)}`;
    case BPF_MOV:
      if (!fromReg) return insn.off === 0 ? `${reg(insn.dst)} = ${hex(insn.imm | 0)}` : undefined;
      if (insn.off === 0) return `${reg(insn.dst)} = ${reg(insn.src)}`;
      if (insn.off === 8 || insn.off === 16 || (is64 && insn.off === 32)) {
        return `${reg(insn.dst)} = (s${insn.off})${reg(insn.src)}`;
      }
      if (is64 && insn.off === 1) {
        return `${r(insn.dst)} = addr_space_cast(${r(insn.src)}, ${hex(insn.imm >>> 16)}, ${hex(insn.imm & 0xffff)})`;
      }
      return undefined;
  }
  const symbol = ALU_SYMBOLS[op];
  if (symbol === undefined) return undefined;
  let prefix = '';
  if (insn.off === 1 && (op === BPF_DIV || op === BPF_MOD)) prefix = 's';
  else if (insn.off !== 0) return undefined;
  return `${reg(insn.dst)} ${prefix}${symbol} ${fromReg ? reg(insn.src) : hex(insn.imm | 0)}`;
}

function jumpText(insn: Instruction): string | undefined {
  const is32 = BPF_CLASS(insn.opcode) === BPF_JMP32;
  const fromReg = BPF_SRC(insn.opcode) === BPF_X;
  const op = BPF_OP(insn.opcode);
  switch (op) {
    case BPF_JA:
      if (fromReg) return undefined;
      return is32 ? `gotol ${signedOffset(insn.imm | 0)}` : `goto ${signedOffset(insn.off)}`;
    case BPF_CALL:
      if (is32) return undefined;
      return fromReg ? `callx ${r(insn.dst)}` : `call ${hex(insn.imm | 0)}`;
    case BPF_EXIT:
      return !is32 && !fromReg && insn.imm === 0 ? 'exit' : undefined;
    case BPF_JCOND:
      return !is32 && !fromReg ? `may_goto ${signedOffset(insn.off)}` : undefined;
  }
  const symbol = JUMP_SYMBOLS[op];
  if (symbol === undefined) return undefined;
  const reg = is32 ? w : r;
  return `if ${reg(insn.dst)} ${symbol} ${fromReg ? reg(insn.src) : hex(insn.imm | 0)} goto ${signedOffset(insn.off)}`;
}

function ldText(insn: Instruction): string | undefined {
  const size = BPF_SIZE(insn.opcode);
  switch (BPF_MODE(insn.opcode)) {
    case BPF_IMM:
      if (size !== BPF_DW || insn.off !== 0) return undefined;
      if (insn.src === 0) return `${r(insn.dst)} = ${hex(imm64(insn))} ll`;
      return `ld_pseudo\t${r(insn.dst)}, ${hex(insn.src)}, ${hex(insn.imm >>> 0)}`;
    case BPF_ABS:
      return size === BPF_DW ? undefined : `r0 = *(u${SIZE_NAMES[size]} *)skb[${hex(insn.imm | 0)}]`;
    case BPF_IND:
      return size === BPF_DW ? undefined : `r0 = *(u${SIZE_NAMES[size]} *)skb[${r(insn.src)}]`;
    default:
      return undefined;
  }
}

function ldxText(insn: Instruction, alu32: boolean): string | undefined {
  const size = BPF_SIZE(insn.opcode);
  const bits = SIZE_NAMES[size]!;
  const from = memory(r(insn.src), insn.off);
  switch (BPF_MODE(insn.opcode)) {
    case BPF_MEM: {
      const dst = alu32 && size !== BPF_DW ? w(insn.dst) : r(insn.dst);
      return `${dst} = *(u${bits} *)(${from})`;
    }
    case BPF_MEMSX:
      return size === BPF_DW ? undefined : `${r(insn.dst)} = *(s${bits} *)(${from})`;
    default:
      return undefined;
  }
}

function stText(insn: Instruction): string | undefined {
  if (BPF_MODE(insn.opcode) !== BPF_MEM) return undefined;
  const bits = SIZE_NAMES[BPF_SIZE(insn.opcode)]!;
  return `*(u${bits} *)(${memory(r(insn.dst), insn.off)}) = ${hex(insn.imm | 0)}`;
}

function stxText(insn: Instruction, alu32: boolean): string | undefined {
  const size = BPF_SIZE(insn.opcode);
  const bits = SIZE_NAMES[size]!;
  const to = memory(r(insn.dst), insn.off);
  const mode = BPF_MODE(insn.opcode);
  if (mode === BPF_MEM) {
    const src = alu32 && size !== BPF_DW ? w(insn.src) : r(insn.src);
    return `*(u${bits} *)(${to}) = ${src}`;
  }
  if (mode !== BPF_ATOMIC) return undefined;
  const is64 = size === BPF_DW;
  const reg = is64 ? r : w;
  if (insn.imm === BPF_LOAD_ACQ) return `${reg(insn.dst)} = load_acquire((u${bits} *)(${memory(r(insn.src), insn.off)}))`;
  if (insn.imm === BPF_STORE_REL) return `store_release((u${bits} *)(${to}), ${reg(insn.src)})`;
  if (size !== BPF_W && size !== BPF_DW) return undefined;
  switch (insn.imm) {
    case BPF_XCHG:
      return is64 ? `${r(insn.src)} = xchg_64(${to}, ${r(insn.src)})` : `${w(insn.src)} = xchg32_32(${to}, ${w(insn.src)})`;
    case BPF_CMPXCHG:
      return is64 ? `r0 = cmpxchg_64(${to}, r0, ${r(insn.src)})` : `w0 = cmpxchg32_32(${to}, w0, ${w(insn.src)})`;
  }
  const names = ATOMIC_NAMES[(insn.imm | 0) & ~BPF_FETCH];
  if (names === undefined) return undefined;
  const [symbol, name] = names;
  if (insn.imm & BPF_FETCH) {
    return `${reg(insn.src)} = atomic_fetch_${name}((u${bits} *)(${to}), ${reg(insn.src)})`;
  }
  // Without alu32, llvm 19 knows the 32-bit form of atomic add alone, and spells it with an r register.
  const value = is64 || (!alu32 && insn.imm === BPF_ADD) ? r(insn.src) : w(insn.src);
  return `lock *(u${bits} *)(${to}) ${symbol}= ${value}`;
}
