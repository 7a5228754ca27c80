// Disassembly of a loaded program's translated instructions, with what the kernel put in them
// named: helper calls (the kernel stores the helper's address relative to __bpf_call_base) and
// map references (ids where the loader had fds).
import { readFileSync } from 'node:fs';
import {
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  decode,
  disassembleLines,
  encodeInstruction,
  helperName,
  isHelperCall,
  isLdImm64,
  type Instruction,
} from '../asm/index.js';

export interface XlatedLine {
  /** The slot (8-byte unit) where the instruction starts. */
  slot: number;
  instruction: Instruction;
  /** The instruction's encoding, as hex. */
  code: string;
  text: string;
}

/** Resolves kernel addresses to symbol names from /proc/kallsyms (all zero without privilege). */
class KernelSymbols {
  #byAddress?: Map<bigint, string>;
  #callBase?: bigint;

  #load(): void {
    if (this.#byAddress) return;
    this.#byAddress = new Map();
    let text = '';
    try {
      text = readFileSync('/proc/kallsyms', 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      const [addr, kind, name] = line.split(/\s+/, 3);
      if (addr === undefined || name === undefined || kind === undefined || !/^[tTwW]$/.test(kind)) continue;
      const a = BigInt(`0x${addr}`);
      if (a === 0n) continue;
      if (name === '__bpf_call_base') this.#callBase = a;
      if (!this.#byAddress.has(a)) this.#byAddress.set(a, name);
    }
  }

  /** The function a translated helper call's immediate points to, if the kernel lets us see. */
  helper(imm: number): string | undefined {
    this.#load();
    if (this.#callBase === undefined) return undefined;
    return this.#byAddress?.get(this.#callBase + BigInt(imm | 0));
  }
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The instructions of BPF_OBJ_GET_INFO_BY_FD's xlated_prog_insns as text: helper calls as
 * `call bpf_map_lookup_elem#<imm>`, map loads as `r1 = map[id:5]` / `r1 = map[id:5][0]+8`.
 */
export function disassembleXlated(xlated: Uint8Array): XlatedLine[] {
  const insns = decode(xlated);
  const symbols = new KernelSymbols();
  return disassembleLines(insns).map((line) => {
    const insn = line.instruction;
    let text = line.text;
    if (isHelperCall(insn)) {
      const name = symbols.helper(insn.imm) ?? (helperName(insn.imm) ? `bpf_${helperName(insn.imm)}` : undefined);
      text = name ? `call ${name}#${insn.imm | 0}` : `call #${insn.imm | 0}`;
    } else if (isLdImm64(insn) && insn.src === BPF_PSEUDO_MAP_FD) {
      text = `r${insn.dst} = map[id:${insn.imm >>> 0}]`;
    } else if (isLdImm64(insn) && insn.src === BPF_PSEUDO_MAP_VALUE) {
      const off = (insn.imm2 ?? 0) >>> 0;
      text = `r${insn.dst} = map[id:${insn.imm >>> 0}][0]${off ? `+${off}` : ''}`;
    }
    return { slot: line.slot, instruction: insn, code: toHex(encodeInstruction(insn)), text };
  });
}
