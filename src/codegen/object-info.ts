// What a generated module needs to know about a BPF object: maps, programs, variables, types.
import type { Btf } from '../btf/btf.js';
import { parseBtf } from '../btf/parse.js';
import { resolveType } from '../btf/query.js';
import { parseElf, SHF, SHN, SHT, STB, STT, type ElfFile } from '../elf/index.js';
import { parseBtfMapDefinition, parseLegacyMaps } from '../object/maps.js';
import type { MapSpec } from '../object/types.js';
import type { MapType } from '../sys/types.js';
import { GenError } from './errors.js';

export interface MapInfo {
  readonly name: string;
  readonly type: MapType;
  /** BTF type ids of key and value, when the definition names them (`__type(key, ...)`). */
  readonly keyType?: number;
  readonly valueType?: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

export interface ProgramInfo {
  /** The function's name. */
  readonly name: string;
  /** The ELF section, which says the program type and where it attaches (`tp_btf/sched_process_exec`). */
  readonly section: string;
}

export interface VariableInfo {
  readonly name: string;
  /** `.rodata`, `.data`, `.bss`, or a named one (`.data.custom`). */
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  readonly type: number;
  /** The initial bytes (zeros for `.bss`). */
  readonly initial: Uint8Array;
}

export interface ObjectInfo {
  readonly btf: Btf;
  readonly littleEndian: boolean;
  readonly maps: readonly MapInfo[];
  readonly programs: readonly ProgramInfo[];
  /** Global (non-static, non-pointer) variables of `.rodata*` sections: settable before load. */
  readonly constants: readonly VariableInfo[];
  /** Global (non-static, non-pointer) variables of `.data*` and `.bss*` sections: live after load. */
  readonly globals: readonly VariableInfo[];
}

/** Reads an object file's maps, programs and variables with their BTF types. */
export function readObjectInfo(bytes: Uint8Array, what = 'object'): ObjectInfo {
  const elf = parseElf(bytes);
  const btfSection = elf.section('.BTF');
  if (btfSection === undefined) {
    throw new GenError(`${what} has no .BTF section: compile with -g (and strip DWARF with llvm-strip -g, which keeps BTF)`);
  }
  const btf = parseBtf(elf.sectionData(btfSection), { section: '.BTF' });
  return {
    btf,
    littleEndian: elf.littleEndian,
    maps: readMaps(elf, btf),
    programs: readPrograms(elf),
    ...readVariables(elf, btf),
  };
}

function readPrograms(elf: ElfFile): ProgramInfo[] {
  const out: { name: string; section: string; index: number; value: bigint }[] = [];
  for (const sym of elf.symbols()) {
    if (sym.type !== STT.FUNC || (sym.bind !== STB.GLOBAL && sym.bind !== STB.WEAK)) continue;
    if (sym.sectionIndex === SHN.UNDEF || sym.sectionIndex >= SHN.LORESERVE) continue;
    const sec = elf.sections[sym.sectionIndex];
    if (sec === undefined || (sec.flags & SHF.EXECINSTR) === 0 || sec.name === '.text') continue;
    out.push({ name: sym.name, section: sec.name, index: sec.index, value: sym.value });
  }
  out.sort((a, b) => a.index - b.index || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  return out.map(({ name, section }) => ({ name, section }));
}

function readMaps(elf: ElfFile, btf: Btf): MapInfo[] {
  const maps: (MapInfo & { offset: number })[] = [];
  const btfMaps = elf.section('.maps');
  if (btfMaps !== undefined) {
    const datasec = btf.typesByName('.maps', 'DATASEC')[0];
    if (datasec === undefined) throw new GenError('the object has a .maps section but no BTF for it');
    // In the order of the definitions in the section.
    const offsets = new Map<string, number>();
    for (const sym of elf.symbols()) if (sym.sectionIndex === btfMaps.index && sym.type === STT.OBJECT) offsets.set(sym.name, Number(sym.value));
    for (const v of datasec.vars) {
      const variable = btf.type(v.type);
      if (variable.kind !== 'VAR') continue;
      const { spec } = parseBtfMapDefinition(btf, variable.name, variable.type);
      maps.push({ ...fromSpec(spec), offset: offsets.get(variable.name) ?? v.offset });
    }
  }
  const legacy = elf.section('maps');
  if (legacy !== undefined) {
    const symbols = elf
      .symbols()
      .filter((sym) => sym.sectionIndex === legacy.index && (sym.type === STT.OBJECT || sym.type === STT.NOTYPE) && sym.bind !== STB.LOCAL)
      .map((sym) => ({ name: sym.name, offset: Number(sym.value), size: Number(sym.size) }));
    for (const spec of parseLegacyMaps(elf.sectionData(legacy), elf.littleEndian, symbols)) {
      maps.push({ ...fromSpec(spec), offset: 1e12 + (symbols.find((x) => x.name === spec.name)?.offset ?? 0) });
    }
  }
  maps.sort((a, b) => a.offset - b.offset);
  return maps.map(({ offset: _offset, ...m }) => m);
}

function fromSpec(spec: MapSpec): MapInfo {
  return {
    name: spec.name,
    type: spec.type,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    maxEntries: spec.maxEntries,
    ...(spec.keyType !== undefined ? { keyType: spec.keyType.id } : {}),
    ...(spec.valueType !== undefined ? { valueType: spec.valueType.id } : {}),
  };
}

function readVariables(elf: ElfFile, btf: Btf): { constants: VariableInfo[]; globals: VariableInfo[] } {
  const constants: VariableInfo[] = [];
  const globals: VariableInfo[] = [];
  // Offsets come from the symbol table: clang leaves them to the loader in DATASEC records.
  const offsets = new Map<string, number>();
  for (const sym of elf.symbols()) {
    if (sym.type === STT.OBJECT && sym.sectionIndex !== SHN.UNDEF && sym.sectionIndex < SHN.LORESERVE) {
      const sec = elf.sections[sym.sectionIndex];
      if (sec !== undefined) offsets.set(`${sec.name}\0${sym.name}`, Number(sym.value));
    }
  }
  const sections = [...elf.sections].filter((s) => /^\.(rodata|data|bss)(\..+)?$/.test(s.name) && (s.flags & SHF.ALLOC) !== 0);
  for (const sec of sections) {
    const datasec = btf.typesByName(sec.name, 'DATASEC')[0];
    if (datasec === undefined) continue;
    const data = sec.type === SHT.NOBITS ? new Uint8Array(sec.size) : elf.sectionData(sec);
    const list = sec.name.startsWith('.rodata') ? constants : globals;
    const vars: VariableInfo[] = [];
    for (const s of datasec.vars) {
      const variable = btf.type(s.type);
      if (variable.kind !== 'VAR' || variable.linkage !== 'global') continue;
      // A pointer global holds a kernel address; in practice it only names a type in BTF
      // (`const struct event *unused;`), so it stays out of the generated API.
      if (resolveType(btf, variable.type).kind === 'PTR') continue;
      const offset = offsets.get(`${sec.name}\0${variable.name}`) ?? s.offset;
      vars.push({ name: variable.name, section: sec.name, offset, size: s.size, type: variable.type, initial: data.slice(offset, offset + s.size) });
    }
    vars.sort((a, b) => a.offset - b.offset);
    list.push(...vars);
  }
  return { constants, globals };
}
