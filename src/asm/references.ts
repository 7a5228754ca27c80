import { AsmError } from './errors.js';
import { isFunctionCall, isFunctionReference, isJump, slotOffsets, type Instruction } from './instruction.js';
import { BPF_JA, BPF_JMP32 } from './opcodes.js';

export interface ResolveOptions {
  /**
   * Leave a bpf-to-bpf call or BPF_PSEUDO_FUNC load whose function is not among
   * the instructions as it is, for a linker that appends the function later.
   * Jumps must always resolve. Default false.
   */
  allowUnresolvedCalls?: boolean;
}

/**
 * Fills in the relative offsets of jumps (`off`, or `imm` for gotol), bpf-to-bpf
 * calls and BPF_PSEUDO_FUNC loads whose `reference` names the `symbol` of
 * another instruction in the same array. Offsets count 8-byte slots from the
 * slot after the referring instruction, as the kernel does.
 *
 * Other references (maps, kernel variables, kfuncs) are left for the loader.
 * Returns new instruction objects; the input is not changed.
 */
export function resolveReferences(insns: readonly Instruction[], options: ResolveOptions = {}): Instruction[] {
  const symbols = new Map<string, number>();
  insns.forEach((insn, index) => {
    if (insn.symbol === undefined) return;
    if (symbols.has(insn.symbol)) {
      const first = symbols.get(insn.symbol)!;
      throw new AsmError('DUPLICATE_LABEL', `symbol "${insn.symbol}" marks instructions ${first} and ${index}`, {
        index,
        label: insn.symbol,
      });
    }
    symbols.set(insn.symbol, index);
  });
  return resolveWithLabels(insns, symbols, options);
}

/** resolveReferences with the label table given: label name -> instruction index. */
export function resolveWithLabels(
  insns: readonly Instruction[],
  labels: ReadonlyMap<string, number>,
  options: ResolveOptions = {},
): Instruction[] {
  const slots = slotOffsets(insns);
  return insns.map((insn, index) => {
    const out = { ...insn };
    const name = insn.reference;
    if (name === undefined) return out;
    const jump = isJump(insn);
    if (!jump && !isFunctionCall(insn) && !isFunctionReference(insn)) return out;
    const target = labels.get(name);
    if (target === undefined) {
      if (!jump && options.allowUnresolvedCalls) return out;
      const what = jump ? 'jump target' : 'function';
      throw new AsmError('UNKNOWN_LABEL', `instruction ${index}: ${what} "${name}" is not defined`, { index, label: name });
    }
    const delta = slots[target]! - slots[index]! - 1;
    if (jump && insn.opcode !== (BPF_JMP32 | BPF_JA)) {
      if (delta < -0x8000 || delta > 0x7fff) {
        throw new AsmError(
          'OUT_OF_RANGE',
          `instruction ${index}: jump to "${name}" spans ${delta} slots, beyond a 16-bit offset (use gotol)`,
          { index, label: name },
        );
      }
      out.off = delta;
    } else {
      out.imm = delta;
    }
    return out;
  });
}
