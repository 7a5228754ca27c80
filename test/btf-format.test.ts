import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Btf, BtfError, formatC, formatRaw, formatRawJson, parseBtf, rawTypeJson } from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { fixtureBtf, hasCommand, readFixtureText } from './fixtures/btf/fixture.js';

const CLANG = process.env.CLANG ?? 'clang-19';
const haveClang = hasCommand(CLANG);

describe('raw dump in the format of bpftool btf dump', () => {
  for (const target of ['bpfel', 'bpfeb'] as const) {
    it(`matches bpftool's text for prog.${target}.o`, () => {
      assert.equal(formatRaw(fixtureBtf(target)), readFixtureText('prog.bpfel.btf.txt'));
    });

    it(`matches bpftool's JSON for prog.${target}.o, 64-bit values exactly`, () => {
      const json = formatRawJson(fixtureBtf(target));
      assert.equal(json, readFixtureText('prog.bpfel.btf.json').trim());
      assert.match(json, /"val":18446744073709551615\}/);
    });
  }

  it('gives JSON-ready objects per type', () => {
    const btf = fixtureBtf();
    assert.deepEqual(rawTypeJson(btf.typeByName('flags', 'STRUCT')).members, [
      { name: 'a', type_id: 9, bits_offset: 0, bitfield_size: 3 },
      { name: 'b', type_id: 9, bits_offset: 3, bitfield_size: 5 },
      { name: 'c', type_id: 2, bits_offset: 8, bitfield_size: 7 },
      { name: 'd', type_id: 13, bits_offset: 15, bitfield_size: 40 },
      { name: 'e', type_id: 14, bits_offset: 56 },
    ]);
    assert.deepEqual(rawTypeJson(btf.type(0)), { id: 0, kind: 'UNKN', name: '(anon)' });
  });
});

describe('C header formatter', () => {
  it('produces the reviewed header for the fixture', () => {
    assert.equal(formatC(fixtureBtf()), readFixtureText('prog.bpfel.h'));
  });

  it('honours the guard and preserve_access_index options', () => {
    const text = formatC(fixtureBtf(), { guard: 'PROG_H', preserveAccessIndex: false });
    assert.match(text, /^#ifndef PROG_H\n#define PROG_H\n/);
    assert.match(text, /#endif \/\* PROG_H \*\/\n$/);
    assert.doesNotMatch(text, /preserve_access_index/);
  });

  it('renames clashing names with a flavour suffix and emits enum sizes', () => {
    const btf = Btf.fromTypes([
      { kind: 'INT', name: 'int', size: 4, encoding: 'SIGNED', bitsOffset: 0, nrBits: 32 },
      { kind: 'STRUCT', name: 'dup', size: 4, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
      { kind: 'STRUCT', name: 'dup', size: 8, members: [{ name: 'b', type: 1, bitOffset: 32, bitfieldSize: 0 }] },
      { kind: 'ENUM', name: 'small', size: 1, signed: false, values: [{ name: 'ONE', value: 1 }] },
      { kind: 'ENUM', name: '', size: 4, signed: false, values: [{ name: 'ONE', value: 1 }] },
      { kind: 'TYPEDEF', name: 'ONE', type: 1 },
      { kind: 'FWD', name: 'dup', fwdKind: 'union' },
      { kind: 'STRUCT', name: 'aligned', size: 64, members: [{ name: 'x', type: 1, bitOffset: 256, bitfieldSize: 0 }] },
      { kind: 'TYPEDEF', name: '__builtin_va_list', type: 1 },
    ]);
    const text = formatC(btf, { preserveAccessIndex: false });
    assert.match(text, /struct dup \{\n\tint a;\n\};/);
    assert.match(text, /struct dup___2 \{\n\tint: 32;\n\tint b;\n\};/);
    assert.match(text, /enum small \{\n\tONE = 1,\n\} __attribute__\(\(mode\(QI\)\)\);/);
    assert.match(text, /enum \{\n\tONE___2 = 1,\n\};/);
    assert.match(text, /typedef int ONE___3;/);
    assert.match(text, /union dup___3;/);
    assert.match(text, /struct aligned \{\n\tlong: 64;\n\tlong: 64;\n\tlong: 64;\n\tlong: 64;\n\tint x;\n\tint: 32;\n/);
    assert.doesNotMatch(text, /__builtin_va_list/);
  });

  it('reports types that cannot appear in C declarations', () => {
    const btf = Btf.fromTypes([
      { kind: 'FUNC_PROTO', name: '', returnType: 0, params: [] },
      { kind: 'FUNC', name: 'f', type: 1, linkage: 'global' },
      { kind: 'TYPEDEF', name: 'bad', type: 2 },
    ]);
    assert.throws(
      () => formatC(btf),
      (e: unknown) => e instanceof BtfError && e.code === 'EINVAL' && e.typeId === 2,
    );
  });

  it('compiles with clang and reproduces every struct layout of the fixture', { skip: !haveClang && process.env.CI !== 'true' && `${CLANG} not found (apt-get install clang-19; npm test installs it when run as root on Debian or Ubuntu)` }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'btf-format-'));
    try {
      const btf = fixtureBtf();
      writeFileSync(join(dir, 'prog.h'), formatC(btf));
      const composites = [...btf.types()].filter(
        (t): t is Extract<typeof t, { kind: 'STRUCT' | 'UNION' }> =>
          (t.kind === 'STRUCT' || t.kind === 'UNION') && t.name !== '',
      );
      const uses = composites.map((t, i) => `${t.kind === 'STRUCT' ? 'struct' : 'union'} ${t.name} *p${i};`);
      writeFileSync(join(dir, 'uses.c'), `#include "prog.h"\n${uses.join('\n')}\nanon_t anon;\n`);
      execFileSync(CLANG, ['-target', 'bpf', '-O2', '-g', '-Werror', '-c', 'uses.c', '-o', 'uses.o'], {
        cwd: dir,
        stdio: 'pipe',
      });
      const elf = parseElf(new Uint8Array(readFileSync(join(dir, 'uses.o'))));
      const compiled = parseBtf(elf.sectionData(elf.section('.BTF')!));
      for (const t of composites) {
        const c = compiled.typeByName(t.name, t.kind);
        assert.deepEqual(
          [c.size, c.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize])],
          [t.size, t.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize])],
          t.name,
        );
      }
      assert.deepEqual(
        compiled.typeByName('anon_t', 'TYPEDEF').name,
        'anon_t',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
