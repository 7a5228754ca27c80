import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BtfError, CoreReloKind, coreReloKindName, parseBtfExt, walkAccessPath } from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { fixtureBtf, fixtureSection, readFixture, readFixtureText } from './fixtures/btf/fixture.js';

const source = readFixtureText('prog.bpf.c').split('\n');

for (const target of ['bpfel', 'bpfeb'] as const) {
  describe(`BTF.ext of prog.${target}.o`, () => {
    const btf = fixtureBtf(target);
    const ext = parseBtfExt(fixtureSection(target, '.BTF.ext'), btf);
    const elf = parseElf(readFixture(`prog.${target}.o`));

    it('groups records by program section and keeps the record sizes', () => {
      assert.deepEqual([ext.funcInfoRecordSize, ext.lineInfoRecordSize, ext.coreReloRecordSize], [8, 16, 16]);
      const sections = ['.text', 'tp_btf/sched_process_exec', 'xdp'];
      assert.deepEqual([...ext.funcInfos.keys()], sections);
      assert.deepEqual([...ext.lineInfos.keys()], sections);
      assert.deepEqual([...ext.coreRelos.keys()], ['.text', 'tp_btf/sched_process_exec']);
    });

    it('has func_info for every function, at byte offsets', () => {
      const named = [...ext.funcInfos].map(([sec, infos]) => [
        sec,
        infos.map((f) => [f.insnOff, btf.typeOf(f.typeId, 'FUNC').name]),
      ]);
      assert.deepEqual(named, [
        ['.text', [[0, 'global_func'], [48, 'helper']]],
        ['tp_btf/sched_process_exec', [[0, 'handle_exec']]],
        ['xdp', [[0, 'xdp_pass']]],
      ]);
      const helper = elf.symbols().find((s) => s.name === 'helper')!;
      assert.equal(BigInt(ext.funcInfos.get('.text')![1]!.insnOff), helper.value);
    });

    it('has line_info whose text is the source line it names', () => {
      assert.deepEqual(
        [...ext.lineInfos.values()].map((l) => l.length),
        [11, 28, 4],
      );
      for (const [sec, lines] of ext.lineInfos) {
        const size = elf.section(sec)!.size;
        let last = -1;
        for (const l of lines) {
          assert.equal(l.fileName, './prog.bpf.c');
          assert.equal(l.line, source[l.lineNumber - 1], `${sec}+${l.insnOff}`);
          assert.ok(l.column >= 0 && l.column <= l.line.length + 1, `column ${l.column}`);
          assert.equal(l.insnOff % 8, 0);
          assert.ok(l.insnOff < size && l.insnOff > last, `offset ${l.insnOff} after ${last}`);
          assert.equal(btf.strings.get(l.fileNameOff), l.fileName);
          assert.equal(btf.strings.get(l.lineOff), l.line);
          last = l.insnOff;
        }
      }
      const first = ext.lineInfos.get('tp_btf/sched_process_exec')![0]!;
      assert.equal(first.line, '\tstruct task_like *t = (void *)bpf_get_current_task();');
      assert.equal(first.column, 32);
    });

    it('has core_relo records with access strings and kinds', () => {
      assert.deepEqual(
        ext.coreRelos.get('.text')!.map((r) => [btf.type(r.typeId).name, r.accessString, coreReloKindName(r.kind)]),
        [['task_like', '0:0', 'FIELD_BYTE_OFFSET']],
      );
      const relos = ext.coreRelos.get('tp_btf/sched_process_exec')!;
      assert.deepEqual(
        relos.map((r) => `${btf.type(r.typeId).name} ${r.accessString} ${coreReloKindName(r.kind)}`),
        [
          'task_like 0:5 FIELD_BYTE_OFFSET',
          'task_like 0:1 FIELD_BYTE_OFFSET',
          'task_like 0:2 FIELD_EXISTS',
          'task_like 0:2 FIELD_BYTE_OFFSET',
          'task_like 0:2:1 FIELD_BYTE_OFFSET',
          'task_like 0:2:1 FIELD_BYTE_SIZE',
          ...(target === 'bpfeb' ? ['task_like 0:2:1 FIELD_BYTE_SIZE'] : []),
          'task_like 0:2:1 FIELD_LSHIFT_U64',
          'task_like 0:2:1 FIELD_SIGNED',
          'task_like 0:2:1 FIELD_RSHIFT_U64',
          'task_like 0:2:1 FIELD_RSHIFT_U64',
          'task_like___v2 0 TYPE_EXISTS',
          'task_like 0:6 FIELD_BYTE_SIZE',
          'task_like 0:15:1:1 FIELD_BYTE_OFFSET',
          'number 0 TYPE_SIZE',
          'color 1 ENUMVAL_VALUE',
        ],
      );
      const size = elf.section('tp_btf/sched_process_exec')!.size;
      for (const r of relos) {
        assert.equal(r.insnOff % 8, 0);
        assert.ok(r.insnOff < size, `offset ${r.insnOff}`);
        assert.equal(btf.strings.get(r.accessStrOff), r.accessString);
      }
      const bitfield = relos.find((r) => r.accessString === '0:2:1')!;
      const steps = walkAccessPath(btf, bitfield.typeId, [0, 2, 1]);
      assert.equal(steps.at(-1)!.member!.name, 'b');
      assert.equal(steps.at(-1)!.bitOffset, 64 + 3);
      assert.equal(relos.find((r) => r.kind === CoreReloKind.ENUMVAL_VALUE)!.accessString, '1');
      assert.equal(coreReloKindName(99), 'UNKNOWN(99)');
    });
  });
}

describe('malformed BTF.ext', () => {
  const btf = fixtureBtf();
  const good = fixtureSection('bpfel', '.BTF.ext').slice();

  function expectError(bytes: Uint8Array, pattern: RegExp): void {
    assert.throws(
      () => parseBtfExt(bytes, btf),
      (e: unknown) => e instanceof BtfError && e.code === 'EBADBTF' && pattern.test(e.message),
    );
  }

  it('rejects bad headers', () => {
    expectError(new Uint8Array([0x9f]), /too short/);
    expectError(good.subarray(0, 20), /too short for a header/);
    const magic = good.slice();
    magic[0] = 0;
    expectError(magic, /bad magic/);
    const hdr = good.slice();
    new DataView(hdr.buffer).setUint32(4, 1 << 20, true);
    expectError(hdr, /bad BTF.ext header length/);
  });

  it('rejects bad record sizes, counts and names, naming the subsection', () => {
    const v = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const hdrLen = v(good).getUint32(4, true);
    const funcOff = hdrLen + v(good).getUint32(8, true);
    const recSize = good.slice();
    v(recSize).setUint32(funcOff, 4, true);
    expectError(recSize, /func_info record size 4 is invalid.*section func_info/);
    const count = good.slice();
    v(count).setUint32(funcOff + 8, 1000, true);
    expectError(count, /func_info for '\.text' claims 1000 records/);
    const name = good.slice();
    v(name).setUint32(funcOff + 4, 0xffffff, true);
    expectError(name, /func_info: string offset 16777215 out of range/);
    const len = good.slice();
    v(len).setUint32(12, 1 << 24, true);
    expectError(len, /func_info .* runs past the end of BTF.ext/);
  });

  it('accepts an old header without core_relo', () => {
    const old = good.slice();
    new DataView(old.buffer).setUint32(4, 24, true);
    // Offsets are relative to the header end, so shift the payload down by 8 bytes.
    const shifted = new Uint8Array(old.length - 8);
    shifted.set(old.subarray(0, 24));
    shifted.set(old.subarray(32), 24);
    const ext = parseBtfExt(shifted, btf);
    assert.equal(ext.coreRelos.size, 0);
    assert.equal(ext.coreReloRecordSize, 0);
    assert.equal(ext.funcInfos.get('xdp')?.length, 1);
  });
});
