import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ElfError, SHN, SHT, STB, STT, parseElf, type ElfFile } from '../src/elf/index.js';
import { readFixture, readFixtureText, seededRandom } from './fixtures/btf/fixture.js';

interface ReadelfSection {
  Index: number;
  Name: { Name: string };
  Type: { Value: number };
  Flags: { Value: number };
  Address: number;
  Offset: number;
  Size: number;
  Link: number;
  Info: number;
  AddressAlignment: number;
  EntrySize: number;
}
interface ReadelfSymbol {
  Name: { Name: string };
  Value: number;
  Size: number;
  Binding: { Value: number };
  Type: { Value: number };
  Other: { Value: number };
  Section: { Value: number };
}
interface ReadelfRelocation {
  Offset: number;
  Type: { Value: number };
  Symbol: { Name: string; Value: number };
}
interface Readelf {
  ElfHeader: {
    DataEncoding?: unknown;
    Ident: { DataEncoding: { Value: number } };
    Machine: { Value: number };
    SectionHeaderCount: string;
    StringTableSectionIndex: string;
    SectionHeaderOffset: number;
    Flags: { Value: number };
  };
  Sections: { Section: ReadelfSection }[];
  Symbols: { Symbol: ReadelfSymbol }[];
  Relocations: { SectionIndex: number; Relocs: { Relocation: ReadelfRelocation }[] }[];
}

function readelf(target: string): Readelf {
  const parsed = JSON.parse(readFixtureText(`prog.${target}.readelf.json`)) as Readelf[];
  return parsed[0]!;
}

function expectElfError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ElfError, `expected ElfError, got ${String(e)}`);
    assert.equal(e.code, 'EBADELF');
    assert.match(e.message, pattern);
    return true;
  });
}

for (const target of ['bpfel', 'bpfeb']) {
  describe(`ELF fixture prog.${target}.o against llvm-readelf`, () => {
    const bytes = readFixture(`prog.${target}.o`);
    const elf = parseElf(bytes);
    const ref = readelf(target);

    it('reads the header', () => {
      assert.equal(elf.littleEndian, target === 'bpfel');
      assert.equal(elf.header.littleEndian, ref.ElfHeader.Ident.DataEncoding.Value === 1);
      assert.equal(elf.header.machine, ref.ElfHeader.Machine.Value);
      assert.equal(elf.header.type, 1);
      assert.equal(elf.header.shnum, Number(ref.ElfHeader.SectionHeaderCount));
      assert.equal(elf.header.shstrndx, Number(ref.ElfHeader.StringTableSectionIndex));
      assert.equal(elf.header.shoff, ref.ElfHeader.SectionHeaderOffset);
      assert.equal(elf.header.flags, ref.ElfHeader.Flags.Value);
      assert.deepEqual(elf.programHeaders, []);
    });

    it('reads every section header with its name', () => {
      assert.equal(elf.sections.length, ref.Sections.length);
      for (const { Section: r } of ref.Sections) {
        const s = elf.sectionAt(r.Index);
        assert.deepEqual(
          {
            name: s.name,
            type: s.type,
            flags: s.flags,
            addr: s.addr,
            offset: s.offset,
            size: s.size,
            link: s.link,
            info: s.info,
            addralign: s.addralign,
            entsize: s.entsize,
          },
          {
            name: r.Name.Name,
            type: r.Type.Value,
            flags: r.Flags.Value,
            addr: BigInt(r.Address),
            offset: r.Offset,
            size: r.Size,
            link: r.Link,
            info: r.Info,
            addralign: r.AddressAlignment,
            entsize: r.EntrySize,
          },
          `section ${r.Index}`,
        );
      }
      assert.equal(elf.section('.BTF')?.type, SHT.PROGBITS);
      assert.equal(elf.section('no such section'), undefined);
    });

    it('reads every symbol', () => {
      const symbols = elf.symbols();
      assert.equal(symbols.length, ref.Symbols.length);
      ref.Symbols.forEach(({ Symbol: r }, i) => {
        const s = symbols[i]!;
        assert.equal(s.index, i);
        // readelf shows a section symbol under its section's name.
        const name = s.type === STT.SECTION ? elf.sectionAt(s.sectionIndex).name : s.name;
        assert.deepEqual(
          [name, s.value, s.size, s.bind, s.type, s.other, s.visibility, s.sectionIndex],
          [
            r.Name.Name,
            BigInt(r.Value),
            r.Size,
            r.Binding.Value,
            r.Type.Value,
            r.Other.Value,
            r.Other.Value & 3,
            r.Section.Value,
          ],
          `symbol ${i}`,
        );
      });
      const handleExec = symbols.find((s) => s.name === 'handle_exec')!;
      assert.equal(handleExec.bind, STB.GLOBAL);
      assert.equal(handleExec.type, STT.FUNC);
      assert.equal(elf.sectionAt(handleExec.sectionIndex).name, 'tp_btf/sched_process_exec');
      assert.equal(symbols.find((s) => s.name === 'bpf_kfunc_example')?.bind, STB.WEAK);
      assert.equal(symbols.find((s) => s.name === 'LINUX_KERNEL_VERSION')?.sectionIndex, SHN.UNDEF);
      assert.deepEqual(elf.dynamicSymbols(), []);
    });

    it('reads relocations with their symbols and target sections', () => {
      const sections = elf.relocationSections();
      assert.deepEqual(
        sections.map((r) => r.section.index),
        ref.Relocations.map((r) => r.SectionIndex),
      );
      for (const r of ref.Relocations) {
        const mine = sections.find((s) => s.section.index === r.SectionIndex)!;
        assert.equal(mine.target, elf.sectionAt(mine.section.info));
        assert.equal(mine.symbolTable.type, SHT.SYMTAB);
        assert.equal(mine.relocations.length, r.Relocs.length);
        r.Relocs.forEach(({ Relocation: x }, i) => {
          const rel = mine.relocations[i]!;
          const symbolName =
            rel.symbol.type === STT.SECTION ? elf.sectionAt(rel.symbol.sectionIndex).name : rel.symbol.name;
          assert.deepEqual(
            [rel.offset, rel.type, rel.symbolIndex, symbolName, rel.addend],
            [BigInt(x.Offset), x.Type.Value, x.Symbol.Value, x.Symbol.Name, undefined],
            `${mine.section.name} #${i}`,
          );
        });
      }
      const prog = sections.find((s) => s.target?.name === 'tp_btf/sched_process_exec')!;
      assert.ok(prog.relocations.some((r) => r.symbol.name === 'tasks'));
    });

    it('returns section data as views of the input without copying', () => {
      const btf = elf.section('.BTF')!;
      const data = elf.sectionData(btf);
      assert.equal(data.buffer, bytes.buffer);
      assert.equal(data.byteOffset, bytes.byteOffset + btf.offset);
      assert.equal(data.length, btf.size);
      assert.equal(elf.sectionData(btf.index).byteOffset, data.byteOffset);
      const bss = elf.section('.bss')!;
      assert.equal(bss.type, SHT.NOBITS);
      assert.ok(bss.size > 0);
      assert.equal(elf.sectionData(bss).length, 0);
      assert.equal(new TextDecoder().decode(elf.sectionData(elf.section('license')!)), 'GPL\0');
    });

    it('reads strings from string tables', () => {
      const strtab = elf.sectionAt(elf.header.shstrndx);
      assert.equal(elf.stringAt(strtab, 0), '');
      assert.equal(elf.stringAt(strtab, findName(elf, strtab.index, '.BTF')), '.BTF');
      const symtab = elf.sections.find((s) => s.type === SHT.SYMTAB)!;
      const names = elf.symbols().map((s) => s.name);
      assert.ok(names.includes(elf.stringAt(symtab.link, findName(elf, symtab.link, 'handle_exec'))));
      expectElfError(() => elf.stringAt(strtab, strtab.size + 10), /string offset .* out of range/);
      expectElfError(() => elf.sectionAt(9999), /section index 9999 out of range/);
    });
  });
}

function findName(elf: ElfFile, strtab: number, name: string): number {
  const bytes = elf.sectionData(strtab);
  // Linkers share suffixes (".BTF" inside ".rel.BTF"), so the name need not follow a NUL.
  const needle = new TextEncoder().encode(`${name}\0`);
  for (let i = 0; i + needle.length <= bytes.length; i++) {
    if (needle.every((b, j) => bytes[i + j] === b)) return i;
  }
  throw new Error(`${name} not in string table`);
}

/** Builds a small ELF64 file: enough to exercise RELA, SHN_XINDEX and program headers. */
function buildElf(littleEndian: boolean): Uint8Array {
  const shstr = '\0.text\0.rela.text\0.symtab\0.strtab\0.shstrtab\0.symtab_shndx\0';
  const str = '\0start\0data_sym\0';
  const text = new Uint8Array(16).fill(0x90);
  const sections: { name: string; type: number; data: Uint8Array; link?: number; info?: number; entsize?: number }[] =
    [];
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const symtab = new Uint8Array(3 * 24);
  const sv = new DataView(symtab.buffer);
  // Symbol 1: global function in .text; symbol 2: object whose section index is in SHT_SYMTAB_SHNDX.
  sv.setUint32(24, str.indexOf('start'), littleEndian);
  sv.setUint8(24 + 4, (STB.GLOBAL << 4) | STT.FUNC);
  sv.setUint16(24 + 6, 1, littleEndian);
  sv.setBigUint64(24 + 8, 0x401000n, littleEndian);
  sv.setBigUint64(24 + 16, 16n, littleEndian);
  sv.setUint32(48, str.indexOf('data_sym'), littleEndian);
  sv.setUint8(48 + 4, (STB.LOCAL << 4) | STT.OBJECT);
  sv.setUint8(48 + 5, 2);
  sv.setUint16(48 + 6, SHN.XINDEX, littleEndian);
  sv.setBigUint64(48 + 8, 0xffffffff81000010n, littleEndian);
  const shndx = new Uint8Array(12);
  new DataView(shndx.buffer).setUint32(8, 1, littleEndian);
  const rela = new Uint8Array(2 * 24);
  const rv = new DataView(rela.buffer);
  rv.setBigUint64(0, 8n, littleEndian);
  rv.setBigUint64(8, (1n << 32n) | 1n, littleEndian);
  rv.setBigInt64(16, -4n, littleEndian);
  rv.setBigUint64(24, 12n, littleEndian);
  rv.setBigUint64(32, (2n << 32n) | 2n, littleEndian);
  rv.setBigInt64(40, 0x10n, littleEndian);
  sections.push({ name: '', type: SHT.NULL, data: new Uint8Array() });
  sections.push({ name: '.text', type: SHT.PROGBITS, data: text });
  sections.push({ name: '.rela.text', type: SHT.RELA, data: rela, link: 3, info: 1, entsize: 24 });
  sections.push({ name: '.symtab', type: SHT.SYMTAB, data: symtab, link: 4, info: 2, entsize: 24 });
  sections.push({ name: '.strtab', type: SHT.STRTAB, data: enc(str) });
  sections.push({ name: '.shstrtab', type: SHT.STRTAB, data: enc(shstr) });
  sections.push({ name: '.symtab_shndx', type: SHT.SYMTAB_SHNDX, data: shndx, link: 3, entsize: 4 });
  const phoff = 64;
  let offset = phoff + 56;
  const offsets = sections.map((s) => {
    const o = offset;
    offset += s.data.length;
    offset = Math.ceil(offset / 8) * 8;
    return o;
  });
  const shoff = offset;
  const out = new Uint8Array(shoff + sections.length * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, littleEndian ? 1 : 2, 1, 0]);
  v.setUint16(16, 2, littleEndian);
  v.setUint16(18, 62, littleEndian);
  v.setUint32(20, 1, littleEndian);
  v.setBigUint64(24, 0x401000n, littleEndian);
  v.setBigUint64(32, BigInt(phoff), littleEndian);
  v.setBigUint64(40, BigInt(shoff), littleEndian);
  v.setUint16(52, 64, littleEndian);
  v.setUint16(54, 56, littleEndian);
  v.setUint16(56, 1, littleEndian);
  v.setUint16(58, 64, littleEndian);
  v.setUint16(60, sections.length, littleEndian);
  v.setUint16(62, 5, littleEndian);
  v.setUint32(phoff, 1, littleEndian);
  v.setUint32(phoff + 4, 5, littleEndian);
  v.setBigUint64(phoff + 8, 0n, littleEndian);
  v.setBigUint64(phoff + 16, 0x400000n, littleEndian);
  v.setBigUint64(phoff + 24, 0x400000n, littleEndian);
  v.setBigUint64(phoff + 32, BigInt(shoff), littleEndian);
  v.setBigUint64(phoff + 40, BigInt(shoff), littleEndian);
  v.setBigUint64(phoff + 48, 0x1000n, littleEndian);
  sections.forEach((s, i) => {
    out.set(s.data, offsets[i]!);
    const h = shoff + i * 64;
    v.setUint32(h, s.name === '' ? 0 : shstr.indexOf(`\0${s.name}\0`) + 1, littleEndian);
    v.setUint32(h + 4, s.type, littleEndian);
    v.setBigUint64(h + 24, BigInt(i === 0 ? 0 : offsets[i]!), littleEndian);
    v.setBigUint64(h + 32, BigInt(s.data.length), littleEndian);
    v.setUint32(h + 40, s.link ?? 0, littleEndian);
    v.setUint32(h + 44, s.info ?? 0, littleEndian);
    v.setBigUint64(h + 48, 8n, littleEndian);
    v.setBigUint64(h + 56, BigInt(s.entsize ?? 0), littleEndian);
  });
  return out;
}

describe('ELF features the BPF objects do not use', () => {
  for (const littleEndian of [true, false]) {
    it(`reads RELA, SHN_XINDEX, 64-bit addresses and program headers (${littleEndian ? 'LE' : 'BE'})`, () => {
      const elf = parseElf(buildElf(littleEndian));
      assert.equal(elf.header.type, 2);
      assert.equal(elf.header.entry, 0x401000n);
      assert.deepEqual(
        elf.sections.map((s) => s.name),
        ['', '.text', '.rela.text', '.symtab', '.strtab', '.shstrtab', '.symtab_shndx'],
      );
      assert.equal(elf.programHeaders.length, 1);
      assert.equal(elf.programHeaders[0]!.vaddr, 0x400000n);
      assert.equal(elf.programHeaders[0]!.align, 0x1000);
      const [, start, data] = elf.symbols();
      assert.equal(start!.name, 'start');
      assert.equal(start!.size, 16);
      assert.equal(data!.name, 'data_sym');
      assert.equal(data!.sectionIndex, 1);
      assert.equal(data!.value, 0xffffffff81000010n);
      assert.equal(data!.visibility, 2);
      const [rela] = elf.relocationSections();
      assert.equal(rela!.target?.name, '.text');
      assert.deepEqual(
        rela!.relocations.map((r) => [r.offset, r.type, r.symbol.name, r.addend]),
        [
          [8n, 1, 'start', -4n],
          [12n, 2, 'data_sym', 16n],
        ],
      );
    });
  }
});

describe('malformed ELF input', () => {
  const good = readFixture('prog.bpfel.o');

  it('rejects non-ELF and ELF32 data', () => {
    expectElfError(() => parseElf(new Uint8Array(0)), /bad magic/);
    expectElfError(() => parseElf(new TextEncoder().encode('#!/bin/sh\necho hi\n')), /bad magic/);
    const elf32 = good.slice();
    elf32[4] = 1;
    expectElfError(() => parseElf(elf32), /ELF class 1/);
    const badData = good.slice();
    badData[5] = 7;
    expectElfError(() => parseElf(badData), /data encoding 7/);
  });

  it('rejects a truncated header or section table, naming the offset', () => {
    expectElfError(() => parseElf(good.subarray(0, 40)), /truncated ELF header.*offset 0x0/);
    const shoff = parseElf(good).header.shoff;
    expectElfError(() => parseElf(good.subarray(0, shoff + 100)), /section header table .*offset 0x/);
  });

  it('reports section data that runs past the end, naming the section', () => {
    const elf = parseElf(good);
    const btf = elf.section('.BTF')!;
    const copy = good.slice();
    const v = new DataView(copy.buffer);
    v.setBigUint64(elf.header.shoff + btf.index * 64 + 32, 1n << 40n, true);
    const broken = parseElf(copy);
    expectElfError(() => broken.sectionData(broken.sectionAt(btf.index)), /section \.BTF.*offset 0x/);
  });

  it('reports relocations pointing at missing symbols', () => {
    const elf = parseElf(good);
    const rel = elf.relocationSections()[0]!;
    const copy = good.slice();
    new DataView(copy.buffer).setUint32(rel.section.offset + 12, 100000, true);
    expectElfError(() => parseElf(copy).relocationSections(), /refers to symbol 100000/);
  });

  it('throws only ElfError for random truncations and bit flips', () => {
    const random = seededRandom(0x5eed);
    let failures = 0;
    for (let i = 0; i < 3000; i++) {
      let input: Uint8Array;
      if (i % 2 === 0) {
        input = good.subarray(0, Math.floor(random() * good.length));
      } else {
        input = good.slice();
        for (let f = 1 + Math.floor(random() * 8); f > 0; f--) {
          input[Math.floor(random() * input.length)]! ^= 1 << Math.floor(random() * 8);
        }
      }
      try {
        const elf = parseElf(input);
        for (const s of elf.sections) {
          elf.sectionData(s);
          if (s.type === SHT.STRTAB) elf.stringAt(s, 1);
        }
        elf.symbols();
        elf.relocationSections();
      } catch (e) {
        if (!(e instanceof ElfError)) assert.fail(`iteration ${i}: ${String(e)}`);
        failures++;
      }
    }
    assert.ok(failures > 0);
  });
});
