import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Btf,
  BtfError,
  ENUM64_PLACEHOLDER,
  fixupDatasecs,
  formatRaw,
  marshalBtf,
  parseBtf,
  parseBtfExt,
  sanitizeBtf,
  type BtfType,
  type BtfTypeInit,
} from '../src/btf/index.js';
import { SHN, SHT, parseElf } from '../src/elf/index.js';
import { fixtureBtf, fixtureSection, readFixture } from './fixtures/btf/fixture.js';

function allTypes(btf: Btf): BtfType[] {
  return [...btf.types()];
}

describe('marshalling BTF', () => {
  for (const target of ['bpfel', 'bpfeb'] as const) {
    it(`reproduces the .BTF section of prog.${target}.o byte for byte`, () => {
      const section = fixtureSection(target, '.BTF');
      const out = marshalBtf(parseBtf(section));
      assert.deepEqual(Buffer.from(out), Buffer.from(section));
    });

    it(`round-trips prog.${target}.o: parse(marshal(parse(x))) equals parse(x)`, () => {
      const btf = fixtureBtf(target);
      assert.deepEqual(allTypes(parseBtf(marshalBtf(btf))), allTypes(btf));
    });
  }

  it('converts byte order', () => {
    const le = fixtureBtf('bpfel');
    const be = parseBtf(marshalBtf(le, { littleEndian: false }));
    assert.equal(be.littleEndian, false);
    assert.deepEqual(allTypes(be), allTypes(le));
    assert.deepEqual(
      Buffer.from(marshalBtf(be, { littleEndian: true })),
      Buffer.from(fixtureSection('bpfel', '.BTF')),
    );
  });

  it('encodes modified and added types, appending new strings', () => {
    const btf = fixtureBtf();
    const original = fixtureSection('bpfel', '.BTF');
    const strOff = 24 + new DataView(original.buffer, original.byteOffset).getUint32(16, true);
    const oldStrings = original.subarray(strOff);
    const flags = btf.typeByName('flags', 'STRUCT');
    flags.members[0]!.name = 'renamed_member';
    const values = [{ name: 'MIN', value: -(1n << 63n) }];
    const id = btf.add({ kind: 'ENUM64', name: 'added', size: 8, signed: true, values });
    const out = parseBtf(marshalBtf(btf));
    assert.equal(out.typeOf(flags.id, 'STRUCT').members[0]!.name, 'renamed_member');
    assert.deepEqual(out.typeOf(id, 'ENUM64').values, [{ name: 'MIN', value: -(1n << 63n) }]);
    assert.deepEqual(Buffer.from(out.strings.bytes.subarray(0, oldStrings.length)), Buffer.from(oldStrings));
    assert.ok(out.strings.find('renamed_member')! >= oldStrings.length);
    // BTF.ext string offsets (line info, access strings) still resolve.
    const ext = parseBtfExt(fixtureSection('bpfel', '.BTF.ext'), out);
    assert.equal(ext.lineInfos.get('xdp')![0]!.fileName, './prog.bpf.c');
  });

  it('rejects types that do not fit the encoding', () => {
    const cases: [BtfTypeInit, RegExp][] = [
      [{ kind: 'ENUM', name: 'e', size: 4, signed: false, values: [{ name: 'A', value: -1 }] }, /a unsigned 32-bit/],
      [{ kind: 'ENUM64', name: 'e', size: 8, signed: false, values: [{ name: 'A', value: 1n << 64n }] }, /fit 64 bits/],
      [{ kind: 'INT', name: 'i', size: 4, encoding: 'NONE', bitsOffset: 0, nrBits: 300 }, /fit in 8 bits/],
      [{ kind: 'PTR', name: '', type: -1 }, /size\/type -1 is not a u32/],
      [
        { kind: 'STRUCT', name: 's', size: 4, members: [{ name: 'a', type: 0, bitOffset: 1 << 25, bitfieldSize: 1 }] },
        /too large for a struct with bitfields/,
      ],
      [{ kind: 'DECL_TAG', name: 't', type: 0, componentIdx: -2, attribute: false }, /component_idx -2/],
    ];
    for (const [type, pattern] of cases) {
      const btf = Btf.fromTypes([type]);
      assert.throws(
        () => marshalBtf(btf),
        (e: unknown) => e instanceof BtfError && e.code === 'EINVAL' && e.typeId === 1 && pattern.test(e.message),
        pattern.source,
      );
    }
  });
});

describe('sanitising BTF for older kernels', () => {
  const btf = fixtureBtf();
  const none = { funcGlobal: false, datasec: false, float: false, declTag: false, typeTag: false, enum64: false };

  it('leaves BTF alone when every feature is present', () => {
    assert.deepEqual(
      Buffer.from(marshalBtf(btf, { features: {} })),
      Buffer.from(fixtureSection('bpfel', '.BTF')),
    );
  });

  it('replaces every kind the kernel lacks, keeping ids stable', () => {
    const out = parseBtf(marshalBtf(btf, { features: none }));
    const kinds = new Set(allTypes(out).map((t) => t.kind));
    for (const k of ['VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64'] as const) assert.ok(!kinds.has(k), k);
    assert.equal(out.typeCount, btf.typeCount + 1);
    const placeholder = out.type(btf.nextTypeId);
    assert.deepEqual([placeholder.kind, placeholder.name], ['INT', ENUM64_PLACEHOLDER]);

    const counter = btf.typeByName('counter', 'VAR');
    assert.deepEqual(out.type(counter.id), {
      kind: 'INT',
      id: counter.id,
      name: 'counter',
      size: 1,
      encoding: 'NONE',
      bitsOffset: 0,
      nrBits: 8,
    });
    const bss = btf.typeByName('.bss', 'DATASEC');
    const bssStruct = out.typeOf(bss.id, 'STRUCT');
    assert.equal(bssStruct.name, '_bss');
    assert.deepEqual(
      bssStruct.members.map((m) => [m.name, m.type, m.bitOffset]),
      bss.vars.map((v) => [btf.type(v.type).name, v.type, v.offset * 8]),
    );
    const double = btf.typeByName('double', 'FLOAT');
    assert.deepEqual(out.type(double.id), { kind: 'STRUCT', id: double.id, name: '', size: 8, members: [] });
    const tag = btf.typeByName('my_tag', 'DECL_TAG');
    assert.deepEqual([out.type(tag.id).kind, out.type(tag.id).name], ['INT', '']);
    const user = btf.typeByName('user', 'TYPE_TAG');
    assert.deepEqual(out.type(user.id), { kind: 'CONST', id: user.id, name: '', type: user.type });
    const big = btf.typeByName('big', 'ENUM64');
    const union = out.typeOf(big.id, 'UNION');
    assert.equal(union.size, 8);
    assert.deepEqual(
      union.members.map((m) => [m.name, m.type, m.bitOffset]),
      [
        ['BIG_A', placeholder.id, 0],
        ['BIG_B', placeholder.id, 0],
      ],
    );
    const color = out.typeOf(btf.typeByName('color', 'ENUM').id, 'ENUM');
    assert.equal(color.signed, false);
    assert.equal(color.values[2]!.value, 0xffffffff);
    for (const name of ['global_func', 'handle_exec', 'bpf_kfunc_example', 'helper']) {
      assert.equal(out.typeByName(name, 'FUNC').linkage, 'static', name);
    }
  });

  it('replaces only what is missing', () => {
    const out = sanitizeBtf(btf, { typeTag: false });
    assert.equal(out.typeCount, btf.typeCount);
    const changed = allTypes(out).filter((t) => JSON.stringify(t, big) !== JSON.stringify(btf.type(t.id), big));
    assert.deepEqual(
      changed.map((t) => t.kind),
      ['CONST'],
    );
    assert.equal(btf.typeByName('user', 'TYPE_TAG').kind, 'TYPE_TAG', 'the input is not modified');
  });
});

function big(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

describe('DATASEC fix-ups from the ELF', () => {
  function layout(): { sectionSizes: Map<string, number>; symbolOffsets: Map<string, number> } {
    const elf = parseElf(readFixture('prog.bpfel.o'));
    return {
      sectionSizes: new Map(
        elf.sections.filter((s) => s.type === SHT.PROGBITS || s.type === SHT.NOBITS).map((s) => [s.name, s.size]),
      ),
      symbolOffsets: new Map(
        elf
          .symbols()
          .filter((s) => s.sectionIndex !== SHN.UNDEF && s.sectionIndex < SHN.LORESERVE)
          .map((s) => [s.name, Number(s.value)]),
      ),
    };
  }

  it('fills in section sizes and variable offsets, sorted by offset', () => {
    const btf = fixtureBtf();
    fixupDatasecs(btf, layout());
    const sections = allTypes(btf).filter((t) => t.kind === 'DATASEC');
    const summary = Object.fromEntries(
      sections.map((t) => [t.name, [t.size, t.vars.map((v) => `${btf.type(v.type).name}@${v.offset}`)]]),
    );
    assert.deepEqual(summary, {
      '.bss': [
        40,
        ['counter@0', 'hidden_static@4', 'opaque_ptr@8', 'opaque_union_ptr@16', 'anon_global@24', 'user_ptr@32'],
      ],
      '.data': [52, ['initialized@0', 'array_global@8', 'packed_global@40', 'tagged_var@48']],
      '.kconfig': [0, ['LINUX_KERNEL_VERSION@0']],
      '.ksyms': [0, ['bpf_kfunc_example@0']],
      '.maps': [48, ['tasks@0', 'events@32']],
      '.rodata': [4, ['config_value@0']],
      license: [4, ['_license@0']],
    });
  });

  it('reports a missing section or symbol', () => {
    const { sectionSizes, symbolOffsets } = layout();
    const noSection = new Map(sectionSizes);
    noSection.delete('.rodata');
    assert.throws(
      () => fixupDatasecs(fixtureBtf(), { sectionSizes: noSection, symbolOffsets }),
      (e: unknown) => e instanceof BtfError && e.code === 'ENOENT' && /no ELF section '\.rodata'/.test(e.message),
    );
    const noSymbol = new Map(symbolOffsets);
    noSymbol.delete('counter');
    assert.throws(
      () => fixupDatasecs(fixtureBtf(), { sectionSizes, symbolOffsets: noSymbol }),
      (e: unknown) =>
        e instanceof BtfError && e.code === 'ENOENT' && e.section === '.bss' && /'counter'/.test(e.message),
    );
    const small = new Map(sectionSizes).set('.data', 8);
    assert.throws(
      () => fixupDatasecs(fixtureBtf(), { sectionSizes: small, symbolOffsets }),
      (e: unknown) => e instanceof BtfError && /exceeds the section size 8/.test(e.message),
    );
  });

  it('marshals the fixed-up BTF', () => {
    const btf = fixtureBtf();
    fixupDatasecs(btf, layout());
    const text = formatRaw(parseBtf(marshalBtf(btf)));
    assert.match(text, /DATASEC '\.data' size=52 vlen=4\n\ttype_id=\d+ offset=0 size=4 \(VAR 'initialized'\)\n/);
    assert.match(text, /\(VAR 'initialized'\)\n\ttype_id=\d+ offset=8 size=32 \(VAR 'array_global'\)/);
  });
});
