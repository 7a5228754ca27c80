// CO-RE: the relocation engine on hand-made BTF, and real objects against the running kernel.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BPF_ALU64, BPF_CALL, BPF_DW, BPF_JMP, BPF_K, BPF_LD_IMM64, BPF_LDX, BPF_MEM, BPF_MOV, BPF_W, type Instruction } from '../src/asm/index.js';
import { Btf } from '../src/btf/btf.js';
import { CoreReloKind } from '../src/btf/ext.js';
import { readKernelBtf } from '../src/btf/kernel.js';
import { findMember, sizeOf } from '../src/btf/query.js';
import type { BtfTypeInit } from '../src/btf/types.js';
import { CoreError } from '../src/core/errors.js';
import { applyCoreRelocations, POISON_HELPER_ID, type RelocatableInstruction } from '../src/core/relocate.js';
import { CoreTargets } from '../src/core/targets.js';
import { typesMatch } from '../src/core/compat.js';
import { CollectionSpec } from '../src/index.js';
import { ProgramVerifierError } from '../src/object/index.js';
import { corpus } from './bpf/corpus.js';
import { assertErrno, kernelTest } from './helpers/kernel.js';

const INT: BtfTypeInit = { kind: 'INT', name: 'int', size: 4, encoding: 'SIGNED', bitsOffset: 0, nrBits: 32 };
const UINT: BtfTypeInit = { kind: 'INT', name: 'unsigned int', size: 4, encoding: 'NONE', bitsOffset: 0, nrBits: 32 };
const ULONG: BtfTypeInit = { kind: 'INT', name: 'unsigned long', size: 8, encoding: 'NONE', bitsOffset: 0, nrBits: 64 };
const LONG: BtfTypeInit = { kind: 'INT', name: 'long', size: 8, encoding: 'SIGNED', bitsOffset: 0, nrBits: 64 };
const CHAR: BtfTypeInit = { kind: 'INT', name: 'char', size: 1, encoding: 'SIGNED', bitsOffset: 0, nrBits: 8 };

const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0): { name: string; type: number; bitOffset: number; bitfieldSize: number } => ({
  name,
  type,
  bitOffset,
  bitfieldSize,
});

/** Local types: ids in comments. */
function localBtf(): Btf {
  return Btf.fromTypes([
    INT, // 1
    UINT, // 2
    { kind: 'STRUCT', name: 'foo', size: 24, members: [m('a', 1, 0), m('b', 1, 32), m('u', 2, 64), m('s', 1, 96), m('name', 9, 128)] }, // 3
    { kind: 'STRUCT', name: 'foo___old', size: 4, members: [m('gone', 1, 0)] }, // 4
    { kind: 'ENUM', name: 'colour', size: 4, signed: false, values: [{ name: 'RED', value: 1 }, { name: 'BLUE___local', value: 2 }] }, // 5
    { kind: 'STRUCT', name: 'bits', size: 4, members: [m('x', 2, 0, 3), m('y', 2, 3, 5)] }, // 6
    { kind: 'STRUCT', name: 'not_there', size: 4, members: [m('z', 1, 0)] }, // 7
    CHAR, // 8
    { kind: 'ARRAY', name: '', type: 8, indexType: 1, nelems: 8 }, // 9
    { kind: 'STRUCT', name: 'thing', size: 8, members: [m('x', 1, 0), m('y', 1, 32)] }, // 10
    { kind: 'STRUCT', name: 'nested', size: 4, members: [m('inner_field', 1, 0)] }, // 11
  ]);
}

/** Target types: a different layout of the same names. */
function targetBtf(): Btf {
  return Btf.fromTypes([
    INT, // 1
    ULONG, // 2
    LONG, // 3
    CHAR, // 4
    { kind: 'ARRAY', name: '', type: 4, indexType: 1, nelems: 16 }, // 5
    { kind: 'UNION', name: '', size: 8, members: [m('b', 1, 0), m('alias', 3, 0)] }, // 6: anonymous union holding b
    { kind: 'STRUCT', name: 'foo', size: 48, members: [m('pad', 3, 0), m('', 6, 64), m('a', 1, 128), m('name', 5, 160), m('u', 2, 320), m('s', 3, 384)] }, // 7
    { kind: 'ENUM', name: 'colour', size: 4, signed: false, values: [{ name: 'BLUE', value: 20 }, { name: 'RED', value: 10 }] }, // 8
    { kind: 'STRUCT', name: 'bits', size: 8, members: [m('pad', 1, 0), m('y', 1, 34, 5), m('x', 1, 39, 3)] }, // 9
    { kind: 'STRUCT', name: 'thing', size: 8, members: [m('x', 1, 0), m('y', 1, 32)] }, // 10
    { kind: 'STRUCT', name: 'thing___v2', size: 8, members: [m('y', 1, 0), m('x', 1, 32)] }, // 11
    { kind: 'STRUCT', name: 'nested___a', size: 8, members: [m('x', 1, 0), m('inner_field', 1, 32)] }, // 12
    { kind: 'STRUCT', name: 'nested___b', size: 8, members: [m('inner_field', 1, 32), m('y', 1, 0)] }, // 13
  ]);
}

const targets = (): CoreTargets => new CoreTargets({ btf: targetBtf(), name: 'test', module: false });

const alu = (imm: number): Instruction => ({ opcode: BPF_ALU64 | BPF_MOV | BPF_K, dst: 1, src: 0, off: 0, imm });
const ldx = (size: number, off: number): Instruction => ({ opcode: BPF_LDX | BPF_MEM | size, dst: 0, src: 1, off, imm: 0 });
const ld64 = (v: number): Instruction => ({ opcode: BPF_LD_IMM64, dst: 1, src: 0, off: 0, imm: v, imm2: 0 });

function relocate(insn: Instruction, typeId: number, accessString: string, kind: number): Instruction[] {
  const withCore: RelocatableInstruction = { ...insn, core: { typeId, accessString, kind } };
  return applyCoreRelocations([withCore], localBtf(), targets()).instructions;
}

describe('CO-RE engine', () => {
  it('FIELD_BYTE_OFFSET finds a field by name, through anonymous members', () => {
    assert.equal(relocate(alu(4), 3, '0:1', CoreReloKind.FIELD_BYTE_OFFSET)[0]!.imm, 8);
    assert.equal(relocate(alu(0), 3, '0:0', CoreReloKind.FIELD_BYTE_OFFSET)[0]!.imm, 16);
    const l = relocate(ldx(BPF_W, 4), 3, '0:1', CoreReloKind.FIELD_BYTE_OFFSET)[0]!;
    assert.equal(l.off, 8);
    assert.equal(l.opcode, BPF_LDX | BPF_MEM | BPF_W);
  });

  it('array element accesses are offset by the target element size', () => {
    assert.equal(relocate(alu(19), 3, '0:4:3', CoreReloKind.FIELD_BYTE_OFFSET)[0]!.imm, 23);
    assert.equal(relocate(alu(1), 3, '0:4:3', CoreReloKind.FIELD_BYTE_SIZE)[0]!.imm, 1);
    assert.equal(relocate(alu(8), 3, '0:4', CoreReloKind.FIELD_BYTE_SIZE)[0]!.imm, 16);
    assert.equal(relocate(alu(28), 3, '1:1', CoreReloKind.FIELD_BYTE_OFFSET)[0]!.imm, 48 + 8);
  });

  it('FIELD_BYTE_SIZE, FIELD_SIGNED and FIELD_EXISTS', () => {
    assert.equal(relocate(alu(4), 3, '0:2', CoreReloKind.FIELD_BYTE_SIZE)[0]!.imm, 8);
    assert.equal(relocate(alu(1), 3, '0:3', CoreReloKind.FIELD_SIGNED)[0]!.imm, 1);
    assert.equal(relocate(alu(0), 3, '0:2', CoreReloKind.FIELD_SIGNED)[0]!.imm, 0);
    assert.equal(relocate(alu(1), 3, '0:1', CoreReloKind.FIELD_EXISTS)[0]!.imm, 1);
    assert.equal(relocate(alu(1), 4, '0:0', CoreReloKind.FIELD_EXISTS)[0]!.imm, 0, 'foo___old.gone is not in the target foo');
  });

  it('a field the target lacks poisons the instruction, a ld_imm64 in both slots', () => {
    const p = relocate(alu(0), 4, '0:0', CoreReloKind.FIELD_BYTE_OFFSET);
    assert.equal(p.length, 1);
    assert.equal(p[0]!.opcode, BPF_JMP | BPF_CALL);
    assert.equal(p[0]!.imm, POISON_HELPER_ID);
    const two = relocate(ld64(0), 4, '0:0', CoreReloKind.FIELD_BYTE_OFFSET);
    assert.equal(two.length, 2);
    assert.ok(two.every((i) => i.opcode === (BPF_JMP | BPF_CALL) && i.imm === POISON_HELPER_ID));
    const r = applyCoreRelocations([{ ...alu(0), core: { typeId: 7, accessString: '0:0', kind: CoreReloKind.FIELD_BYTE_OFFSET } }], localBtf(), targets());
    assert.equal(r.poisoned.get(0)?.local, 'struct not_there.z');
  });

  it('loads grow for unsigned fields and poison for signed ones', () => {
    const u = relocate(ldx(BPF_W, 8), 3, '0:2', CoreReloKind.FIELD_BYTE_OFFSET)[0]!;
    assert.equal(u.off, 40);
    assert.equal(u.opcode, BPF_LDX | BPF_MEM | BPF_DW);
    const s = relocate(ldx(BPF_W, 12), 3, '0:3', CoreReloKind.FIELD_BYTE_OFFSET)[0]!;
    assert.equal(s.imm, POISON_HELPER_ID, 'an int read as a long would lose its sign');
  });

  it('bitfield shifts follow the target layout', () => {
    // y: 5 bits at bit 34 of an 8-byte struct, read with a 4-byte load at byte 4.
    assert.equal(relocate(alu(4), 6, '0:1', CoreReloKind.FIELD_BYTE_OFFSET)[0]!.imm, 4);
    assert.equal(relocate(alu(4), 6, '0:1', CoreReloKind.FIELD_BYTE_SIZE)[0]!.imm, 4);
    assert.equal(relocate(alu(56), 6, '0:1', CoreReloKind.FIELD_LSHIFT_U64)[0]!.imm, 64 - (34 + 5 - 32));
    assert.equal(relocate(alu(59), 6, '0:1', CoreReloKind.FIELD_RSHIFT_U64)[0]!.imm, 59);
    assert.equal(relocate(alu(61), 6, '0:0', CoreReloKind.FIELD_LSHIFT_U64)[0]!.imm, 64 - (39 + 3 - 32));
  });

  it('enum values are found by name without flavours', () => {
    assert.equal(relocate(alu(1), 5, '0', CoreReloKind.ENUMVAL_VALUE)[0]!.imm, 10);
    assert.equal(relocate(alu(2), 5, '1', CoreReloKind.ENUMVAL_VALUE)[0]!.imm, 20);
    assert.equal(relocate(alu(1), 5, '1', CoreReloKind.ENUMVAL_EXISTS)[0]!.imm, 1);
  });

  it('type relocations: exists, size, ids, matches', () => {
    assert.equal(relocate(alu(1), 3, '0', CoreReloKind.TYPE_EXISTS)[0]!.imm, 1);
    assert.equal(relocate(alu(1), 7, '0', CoreReloKind.TYPE_EXISTS)[0]!.imm, 0);
    assert.equal(relocate(alu(24), 3, '0', CoreReloKind.TYPE_SIZE)[0]!.imm, 48);
    assert.equal(relocate(alu(4), 7, '0', CoreReloKind.TYPE_SIZE)[0]!.imm, 0);
    assert.equal(relocate(alu(3), 3, '0', CoreReloKind.TYPE_ID_LOCAL)[0]!.imm, 3);
    const id = relocate(ld64(3), 3, '0', CoreReloKind.TYPE_ID_TARGET)[0]!;
    assert.equal(id.imm, 7);
    assert.equal(id.imm2, 0);
    assert.equal(relocate(alu(1), 10, '0', CoreReloKind.TYPE_MATCHES)[0]!.imm, 1);
    assert.equal(relocate(alu(1), 3, '0', CoreReloKind.TYPE_MATCHES)[0]!.imm, 0, 'u is 8 bytes in the target: not a match');
  });

  it('candidates that disagree are an error; candidates that agree are fine', () => {
    assert.throws(
      () => relocate(alu(4), 10, '0:1', CoreReloKind.FIELD_BYTE_OFFSET),
      (e: unknown) => e instanceof CoreError && /disagree/.test(e.message) && /thing___v2/.test(e.message),
    );
    assert.equal(relocate(alu(0), 11, '0:0', CoreReloKind.FIELD_BYTE_OFFSET)[0]!.imm, 4);
  });

  it('checks the instruction holds the value the compiler computed', () => {
    assertErrno(() => relocate(alu(99), 3, '0:1', CoreReloKind.FIELD_BYTE_OFFSET), 'EBADOBJ', CoreError);
    assert.throws(() => relocate(alu(0), 3, '0:9', CoreReloKind.FIELD_BYTE_OFFSET), (e: unknown) => e instanceof CoreError);
    assert.throws(() => relocate(alu(0), 3, 'x', CoreReloKind.FIELD_BYTE_OFFSET), (e: unknown) => e instanceof CoreError);
  });

  it('types match by the strict rules of TYPE_MATCHES', () => {
    const l = localBtf();
    const tb = targetBtf();
    assert.equal(typesMatch(l, 10, tb, 10), true);
    assert.equal(typesMatch(l, 1, tb, 1), true);
    assert.equal(typesMatch(l, 2, tb, 1), false, 'signedness differs');
    assert.equal(typesMatch(l, 5, tb, 8), true, 'RED and BLUE___local are both in the target enum');
    assert.equal(typesMatch(l, 3, tb, 7), false, 'u and s have other sizes in the target');
    assert.equal(typesMatch(l, 6, tb, 9), false, 'unsigned bitfields locally, signed in the target');
  });
});

describe('CO-RE against the running kernel', () => {
  kernelTest('core.bpf.o computes offsets, sizes, existence and enum values as the kernel BTF says', () => {
    const spec = CollectionSpec.fromFile(corpus('core.bpf.o'));
    using c = spec.load();
    const ctx = new Uint8Array(4);
    new DataView(ctx.buffer).setInt32(0, process.pid, true);
    assert.equal(c.programs.core_values!.testRun({ ctx }).retval, 0);
    const k = readKernelBtf();
    const task = k.typeByName('task_struct', 'STRUCT');
    const off = (name: string): bigint => BigInt(findMember(k, task.id, name)!.bitOffset / 8);
    const v = (name: string): unknown => c.variables[name]!.value;
    assert.equal(v('off_pid'), off('pid'));
    assert.equal(v('off_tgid'), off('tgid'));
    assert.equal(v('off_comm'), off('comm'));
    assert.equal(v('off_real_parent'), off('real_parent'));
    assert.equal(v('array_elem_off'), off('comm') + 3n);
    assert.equal(v('size_comm'), 16n);
    assert.equal(v('size_pid'), 4n);
    assert.equal(v('size_state'), BigInt(sizeOf(k, findMember(k, task.id, '__state')!.member.type)));
    assert.equal(v('exists_pid'), 1n);
    assert.equal(v('exists_state_new'), findMember(k, task.id, '__state') ? 1n : 0n);
    assert.equal(v('exists_state_old'), findMember(k, task.id, 'state') ? 1n : 0n);
    assert.equal(v('exists_fake'), 0n);
    assert.equal(v('signed_pid'), 1n);
    assert.equal(v('signed_state'), 0n);
    const bit = findMember(k, task.id, 'in_execve')!;
    assert.equal(bit.member.bitfieldSize, 1);
    const byteOff = Math.floor(bit.bitOffset / 32) * 4;
    assert.equal(v('off_in_execve'), BigInt(byteOff));
    assert.equal(v('size_in_execve'), 4n);
    assert.equal(v('lshift_in_execve'), BigInt(64 - (bit.bitOffset + 1 - byteOff * 8)));
    assert.equal(v('rshift_in_execve'), 63n);
    assert.equal(v('type_exists_task'), 1n);
    assert.equal(v('type_exists_fake'), 0n);
    assert.equal(v('type_size_task'), BigInt(task.size));
    assert.equal(v('type_matches_task'), 1n);
    assert.equal(v('type_id_target_task'), BigInt(task.id));
    assert.equal(v('type_id_local_task'), BigInt(spec.btf!.typeByName('task_struct', 'STRUCT').id));
    const ringbuf = k.typeByName('bpf_map_type', 'ENUM').values.find((e) => e.name === 'BPF_MAP_TYPE_RINGBUF')!.value;
    assert.equal(v('enum_exists_ringbuf'), 1n);
    assert.equal(v('enum_value_ringbuf'), BigInt(ringbuf));
    assert.equal(v('enum_exists_fake'), 0n);
    assert.equal(v('enum_value_flavoured'), BigInt(ringbuf));
    assert.equal(v('read_tgid'), process.pid);
    assert.equal(v('read_pid'), process.pid);
    assert.equal(v('read_parent_tgid'), process.ppid);
    assert.equal(v('comm'), readComm());
  });

  kernelTest('a raw_tp program run in this task reads its tgid through CO-RE', () => {
    const spec = CollectionSpec.fromFile(corpus('core.bpf.o'));
    spec.rewriteConstants({ target_tgid: process.pid });
    using c = spec.load();
    c.programs.core_raw_tp!.testRun({ ctx: new Uint8Array(16) });
    assert.equal(c.variables.raw_tp_hits!.value, 1n);
    assert.equal(c.variables.read_tgid!.value, process.pid);
    assert.equal(c.variables.read_pid!.value, process.pid, 'the old `state` branch was dead and the new one taken');
  });

  kernelTest('an unresolvable relocation that is reached fails with the type and field named', () => {
    const spec = CollectionSpec.fromFile(corpus('core_poison.bpf.o'));
    const guarded = spec.copy();
    delete guarded.programs.unguarded;
    using ok = guarded.load();
    ok.programs.guarded!.testRun({ ctx: new Uint8Array(16) });
    assert.equal(ok.variables.value!.value, 0);
    delete spec.programs.guarded;
    let error: unknown;
    try {
      spec.load();
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ProgramVerifierError, String(error));
    assert.equal(error.core?.local, 'struct task_struct___gone.field_that_is_gone');
    assert.match(error.message, /CO-RE relocation failed: struct task_struct___gone\.field_that_is_gone \(FIELD_BYTE_OFFSET\)/);
    assert.equal(error.source?.file, 'core_poison.bpf.c');
  });

  kernelTest('relocates against a custom BTF file instead of the kernel', () => {
    const spec = CollectionSpec.fromFile(corpus('core_local.bpf.o'));
    const ambiguous = spec.copy();
    delete spec.programs.ambiguous;
    using c = spec.load({ kernelBtf: corpus('core_target.bpf.o') });
    assert.equal(c.programs.local_core!.testRun({ data: new Uint8Array(64) }).retval, 44);
    const v = (n: string): unknown => c.variables[n]!.value;
    // struct widget in the target: long pad[3] (24), char name[16] (40), 5+3+4 bits, int b at 44, short a at 48.
    assert.equal(v('off_a'), 48n);
    assert.equal(v('off_b'), 44n);
    assert.equal(v('off_name'), 24n);
    assert.equal(v('size_a'), 2n);
    assert.equal(v('size_name'), 16n);
    assert.equal(v('exists_removed'), 0n);
    assert.equal(v('enum_light'), 20n);
    assert.equal(v('enum_dark'), 10n);
    assert.equal(v('widget_size'), 64n);
    assert.equal(v('mode_off'), 40n);
    assert.equal(v('mode_size'), 4n);
    assert.equal(v('mode_lshift'), BigInt(64 - (5 + 3)));
    assert.equal(v('mode_rshift'), 61n);
    delete ambiguous.programs.local_core;
    assert.throws(
      () => ambiguous.load({ kernelBtf: corpus('core_target.bpf.o') }),
      (e: unknown) => e instanceof CoreError && /disagree/.test(e.message) && e.program === 'ambiguous',
    );
  });
});

/** The kernel's task->comm of this process, as /proc/self/comm shows it. */
function readComm(): string {
  return readFileSync('/proc/self/comm', 'utf8').trim();
}
