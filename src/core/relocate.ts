// Applying CO-RE relocations: find the local access in each target candidate, compute the value
// the relocation asks for, and patch the instruction (or poison it when nothing matches).
import type { Instruction } from '../asm/instruction.js';
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_B,
  BPF_CALL,
  BPF_CLASS,
  BPF_DW,
  BPF_H,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_LD_IMM64,
  BPF_LDX,
  BPF_MODE,
  BPF_SRC,
  BPF_ST,
  BPF_STX,
  BPF_W,
  sizeBytes,
} from '../asm/opcodes.js';
import type { Btf } from '../btf/btf.js';
import { CoreReloKind, coreReloKindName } from '../btf/ext.js';
import { sizeOf } from '../btf/query.js';
import type { BtfType } from '../btf/types.js';
import { isAnyEnum, isComposite, skipModsAndTypedefs, typesCompatible, typesMatch } from './compat.js';
import { CoreError } from './errors.js';
import {
  describeSpec,
  describeType,
  isEnumKind,
  isFieldKind,
  matchEnumSpec,
  matchFieldSpec,
  parseLocalSpec,
  SpecError,
  type AccessSpec,
} from './spec.js';
import type { Candidate, CoreTargets } from './targets.js';

/** A CO-RE relocation of one instruction, as `.BTF.ext` records it. */
export interface CoreRelocation {
  /** The local (object BTF) type the access starts from. */
  readonly typeId: number;
  /** Colon-separated indices, e.g. `0:1:2`. */
  readonly accessString: string;
  /** A CoreReloKind value. */
  readonly kind: number;
}

/** The helper id libbpf puts in an instruction whose relocation could not be resolved. */
export const POISON_HELPER_ID = 0xbad2310;

/** What became of one relocation. */
export interface CoreOutcome {
  readonly kind: number;
  /** The local access, e.g. `struct task_struct.pid`. */
  readonly local: string;
  /** Where it was found, e.g. `vmlinux [114] struct task_struct`; undefined when it was not. */
  readonly target?: string;
  readonly value?: bigint;
  readonly poisoned: boolean;
  /** Why the instruction was poisoned. */
  readonly reason?: string;
}

interface CalcResult {
  origVal: bigint;
  newVal: bigint;
  poison: boolean;
  validate: boolean;
  origSize: number;
  newSize: number;
  origType: BtfType | undefined;
  newType: BtfType | undefined;
  failMemSize: boolean;
}

class Poison extends Error {}

const U32 = 0xffffffffn;

/** The value a field relocation asks for, in the given spec; throws Poison without a spec. */
function fieldValue(kind: number, spec: AccessSpec | undefined, withSize: { size: number; type: BtfType | undefined; validate: boolean }): bigint {
  if (kind === CoreReloKind.FIELD_EXISTS) return spec ? 1n : 0n;
  if (spec === undefined) throw new Poison('the field does not exist in the target');
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1]!;
  withSize.validate = true;
  if (acc.name === undefined) {
    const size = sizeOf(btf, acc.typeId);
    if (kind === CoreReloKind.FIELD_BYTE_OFFSET) {
      withSize.size = size;
      withSize.type = skipModsAndTypedefs(btf, acc.typeId);
      return BigInt(spec.bitOffset / 8);
    }
    if (kind === CoreReloKind.FIELD_BYTE_SIZE) return BigInt(size);
    throw new SpecError(`${coreReloKindName(kind)} cannot apply to an array element`);
  }
  const holder = btf.type(acc.typeId);
  if (!isComposite(holder)) throw new SpecError('field accessor on a type without members');
  const m = holder.members[acc.index]!;
  const mt = skipModsAndTypedefs(btf, m.type);
  const bitOff = spec.bitOffset;
  let bitSize = m.bitfieldSize;
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOff: number;
  if (bitfield) {
    if (!('size' in mt)) throw new SpecError('bitfield of a type without a size');
    byteSize = mt.size;
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new SpecError('bitfield cannot be read with one 64-bit load');
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = sizeOf(btf, m.type);
    byteOff = bitOff / 8;
    bitSize = byteSize * 8;
  }
  withSize.validate = !bitfield;
  switch (kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET:
      if (!bitfield) {
        withSize.size = byteSize;
        withSize.type = mt;
      }
      return BigInt(byteOff);
    case CoreReloKind.FIELD_BYTE_SIZE:
      return BigInt(byteSize);
    case CoreReloKind.FIELD_SIGNED:
      withSize.validate = true;
      return (isAnyEnum(mt) && mt.signed) || (mt.kind === 'INT' && mt.encoding === 'SIGNED') ? 1n : 0n;
    case CoreReloKind.FIELD_LSHIFT_U64:
      return btf.littleEndian ? BigInt(64 - (bitOff + bitSize - byteOff * 8)) : BigInt((8 - byteSize) * 8 + (bitOff - byteOff * 8));
    case CoreReloKind.FIELD_RSHIFT_U64:
      withSize.validate = true;
      return BigInt(64 - bitSize);
    default:
      throw new SpecError(`unknown relocation kind ${kind}`);
  }
}

function typeValue(kind: number, spec: AccessSpec | undefined): bigint {
  if (spec === undefined) return 0n;
  switch (kind) {
    case CoreReloKind.TYPE_ID_TARGET:
    case CoreReloKind.TYPE_ID_LOCAL:
      return BigInt(spec.rootId);
    case CoreReloKind.TYPE_EXISTS:
    case CoreReloKind.TYPE_MATCHES:
      return 1n;
    case CoreReloKind.TYPE_SIZE:
      return BigInt(sizeOf(spec.btf, spec.rootId));
    default:
      throw new SpecError(`unknown relocation kind ${kind}`);
  }
}

function enumValue(kind: number, spec: AccessSpec | undefined): bigint {
  if (kind === CoreReloKind.ENUMVAL_EXISTS) return spec ? 1n : 0n;
  if (spec === undefined) throw new Poison('the enumerator does not exist in the target');
  const acc = spec.accessors[0]!;
  const t = spec.btf.type(acc.typeId);
  if (!isAnyEnum(t)) throw new SpecError('enumerator accessor on a type that is not an enum');
  return BigInt.asUintN(64, BigInt(t.values[acc.index]!.value));
}

function calculate(kind: number, local: AccessSpec, target: AccessSpec | undefined): CalcResult {
  const res: CalcResult = {
    origVal: 0n,
    newVal: 0n,
    poison: false,
    validate: true,
    origSize: 0,
    newSize: 0,
    origType: undefined,
    newType: undefined,
    failMemSize: false,
  };
  try {
    if (isFieldKind(kind)) {
      const o = { size: 0, type: undefined as BtfType | undefined, validate: true };
      res.origVal = fieldValue(kind, local, o);
      res.validate = o.validate;
      const n = { size: 0, type: undefined as BtfType | undefined, validate: true };
      res.newVal = fieldValue(kind, target, n);
      res.origSize = o.size;
      res.origType = o.type;
      res.newSize = n.size;
      res.newType = n.type;
      if (res.origSize !== res.newSize) {
        const ot = res.origType;
        const nt = res.newType;
        const bothPtr = ot?.kind === 'PTR' && nt?.kind === 'PTR';
        const bothUnsigned = ot?.kind === 'INT' && nt?.kind === 'INT' && ot.encoding !== 'SIGNED' && nt.encoding !== 'SIGNED';
        res.failMemSize = !bothPtr && !bothUnsigned;
      }
    } else if (isEnumKind(kind)) {
      res.origVal = enumValue(kind, local);
      res.newVal = enumValue(kind, target);
    } else {
      res.origVal = typeValue(kind, local);
      res.newVal = typeValue(kind, target);
    }
  } catch (err) {
    if (!(err instanceof Poison)) throw err;
    res.poison = true;
  }
  return res;
}

function matchCandidate(local: AccessSpec, kind: number, cand: Candidate): AccessSpec | undefined {
  const tb = cand.target.btf;
  if (isFieldKind(kind)) return matchFieldSpec(local, tb, cand.id);
  if (isEnumKind(kind)) return matchEnumSpec(local, tb, cand.id);
  const ok =
    kind === CoreReloKind.TYPE_MATCHES
      ? typesMatch(local.btf, local.rootId, tb, cand.id)
      : typesCompatible(local.btf, local.rootId, tb, cand.id);
  return ok ? { btf: tb, rootId: cand.id, accessors: [], raw: [0], bitOffset: 0 } : undefined;
}

/** The outcome of one relocation: the value to patch in, or a request to poison. */
export interface Resolution {
  readonly result: CalcResult;
  readonly outcome: CoreOutcome;
}

/** Resolves one relocation against the targets. */
export function resolveRelocation(relo: CoreRelocation, localBtf: Btf, targets: CoreTargets, candidateCache?: Map<number, Candidate[]>): Resolution {
  const kind = relo.kind;
  const kindName = coreReloKindName(kind);
  const localType = localBtf.type(relo.typeId);
  const local = parseLocalSpec(localBtf, relo.typeId, relo.accessString, kind);
  const localText = describeSpec(local, kind);
  if (kind === CoreReloKind.TYPE_ID_LOCAL) {
    const v = BigInt(relo.typeId);
    return {
      result: { origVal: v, newVal: v, poison: false, validate: false, origSize: 0, newSize: 0, origType: undefined, newType: undefined, failMemSize: false },
      outcome: { kind, local: localText, target: 'local', value: v, poisoned: false },
    };
  }
  if (localType.name === '') throw new SpecError(`${kindName} relocation of an anonymous ${describeType(localType)} cannot be resolved by name`);
  let cands = candidateCache?.get(relo.typeId);
  if (cands === undefined) {
    cands = targets.candidates(localType);
    candidateCache?.set(relo.typeId, cands);
  }
  let chosen: { spec: AccessSpec; res: CalcResult; cand: Candidate } | undefined;
  for (const cand of cands) {
    const spec = matchCandidate(local, kind, cand);
    if (spec === undefined) continue;
    const res = calculate(kind, local, spec);
    if (chosen === undefined) {
      chosen = { spec, res, cand };
      continue;
    }
    if (spec.bitOffset !== chosen.spec.bitOffset) {
      throw new SpecError(
        `candidates disagree about the field's offset: ${describeCand(chosen.cand)} at bit ${chosen.spec.bitOffset}, ${describeCand(cand)} at bit ${spec.bitOffset}`,
      );
    }
    if (res.poison !== chosen.res.poison || (!res.poison && res.newVal !== chosen.res.newVal)) {
      throw new SpecError(
        `candidates disagree: ${describeCand(chosen.cand)} gives ${chosen.res.poison ? 'no value' : chosen.res.newVal}, ${describeCand(cand)} gives ${res.poison ? 'no value' : res.newVal}`,
      );
    }
  }
  if (chosen === undefined) {
    const res = calculate(kind, local, undefined);
    return {
      result: res,
      outcome: {
        kind,
        local: localText,
        poisoned: res.poison,
        ...(res.poison ? { reason: `${localText} does not exist in the target BTF` } : { value: res.newVal }),
      },
    };
  }
  return {
    result: chosen.res,
    outcome: {
      kind,
      local: localText,
      target: describeCand(chosen.cand),
      poisoned: chosen.res.poison,
      ...(chosen.res.poison ? { reason: `${localText} does not exist in the target BTF` } : { value: chosen.res.newVal }),
    },
  };
}

function describeCand(c: Candidate): string {
  return `${c.target.name} [${c.id}] ${describeType(c.target.btf.type(c.id))}`;
}

function sizeCode(bytes: number): number {
  switch (bytes) {
    case 1:
      return BPF_B;
    case 2:
      return BPF_H;
    case 4:
      return BPF_W;
    case 8:
      return BPF_DW;
    default:
      return -1;
  }
}

/** The helper call that replaces an unresolvable instruction. */
export function poisonInstruction<T extends Instruction>(insn: T): T {
  const out = { ...insn, opcode: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER_ID };
  delete out.imm2;
  return out;
}

/**
 * Patches one instruction with a resolved relocation. Returns the replacement instructions:
 * one, or two poisoned slots for a ld_imm64 whose relocation failed (so slot counts stay).
 */
export function patchInstruction<T extends Instruction>(insn: T, r: CalcResult, describe: () => string): { insns: T[]; poisoned: boolean; reason?: string } {
  const fail = (message: string): CoreError => new CoreError('EBADOBJ', message);
  const poison = (reason?: string): { insns: T[]; poisoned: true; reason?: string } => {
    const p = poisonInstruction(insn);
    return { insns: insn.opcode === BPF_LD_IMM64 ? [p, poisonInstruction(insn)] : [p], poisoned: true, ...(reason ? { reason } : {}) };
  };
  if (r.poison) return poison();
  const cls = BPF_CLASS(insn.opcode);
  const out = { ...insn };
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if (BPF_SRC(insn.opcode) !== BPF_K) throw fail(`${describe()}: ALU instruction with a register operand`);
      if (r.validate && BigInt(insn.imm >>> 0) !== (r.origVal & U32) && BigInt(insn.imm) !== r.origVal) {
        throw fail(`${describe()}: instruction has ${insn.imm}, expected ${r.origVal}`);
      }
      if (r.newVal > U32) throw fail(`${describe()}: value ${r.newVal} does not fit a 32-bit immediate`);
      out.imm = Number(BigInt.asIntN(32, r.newVal));
      return { insns: [out], poisoned: false };
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      if (r.validate && BigInt(insn.off) !== r.origVal) throw fail(`${describe()}: instruction has offset ${insn.off}, expected ${r.origVal}`);
      if (r.newVal > 0x7fffn) throw fail(`${describe()}: offset ${r.newVal} does not fit an instruction's 16-bit offset`);
      if (r.failMemSize) {
        return poison(`${describe()}: the field is ${r.newSize} bytes in the target but ${r.origSize} locally, and it is not a pointer or unsigned integer`);
      }
      out.off = Number(r.newVal);
      if (r.newSize !== r.origSize) {
        if (sizeBytes(insn.opcode) !== r.origSize) throw fail(`${describe()}: instruction accesses ${sizeBytes(insn.opcode)} bytes, expected ${r.origSize}`);
        const code = sizeCode(r.newSize);
        if (code < 0) throw fail(`${describe()}: no load or store of ${r.newSize} bytes`);
        out.opcode = BPF_MODE(insn.opcode) | code | cls;
      }
      return { insns: [out], poisoned: false };
    }
    case BPF_LD: {
      if (insn.opcode !== BPF_LD_IMM64 || insn.src !== 0 || insn.off !== 0) throw fail(`${describe()}: ld_imm64 of an unexpected form`);
      const imm = (BigInt(insn.imm2 ?? 0) & U32) * 0x100000000n + (BigInt(insn.imm) & U32);
      if (r.validate && imm !== r.origVal) throw fail(`${describe()}: instruction has ${imm}, expected ${r.origVal}`);
      out.imm = Number(BigInt.asIntN(32, r.newVal & U32));
      out.imm2 = Number(BigInt.asIntN(32, (r.newVal >> 32n) & U32));
      return { insns: [out], poisoned: false };
    }
    default:
      throw fail(`${describe()}: cannot relocate instruction with opcode 0x${insn.opcode.toString(16)}`);
  }
}

/** An instruction that may carry a CO-RE relocation. */
export interface RelocatableInstruction extends Instruction {
  core?: CoreRelocation;
}

export interface ApplyResult<T extends RelocatableInstruction> {
  readonly instructions: T[];
  /** By slot index of the poisoned instruction: what could not be resolved. */
  readonly poisoned: Map<number, CoreOutcome>;
  readonly outcomes: CoreOutcome[];
}

/**
 * Applies every `core` relocation of a program's instructions against the targets. Returns new
 * instructions (the input is not changed) and the poisoned slots, for explaining a verifier
 * failure at one of them.
 */
export function applyCoreRelocations<T extends RelocatableInstruction>(
  insns: readonly T[],
  localBtf: Btf,
  targets: CoreTargets,
  context: { program?: string; candidateCache?: Map<number, Candidate[]> } = {},
): ApplyResult<T> {
  const out: T[] = [];
  const poisoned = new Map<number, CoreOutcome>();
  const outcomes: CoreOutcome[] = [];
  let slot = 0;
  const cache = context.candidateCache ?? new Map<number, Candidate[]>();
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i]!;
    const relo = insn.core;
    if (relo === undefined) {
      out.push(insn);
      slot += insn.opcode === BPF_LD_IMM64 ? 2 : 1;
      continue;
    }
    const errContext = { ...(context.program !== undefined ? { program: context.program } : {}), instruction: slot, kind: coreReloKindName(relo.kind) };
    let resolution: Resolution;
    try {
      resolution = resolveRelocation(relo, localBtf, targets, cache);
    } catch (err) {
      if (err instanceof CoreError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      let access: string | undefined;
      try {
        access = describeType(localBtf.type(relo.typeId));
      } catch {
        access = `type [${relo.typeId}]`;
      }
      throw new CoreError(err instanceof SpecError ? 'EINVAL' : 'EBADOBJ', message, { ...errContext, access: `${access} (${relo.accessString})`, cause: err });
    }
    let patched: { insns: T[]; poisoned: boolean; reason?: string };
    try {
      patched = patchInstruction(insn, resolution.result, () => resolution.outcome.local);
    } catch (err) {
      if (err instanceof CoreError) throw new CoreError(err.code, err.message.replace(/^CO-RE relocation: /, ''), { ...errContext, access: resolution.outcome.local });
      throw err;
    }
    const outcome: CoreOutcome = patched.poisoned ? { ...resolution.outcome, poisoned: true, reason: patched.reason ?? resolution.outcome.reason ?? 'unresolved' } : resolution.outcome;
    outcomes.push(outcome);
    if (patched.poisoned) {
      poisoned.set(slot, outcome);
      if (patched.insns.length === 2) poisoned.set(slot + 1, outcome);
    }
    for (const p of patched.insns) {
      delete (p as RelocatableInstruction).core;
      out.push(p);
    }
    slot += insn.opcode === BPF_LD_IMM64 ? 2 : 1;
  }
  return { instructions: out, poisoned, outcomes };
}
