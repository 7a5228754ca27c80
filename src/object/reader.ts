// Reads a BPF ELF object into specs: programs with their subprograms linked in, maps (BTF and
// legacy), global data, externs, BTF with the fix-ups a loader owes the kernel.
import { decode } from '../asm/encoding.js';
import { isFunctionCall, isFunctionReference, slotOffsets } from '../asm/instruction.js';
import {
  BPF_CALL,
  BPF_JMP,
  BPF_LD_IMM64,
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
} from '../asm/opcodes.js';
import type { Btf } from '../btf/btf.js';
import { parseBtfExt, type BtfExt } from '../btf/ext.js';
import { fixupDatasecs } from '../btf/fixup.js';
import { parseBtf } from '../btf/parse.js';
import { alignOf, sizeOf } from '../btf/query.js';
import type { BtfType } from '../btf/types.js';
import { EM, ET, SHF, SHN, SHT, STB, STT, STV } from '../elf/constants.js';
import { ElfFile, type ElfSection, type ElfSymbol } from '../elf/file.js';
import { MapFlags, MapType, ProgramType } from '../sys/types.js';
import { asObjectError, ObjectError } from './errors.js';
import { parseBtfMapDefinition, parseLegacyMaps } from './maps.js';
import { parseSectionName } from './sections.js';
import { memberAt, STRUCT_OPS_SECTION, structOpsMap } from './structops.js';
import type { ExternSpec, InternalMapKind, LoadProblem, MapSpec, ProgramInstruction, ProgramSpec } from './types.js';

export interface ReadResult {
  readonly littleEndian: boolean;
  readonly btf: Btf | undefined;
  readonly maps: Record<string, MapSpec>;
  readonly programs: Record<string, ProgramSpec>;
  readonly externs: Record<string, ExternSpec>;
  readonly variables: readonly VariableInit[];
  readonly license: string;
  readonly kernelVersion: number;
}

export interface VariableInit {
  readonly name: string;
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  readonly type?: BtfType;
  readonly constant: boolean;
}

/** A function of an executable section: a program, or a subprogram in `.text`. */
interface Func {
  /** Unique within the object: the symbol name, or `name@section` when that repeats. */
  label: string;
  readonly symbol: string;
  readonly section: ElfSection;
  readonly startSlot: number;
  readonly endSlot: number;
  readonly bind: number;
  insns: ProgramInstruction[];
  /** Why it cannot be a program of its own, found when the object was read. */
  ownProblem?: LoadProblem;
}

interface CodeSection {
  readonly section: ElfSection;
  readonly insns: ProgramInstruction[];
  readonly slots: number[];
  /** Instruction index of each slot; -1 for the second slot of a ld_imm64. */
  readonly index: Int32Array;
  readonly funcs: Func[];
}

const DATA_SECTION = /^\.(data|rodata|bss)(\..*)?$/;
const MAPS_SECTION = '.maps';
const LEGACY_MAPS_SECTION = 'maps';
const KCONFIG_SECTION = '.kconfig';
const KSYMS_SECTION = '.ksyms';
const TEXT_SECTION = '.text';
/** Larger global data sections cannot be map values (the kernel's limit is far lower). */
const MAX_DATA_SECTION = 1 << 28;

/** Reads an object; every failure is a TsbpfError (ObjectError for malformed input). */
export function readObject(bytes: Uint8Array, file?: string): ReadResult {
  try {
    return new ObjectReader(bytes, file).read();
  } catch (err) {
    throw asObjectError(err, file !== undefined ? { file } : {});
  }
}

class ObjectReader {
  readonly #file: string | undefined;
  readonly #elf: ElfFile;
  readonly #le: boolean;
  readonly #symbols: readonly ElfSymbol[];
  #btf: Btf | undefined;
  #ext: BtfExt | undefined;
  readonly #maps: Record<string, MapSpec> = {};
  /** ELF section index of a global data section → its map's name. */
  readonly #dataMaps = new Map<number, string>();
  /** `.maps` symbol name → map; legacy map symbol name → map. */
  readonly #mapSymbols = new Map<string, MapSpec>();
  readonly #mapValuesOffset = new Map<string, number>();
  readonly #externs: Record<string, ExternSpec> = {};
  readonly #code = new Map<number, CodeSection>();
  readonly #funcsByLabel = new Map<string, Func>();
  /**
   * References no program can load with, by the name instructions refer to them by: symbols
   * another object defines (a link input), data tsbpf does not place. What loading a program
   * that reaches one fails with.
   */
  readonly #unloadable = new Map<string, LoadProblem>();
  /** `.struct_ops` variables: where each is, and its map. */
  readonly #structOps: { section: ElfSection; offset: number; spec: MapSpec }[] = [];

  constructor(bytes: Uint8Array, file: string | undefined) {
    this.#file = file;
    this.#elf = new ElfFile(bytes);
    const h = this.#elf.header;
    if (h.type !== ET.REL) throw this.#error(`not a relocatable object (ELF type ${h.type})`);
    if (h.machine !== EM.BPF && h.machine !== EM.NONE) throw this.#error(`not a BPF object (ELF machine ${h.machine})`);
    this.#le = this.#elf.littleEndian;
    this.#symbols = this.#elf.symbols();
  }

  #error(message: string, context: { section?: string; symbol?: string; program?: string; map?: string } = {}, code?: string): ObjectError {
    return new ObjectError(message, { ...(this.#file !== undefined ? { file: this.#file } : {}), ...context }, code);
  }

  read(): ReadResult {
    const license = this.#license();
    const kernelVersion = this.#kernelVersion();
    this.#readBtf();
    this.#readDataSections();
    this.#readBtfMaps();
    this.#readLegacyMaps();
    this.#readStructOps();
    this.#readExterns();
    this.#decodeCode();
    this.#resolveRelocations();
    this.#splitFunctions();
    this.#readMapValues();
    this.#readStructOpsPrograms();
    const programs = this.#programs(license, kernelVersion);
    return {
      littleEndian: this.#le,
      btf: this.#btf,
      maps: this.#maps,
      programs,
      externs: this.#externs,
      variables: this.#variables(),
      license,
      kernelVersion,
    };
  }

  #section(name: string): ElfSection | undefined {
    return this.#elf.sections.find((s) => s.name === name && s.type !== SHT.NULL);
  }

  #license(): string {
    const s = this.#section('license');
    if (s === undefined) return '';
    const data = this.#elf.sectionData(s);
    const end = data.indexOf(0);
    return new TextDecoder().decode(end < 0 ? data : data.subarray(0, end));
  }

  #kernelVersion(): number {
    const s = this.#section('version');
    if (s === undefined) return 0;
    const data = this.#elf.sectionData(s);
    if (data.length !== 4) throw this.#error(`version section has ${data.length} bytes, expected 4`, { section: 'version' });
    return new DataView(data.buffer, data.byteOffset, 4).getUint32(0, this.#le);
  }

  #readBtf(): void {
    const s = this.#section('.BTF');
    if (s === undefined) return;
    const btf = parseBtf(this.#elf.sectionData(s), { section: '.BTF' });
    if (btf.littleEndian !== this.#le) throw this.#error('BTF byte order differs from the ELF file', { section: '.BTF' });
    const sectionSizes = new Map<string, number>();
    for (const sec of this.#elf.sections) if (sec.name !== '') sectionSizes.set(sec.name, sec.size);
    const symbolOffsets = new Map<string, number>();
    for (const sym of this.#symbols) {
      if (sym.type !== STT.OBJECT && sym.type !== STT.NOTYPE) continue;
      if (sym.sectionIndex === SHN.UNDEF || sym.sectionIndex >= SHN.LORESERVE || sym.name === '') continue;
      if (!symbolOffsets.has(sym.name)) symbolOffsets.set(sym.name, Number(sym.value));
    }
    fixupDatasecs(btf, { sectionSizes, symbolOffsets });
    this.#hideHiddenFuncs(btf);
    this.#btf = btf;
    const ext = this.#section('.BTF.ext');
    if (ext !== undefined) this.#ext = parseBtfExt(this.#elf.sectionData(ext), btf);
  }

  /**
   * Global functions the object hides (`__hidden`, as <bpf/usdt.bpf.h> declares its helpers)
   * cannot be called or replaced from outside it: their BTF says static, so the verifier checks
   * them in their callers' context, with what those pass, rather than on their own with every
   * pointer argument possibly NULL.
   */
  #hideHiddenFuncs(btf: Btf): void {
    const hidden = new Set<string>();
    for (const sym of this.#symbols) {
      if (sym.type === STT.FUNC && sym.visibility === STV.HIDDEN && sym.sectionIndex !== SHN.UNDEF && sym.name !== '') hidden.add(sym.name);
    }
    if (hidden.size === 0) return;
    for (const t of btf.types()) {
      if (t.kind === 'FUNC' && t.linkage === 'global' && hidden.has(t.name)) t.linkage = 'static';
    }
  }

  #datasec(name: string): Extract<BtfType, { kind: 'DATASEC' }> | undefined {
    return this.#btf?.typesByName(name, 'DATASEC')[0];
  }

  #readDataSections(): void {
    for (const s of this.#elf.sections) {
      if (!DATA_SECTION.test(s.name) || (s.flags & SHF.ALLOC) === 0 || (s.flags & SHF.EXECINSTR) !== 0) continue;
      if (s.type !== SHT.PROGBITS && s.type !== SHT.NOBITS) continue;
      if (s.size === 0) continue;
      if (s.size > MAX_DATA_SECTION) throw this.#error(`global data of ${s.size} bytes is more than a map value can hold`, { section: s.name });
      const kind: InternalMapKind = s.name.startsWith('.rodata') ? 'rodata' : s.name.startsWith('.bss') ? 'bss' : 'data';
      const value = new Uint8Array(s.size);
      if (s.type === SHT.PROGBITS) value.set(this.#elf.sectionData(s));
      const datasec = this.#datasec(s.name);
      const spec: MapSpec = {
        name: s.name,
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: s.size,
        maxEntries: 1,
        flags: MapFlags.MMAPABLE | (kind === 'rodata' ? MapFlags.RDONLY_PROG : 0),
        pinning: 'none',
        mapExtra: 0n,
        ...(datasec !== undefined ? { valueType: datasec } : {}),
        values: [{ key: 0, value }],
        section: s.name,
        internal: kind,
        freeze: kind === 'rodata',
      };
      this.#addMap(spec, s.name);
      this.#dataMaps.set(s.index, s.name);
    }
  }

  #addMap(spec: MapSpec, section: string): void {
    if (Object.hasOwn(this.#maps, spec.name)) throw this.#error('two maps have this name', { map: spec.name, section });
    this.#maps[spec.name] = spec;
  }

  #readBtfMaps(): void {
    const s = this.#section(MAPS_SECTION);
    if (s === undefined) return;
    const btf = this.#btf;
    const datasec = this.#datasec(MAPS_SECTION);
    if (btf === undefined || datasec === undefined) throw this.#error('.maps needs BTF describing the map definitions', { section: MAPS_SECTION });
    for (const v of datasec.vars) {
      const variable = btf.type(v.type);
      if (variable.kind !== 'VAR') throw this.#error(`DATASEC entry is a ${variable.kind}, not a VAR`, { section: MAPS_SECTION });
      const def = parseBtfMapDefinition(btf, variable.name, variable.type);
      this.#addMap(def.spec, MAPS_SECTION);
      this.#mapSymbols.set(variable.name, def.spec);
      if (def.valuesOffset !== undefined) this.#mapValuesOffset.set(variable.name, def.valuesOffset);
    }
  }

  #readLegacyMaps(): void {
    const s = this.#section(LEGACY_MAPS_SECTION);
    if (s === undefined) return;
    const syms = this.#symbols
      .filter((x) => x.sectionIndex === s.index && x.type !== STT.SECTION && x.type !== STT.FILE && x.name !== '')
      .map((x) => ({ name: x.name, offset: Number(x.value), size: Number(x.size) }))
      .sort((a, b) => a.offset - b.offset);
    for (const spec of parseLegacyMaps(this.#elf.sectionData(s), this.#le, syms)) {
      this.#addMap(spec, LEGACY_MAPS_SECTION);
      this.#mapSymbols.set(spec.name, spec);
    }
  }

  /** Each variable of `.struct_ops` and `.struct_ops.link`: a STRUCT_OPS map. */
  #readStructOps(): void {
    for (const s of this.#elf.sections) {
      if (!STRUCT_OPS_SECTION.test(s.name) || s.type !== SHT.PROGBITS) continue;
      const btf = this.#btf;
      const datasec = this.#datasec(s.name);
      if (btf === undefined || datasec === undefined) throw this.#error(`${s.name} needs BTF describing its variables`, { section: s.name });
      const data = this.#elf.sectionData(s);
      for (const v of datasec.vars) {
        const variable = btf.type(v.type);
        if (variable.kind !== 'VAR') throw this.#error(`DATASEC entry is a ${variable.kind}, not a VAR`, { section: s.name });
        if (v.offset + v.size > data.length) throw this.#error(`variable ${variable.name} extends past the section`, { section: s.name });
        const spec = structOpsMap(btf, variable.name, variable.type, data.slice(v.offset, v.offset + v.size), s.name);
        this.#addMap(spec, s.name);
        this.#structOps.push({ section: s, offset: v.offset, spec });
      }
    }
  }

  /** The function pointers of `.struct_ops` variables: relocations naming the programs. */
  #readStructOpsPrograms(): void {
    if (this.#structOps.length === 0) return;
    const btf = this.#btf!;
    for (const rs of this.#elf.relocationSections()) {
      const target = rs.target;
      if (target === undefined || !STRUCT_OPS_SECTION.test(target.name)) continue;
      for (const rel of rs.relocations) {
        const off = Number(rel.offset);
        const owner = this.#structOps.find((x) => x.section.index === target.index && off >= x.offset && off < x.offset + x.spec.valueSize);
        if (owner === undefined) throw this.#error(`relocation at byte ${off} is in no variable`, { section: target.name, symbol: rel.symbol.name });
        const member = memberAt(btf, owner.spec.valueType!, off - owner.offset);
        if (member === undefined || member.bitOffset / 8 !== off - owner.offset) throw this.#error(`relocation at byte ${off} is not at a member`, { map: owner.spec.name, symbol: rel.symbol.name });
        const sym = rel.symbol;
        const code = this.#code.get(sym.sectionIndex);
        const f = sym.type === STT.FUNC ? code?.funcs.find((x) => x.symbol === sym.name) : undefined;
        if (f === undefined) throw this.#error(`member ${member.name} points to ${sym.name}, which is not a program`, { map: owner.spec.name });
        owner.spec.structOps!.programs[member.name] = f.symbol;
      }
    }
  }

  /** Externs from the `.kconfig` and `.ksyms` DATASECs, and the BTF fix-ups they need. */
  #readExterns(): void {
    const btf = this.#btf;
    if (btf === undefined) return;
    const weak = new Set<string>();
    for (const sym of this.#symbols) if (sym.sectionIndex === SHN.UNDEF && sym.bind === STB.WEAK) weak.add(sym.name);
    let intId: number | undefined;
    const int = (): number => {
      intId ??= btf.typesByName('int', 'INT').find((t) => t.size === 4)?.id ?? btf.add({ kind: 'INT', name: 'int', size: 4, encoding: 'SIGNED', bitsOffset: 0, nrBits: 32 });
      return intId;
    };
    const kconfig = this.#datasec(KCONFIG_SECTION);
    if (kconfig !== undefined) {
      const entries = kconfig.vars.map((v) => {
        const variable = btf.type(v.type);
        if (variable.kind !== 'VAR') throw this.#error(`DATASEC entry is a ${variable.kind}, not a VAR`, { section: KCONFIG_SECTION });
        return { v, variable, size: sizeOf(btf, variable.type), align: alignOf(btf, variable.type) };
      });
      // libbpf's layout, which the programs' offsets into the map follow: largest alignment
      // first, then smallest size, then by name.
      entries.sort((a, b) => b.align - a.align || a.size - b.size || (a.variable.name < b.variable.name ? -1 : a.variable.name > b.variable.name ? 1 : 0));
      let offset = 0;
      for (const { v, variable, size, align } of entries) {
        offset = Math.ceil(offset / align) * align;
        this.#externs[variable.name] = { name: variable.name, kind: 'kconfig', weak: weak.has(variable.name), typeId: variable.id, offset, size };
        variable.linkage = 'global';
        v.offset = offset;
        v.size = size;
        offset += size;
      }
      // The kernel takes a DATASEC's variables in the order of their offsets.
      kconfig.vars.sort((a, b) => a.offset - b.offset);
      kconfig.size = offset;
      if (offset > 0) {
        const spec: MapSpec = {
          name: KCONFIG_SECTION,
          type: MapType.ARRAY,
          keySize: 4,
          valueSize: offset,
          maxEntries: 1,
          flags: MapFlags.MMAPABLE | MapFlags.RDONLY_PROG,
          pinning: 'none',
          mapExtra: 0n,
          values: [{ key: 0, value: new Uint8Array(offset) }],
          section: KCONFIG_SECTION,
          internal: 'kconfig',
          freeze: true,
        };
        this.#addMap(spec, KCONFIG_SECTION);
      }
    }
    const ksyms = this.#datasec(KSYMS_SECTION);
    if (ksyms !== undefined) {
      let offset = 0;
      for (const v of ksyms.vars) {
        const t = btf.type(v.type);
        if (t.kind === 'FUNC') {
          this.#externs[t.name] = { name: t.name, kind: 'kfunc', weak: weak.has(t.name), typeId: t.id };
          t.linkage = 'static';
          nameParams(btf, t.type);
          v.type = btf.add({ kind: 'VAR', name: t.name, type: int(), linkage: 'global' });
          v.size = 4;
        } else if (t.kind === 'VAR') {
          const typed = skipMods(btf, t.type).kind !== 'VOID';
          this.#externs[t.name] = { name: t.name, kind: 'ksym', weak: weak.has(t.name), typeId: t.id, typed };
          t.linkage = 'global';
          if (!typed) t.type = int();
          v.size = sizeOf(btf, t.type);
        } else {
          throw this.#error(`DATASEC entry is a ${t.kind}`, { section: KSYMS_SECTION });
        }
        offset = Math.ceil(offset / 8) * 8;
        v.offset = offset;
        offset += v.size;
      }
      ksyms.size = offset;
    }
    // What is left extern another object defines (a link input). The kernel takes no extern
    // linkage; the programs that use these cannot load, but the rest can with this BTF.
    // A FUNC's parameters need names, which a declaration may not give.
    for (const t of btf.types()) {
      if (t.kind === 'FUNC' && t.linkage === 'extern') {
        t.linkage = 'static';
        nameParams(btf, t.type);
      } else if (t.kind === 'VAR' && t.linkage === 'extern') {
        t.linkage = 'global';
      }
    }
  }

  #decodeCode(): void {
    const ext = this.#ext;
    for (const s of this.#elf.sections) {
      if (s.type !== SHT.PROGBITS || (s.flags & SHF.EXECINSTR) === 0 || s.size === 0) continue;
      const data = this.#elf.sectionData(s);
      if (data.length % 8 !== 0) throw this.#error(`code size ${data.length} is not a multiple of 8`, { section: s.name });
      const insns = decode(data, { byteOrder: this.#le ? 'little' : 'big' }) as ProgramInstruction[];
      const slots = slotOffsets(insns);
      const index = new Int32Array(data.length / 8).fill(-1);
      for (let i = 0; i < slots.length; i++) index[slots[i]!] = i;
      const at = (byteOff: number, what: string): ProgramInstruction => {
        const slot = byteOff / 8;
        const i = Number.isInteger(slot) && slot >= 0 && slot < index.length ? index[slot]! : -1;
        if (i < 0) throw this.#error(`${what} at byte ${byteOff} is not at an instruction`, { section: s.name });
        return insns[i]!;
      };
      if (ext !== undefined) {
        for (const f of ext.funcInfos.get(s.name) ?? []) {
          const t = this.#btf!.type(f.typeId);
          if (t.kind !== 'FUNC') throw this.#error(`func_info names type ${f.typeId}, a ${t.kind}`, { section: s.name });
          at(f.insnOff, 'func_info').func = f.typeId;
        }
        for (const l of ext.lineInfos.get(s.name) ?? []) {
          const insn = at(l.insnOff, 'line_info');
          insn.line = { fileNameOff: l.fileNameOff, lineOff: l.lineOff, lineCol: ((l.lineNumber << 10) | l.column) >>> 0 };
          insn.source = { file: l.fileName, line: l.lineNumber, column: l.column, text: l.line };
        }
        for (const r of ext.coreRelos.get(s.name) ?? []) {
          at(r.insnOff, 'CO-RE relocation').core = { typeId: r.typeId, accessString: r.accessString, kind: r.kind };
        }
      }
      const funcs = this.#functions(s, index.length);
      this.#code.set(s.index, { section: s, insns, slots, index, funcs });
    }
  }

  #functions(s: ElfSection, totalSlots: number): Func[] {
    const syms = this.#symbols
      .filter((x) => x.sectionIndex === s.index && x.type === STT.FUNC)
      .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    const funcs: Func[] = [];
    for (let i = 0; i < syms.length; i++) {
      const sym = syms[i]!;
      const start = Number(sym.value) / 8;
      const next = i + 1 < syms.length ? Number(syms[i + 1]!.value) / 8 : totalSlots;
      const end = sym.size > 0 ? start + sym.size / 8 : next;
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > totalSlots || end <= start) {
        throw this.#error(`function extends outside its section (offset ${sym.value}, size ${sym.size})`, { section: s.name, symbol: sym.name });
      }
      if (funcs.length > 0 && start < funcs[funcs.length - 1]!.endSlot) {
        throw this.#error('functions overlap', { section: s.name, symbol: sym.name });
      }
      const f: Func = { label: sym.name, symbol: sym.name, section: s, startSlot: start, endSlot: end, bind: sym.bind, insns: [] };
      // libbpf refuses such an object outright; it can still be read, and its function called.
      if (s.name !== TEXT_SECTION && sym.bind === STB.LOCAL) {
        f.ownProblem = { code: 'ENOTSUP', message: 'a static function in a program section is not a program (make it global to load it as one)' };
      }
      funcs.push(f);
    }
    for (const f of funcs) {
      if (this.#funcsByLabel.has(f.label)) f.label = `${f.symbol}@${s.name}`;
      if (this.#funcsByLabel.has(f.label)) throw this.#error('function defined twice', { section: s.name, symbol: f.symbol });
      this.#funcsByLabel.set(f.label, f);
    }
    return funcs;
  }

  /** The function starting at a slot of a code section. */
  #funcAt(sectionIndex: number, slot: number, what: string, from: string): Func {
    const code = this.#code.get(sectionIndex);
    const f = code?.funcs.find((x) => x.startSlot === slot);
    if (f === undefined) {
      const name = this.#elf.sections[sectionIndex]?.name ?? `#${sectionIndex}`;
      throw this.#error(`${what} targets instruction ${slot} of ${name}, where no function starts`, { section: from });
    }
    return f;
  }

  #resolveRelocations(): void {
    for (const rs of this.#elf.relocationSections()) {
      const target = rs.target;
      if (target === undefined) continue;
      const code = this.#code.get(target.index);
      if (code === undefined) continue;
      for (const rel of rs.relocations) {
        const off = Number(rel.offset);
        const slot = off / 8;
        const idx = Number.isInteger(slot) && slot >= 0 && slot < code.index.length ? code.index[slot]! : -1;
        if (idx < 0) throw this.#error(`relocation at byte ${off} is not at an instruction`, { section: target.name, symbol: rel.symbol.name });
        this.#relocate(code, idx, slot, rel.symbol);
      }
    }
    for (const code of this.#code.values()) {
      for (let i = 0; i < code.insns.length; i++) {
        const insn = code.insns[i]!;
        if (insn.reference !== undefined) continue;
        if (isFunctionCall(insn) || isFunctionReference(insn)) {
          const slot = code.slots[i]!;
          insn.reference = this.#funcAt(code.section.index, slot + insn.imm + 1, 'call', code.section.name).label;
        }
      }
    }
  }

  #relocate(code: CodeSection, idx: number, slot: number, sym: ElfSymbol): void {
    const insn = code.insns[idx]!;
    const here = code.section.name;
    const isCall = insn.opcode === (BPF_JMP | BPF_CALL);
    const isLd = insn.opcode === BPF_LD_IMM64;
    if (!isCall && !isLd) {
      throw this.#error(`relocation on instruction ${slot} (opcode 0x${insn.opcode.toString(16)}), which is neither a call nor a 64-bit load`, { section: here, symbol: sym.name });
    }
    if (sym.sectionIndex === SHN.UNDEF) {
      this.#relocateExtern(insn, sym, isCall, here);
      return;
    }
    const ts = this.#elf.sections[sym.sectionIndex];
    if (ts === undefined) throw this.#error(`relocation against a symbol in section ${sym.sectionIndex}, which does not exist`, { section: here, symbol: sym.name });
    if (isCall) {
      if (insn.src !== BPF_PSEUDO_CALL) throw this.#error(`relocation on a helper call (instruction ${slot})`, { section: here, symbol: sym.name });
      if (!this.#code.has(ts.index)) throw this.#error(`call into ${ts.name}, which is not code`, { section: here, symbol: sym.name });
      const slotTarget = Number(sym.value) / 8 + insn.imm + 1;
      insn.reference = this.#funcAt(ts.index, slotTarget, 'call', here).label;
      return;
    }
    if (this.#code.has(ts.index)) {
      const byte = Number(sym.value) + insn.imm;
      if (byte % 8 !== 0) throw this.#error(`function reference to byte ${byte}, not an instruction`, { section: here, symbol: sym.name });
      insn.src = BPF_PSEUDO_FUNC;
      insn.reference = this.#funcAt(ts.index, byte / 8, 'function reference', here).label;
      insn.imm = 0;
      insn.imm2 = 0;
      return;
    }
    if (ts.name === MAPS_SECTION || ts.name === LEGACY_MAPS_SECTION) {
      const map = this.#mapForSymbol(sym, ts, insn.imm);
      insn.src = BPF_PSEUDO_MAP_FD;
      insn.reference = map.name;
      insn.imm = 0;
      insn.imm2 = 0;
      return;
    }
    const data = this.#dataMaps.get(ts.index);
    if (data !== undefined) {
      const offset = (sym.type === STT.SECTION ? 0 : Number(sym.value)) + insn.imm;
      const size = this.#maps[data]!.valueSize;
      if (offset < 0 || offset > size) throw this.#error(`reference to byte ${offset} of ${ts.name}, which has ${size}`, { section: here, symbol: sym.name });
      insn.src = BPF_PSEUDO_MAP_VALUE;
      insn.reference = data;
      insn.imm = 0;
      insn.imm2 = offset;
      return;
    }
    // Arena globals (`.addr_space.1`) and the like: the object reads, programs using them do not load.
    const ref = sym.type === STT.SECTION || sym.name === '' ? ts.name : sym.name;
    this.#unloadable.set(ref, { code: 'ENOTSUP', message: `refers to ${ref} in section ${ts.name}, which is not maps, global data or code: tsbpf does not load such data` });
    insn.reference = ref;
  }

  #mapForSymbol(sym: ElfSymbol, section: ElfSection, imm: number): MapSpec {
    if (sym.type !== STT.SECTION) {
      const m = this.#mapSymbols.get(sym.name);
      if (m !== undefined) return m;
    }
    const offset = (sym.type === STT.SECTION ? 0 : Number(sym.value)) + imm;
    const at = this.#symbols.find(
      (x) => x.sectionIndex === section.index && x.type !== STT.SECTION && Number(x.value) === offset && this.#mapSymbols.has(x.name),
    );
    if (at !== undefined) return this.#mapSymbols.get(at.name)!;
    throw this.#error(`no map at byte ${offset} of ${section.name}`, { section: section.name, symbol: sym.name });
  }

  #relocateExtern(insn: ProgramInstruction, sym: ElfSymbol, isCall: boolean, here: string): void {
    const ext = this.#externs[sym.name];
    if (ext === undefined) {
      // A link input: another object defines it. Only the programs that reach it cannot load.
      const what = isCall ? `calls ${sym.name}()` : `refers to ${sym.name}`;
      this.#unloadable.set(sym.name, {
        code: 'ENOENT',
        message: `${what}, which this object does not define: link it with the object that does (bpftool gen object), or declare it __ksym or __kconfig if the kernel provides it`,
      });
      insn.reference = sym.name;
      return;
    }
    if (isCall) {
      if (ext.kind !== 'kfunc') throw this.#error(`call of ${ext.kind} extern, which is not a function`, { section: here, symbol: sym.name });
      insn.src = BPF_PSEUDO_KFUNC_CALL;
      insn.reference = ext.name;
      insn.imm = 0;
      insn.off = 0;
      return;
    }
    if (ext.kind === 'kconfig') {
      insn.src = BPF_PSEUDO_MAP_VALUE;
      insn.reference = KCONFIG_SECTION;
      insn.imm2 = (ext.offset ?? 0) + insn.imm;
      insn.imm = 0;
      return;
    }
    insn.src = ext.kind === 'ksym' && ext.typed === false ? 0 : BPF_PSEUDO_BTF_ID;
    insn.reference = ext.name;
    insn.imm = 0;
    insn.imm2 = 0;
  }

  #splitFunctions(): void {
    for (const code of this.#code.values()) {
      for (const f of code.funcs) {
        const start = code.index[f.startSlot]!;
        if (start < 0) throw this.#error('function starts inside an instruction', { section: code.section.name, symbol: f.symbol });
        let end = start;
        while (end < code.insns.length && code.slots[end]! < f.endSlot) end++;
        f.insns = code.insns.slice(start, end);
        f.insns[0]!.symbol = f.label;
      }
    }
  }

  /** `.values` of prog arrays and maps of maps: relocations in `.rel.maps`. */
  #readMapValues(): void {
    const maps = this.#section(MAPS_SECTION);
    if (maps === undefined) return;
    const rs = this.#elf.relocationSections().find((r) => r.target?.index === maps.index);
    if (rs === undefined) return;
    const defs = this.#symbols.filter((x) => x.sectionIndex === maps.index && x.type !== STT.SECTION && this.#mapSymbols.has(x.name));
    for (const rel of rs.relocations) {
      const off = Number(rel.offset);
      const owner = defs.find((d) => off >= Number(d.value) && off < Number(d.value) + Math.max(d.size, 1));
      if (owner === undefined) throw this.#error(`relocation at byte ${off} is in no map definition`, { section: MAPS_SECTION, symbol: rel.symbol.name });
      const map = this.#mapSymbols.get(owner.name)!;
      const valuesOffset = this.#mapValuesOffset.get(owner.name);
      if (valuesOffset === undefined) throw this.#error('relocation in a map definition without `values`', { map: map.name, section: MAPS_SECTION });
      const rel0 = off - Number(owner.value) - valuesOffset;
      if (rel0 < 0 || rel0 % 8 !== 0) throw this.#error(`relocation at byte ${off} is not a slot of \`values\``, { map: map.name, section: MAPS_SECTION });
      const key = rel0 / 8;
      if (key >= map.maxEntries && map.type !== MapType.HASH_OF_MAPS) {
        throw this.#error(`initial value for slot ${key} of a map with ${map.maxEntries} entries`, { map: map.name, section: MAPS_SECTION });
      }
      const sym = rel.symbol;
      if (map.type === MapType.PROG_ARRAY) {
        if (sym.type !== STT.FUNC) throw this.#error(`slot ${key} refers to ${sym.name}, which is not a program`, { map: map.name, section: MAPS_SECTION });
        map.values.push({ key, value: { program: sym.name } });
      } else {
        if (!this.#mapSymbols.has(sym.name)) throw this.#error(`slot ${key} refers to ${sym.name}, which is not a map`, { map: map.name, section: MAPS_SECTION });
        map.values.push({ key, value: { map: sym.name } });
      }
    }
  }

  #programs(license: string, kernelVersion: number): Record<string, ProgramSpec> {
    const out: Record<string, ProgramSpec> = {};
    for (const code of this.#code.values()) {
      if (code.section.name === TEXT_SECTION) continue;
      const info = parseSectionName(code.section.name);
      for (const f of code.funcs) {
        const { instructions, problem } = this.#link(f);
        // Static functions of different sections may share a name: the later ones go by their label.
        const key = Object.hasOwn(out, f.symbol) ? f.label : f.symbol;
        out[key] = {
          name: key,
          sectionName: code.section.name,
          type: info?.type ?? ProgramType.UNSPEC,
          ...(info?.expectedAttachType !== undefined ? { expectedAttachType: info.expectedAttachType } : {}),
          ...(info?.attachTo !== undefined ? { attachTo: info.attachTo } : {}),
          ...(info?.attachBtf !== undefined ? { attachBtf: info.attachBtf } : {}),
          sleepable: info?.sleepable ?? false,
          flags: info?.flags ?? 0,
          instructions,
          license,
          kernelVersion,
          ...(problem !== undefined ? { problem } : {}),
        };
      }
    }
    return out;
  }

  /**
   * The program's instructions followed by every function it reaches, offsets resolved. As
   * libbpf does, a function is appended where it is first called and its own callees follow it
   * at once (depth-first, in call order), so the layout, and the tag, are libbpf's.
   */
  #link(main: Func): { instructions: ProgramInstruction[]; problem?: LoadProblem } {
    const problems: LoadProblem[] = main.ownProblem !== undefined ? [main.ownProblem] : [];
    const order: Func[] = [];
    const seen = new Set<Func>([main]);
    // Each frame is a function and the index of its next instruction to scan.
    const stack: { f: Func; next: number }[] = [{ f: main, next: 0 }];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (frame.next === 0) order.push(frame.f);
      let callee: Func | undefined;
      while (callee === undefined && frame.next < frame.f.insns.length) {
        const insn = frame.f.insns[frame.next++]!;
        if (insn.reference === undefined) continue;
        const undef = this.#unloadable.get(insn.reference);
        if (undef !== undefined) {
          if (!problems.includes(undef)) problems.push(undef);
          continue;
        }
        if (!(isFunctionCall(insn) || isFunctionReference(insn))) continue;
        const f = this.#funcsByLabel.get(insn.reference);
        if (f === undefined) throw this.#error(`call of unknown function ${insn.reference}`, { program: main.symbol });
        if (!seen.has(f)) callee = f;
      }
      if (callee === undefined) {
        stack.pop();
        continue;
      }
      seen.add(callee);
      stack.push({ f: callee, next: 0 });
    }
    // The program's own function belongs to it alone; subprograms are copied into each caller.
    const out: ProgramInstruction[] = main.insns.slice();
    for (let i = 1; i < order.length; i++) for (const insn of order[i]!.insns) out.push(copyInstruction(insn));
    const instructions = resolveCalls(out, this.#unloadable);
    if (problems.length === 0) return { instructions };
    const problem = problems.length === 1 ? problems[0]! : { code: problems[0]!.code, message: problems.map((p) => p.message).join('; ') };
    return { instructions, problem };
  }

  #variables(): VariableInit[] {
    const out: VariableInit[] = [];
    const seen = new Set<string>();
    const btf = this.#btf;
    for (const [, mapName] of this.#dataMaps) {
      const map = this.#maps[mapName]!;
      const constant = map.internal === 'rodata';
      const ds = map.valueType?.kind === 'DATASEC' ? map.valueType : undefined;
      if (btf !== undefined && ds !== undefined) {
        for (const v of ds.vars) {
          const variable = btf.type(v.type);
          if (variable.kind !== 'VAR') continue;
          const name = seen.has(variable.name) ? `${mapName}.${variable.name}` : variable.name;
          seen.add(name);
          out.push({ name, section: mapName, offset: v.offset, size: v.size, type: btf.type(variable.type), constant });
        }
        continue;
      }
      const section = this.#section(mapName)!;
      for (const sym of this.#symbols) {
        if (sym.sectionIndex !== section.index || sym.type !== STT.OBJECT || sym.name === '' || sym.size === 0) continue;
        const name = seen.has(sym.name) ? `${mapName}.${sym.name}` : sym.name;
        seen.add(name);
        out.push({ name, section: mapName, offset: Number(sym.value), size: sym.size, constant });
      }
    }
    return out;
  }
}

/** A copy with the fields set one by one: much cheaper than a spread for many instructions. */
function copyInstruction(i: ProgramInstruction): ProgramInstruction {
  const c: ProgramInstruction = { opcode: i.opcode, dst: i.dst, src: i.src, off: i.off, imm: i.imm };
  if (i.imm2 !== undefined) c.imm2 = i.imm2;
  if (i.symbol !== undefined) c.symbol = i.symbol;
  if (i.reference !== undefined) c.reference = i.reference;
  if (i.source !== undefined) c.source = i.source;
  if (i.func !== undefined) c.func = i.func;
  if (i.line !== undefined) c.line = i.line;
  if (i.core !== undefined) c.core = i.core;
  return c;
}

/** Names a prototype's unnamed parameters `arg<i>`, as the kernel wants of a FUNC's. */
function nameParams(btf: Btf, protoId: number): void {
  const proto = btf.type(protoId);
  if (proto.kind === 'FUNC_PROTO') proto.params.forEach((p, i) => p.name === '' && p.type !== 0 && (p.name = `arg${i}`));
}

function skipMods(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let i = 0; i < 32 && (t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG' || t.kind === 'TYPEDEF'); i++) t = btf.type(t.type);
  return t;
}

/**
 * Sets the offsets of bpf-to-bpf calls and function references from their `reference` to the
 * instruction whose `symbol` it names, leaving alone those to symbols in `undefinedSymbols` (a
 * link input's). Returns the same array.
 */
export function resolveCalls<T extends ProgramInstruction>(insns: T[], undefinedSymbols?: ReadonlyMap<string, unknown>): T[] {
  const starts = new Map<string, number>();
  let slot = 0;
  for (const insn of insns) {
    if (insn.symbol !== undefined && !starts.has(insn.symbol)) starts.set(insn.symbol, slot);
    slot += insn.opcode === BPF_LD_IMM64 ? 2 : 1;
  }
  slot = 0;
  for (const insn of insns) {
    const size = insn.opcode === BPF_LD_IMM64 ? 2 : 1;
    if (insn.reference !== undefined && (isFunctionCall(insn) || isFunctionReference(insn)) && undefinedSymbols?.has(insn.reference) !== true) {
      const target = starts.get(insn.reference);
      if (target === undefined) throw new ObjectError(`call of function ${insn.reference}, which is not among the program's instructions`);
      insn.imm = target - slot - 1;
      if (isFunctionReference(insn)) insn.imm2 = 0;
    }
    slot += size;
  }
  return insns;
}
