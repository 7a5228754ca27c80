import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Btf,
  BtfError,
  formatRaw,
  marshalBtf,
  BtfLayout,
  alignOf,
  essentialName,
  findMember,
  parseAccessString,
  parseBtf,
  resolveType,
  sizeOf,
  skipQualifiers,
  typesByEssentialName,
  walkAccessPath,
  type BtfType,
} from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { fixtureBtf, readFixture } from './fixtures/btf/fixture.js';

function expectBtfError(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BtfError, `expected BtfError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

for (const target of ['bpfel', 'bpfeb'] as const) {
  describe(`object BTF of prog.${target}.o`, () => {
    const btf = fixtureBtf(target);

    it('reads the byte order from the magic and counts every type', () => {
      assert.equal(btf.littleEndian, target === 'bpfel');
      assert.equal(btf.firstTypeId, 1);
      assert.equal(btf.typeCount, 96);
      assert.equal(btf.nextTypeId, 97);
      assert.deepEqual(btf.type(0), { kind: 'VOID', id: 0, name: '' });
      const kinds = new Set([...btf.types()].map((t) => t.kind));
      for (const k of ['INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'ENUM64', 'FWD', 'TYPEDEF', 'VOLATILE']) {
        assert.ok(kinds.has(k as BtfType['kind']), k);
      }
      for (const k of ['CONST', 'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG']) {
        assert.ok(kinds.has(k as BtfType['kind']), k);
      }
    });

    it('decodes struct members, including anonymous ones', () => {
      const task = btf.typeByName('task_like', 'STRUCT');
      assert.equal(task.size, 136);
      assert.deepEqual(
        task.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize]),
        [
          ['pid', 0, 0],
          ['tgid', 32, 0],
          ['fl', 64, 0],
          ['num', 128, 0],
          ['cb', 192, 0],
          ['parent', 256, 0],
          ['comm', 320, 0],
          ['cvp', 448, 0],
          ['col', 512, 0],
          ['big', 576, 0],
          ['sb', 640, 0],
          ['ratio', 704, 0],
          ['pos', 768, 0],
          ['rp', 832, 0],
          ['handlers', 896, 0],
          ['', 1024, 0],
        ],
      );
      assert.equal(btf.type(task.members[0]!.type).name, 'int');
      const parent = btf.typeOf(task.members[5]!.type, 'PTR');
      assert.equal(parent.type, task.id);
      const comm = btf.typeOf(task.members[6]!.type, 'ARRAY');
      assert.equal(comm.nelems, 16);
      assert.equal(btf.type(comm.type).name, 'char');
      assert.equal(btf.type(comm.indexType).name, '__ARRAY_SIZE_TYPE__');
      const anon = btf.typeOf(task.members[15]!.type, 'UNION');
      assert.equal(anon.name, '');
      assert.deepEqual(
        anon.members.map((m) => m.name),
        ['raw', 'parts'],
      );
    });

    it('decodes bitfields (kind_flag member offsets)', () => {
      const flags = btf.typeByName('flags', 'STRUCT');
      assert.deepEqual(
        flags.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize, btf.type(m.type).name]),
        [
          ['a', 0, 3, 'unsigned int'],
          ['b', 3, 5, 'unsigned int'],
          ['c', 8, 7, 'int'],
          ['d', 15, 40, 'unsigned long long'],
          ['e', 56, 0, 'char'],
        ],
      );
    });

    it('decodes ints, floats, enums and 64-bit enums with their signedness', () => {
      assert.deepEqual(btf.typeByName('int', 'INT'), {
        kind: 'INT',
        id: btf.typeByName('int', 'INT').id,
        name: 'int',
        size: 4,
        encoding: 'SIGNED',
        bitsOffset: 0,
        nrBits: 32,
      });
      assert.equal(btf.typeByName('char', 'INT').encoding, 'SIGNED');
      assert.equal(btf.typeByName('unsigned int', 'INT').encoding, 'NONE');
      assert.equal(btf.typeByName('double', 'FLOAT').size, 8);
      const color = btf.typeByName('color', 'ENUM');
      assert.equal(color.signed, true);
      assert.deepEqual(color.values, [
        { name: 'RED', value: 0 },
        { name: 'GREEN', value: 5 },
        { name: 'BLUE', value: -1 },
      ]);
      const big = btf.typeByName('big', 'ENUM64');
      assert.equal(big.signed, false);
      assert.equal(big.size, 8);
      assert.deepEqual(big.values, [
        { name: 'BIG_A', value: 1n << 40n },
        { name: 'BIG_B', value: 0xffffffffffffffffn },
      ]);
      const sbig = btf.typeByName('sbig', 'ENUM64');
      assert.equal(sbig.signed, true);
      assert.deepEqual(
        sbig.values.map((e) => e.value),
        [-(1n << 40n), 3n],
      );
    });

    it('decodes forward declarations of structs and unions', () => {
      assert.equal(btf.typeByName('opaque', 'FWD').fwdKind, 'struct');
      assert.equal(btf.typeByName('opaque_u', 'FWD').fwdKind, 'union');
    });

    it('decodes functions, prototypes and their linkage', () => {
      const helper = btf.typeByName('helper', 'FUNC');
      assert.equal(helper.linkage, 'static');
      const proto = btf.typeOf(helper.type, 'FUNC_PROTO');
      assert.equal(btf.type(proto.returnType).name, 'int');
      assert.deepEqual(
        proto.params.map((p) => p.name),
        ['t', 'x'],
      );
      assert.equal(btf.typeOf(proto.params[0]!.type, 'PTR').type, btf.typeByName('task_like', 'STRUCT').id);
      assert.equal(btf.typeByName('global_func', 'FUNC').linkage, 'global');
      assert.equal(btf.typeByName('bpf_kfunc_example', 'FUNC').linkage, 'extern');
      const cb = btf.typeByName('callback_t', 'TYPEDEF');
      const cbProto = btf.typeOf(btf.typeOf(cb.type, 'PTR').type, 'FUNC_PROTO');
      assert.deepEqual(
        cbProto.params.map((p) => [p.name, btf.type(p.type).kind]),
        [
          ['', 'PTR'],
          ['', 'INT'],
        ],
      );
    });

    it('decodes variables, data sections and tags', () => {
      const counter = btf.typeByName('counter', 'VAR');
      assert.equal(counter.linkage, 'global');
      assert.equal(btf.typeByName('hidden_static', 'VAR').linkage, 'static');
      assert.equal(btf.typeByName('LINUX_KERNEL_VERSION', 'VAR').linkage, 'extern');
      const bss = btf.typeByName('.bss', 'DATASEC');
      assert.equal(bss.size, 0);
      assert.ok(bss.vars.some((v) => v.type === counter.id && v.size === 4));
      const ksyms = btf.typeByName('.ksyms', 'DATASEC');
      assert.equal(btf.type(ksyms.vars[0]!.type).kind, 'FUNC');
      const argTag = btf.typeByName('arg_tag', 'DECL_TAG');
      assert.deepEqual(
        [argTag.componentIdx, btf.type(argTag.type).name, argTag.attribute],
        [0, 'global_func', false],
      );
      const varTag = btf.typeByName('my_tag', 'DECL_TAG');
      assert.deepEqual([varTag.componentIdx, btf.type(varTag.type).name], [-1, 'tagged_var']);
      const userTag = btf.typeByName('user', 'TYPE_TAG');
      assert.equal(btf.type(userTag.type).name, 'int');
      const userPtr = btf.typeByName('user_ptr', 'VAR');
      assert.equal(btf.typeOf(userPtr.type, 'PTR').type, userTag.id);
    });

    it('finds types by name, optionally by kind, and reports missing ones', () => {
      assert.deepEqual(
        btf.typesByName('__u32').map((t) => t.kind),
        ['TYPEDEF'],
      );
      assert.equal(btf.typesByName('task_like', 'UNION').length, 0);
      assert.equal(btf.typesByName('').length, 0);
      expectBtfError(() => btf.typeByName('nope', 'STRUCT'), 'ENOENT', /no STRUCT named 'nope'/);
      expectBtfError(() => btf.type(1000), 'ENOENT', /no type with id 1000/);
      expectBtfError(() => btf.type(-1), 'ENOENT', /no type with id -1/);
      expectBtfError(() => btf.typeOf(1, 'STRUCT'), 'EINVAL', /type is PTR, expected STRUCT/);
      assert.equal(btf.type(5), btf.type(5), 'decoded types are cached');
    });

    it('resolves qualifiers and typedefs, sizes and alignments', () => {
      const task = btf.typeByName('task_like', 'STRUCT');
      const cvp = btf.typeOf(task.members[7]!.type, 'PTR');
      assert.equal(skipQualifiers(btf, cvp.type).name, 'int');
      assert.equal(btf.type(cvp.type).kind, 'CONST');
      assert.equal(resolveType(btf, btf.typeByName('__u64', 'TYPEDEF').id).name, 'unsigned long long');
      assert.equal(sizeOf(btf, task.id), 136);
      assert.equal(alignOf(btf, task.id), 8);
      assert.equal(sizeOf(btf, task.members[6]!.type), 16);
      assert.equal(sizeOf(btf, task.members[14]!.type), 16, 'array of two function pointers');
      assert.equal(sizeOf(btf, task.members[5]!.type, { pointerSize: 4 }), 4);
      assert.equal(sizeOf(btf, btf.typeByName('config_value', 'VAR').id), 4);
      const packed = btf.typeByName('packed_rec', 'STRUCT');
      assert.equal(sizeOf(btf, packed.id), 7);
      assert.equal(alignOf(btf, packed.id), 1);
      assert.equal(new BtfLayout(btf).isPacked(packed), true);
      assert.equal(new BtfLayout(btf).isPacked(task), false);
      assert.equal(alignOf(btf, btf.typeByName('flags', 'STRUCT').id), 8);
      assert.equal(alignOf(btf, btf.typeByName('number', 'UNION').id), 4);
      expectBtfError(() => sizeOf(btf, 0), 'EINVAL', /VOID has no size/);
      expectBtfError(() => sizeOf(btf, btf.typeByName('opaque', 'FWD').id), 'EINVAL', /FWD has no size/);
      expectBtfError(() => sizeOf(btf, btf.typeByName('helper', 'FUNC').id), 'EINVAL', /FUNC has no size/);
    });

    it('looks up members by name through anonymous members', () => {
      const task = btf.typeByName('task_like', 'STRUCT');
      assert.deepEqual(findMember(btf, task.id, 'tgid'), {
        member: task.members[1],
        bitOffset: 32,
        path: [1],
      });
      const hi = findMember(btf, task.id, 'parts');
      assert.equal(hi?.bitOffset, 1024);
      assert.deepEqual(hi?.path, [15, 1]);
      const lo = findMember(btf, btf.typeByName('number', 'UNION').id, 'hi');
      assert.deepEqual([lo?.bitOffset, lo?.path], [16, [2, 1]]);
      assert.equal(findMember(btf, task.id, 'missing'), undefined);
      expectBtfError(() => findMember(btf, btf.typeByName('int', 'INT').id, 'x'), 'EINVAL', /INT has no members/);
    });

    it('supports CO-RE matching: essential names and access paths', () => {
      assert.equal(essentialName('task_struct___v2'), 'task_struct');
      assert.equal(essentialName('task_struct'), 'task_struct');
      assert.equal(essentialName('a___b___c'), 'a___b');
      assert.equal(essentialName('___x'), '___x');
      assert.equal(essentialName('x___'), 'x___');
      assert.equal(essentialName('x____y'), 'x____y');
      assert.deepEqual(
        typesByEssentialName(btf, 'task_like', 'STRUCT').map((t) => t.name),
        ['task_like', 'task_like___v2'],
      );
      assert.deepEqual(
        typesByEssentialName(btf, 'task_like___old').map((t) => t.name),
        ['task_like', 'task_like___v2'],
      );
      assert.deepEqual(parseAccessString('0:15:1:1'), [0, 15, 1, 1]);
      expectBtfError(() => parseAccessString('0:x'), 'EINVAL', /invalid access string/);
      const task = btf.typeByName('task_like', 'STRUCT');
      const steps = walkAccessPath(btf, task.id, parseAccessString('0:15:1:1'));
      assert.deepEqual(
        steps.map((s) => [s.container.kind, s.index, s.member?.name, s.bitOffset]),
        [
          ['STRUCT', 0, undefined, 0],
          ['STRUCT', 15, '', 1024],
          ['UNION', 1, 'parts', 1024],
          ['STRUCT', 1, 'hi32', 1056],
        ],
      );
      const array = walkAccessPath(btf, task.id, [1, 6, 3]);
      assert.deepEqual(
        array.map((s) => s.bitOffset),
        [1088, 1088 + 320, 1088 + 320 + 24],
      );
      expectBtfError(() => walkAccessPath(btf, task.id, [0, 99]), 'EINVAL', /member index 99 out of range/);
      expectBtfError(() => walkAccessPath(btf, task.id, [0, 6, 16]), 'EINVAL', /array index 16 out of range/);
      expectBtfError(() => walkAccessPath(btf, task.id, [0, 0, 1]), 'EINVAL', /cannot index into INT/);
    });
  });
}

describe('BTF built from type descriptions', () => {
  it('assigns ids in order and supports every kind', () => {
    const btf = Btf.fromTypes([
      { kind: 'INT', name: 'int', size: 4, encoding: 'SIGNED', bitsOffset: 0, nrBits: 32 },
      { kind: 'PTR', name: '', type: 3 },
      { kind: 'STRUCT', name: 'node', size: 16, members: [
        { name: 'value', type: 1, bitOffset: 0, bitfieldSize: 0 },
        { name: 'next', type: 2, bitOffset: 64, bitfieldSize: 0 },
      ] },
    ]);
    assert.equal(btf.typeCount, 3);
    assert.equal(btf.typeByName('node', 'STRUCT').id, 3);
    assert.equal(btf.add({ kind: 'TYPEDEF', name: 'node_t', type: 3 }), 4);
    assert.equal(btf.typeByName('node_t', 'TYPEDEF').id, 4);
    assert.equal(sizeOf(btf, 4), 16);
    assert.equal(findMember(btf, 4, 'next')?.bitOffset, 64);
  });

  it('copies the descriptions it is given', () => {
    const members = [{ name: 'a', type: 0, bitOffset: 0, bitfieldSize: 0 }];
    const btf = Btf.fromTypes([{ kind: 'STRUCT', name: 's', size: 4, members }]);
    members[0]!.name = 'changed';
    assert.equal(btf.typeOf(1, 'STRUCT').members[0]!.name, 'a');
  });
});

describe('split BTF', () => {
  const base = fixtureBtf();
  const int = base.typeByName('int', 'INT').id;
  const task = base.typeByName('task_like', 'STRUCT').id;

  function buildSplit(): Btf {
    const split = new Btf({ base });
    const ptr = split.add({ kind: 'PTR', name: '', type: task });
    split.add({
      kind: 'STRUCT',
      name: 'module_state',
      size: 16,
      members: [
        { name: 'parent', type: ptr, bitOffset: 0, bitfieldSize: 0 },
        { name: 'pid', type: int, bitOffset: 64, bitfieldSize: 0 },
      ],
    });
    split.add({ kind: 'TYPEDEF', name: 'task_like', type: task });
    return split;
  }

  it('continues the base ids and string offsets', () => {
    const bytes = marshalBtf(buildSplit());
    const split = parseBtf(bytes, { base });
    assert.equal(split.firstTypeId, base.nextTypeId);
    assert.equal(split.typeCount, 3);
    assert.equal(split.strings.start, base.strings.end);
    const state = split.typeByName('module_state', 'STRUCT');
    assert.equal(state.id, base.nextTypeId + 1);
    assert.equal(split.type(state.members[1]!.type), base.type(int));
    assert.equal(split.typeOf(split.typeOf(state.members[0]!.type, 'PTR').type, 'STRUCT').name, 'task_like');
    assert.deepEqual(
      split.typesByName('task_like').map((t) => [t.kind, t.id]),
      [
        ['STRUCT', task],
        ['TYPEDEF', base.nextTypeId + 2],
      ],
    );
    assert.deepEqual(
      [...split.types()].map((t) => t.id),
      [97, 98, 99],
    );
    assert.match(formatRaw(split), /^\[97\] PTR '\(anon\)' type_id=11\n\[98\] STRUCT 'module_state' size=16 vlen=2\n/);
  });

  it('matches whole names only, in its own strings and in the base', () => {
    const split = parseBtf(marshalBtf(buildSplit()), { base: parseBtf(marshalBtf(base)) });
    for (const partial of ['task', 'task_lik', 'ask_like', 'task_like_', 'module', 'module_stat', 'odule_state', 'x']) {
      assert.deepEqual(split.typesByName(partial), [], partial);
    }
    assert.deepEqual(
      split.typesByName('task_like').map((t) => t.kind),
      ['STRUCT', 'TYPEDEF'],
    );
    assert.equal(split.typesByName('module_state').length, 1);
    assert.equal(split.strings.equalsAt(split.strings.start, new TextEncoder().encode('module')), false);
    // module_state is this table's only (and so last) string: a longer needle runs into the end.
    const enc = (x: string): Uint8Array => new TextEncoder().encode(x);
    const last = split.strings.start;
    assert.equal(split.strings.equalsAt(last, enc('module_state')), true, 'the last string');
    assert.equal(split.strings.equalsAt(last, enc('module_state_and_more')), false, 'a needle running past the end');
    assert.equal(split.strings.equalsAt(split.strings.end - 2, enc('e')), true, 'the tail of the last string');
    assert.equal(split.strings.equalsAt(split.strings.end - 2, enc('ee')), false, 'one byte past the end');
  });

  it('reuses the base strings and fails to parse without its base', () => {
    const bytes = marshalBtf(buildSplit());
    const strLen = new DataView(bytes.buffer).getUint32(20, true);
    assert.equal(strLen, 'module_state\0'.length, "'pid', 'parent' and 'task_like' come from the base");
    expectBtfError(() => parseBtf(bytes), 'EBADBTF', /string section must start with an empty string/);
  });
});

describe('malformed BTF headers', () => {
  const good = (() => {
    const elf = parseElf(readFixture('prog.bpfel.o'));
    return elf.sectionData(elf.section('.BTF')!).slice();
  })();

  it('rejects bad magic, version and section bounds with the offset', () => {
    expectBtfError(() => parseBtf(new Uint8Array([1, 2, 3])), 'EBADBTF', /bad magic 0x0102/);
    expectBtfError(() => parseBtf(good.subarray(0, 10)), 'EBADBTF', /too short for a header/);
    const version = good.slice();
    version[2] = 2;
    expectBtfError(() => parseBtf(version), 'EBADBTF', /unsupported BTF version 2.*offset 0x2/);
    const typeLen = good.slice();
    new DataView(typeLen.buffer).setUint32(12, 0xffffff, true);
    expectBtfError(() => parseBtf(typeLen, { section: '.BTF' }), 'EBADBTF', /type section .* runs past.*section \.BTF/);
  });

  it('rejects unknown kinds and truncated records, naming the type id', () => {
    const kind = good.slice();
    const v = new DataView(kind.buffer);
    const hdr = v.getUint32(4, true);
    v.setUint32(hdr + 4, (25 << 24) >>> 0, true);
    expectBtfError(() => parseBtf(kind), 'EBADBTF', /unknown kind 25 \(type \[1\], offset 0x18\)/);
    const short = good.slice();
    new DataView(short.buffer).setUint32(12, 13, true);
    expectBtfError(() => parseBtf(short), 'EBADBTF', /type \[2\]/);
  });

  it('reports bad references and names when a type is decoded', () => {
    const ref = good.slice();
    const v = new DataView(ref.buffer);
    v.setUint32(24 + 8, 5000, true);
    const btf = parseBtf(ref);
    expectBtfError(() => btf.type(1), 'EBADBTF', /refers to type 5000, beyond the last type 96 \(type \[1\]/);
    const name = good.slice();
    new DataView(name.buffer).setUint32(24 + 12, 0xfffff, true);
    expectBtfError(() => parseBtf(name).type(2), 'EBADBTF', /string offset 1048575 out of range.*type \[2\]/);
  });
});
