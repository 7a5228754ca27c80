import { AsmError } from './errors.js';
import { programSlots, type Instruction } from './instruction.js';
import { BPF_INSN_SIZE, BPF_LD_IMM64 } from './opcodes.js';

export type ByteOrder = 'little' | 'big';

export interface ByteOrderOptions {
  /** Byte order of the target; eBPF objects for x86-64 and arm64 are little endian. Default 'little'. */
  byteOrder?: ByteOrder;
}

/**
 * Encodes instructions as the kernel reads them: 8 bytes per slot, 16 for a
 * ld_imm64. Metadata (symbol, reference, source) is not encoded.
 */
export function encode(insns: readonly Instruction[], options: ByteOrderOptions = {}): Uint8Array {
  const little = (options.byteOrder ?? 'little') === 'little';
  const out = new Uint8Array(programSlots(insns) * BPF_INSN_SIZE);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (let i = 0; i < insns.length; i++) {
    pos = encodeAt(insns[i]!, i, view, pos, little);
  }
  return out;
}

/** Encodes one instruction into a fresh buffer of 8 or 16 bytes. */
export function encodeInstruction(insn: Instruction, options: ByteOrderOptions = {}): Uint8Array {
  return encode([insn], options);
}

function encodeAt(insn: Instruction, index: number, view: DataView, pos: number, little: boolean): number {
  checkInt(insn.opcode, 0, 0xff, 'opcode', index);
  checkInt(insn.dst, 0, 15, 'dst', index);
  checkInt(insn.src, 0, 15, 'src', index);
  checkInt(insn.off, -0x8000, 0x7fff, 'off', index);
  checkInt(insn.imm, -0x80000000, 0xffffffff, 'imm', index);
  view.setUint8(pos, insn.opcode);
  view.setUint8(pos + 1, little ? (insn.src << 4) | insn.dst : (insn.dst << 4) | insn.src);
  view.setInt16(pos + 2, insn.off, little);
  view.setUint32(pos + 4, insn.imm >>> 0, little);
  if (insn.opcode !== BPF_LD_IMM64) return pos + BPF_INSN_SIZE;
  const imm2 = insn.imm2 ?? 0;
  checkInt(imm2, -0x80000000, 0xffffffff, 'imm2', index);
  view.setUint32(pos + 12, imm2 >>> 0, little);
  return pos + 2 * BPF_INSN_SIZE;
}

function checkInt(value: number, min: number, max: number, field: string, index: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AsmError('OUT_OF_RANGE', `instruction ${index}: ${field} ${value} is not an integer in ${min}..${max}`, {
      index,
    });
  }
}

/**
 * Decodes bytes into instructions, one per ld_imm64 pair. Fields of the
 * second ld_imm64 slot other than its imm (zero in any valid program) are dropped.
 */
export function decode(bytes: Uint8Array, options: ByteOrderOptions = {}): Instruction[] {
  const little = (options.byteOrder ?? 'little') === 'little';
  if (bytes.length % BPF_INSN_SIZE !== 0) {
    throw new AsmError('TRUNCATED', `${bytes.length} bytes are not a whole number of ${BPF_INSN_SIZE}-byte instructions`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  for (let pos = 0; pos < bytes.length; pos += BPF_INSN_SIZE) {
    const opcode = view.getUint8(pos);
    const regs = view.getUint8(pos + 1);
    const insn: Instruction = {
      opcode,
      dst: little ? regs & 0x0f : regs >> 4,
      src: little ? regs >> 4 : regs & 0x0f,
      off: view.getInt16(pos + 2, little),
      imm: view.getInt32(pos + 4, little),
    };
    if (opcode === BPF_LD_IMM64) {
      if (pos + 2 * BPF_INSN_SIZE > bytes.length) {
        throw new AsmError('TRUNCATED', `ld_imm64 at slot ${pos / BPF_INSN_SIZE} lacks its second slot`, {
          index: out.length,
        });
      }
      pos += BPF_INSN_SIZE;
      insn.imm2 = view.getInt32(pos + 4, little);
    }
    out.push(insn);
  }
  return out;
}
