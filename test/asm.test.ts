import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AsmError,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CLASS,
  BPF_DW,
  BPF_EXIT,
  BPF_FUNC,
  BPF_FUNC_MAX_ID,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_LD_IMM64,
  BPF_MOV,
  BPF_PSEUDO_MAP_VALUE,
  BPF_STX,
  BPF_W,
  decode,
  encode,
  encodeInstruction,
  helperId,
  helperName,
  imm64,
  instructionSlots,
  isFunctionCall,
  isHelperCall,
  isJump,
  isKfuncCall,
  programSlots,
  slotOffsets,
  splitImm64,
  type Instruction,
} from '../src/asm/index.js';
import { parseFuncIds, renderHelperTable } from '../src/asm/gen-helpers.js';
import { fixtureBytes, fixtureText, objdumpTexts } from './fixtures/asm/fixtures.js';

function byteHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

describe('asm encode/decode against llvm-mc output', () => {
  const le = fixtureBytes('insns.le.bin');
  const be = fixtureBytes('insns.be.bin');

  it('round-trips every instruction of the little-endian fixture byte for byte', () => {
    const insns = decode(le);
    assert.deepEqual(encode(insns), le);
    assert.equal(programSlots(insns) * 8, le.length);
  });

  it('round-trips the big-endian fixture', () => {
    const insns = decode(be, { byteOrder: 'big' });
    assert.deepEqual(encode(insns, { byteOrder: 'big' }), be);
  });

  it('round-trips unusual encodings: ignored fields, r11, invalid operations, zero slots', () => {
    const quirks = fixtureBytes('quirks.le.bin');
    assert.deepEqual(encode(decode(quirks)), quirks);
  });

  it('decodes both byte orders to the same instructions', () => {
    assert.deepEqual(decode(be, { byteOrder: 'big' }), decode(le));
  });

  it('starts each instruction at the slot objdump numbers it with, and encodes it to the bytes objdump shows', () => {
    const listing = fixtureText('insns.le.objdump.txt');
    const rows = [...listing.matchAll(/^ *(\d+):\t((?:[0-9a-f]{2} ?)+)\t/gm)].map((m) => ({
      slot: Number(m[1]),
      bytes: m[2]!.trim(),
    }));
    const insns = decode(le);
    assert.equal(rows.length, insns.length);
    assert.deepEqual(
      slotOffsets(insns),
      rows.map((r) => r.slot),
    );
    insns.forEach((insn, i) => assert.equal(byteHex(encodeInstruction(insn)), rows[i]!.bytes, `instruction ${i}`));
  });

  it('covers every instruction class', () => {
    const classes = new Set(decode(le).map((insn) => BPF_CLASS(insn.opcode)));
    assert.deepEqual([...classes].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('keeps a ld_imm64 as one instruction with both halves', () => {
    const listing = objdumpTexts(fixtureText('insns.le.objdump.txt'));
    const insns = decode(le);
    const slots = slotOffsets(insns);
    const at = (text: string): Instruction => {
      const slot = [...listing].find(([, t]) => t === text)?.[0];
      assert.notEqual(slot, undefined, text);
      return insns[slots.indexOf(slot!)]!;
    };
    const big = at('r4 = 0x123456789abcdef0 ll');
    assert.equal(big.opcode, BPF_LD_IMM64);
    assert.equal(instructionSlots(big), 2);
    assert.equal(big.imm, 0x9abcdef0 | 0);
    assert.equal(big.imm2, 0x12345678);
    assert.equal(imm64(big), 0x123456789abcdef0n);
    assert.equal(imm64(at('r3 = -0x1 ll')), -1n);
    assert.equal(imm64(at('r6 = -0x8000000000000000 ll')), -(2n ** 63n));
    const mapValue = at('ld_pseudo\tr1, 0x2, 0x4');
    assert.equal(mapValue.src, BPF_PSEUDO_MAP_VALUE);
    assert.equal(mapValue.imm, 4);
    assert.equal(mapValue.imm2, 0);
  });

  it('classifies calls and jumps', () => {
    const listing = objdumpTexts(fixtureText('insns.le.objdump.txt'));
    const insns = decode(le);
    const slots = slotOffsets(insns);
    const bySlot = (slot: number): Instruction => insns[slots.indexOf(slot)]!;
    const slotOf = (text: string): number => [...listing].find(([, t]) => t === text)![0];
    assert.ok(isHelperCall(bySlot(slotOf('call 0xd3'))));
    assert.ok(isFunctionCall(bySlot(slotOf('call -0x1'))));
    assert.ok(isKfuncCall(bySlot(slotOf('call 0x1234'))));
    assert.ok(isJump(bySlot(slotOf('gotol +0x31 <LBB3_2>'))));
    assert.ok(!isJump(bySlot(slotOf('call 0x1'))));
    assert.ok(!isJump(bySlot(slotOf('exit'))));
  });
});

describe('asm encode/decode details', () => {
  it('lays out fields as the kernel reads them, in either byte order', () => {
    const insn: Instruction = { opcode: BPF_STX | BPF_ATOMIC | BPF_DW, dst: 1, src: 2, off: -8, imm: 0x100 };
    assert.equal(byteHex(encodeInstruction(insn)), 'db 21 f8 ff 00 01 00 00');
    assert.equal(byteHex(encodeInstruction(insn, { byteOrder: 'big' })), 'db 12 ff f8 00 00 01 00');
  });

  it('accepts an unsigned 32-bit immediate and decodes it signed', () => {
    const insn: Instruction = { opcode: BPF_ALU64 | BPF_MOV | BPF_K, dst: 0, src: 0, off: 0, imm: 0xffffffff };
    assert.equal(decode(encodeInstruction(insn))[0]!.imm, -1);
  });

  it('ignores metadata when encoding', () => {
    const plain: Instruction = { opcode: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 };
    const annotated: Instruction = { ...plain, symbol: 'f', reference: 'x', source: { file: 'a.c', line: 3 } };
    assert.deepEqual(encode([annotated]), encode([plain]));
  });

  it('writes a missing imm2 of a ld_imm64 as zero', () => {
    const bytes = encode([{ opcode: BPF_LD_IMM64, dst: 1, src: 0, off: 0, imm: 7 }]);
    assert.equal(bytes.length, 16);
    assert.deepEqual(decode(bytes), [{ opcode: BPF_LD_IMM64, dst: 1, src: 0, off: 0, imm: 7, imm2: 0 }]);
  });

  it('decodes from a view into a larger buffer', () => {
    const whole = new Uint8Array(24);
    whole.set(encodeInstruction({ opcode: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 }), 8);
    assert.deepEqual(decode(whole.subarray(8, 16)), [{ opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
  });

  it('rejects fields that do not fit, naming the instruction', () => {
    const ok: Instruction = { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 };
    for (const bad of [
      { ...ok, off: 0x8000 },
      { ...ok, off: 1.5 },
      { ...ok, dst: 16 },
      { ...ok, imm: 2 ** 32 },
      { ...ok, imm: -(2 ** 31) - 1 },
      { ...ok, opcode: 256 },
      { opcode: BPF_LD_IMM64, dst: 0, src: 0, off: 0, imm: 0, imm2: 2 ** 32 },
    ]) {
      assert.throws(
        () => encode([ok, bad]),
        (e: unknown) => e instanceof AsmError && e.code === 'OUT_OF_RANGE' && e.index === 1,
        JSON.stringify(bad),
      );
    }
  });

  it('rejects bytes that are not whole instructions', () => {
    assert.throws(() => decode(new Uint8Array(12)), (e: unknown) => e instanceof AsmError && e.code === 'TRUNCATED');
    const half = encode([{ opcode: BPF_LD_IMM64, dst: 1, src: 0, off: 0, imm: 1, imm2: 2 }]).subarray(0, 8);
    assert.throws(() => decode(half), (e: unknown) => e instanceof AsmError && e.code === 'TRUNCATED');
  });

  it('splits and joins 64-bit immediates', () => {
    for (const v of [0n, 1n, -1n, 0x7fffffffn, 0x80000000n, 0x123456789abcdef0n, -(2n ** 63n), 2n ** 63n - 1n]) {
      const halves = splitImm64(v);
      assert.ok(halves.imm >= -(2 ** 31) && halves.imm < 2 ** 31);
      assert.equal(imm64({ opcode: BPF_LD_IMM64, dst: 0, src: 0, off: 0, ...halves }), v);
    }
    assert.deepEqual(splitImm64(0xffffffff), { imm: -1, imm2: 0 });
  });

  it('counts slots', () => {
    const insns: Instruction[] = [
      { opcode: BPF_LD_IMM64, dst: 1, src: 0, off: 0, imm: 0, imm2: 0 },
      { opcode: BPF_JMP32, dst: 0, src: 0, off: 0, imm: 0 },
      { opcode: BPF_LD_IMM64, dst: 1, src: 0, off: 0, imm: 0, imm2: 0 },
      { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ];
    assert.deepEqual(slotOffsets(insns), [0, 2, 3, 5]);
    assert.equal(programSlots(insns), 6);
    assert.equal(encode(insns).length, 48);
  });

  it('uses the atomic and size constants of the UAPI', () => {
    assert.equal(BPF_STX | BPF_ATOMIC | BPF_W, 0xc3);
    assert.equal(BPF_STX | BPF_ATOMIC | BPF_DW, 0xdb);
    assert.equal(BPF_LD_IMM64, 0x18);
  });
});

describe('asm helper table', () => {
  it('has the kernel ids', () => {
    assert.equal(BPF_FUNC.map_lookup_elem, 1);
    assert.equal(BPF_FUNC.map_update_elem, 2);
    assert.equal(BPF_FUNC.trace_printk, 6);
    assert.equal(BPF_FUNC.get_current_pid_tgid, 14);
    assert.equal(BPF_FUNC.ringbuf_output, 130);
    assert.equal(BPF_FUNC.loop, 181);
    assert.equal(BPF_FUNC.cgrp_storage_delete, 211);
    assert.equal(BPF_FUNC_MAX_ID, 212);
    assert.equal(Object.keys(BPF_FUNC).length, BPF_FUNC_MAX_ID);
    assert.deepEqual(
      Object.values(BPF_FUNC),
      Array.from({ length: BPF_FUNC_MAX_ID }, (_, i) => i),
    );
  });

  it('looks helpers up by any spelling and back', () => {
    assert.equal(helperId('map_lookup_elem'), 1);
    assert.equal(helperId('bpf_map_lookup_elem'), 1);
    assert.equal(helperId('BPF_FUNC_map_lookup_elem'), 1);
    assert.equal(helperId('no_such_helper'), undefined);
    assert.equal(helperId('unspec'), undefined);
    assert.equal(helperName(1), 'map_lookup_elem');
    assert.equal(helperName(211), 'cgrp_storage_delete');
    assert.equal(helperName(0), undefined);
    assert.equal(helperName(BPF_FUNC_MAX_ID), undefined);
  });

  it('is generated from a bpftool dump of enum bpf_func_id', () => {
    const dump = [
      "[1934] TYPEDEF 'u32' type_id=23",
      "[1935] ENUM 'bpf_func_id' encoding=UNSIGNED size=4 vlen=4",
      "\t'BPF_FUNC_unspec' val=0",
      "\t'BPF_FUNC_map_lookup_elem' val=1",
      "\t'BPF_FUNC_map_update_elem' val=2",
      "\t'__BPF_FUNC_MAX_ID' val=3",
      "[1936] STRUCT 'x' size=8 vlen=0",
    ].join('\n');
    const { names, maxId } = parseFuncIds(dump);
    assert.deepEqual(names, ['unspec', 'map_lookup_elem', 'map_update_elem']);
    assert.equal(maxId, 3);
    const table = renderHelperTable(names, maxId, '6.18');
    assert.match(table, /^ {2}map_update_elem: 2,$/m);
    assert.match(table, /^export const BPF_FUNC_MAX_ID = 3;$/m);
    assert.throws(() => parseFuncIds(dump.replace("val=2", "val=5")));
    assert.throws(() => parseFuncIds("[1] INT 'int' size=4"));
  });
});
