// What loading an object's programs needs beyond Program.load: attach targets of extensions,
// func_info and line_info records, which programs need BPF trampolines.
import type { Btf } from '../btf/btf.js';
import { parseBtf } from '../btf/parse.js';
import { FD } from '../sys/fd.js';
import { getFdById } from '../sys/attrs.js';
import { btfInfo as btfInfoOf, progInfo } from '../sys/info.js';
import { AttachType, Cmd, ProgramType } from '../sys/types.js';
import { BPF_LD_IMM64 } from '../asm/opcodes.js';
import type { FdLike } from '../program.js';
import { ObjectError } from '../object/errors.js';
import type { ProgramInstruction, ProgramSpec } from '../object/types.js';

/** Programs that the kernel loads only with BPF trampolines (ftrace direct calls). */
export function needsTrampoline(ps: ProgramSpec): boolean {
  if (ps.type === ProgramType.LSM) return true;
  return (
    ps.type === ProgramType.TRACING &&
    (ps.expectedAttachType === AttachType.TRACE_FENTRY || ps.expectedAttachType === AttachType.TRACE_FEXIT || ps.expectedAttachType === AttachType.MODIFY_RETURN)
  );
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** `module:name` keeps its module; the prefix goes on the name. */
export function prefixName(prefix: string, target: string): string {
  const colon = target.indexOf(':');
  return colon > 0 ? `${target.slice(0, colon + 1)}${prefix}${target.slice(colon + 1)}` : `${prefix}${target}`;
}

/** The BTF id of function `fn` in the program an extension program replaces it in. */
export function extensionTarget(prog: FdLike, fn: string, ctx: { file?: string; program?: string }): number {
  const info = progInfo(rawFdOf(prog));
  if (info.btfId === 0) throw new ObjectError('the program to extend has no BTF', ctx, 'EINVAL');
  const fd = getFdById(Cmd.BTF_GET_FD_BY_ID, info.btfId);
  let btf: Btf;
  try {
    const data = btfInfoOf(fd.value, true).data;
    if (data === undefined) throw new ObjectError('cannot read the BTF of the program to extend', ctx, 'EIO');
    btf = parseBtf(data, { section: 'program BTF' });
  } finally {
    fd.close();
  }
  const id = btf.typesByName(fn, 'FUNC')[0]?.id;
  if (id === undefined) throw new ObjectError(`function ${fn} is not in the BTF of the program to extend`, ctx, 'ENOENT');
  return id;
}

function rawFdOf(x: FdLike): number {
  if (typeof x === 'number') return x;
  if (x instanceof FD) return x.value;
  return rawFdOf(x.fd);
}

/** bpf_func_info and bpf_line_info records from the instructions' metadata. */
export function btfRecords(insns: readonly ProgramInstruction[]): { funcInfo: Uint8Array; lineInfo: Uint8Array } {
  const funcs: number[] = [];
  const lines: number[] = [];
  let slot = 0;
  let haveLines = false;
  for (const insn of insns) if (insn.line !== undefined) haveLines = true;
  let pendingStart = -1;
  for (const insn of insns) {
    if (insn.func !== undefined) {
      funcs.push(slot, insn.func);
      pendingStart = slot;
    }
    if (insn.line !== undefined) {
      if (pendingStart >= 0 && pendingStart < slot) lines.push(pendingStart, insn.line.fileNameOff, insn.line.lineOff, insn.line.lineCol);
      lines.push(slot, insn.line.fileNameOff, insn.line.lineOff, insn.line.lineCol);
      pendingStart = -1;
    }
    slot += insn.opcode === BPF_LD_IMM64 ? 2 : 1;
  }
  const toBytes = (words: number[]): Uint8Array => {
    const out = new Uint8Array(words.length * 4);
    const v = new DataView(out.buffer);
    words.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
    return out;
  };
  return { funcInfo: toBytes(funcs), lineInfo: haveLines ? toBytes(lines) : new Uint8Array(0) };
}
