// `tsbpf object dump`: one program of an object disassembled, with its C source lines.
import { disassembleLines, BPF_LD_IMM64, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, isFunctionCall, isFunctionReference, isKfuncCall } from '../../asm/index.js';
import { coreReloKindName } from '../../btf/ext.js';
import { CollectionSpec, type ProgramSpec } from '../../object/index.js';
import { parse, UsageError, writeJson, type CommandIO } from '../framework/index.js';
import { file, OUTPUT } from './shared.js';

function referenceNote(p: ProgramSpec, i: number): string | undefined {
  const insn = p.instructions[i]!;
  const notes: string[] = [];
  if (insn.reference !== undefined) {
    if (insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_MAP_FD) notes.push(`map ${insn.reference}`);
    else if (insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_MAP_VALUE) notes.push(`${insn.reference}+${insn.imm2 ?? 0}`);
    else if (insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_BTF_ID) notes.push(`ksym ${insn.reference}`);
    else if (isKfuncCall(insn)) notes.push(`kfunc ${insn.reference}`);
    else if (isFunctionCall(insn) || isFunctionReference(insn)) notes.push(`<${insn.reference}>`);
    else notes.push(insn.reference);
  }
  if (insn.core !== undefined) notes.push(`CO-RE ${coreReloKindName(insn.core.kind)} [${insn.core.typeId}] ${insn.core.accessString}`);
  return notes.length > 0 ? notes.join(', ') : undefined;
}

/** Disassembly with source lines interleaved, in `llvm-objdump -S` layout. */
export function dumpProgram(p: ProgramSpec): string {
  const out: string[] = [];
  let last: string | undefined;
  for (const line of disassembleLines(p.instructions)) {
    const insn = line.instruction;
    if (insn.symbol !== undefined) {
      if (out.length > 0) out.push('');
      out.push(`${(line.slot * 8).toString(16).padStart(16, '0')} <${insn.symbol}>:`);
    }
    const src = insn.source;
    if (src?.text !== undefined) {
      const key = `${src.file}:${src.line}`;
      if (key !== last) {
        out.push(`; ${src.text}`);
        last = key;
      }
    }
    const note = referenceNote(p, line.index);
    out.push(`${String(line.slot).padStart(8)}:\t${line.text}${note !== undefined ? `\t; ${note}` : ''}`);
  }
  return `${out.join('\n')}\n`;
}

export async function dump(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object dump', argv, { ...OUTPUT, program: { type: 'string' } });
  const f = file('dump', positionals);
  const name = values.program;
  if (name === undefined) throw new UsageError('object dump: --program NAME is required');
  const spec = CollectionSpec.fromFile(f);
  const p = spec.programs[name];
  if (p === undefined) throw new UsageError(`object dump: ${f} has no program ${name} (it has ${Object.keys(spec.programs).join(', ')})`);
  if (values.json || values.pretty) {
    const lines = disassembleLines(p.instructions).map((l) => ({
      slot: l.slot,
      ...(l.instruction.symbol !== undefined ? { symbol: l.instruction.symbol } : {}),
      disasm: l.text,
      ...(l.instruction.source?.line !== undefined ? { source: { file: l.instruction.source.file, line: l.instruction.source.line, text: l.instruction.source.text } } : {}),
      ...(referenceNote(p, l.index) !== undefined ? { reference: referenceNote(p, l.index) } : {}),
    }));
    writeJson(io.stdout, { program: name, section: p.sectionName, instructions: lines }, values.pretty === true);
    return 0;
  }
  io.stdout.write(`${f}:\tfile format elf64-bpf\n\nDisassembly of section ${p.sectionName}:\n\n`);
  io.stdout.write(dumpProgram(p));
  return 0;
}

/** Targets the command line gives, and the option that gives each. */
