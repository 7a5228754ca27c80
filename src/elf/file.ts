import { ElfError } from './errors.js';
import { SHN, SHT } from './constants.js';

/** The ELF file header, with the extended section/program header counts resolved. */
export interface ElfHeader {
  readonly littleEndian: boolean;
  readonly osabi: number;
  readonly abiVersion: number;
  /** `e_type`, see {@link ET}. */
  readonly type: number;
  /** `e_machine`, see {@link EM}. */
  readonly machine: number;
  readonly version: number;
  readonly entry: bigint;
  readonly phoff: number;
  readonly shoff: number;
  readonly flags: number;
  readonly ehsize: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  /** `sh_type`, see {@link SHT}. */
  readonly type: number;
  /** `sh_flags`, see {@link SHF}. */
  readonly flags: number;
  readonly addr: bigint;
  /** File offset of the section's bytes. */
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
}

export interface ElfProgramHeader {
  /** `p_type`, see {@link PT}. */
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: number;
  readonly align: number;
}

export interface ElfSymbol {
  /** Index in its symbol table; relocations refer to symbols by this index. */
  readonly index: number;
  readonly name: string;
  readonly value: bigint;
  readonly size: number;
  /** `ELF64_ST_BIND(st_info)`, see {@link STB}. */
  readonly bind: number;
  /** `ELF64_ST_TYPE(st_info)`, see {@link STT}. */
  readonly type: number;
  /** `ELF64_ST_VISIBILITY(st_other)`, see {@link STV}. */
  readonly visibility: number;
  readonly other: number;
  /**
   * Index of the section the symbol is defined in, with `SHN_XINDEX` already
   * resolved; may be one of the special {@link SHN} values.
   */
  readonly sectionIndex: number;
}

export interface ElfRelocation {
  /** `r_offset`: a section offset in relocatable files, an address otherwise. */
  readonly offset: bigint;
  /** `ELF64_R_TYPE(r_info)`; its meaning depends on the machine. */
  readonly type: number;
  readonly symbolIndex: number;
  readonly symbol: ElfSymbol;
  /** `r_addend` for `SHT_RELA`; undefined for `SHT_REL`. */
  readonly addend: bigint | undefined;
}

export interface ElfRelocationSection {
  /** The `SHT_REL` or `SHT_RELA` section itself. */
  readonly section: ElfSection;
  /** The section the relocations apply to (`sh_info`), if any. */
  readonly target: ElfSection | undefined;
  /** The symbol table the relocations refer to (`sh_link`). */
  readonly symbolTable: ElfSection;
  readonly relocations: readonly ElfRelocation[];
}

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;
const PN_XNUM = 0xffff;
const TWO_POW_32 = 0x1_0000_0000;

const utf8 = new TextDecoder('utf-8');

/** Parses an ELF64 file of either byte order; the bytes are referenced, not copied. */
export function parseElf(bytes: Uint8Array): ElfFile {
  return new ElfFile(bytes);
}

/**
 * A parsed ELF64 file. Headers are decoded eagerly; symbols and relocations
 * on first use. Section contents are returned as views into the input.
 */
export class ElfFile {
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  readonly sections: readonly ElfSection[];
  readonly programHeaders: readonly ElfProgramHeader[];
  readonly #view: DataView;
  readonly #le: boolean;
  readonly #symbolTables = new Map<number, readonly ElfSymbol[]>();
  #relocationSections: readonly ElfRelocationSection[] | undefined;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new ElfError('not an ELF file: bad magic', { offset: 0 });
    }
    if (bytes[4] !== 2) {
      throw new ElfError(`unsupported ELF class ${bytes[4]} (only ELF64 is supported)`, { offset: 4 });
    }
    if (bytes[5] !== 1 && bytes[5] !== 2) {
      throw new ElfError(`invalid ELF data encoding ${bytes[5]}`, { offset: 5 });
    }
    this.#le = bytes[5] === 1;
    this.#need(0, EHDR_SIZE, 'ELF header');
    this.header = this.#readHeader();
    this.sections = this.#readSections();
    this.programHeaders = this.#readProgramHeaders();
  }

  get littleEndian(): boolean {
    return this.#le;
  }

  /** The first section with this name. */
  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  sectionAt(index: number): ElfSection {
    const s = this.sections[index];
    if (s === undefined) throw new ElfError(`section index ${index} out of range (${this.sections.length} sections)`);
    return s;
  }

  /**
   * The section's bytes as a view into the file (no copy). `SHT_NOBITS`
   * sections (such as `.bss`) occupy no file space and yield an empty array.
   */
  sectionData(section: ElfSection | number): Uint8Array {
    const s = typeof section === 'number' ? this.sectionAt(section) : section;
    if (s.type === SHT.NOBITS || s.type === SHT.NULL) return this.bytes.subarray(0, 0);
    if (s.offset > this.bytes.length || s.size > this.bytes.length - s.offset) {
      throw new ElfError(
        `section data (size ${s.size}) extends past the end of the file (${this.bytes.length} bytes)`,
        { section: sectionLabel(s), offset: s.offset },
      );
    }
    return this.bytes.subarray(s.offset, s.offset + s.size);
  }

  /** The NUL-terminated string at `offset` in a string table section. */
  stringAt(strtab: ElfSection | number, offset: number): string {
    const s = typeof strtab === 'number' ? this.sectionAt(strtab) : strtab;
    return this.#string(this.sectionData(s), offset, s);
  }

  /** Symbols of the `SHT_SYMTAB` section, indexed by symbol index (entry 0 is the null symbol). */
  symbols(): readonly ElfSymbol[] {
    const s = this.sections.find((x) => x.type === SHT.SYMTAB);
    return s === undefined ? [] : this.readSymbols(s);
  }

  /** Symbols of the `SHT_DYNSYM` section, indexed by symbol index. */
  dynamicSymbols(): readonly ElfSymbol[] {
    const s = this.sections.find((x) => x.type === SHT.DYNSYM);
    return s === undefined ? [] : this.readSymbols(s);
  }

  /** Decodes (once) the symbols of a `SHT_SYMTAB` or `SHT_DYNSYM` section. */
  readSymbols(symtab: ElfSection): readonly ElfSymbol[] {
    const cached = this.#symbolTables.get(symtab.index);
    if (cached !== undefined) return cached;
    if (symtab.type !== SHT.SYMTAB && symtab.type !== SHT.DYNSYM) {
      throw new ElfError(`section type ${symtab.type} is not a symbol table`, { section: sectionLabel(symtab) });
    }
    const entsize = symtab.entsize === 0 ? SYM_SIZE : symtab.entsize;
    if (entsize < SYM_SIZE || symtab.size % entsize !== 0) {
      throw new ElfError(`bad symbol table entry size ${symtab.entsize} for size ${symtab.size}`, {
        section: sectionLabel(symtab),
        offset: symtab.offset,
      });
    }
    const data = this.sectionData(symtab);
    const strtab = this.#linkedSection(symtab, 'string table');
    const strings = this.sectionData(strtab);
    const shndx = this.#extendedIndices(symtab);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const le = this.#le;
    const count = data.length / entsize;
    const out = new Array<ElfSymbol>(count);
    for (let i = 0; i < count; i++) {
      const o = i * entsize;
      const info = view.getUint8(o + 4);
      const other = view.getUint8(o + 5);
      let sectionIndex = view.getUint16(o + 6, le);
      if (sectionIndex === SHN.XINDEX) {
        if (shndx === undefined) {
          throw new ElfError(`symbol ${i} uses SHN_XINDEX but there is no SHT_SYMTAB_SHNDX section`, {
            section: sectionLabel(symtab),
            offset: symtab.offset + o,
          });
        }
        if (i * 4 + 4 > shndx.byteLength) {
          throw new ElfError(`symbol ${i} has no SHT_SYMTAB_SHNDX entry`, { section: sectionLabel(symtab) });
        }
        sectionIndex = shndx.getUint32(i * 4, le);
      }
      out[i] = {
        index: i,
        name: this.#string(strings, view.getUint32(o, le), strtab),
        value: view.getBigUint64(o + 8, le),
        size: safeU64(view, o + 16, le, () => new ElfError(`symbol ${i} size does not fit in a number`, {
          section: sectionLabel(symtab),
          offset: symtab.offset + o + 16,
        })),
        bind: info >> 4,
        type: info & 0xf,
        visibility: other & 0x3,
        other,
        sectionIndex,
      };
    }
    this.#symbolTables.set(symtab.index, out);
    return out;
  }

  /** Every `SHT_REL` and `SHT_RELA` section with its relocations decoded. */
  relocationSections(): readonly ElfRelocationSection[] {
    this.#relocationSections ??= this.sections
      .filter((s) => s.type === SHT.REL || s.type === SHT.RELA)
      .map((s) => this.readRelocations(s));
    return this.#relocationSections;
  }

  /** Decodes a `SHT_REL` or `SHT_RELA` section. */
  readRelocations(section: ElfSection): ElfRelocationSection {
    const rela = section.type === SHT.RELA;
    if (!rela && section.type !== SHT.REL) {
      throw new ElfError(`section type ${section.type} is not a relocation section`, {
        section: sectionLabel(section),
      });
    }
    const minSize = rela ? RELA_SIZE : REL_SIZE;
    const entsize = section.entsize === 0 ? minSize : section.entsize;
    if (entsize < minSize || section.size % entsize !== 0) {
      throw new ElfError(`bad relocation entry size ${section.entsize} for size ${section.size}`, {
        section: sectionLabel(section),
        offset: section.offset,
      });
    }
    const symbolTable = this.#linkedSection(section, 'symbol table');
    const symbols = this.readSymbols(symbolTable);
    const target = section.info !== 0 ? this.sections[section.info] : undefined;
    if (section.info !== 0 && target === undefined) {
      throw new ElfError(`relocation target section index ${section.info} out of range`, {
        section: sectionLabel(section),
      });
    }
    const data = this.sectionData(section);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const le = this.#le;
    const count = data.length / entsize;
    const relocations = new Array<ElfRelocation>(count);
    for (let i = 0; i < count; i++) {
      const o = i * entsize;
      const infoLo = view.getUint32(o + (le ? 8 : 12), le);
      const infoHi = view.getUint32(o + (le ? 12 : 8), le);
      const symbol = symbols[infoHi];
      if (symbol === undefined) {
        throw new ElfError(`relocation ${i} refers to symbol ${infoHi}, but the table has ${symbols.length}`, {
          section: sectionLabel(section),
          offset: section.offset + o,
        });
      }
      relocations[i] = {
        offset: view.getBigUint64(o, le),
        type: infoLo,
        symbolIndex: infoHi,
        symbol,
        addend: rela ? view.getBigInt64(o + 16, le) : undefined,
      };
    }
    return { section, target, symbolTable, relocations };
  }

  #need(offset: number, length: number, what: string, section?: string): void {
    if (offset < 0 || length < 0 || offset > this.bytes.length || length > this.bytes.length - offset) {
      throw new ElfError(`truncated ${what}: needs ${length} bytes, file has ${this.bytes.length}`, {
        section,
        offset,
      });
    }
  }

  #u64(offset: number, what: string, section?: string): number {
    return safeU64(this.#view, offset, this.#le, () =>
      new ElfError(`${what} does not fit in a number`, { section, offset }),
    );
  }

  #readHeader(): ElfHeader {
    const v = this.#view;
    const le = this.#le;
    const header = {
      littleEndian: le,
      osabi: v.getUint8(7),
      abiVersion: v.getUint8(8),
      type: v.getUint16(16, le),
      machine: v.getUint16(18, le),
      version: v.getUint32(20, le),
      entry: v.getBigUint64(24, le),
      phoff: this.#u64(32, 'e_phoff'),
      shoff: this.#u64(40, 'e_shoff'),
      flags: v.getUint32(48, le),
      ehsize: v.getUint16(52, le),
      phentsize: v.getUint16(54, le),
      phnum: v.getUint16(56, le),
      shentsize: v.getUint16(58, le),
      shnum: v.getUint16(60, le),
      shstrndx: v.getUint16(62, le),
    };
    if (header.shoff !== 0) {
      if (header.shentsize < SHDR_SIZE) {
        throw new ElfError(`bad section header entry size ${header.shentsize}`, { offset: 58 });
      }
      // Counts that do not fit the header fields live in section header 0.
      if (header.shnum === 0 || header.shstrndx === SHN.XINDEX || header.phnum === PN_XNUM) {
        this.#need(header.shoff, SHDR_SIZE, 'section header 0');
        if (header.shnum === 0) header.shnum = this.#u64(header.shoff + 32, 'section count in section header 0');
        if (header.shstrndx === SHN.XINDEX) header.shstrndx = v.getUint32(header.shoff + 40, le);
        if (header.phnum === PN_XNUM) header.phnum = v.getUint32(header.shoff + 44, le);
      }
    } else {
      header.shnum = 0;
    }
    if (header.phnum > 0 && header.phentsize < PHDR_SIZE) {
      throw new ElfError(`bad program header entry size ${header.phentsize}`, { offset: 54 });
    }
    return header;
  }

  #readSections(): ElfSection[] {
    const { shoff, shnum, shentsize, shstrndx } = this.header;
    if (shnum === 0) return [];
    if (shnum > Math.floor((this.bytes.length - Math.min(shoff, this.bytes.length)) / shentsize)) {
      const message = `section header table (${shnum} entries of ${shentsize} bytes) extends past the end of the file`;
      throw new ElfError(message, {
        offset: shoff,
      });
    }
    const v = this.#view;
    const le = this.#le;
    const raw: { nameOff: number; section: Omit<ElfSection, 'name'> }[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      const label = `#${i}`;
      raw.push({
        nameOff: v.getUint32(o, le),
        section: {
          index: i,
          type: v.getUint32(o + 4, le),
          flags: this.#u64(o + 8, 'sh_flags', label),
          addr: v.getBigUint64(o + 16, le),
          offset: this.#u64(o + 24, 'sh_offset', label),
          size: this.#u64(o + 32, 'sh_size', label),
          link: v.getUint32(o + 40, le),
          info: v.getUint32(o + 44, le),
          addralign: this.#u64(o + 48, 'sh_addralign', label),
          entsize: this.#u64(o + 56, 'sh_entsize', label),
        },
      });
    }
    let names: Uint8Array | undefined;
    if (shstrndx !== SHN.UNDEF) {
      const strtab = raw[shstrndx];
      if (strtab === undefined) {
        throw new ElfError(`section name string table index ${shstrndx} out of range (${shnum} sections)`, {
          offset: 62,
        });
      }
      const s = strtab.section;
      if (s.type === SHT.NOBITS || s.offset > this.bytes.length || s.size > this.bytes.length - s.offset) {
        throw new ElfError('section name string table extends past the end of the file', {
          section: `#${shstrndx}`,
          offset: s.offset,
        });
      }
      names = this.bytes.subarray(s.offset, s.offset + s.size);
    }
    return raw.map(({ nameOff, section }) => ({
      ...section,
      name: names === undefined ? '' : this.#string(names, nameOff, `#${shstrndx}`),
    }));
  }

  #readProgramHeaders(): ElfProgramHeader[] {
    const { phoff, phnum, phentsize } = this.header;
    if (phnum === 0) return [];
    if (phnum > Math.floor((this.bytes.length - Math.min(phoff, this.bytes.length)) / phentsize)) {
      throw new ElfError(`program header table (${phnum} entries) extends past the end of the file`, {
        offset: phoff,
      });
    }
    const v = this.#view;
    const le = this.#le;
    const out: ElfProgramHeader[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      out.push({
        type: v.getUint32(o, le),
        flags: v.getUint32(o + 4, le),
        offset: this.#u64(o + 8, `p_offset of program header ${i}`),
        vaddr: v.getBigUint64(o + 16, le),
        paddr: v.getBigUint64(o + 24, le),
        filesz: this.#u64(o + 32, `p_filesz of program header ${i}`),
        memsz: this.#u64(o + 40, `p_memsz of program header ${i}`),
        align: this.#u64(o + 48, `p_align of program header ${i}`),
      });
    }
    return out;
  }

  #linkedSection(section: ElfSection, what: string): ElfSection {
    const linked = this.sections[section.link];
    if (section.link === 0 || linked === undefined) {
      throw new ElfError(`${what} link ${section.link} is invalid`, { section: sectionLabel(section) });
    }
    return linked;
  }

  #extendedIndices(symtab: ElfSection): DataView | undefined {
    const s = this.sections.find((x) => x.type === SHT.SYMTAB_SHNDX && x.link === symtab.index);
    if (s === undefined) return undefined;
    const data = this.sectionData(s);
    return new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  #string(table: Uint8Array, offset: number, section: ElfSection | string): string {
    const label = typeof section === 'string' ? section : sectionLabel(section);
    const fileOffset = typeof section === 'string' ? undefined : section.offset + offset;
    if (offset >= table.length) {
      if (offset === 0) return '';
      throw new ElfError(`string offset ${offset} out of range (table size ${table.length})`, {
        section: label,
        offset: fileOffset,
      });
    }
    const end = table.indexOf(0, offset);
    if (end < 0) throw new ElfError(`unterminated string at offset ${offset}`, { section: label, offset: fileOffset });
    return utf8.decode(table.subarray(offset, end));
  }
}

function sectionLabel(s: ElfSection): string {
  return s.name !== '' ? s.name : `#${s.index}`;
}

function safeU64(view: DataView, offset: number, le: boolean, error: () => ElfError): number {
  const lo = view.getUint32(offset + (le ? 0 : 4), le);
  const hi = view.getUint32(offset + (le ? 4 : 0), le);
  if (hi > 0x1fffff) throw error();
  return hi * TWO_POW_32 + lo;
}
