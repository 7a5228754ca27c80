import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AsmError,
  Assembler,
  BPF_B,
  BPF_CALL,
  BPF_DW,
  BPF_EXIT,
  BPF_H,
  BPF_JEQ,
  BPF_JMP,
  BPF_LD_IMM64,
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
  BPF_W,
  R0,
  R1,
  R10,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  decode,
  disassemble,
  encode,
  imm64,
  resolveReferences,
  type AsmErrorCode,
  type HelperSpelling,
  type Instruction,
} from '../src/asm/index.js';
import { fixtureBytes, fixtureText } from './fixtures/asm/fixtures.js';

function asmError(code: AsmErrorCode, label?: string): (e: unknown) => boolean {
  return (e) => e instanceof AsmError && e.code === code && (label === undefined || e.label === label);
}

/** The program of test/fixtures/asm/insns.s, written with the builder. */
function fixtureProgram(): Assembler {
  const b = new Assembler();
  b.label('alu')
    .mov64Imm(R0, 0)
    .mov64Imm(R1, 1)
    .mov64Imm(R2, -1)
    .mov64Imm(R3, 2147483647)
    .mov64Imm(R4, -2147483648)
    .mov64Reg(R5, R6)
    .mov64Reg(R7, R10)
    .mov32Imm(R0, 0)
    .mov32Imm(R1, -1)
    .mov32Imm(R2, 0x7fffffff)
    .mov32Reg(R3, R4)
    .add64Reg(R0, R1)
    .add64Imm(R0, 1)
    .add64Imm(R0, -7)
    .sub64Reg(R1, R2)
    .sub64Imm(R1, 2)
    .mul64Reg(R2, R3)
    .mul64Imm(R2, 3)
    .div64Reg(R3, R4)
    .div64Imm(R3, 4)
    .or64Reg(R4, R5)
    .or64Imm(R4, 5)
    .and64Reg(R5, R6)
    .and64Imm(R5, 6)
    .lsh64Reg(R6, R7)
    .lsh64Imm(R6, 7)
    .rsh64Reg(R7, R8)
    .rsh64Imm(R7, 8)
    .neg64(R8)
    .mod64Reg(R9, R0)
    .mod64Imm(R9, 9)
    .xor64Reg(R0, R1)
    .xor64Imm(R0, -1)
    .arsh64Reg(R1, R2)
    .arsh64Imm(R1, 63)
    .sdiv64Reg(R2, R3)
    .sdiv64Imm(R2, -3)
    .smod64Reg(R3, R4)
    .smod64Imm(R3, 4)
    .add32Reg(R0, R1)
    .add32Imm(R0, 1)
    .sub32Reg(R1, R2)
    .sub32Imm(R1, 2)
    .mul32Reg(R2, R3)
    .mul32Imm(R2, 3)
    .div32Reg(R3, R4)
    .div32Imm(R3, 4)
    .or32Reg(R4, R5)
    .or32Imm(R4, 5)
    .and32Reg(R5, R6)
    .and32Imm(R5, 6)
    .lsh32Reg(R6, R7)
    .lsh32Imm(R6, 7)
    .rsh32Reg(R7, R8)
    .rsh32Imm(R7, 8)
    .neg32(R8)
    .mod32Reg(R9, R0)
    .mod32Imm(R9, 9)
    .xor32Reg(R0, R1)
    .xor32Imm(R0, -1)
    .arsh32Reg(R1, R2)
    .arsh32Imm(R1, 31)
    .sdiv32Reg(R2, R3)
    .sdiv32Imm(R2, -3)
    .smod32Reg(R3, R4)
    .smod32Imm(R3, 4)
    .movsx64(R1, R2, 8)
    .movsx64(R1, R2, 16)
    .movsx64(R1, R2, 32)
    .movsx32(R1, R2, 8)
    .movsx32(R1, R2, 16)
    .be(R1, 16)
    .be(R2, 32)
    .be(R3, 64)
    .le(R1, 16)
    .le(R2, 32)
    .le(R3, 64)
    .bswap(R1, 16)
    .bswap(R2, 32)
    .bswap(R3, 64)
    .addrSpaceCast(R1, R2, 0, 1)
    .addrSpaceCast(R1, R2, 1, 0)
    .exit();

  b.label('mem')
    .ldx(BPF_B, R0, R1, 0)
    .ldx(BPF_H, R0, R1, 2)
    .ldx(BPF_W, R0, R1, 4)
    .ldx(BPF_DW, R0, R1, 8)
    .ldx(BPF_DW, R2, R10, -8)
    .ldx(BPF_B, R3, R4, 32767)
    .ldx(BPF_B, R3, R4, -32768)
    .ldx(BPF_B, R0, R1, 0)
    .ldx(BPF_H, R0, R1, 2)
    .ldx(BPF_W, R0, R1, 4)
    .ldxsx(BPF_B, R0, R1, 1)
    .ldxsx(BPF_H, R0, R1, -2)
    .ldxsx(BPF_W, R0, R1, 4)
    .stx(BPF_B, R10, R1, -1)
    .stx(BPF_H, R10, R1, -2)
    .stx(BPF_W, R10, R1, -4)
    .stx(BPF_DW, R10, R1, -8)
    .stx(BPF_B, R10, R1, -1)
    .stx(BPF_H, R10, R1, -2)
    .stx(BPF_W, R10, R1, -4)
    .st(BPF_B, R10, -1, 1)
    .st(BPF_H, R10, -2, -2)
    .st(BPF_W, R10, -4, 3)
    .st(BPF_DW, R10, -8, -4)
    .ldAbs(BPF_B, 1)
    .ldAbs(BPF_H, 2)
    .ldAbs(BPF_W, -4)
    .ldInd(BPF_B, R1, 0)
    .ldInd(BPF_H, R2, 0)
    .ldInd(BPF_W, R3, 0)
    .ldImm64(R1, 0)
    .ldImm64(R2, 1)
    .ldImm64(R3, -1n)
    .ldImm64(R4, 0x123456789abcdef0n)
    .ldImm64(R5, 0x80000000)
    .ldImm64(R6, 0x8000000000000000n)
    .ldImm64(R7, 0xffffffff00000000n)
    .ldMapFd(R1, 3)
    .ldMapValue(R1, 4)
    .ldBtfId(R2, 5)
    .ldFunc(R2, 6)
    .ldMapIdx(R3, 7)
    .ldMapIdxValue(R3, -1)
    .exit();

  b.label('atomic')
    .atomicAdd(BPF_DW, R1, R2, 0)
    .atomicOr(BPF_DW, R1, R2, 8)
    .atomicAnd(BPF_DW, R1, R2, -8)
    .atomicXor(BPF_DW, R1, R2, 0)
    .atomicFetchAdd(BPF_DW, R1, R2, 0)
    .atomicFetchOr(BPF_DW, R1, R2, 0)
    .atomicFetchAnd(BPF_DW, R1, R2, 0)
    .atomicFetchXor(BPF_DW, R1, R2, 0)
    .atomicXchg(BPF_DW, R1, R2, 16)
    .atomicCmpxchg(BPF_DW, R1, R2, 0)
    .atomicAdd(BPF_W, R1, R2, 0)
    .atomicOr(BPF_W, R1, R2, 4)
    .atomicAnd(BPF_W, R1, R2, 0)
    .atomicXor(BPF_W, R1, R2, 0)
    .atomicFetchAdd(BPF_W, R1, R2, 0)
    .atomicFetchOr(BPF_W, R1, R2, 0)
    .atomicFetchAnd(BPF_W, R1, R2, 0)
    .atomicFetchXor(BPF_W, R1, R2, 0)
    .atomicXchg(BPF_W, R1, R2, 4)
    .atomicCmpxchg(BPF_W, R1, R2, 0)
    .exit();

  const out = 'LBB3_2';
  b.label('jump')
    .ja(out)
    .gotol(out)
    .mayGoto(out)
    .jeqReg(R1, R2, out)
    .jeqImm(R1, 1, out)
    .jneReg(R1, R2, out)
    .jneImm(R1, -1, out)
    .jgtReg(R1, R2, out)
    .jgtImm(R1, 2, out)
    .jgeReg(R1, R2, out)
    .jgeImm(R1, 3, out)
    .jltReg(R1, R2, out)
    .jltImm(R1, 4, out)
    .jleReg(R1, R2, out)
    .jleImm(R1, 5, out)
    .jsgtReg(R1, R2, out)
    .jsgtImm(R1, -6, out)
    .jsgeReg(R1, R2, out)
    .jsgeImm(R1, 7, out)
    .jsltReg(R1, R2, out)
    .jsltImm(R1, 8, out)
    .jsleReg(R1, R2, out)
    .jsleImm(R1, 9, out)
    .jsetReg(R1, R2, out)
    .jsetImm(R1, 0x10, out);
  const back = 'LBB3_1';
  b.label(back)
    .jeq32Reg(R1, R2, back)
    .jeq32Imm(R1, 1, back)
    .jne32Reg(R1, R2, back)
    .jne32Imm(R1, -1, back)
    .jgt32Reg(R1, R2, back)
    .jgt32Imm(R1, 2, back)
    .jge32Reg(R1, R2, back)
    .jge32Imm(R1, 3, back)
    .jlt32Reg(R1, R2, back)
    .jlt32Imm(R1, 4, back)
    .jle32Reg(R1, R2, back)
    .jle32Imm(R1, 5, back)
    .jsgt32Reg(R1, R2, back)
    .jsgt32Imm(R1, -6, back)
    .jsge32Reg(R1, R2, back)
    .jsge32Imm(R1, 7, back)
    .jslt32Reg(R1, R2, back)
    .jslt32Imm(R1, 8, back)
    .jsle32Reg(R1, R2, back)
    .jsle32Imm(R1, 9, back)
    .jset32Reg(R1, R2, back)
    .jset32Imm(R1, 0x10, back)
    .ja(back)
    .gotol(back)
    .ja(0)
    .ja(-1);
  b.label(out)
    .call('map_lookup_elem')
    .call(211)
    // The object leaves this call to its relocation: imm -1 until linked.
    .callFunction(-1)
    .callx(R3)
    .exit();

  b.label('raw').kfuncCall(0x1234).kfuncCall(0x1234, 1).callFunction(-3).callFunction(1).mov64Imm(R0, 0).exit();
  return b;
}

describe('asm assembler', () => {
  it('builds the instruction-set fixture byte for byte as llvm-mc assembles it', () => {
    assert.deepEqual(encode(fixtureProgram().assemble()), fixtureBytes('insns.le.bin'));
    assert.deepEqual(encode(fixtureProgram().assemble(), { byteOrder: 'big' }), fixtureBytes('insns.be.bin'));
  });

  it('marks labels as symbols, so the program disassembles as objdump lists the object', () => {
    const listing = disassemble(fixtureProgram().assemble(), { rawBytes: true, alu32: true });
    assert.equal(listing, fixtureText('insns.le.alu32.objdump.txt'));
  });

  it('resolves the example of the design notes', () => {
    const b = new Assembler();
    b.mov64Imm(R0, 0);
    b.jeqImm(R1, 0, 'out');
    b.call('map_lookup_elem');
    b.label('out');
    b.exit();
    const insns = b.assemble();
    assert.deepEqual(insns, [
      { opcode: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
      { opcode: 0x15, dst: 1, src: 0, off: 1, imm: 0, reference: 'out' },
      { opcode: 0x85, dst: 0, src: 0, off: 0, imm: 1 },
      { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0, symbol: 'out' },
    ]);
  });

  it('counts a ld_imm64 as two slots in jump offsets, forward and backward', () => {
    const insns = new Assembler()
      .label('top')
      .ldImm64(R1, 1)
      .jeqImm(R1, 0, 'end')
      .ldImm64(R2, 2)
      .ldMapFd(R3, 'events')
      .ja('top')
      .label('end')
      .exit()
      .assemble();
    assert.equal(insns[1]!.off, 5);
    assert.equal(insns[4]!.off, -8);
    assert.deepEqual(decode(encode(insns)).map((i) => i.off), [0, 5, 0, 0, -8, 0]);
  });

  it('resolves several labels at one instruction, the first naming it', () => {
    const insns = new Assembler().ja('b').label('a').label('b').exit().ja('a').assemble();
    assert.equal(insns[0]!.off, 0);
    assert.equal(insns[1]!.symbol, 'a');
    assert.equal(insns[2]!.off, -2);
  });

  it('keeps a symbol given with emit and makes it a label', () => {
    const insns = new Assembler()
      .label('outer')
      .emit({ opcode: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0, symbol: 'inner' })
      .ja('inner')
      .ja('outer')
      .assemble();
    assert.equal(insns[0]!.symbol, 'inner');
    assert.deepEqual(insns.slice(1).map((i) => i.off), [-2, -3]);
  });

  it('jumps further than 16 bits with gotol only', () => {
    const far = new Assembler().ja('end');
    const farL = new Assembler().gotol('end');
    for (let i = 0; i < 0x8000; i++) {
      far.mov64Imm(R0, 0);
      farL.mov64Imm(R0, 0);
    }
    far.label('end').exit();
    farL.label('end').exit();
    assert.throws(() => far.assemble(), asmError('OUT_OF_RANGE', 'end'));
    assert.equal(farL.assemble()[0]!.imm, 0x8000);
  });

  it('rejects unknown, duplicate and dangling labels with typed errors', () => {
    assert.throws(() => new Assembler().ja('nowhere').exit().assemble(), (e: unknown) => {
      return asmError('UNKNOWN_LABEL', 'nowhere')(e) && (e as AsmError).index === 0;
    });
    assert.throws(() => new Assembler().jeqImm(R1, 0, 'x').exit().assemble(), asmError('UNKNOWN_LABEL', 'x'));
    assert.throws(() => new Assembler().label('a').exit().label('a'), asmError('DUPLICATE_LABEL', 'a'));
    assert.throws(() => new Assembler().label('a').label('a'), asmError('DUPLICATE_LABEL', 'a'));
    assert.throws(() => new Assembler().exit().label('end').assemble(), asmError('DANGLING_LABEL', 'end'));
    assert.throws(() => new Assembler().label(''), asmError('INVALID_ARGUMENT'));
  });

  it('calls helpers by name, C name, enum name or id, and rejects unknown ones', () => {
    const insns = new Assembler()
      .call('ringbuf_output')
      .call('bpf_ktime_get_ns')
      .call('BPF_FUNC_trace_printk')
      .call(14)
      .assemble();
    assert.deepEqual(
      insns.map((i) => [i.opcode, i.src, i.imm]),
      [
        [0x85, 0, 130],
        [0x85, 0, 5],
        [0x85, 0, 6],
        [0x85, 0, 14],
      ],
    );
    assert.throws(() => new Assembler().call('map_lookup_elemm' as HelperSpelling), asmError('UNKNOWN_HELPER'));
    assert.throws(() => new Assembler().call('unspec' as HelperSpelling), asmError('UNKNOWN_HELPER'));
    assert.throws(() => new Assembler().call(0), asmError('UNKNOWN_HELPER'));
  });

  it('calls and loads bpf-to-bpf functions by label with BPF_PSEUDO_CALL / BPF_PSEUDO_FUNC', () => {
    const insns = new Assembler()
      .label('main')
      .ldFunc(R2, 'callback')
      .callFunction('sub')
      .exit()
      .label('sub')
      .mov64Imm(R0, 1)
      .exit()
      .label('callback')
      .mov64Imm(R0, 0)
      .exit()
      .assemble();
    // The kernel finds the function at (slot of the ld_imm64) + imm + 1: 0 + 5 + 1 = slot 6.
    assert.deepEqual(insns[0], {
      opcode: BPF_LD_IMM64,
      dst: 2,
      src: BPF_PSEUDO_FUNC,
      off: 0,
      imm: 5,
      imm2: 0,
      reference: 'callback',
      symbol: 'main',
    });
    assert.deepEqual(insns[1], { opcode: BPF_JMP | BPF_CALL, dst: 0, src: BPF_PSEUDO_CALL, off: 0, imm: 1, reference: 'sub' });
    assert.throws(() => new Assembler().callFunction('missing').exit().assemble(), asmError('UNKNOWN_LABEL', 'missing'));
  });

  it('leaves calls to other functions for a linker, which resolves them after appending', () => {
    const main = new Assembler().callFunction('helper').exit().assemble({ allowUnresolvedCalls: true });
    assert.equal(main[0]!.imm, 0);
    assert.equal(main[0]!.reference, 'helper');
    const jumpOut = new Assembler().ja('helper').exit();
    assert.throws(() => jumpOut.assemble({ allowUnresolvedCalls: true }), asmError('UNKNOWN_LABEL'));
    const helper = new Assembler().label('helper').mov64Imm(R0, 7).exit().assemble();
    const linked = resolveReferences([...main, ...helper]);
    assert.equal(linked[0]!.imm, 1);
    assert.equal(main[0]!.imm, 0, 'the input stays as it was');
    assert.throws(
      () => resolveReferences([...helper, ...helper]),
      (e: unknown) => asmError('DUPLICATE_LABEL', 'helper')(e) && (e as AsmError).index === 2,
    );
  });

  it('loads maps and kernel symbols by fd, index or name for the loader', () => {
    const insns = new Assembler()
      .ldMapFd(R1, 'events')
      .ldMapFd(R1, 7)
      .ldMapValue(R2, '.rodata', 16)
      .ldMapValue(R2, 8, 4)
      .ldMapIdx(R3, 1)
      .ldMapIdxValue(R3, 2, 12)
      .ldBtfId(R4, 'bpf_prog_active')
      .ldBtfId(R4, 1234, 9)
      .kfuncCall('bpf_task_acquire')
      .kfuncCall(777, 2)
      .assemble();
    const fields = insns.map((i) => [i.opcode, i.src, i.imm, i.imm2, i.off, i.reference]);
    assert.deepEqual(fields, [
      [0x18, BPF_PSEUDO_MAP_FD, 0, 0, 0, 'events'],
      [0x18, BPF_PSEUDO_MAP_FD, 7, 0, 0, undefined],
      [0x18, BPF_PSEUDO_MAP_VALUE, 0, 16, 0, '.rodata'],
      [0x18, BPF_PSEUDO_MAP_VALUE, 8, 4, 0, undefined],
      [0x18, BPF_PSEUDO_MAP_IDX, 1, 0, 0, undefined],
      [0x18, BPF_PSEUDO_MAP_IDX_VALUE, 2, 12, 0, undefined],
      [0x18, BPF_PSEUDO_BTF_ID, 0, 0, 0, 'bpf_prog_active'],
      [0x18, BPF_PSEUDO_BTF_ID, 1234, 9, 0, undefined],
      [0x85, BPF_PSEUDO_KFUNC_CALL, 0, undefined, 0, 'bpf_task_acquire'],
      [0x85, BPF_PSEUDO_KFUNC_CALL, 777, undefined, 2, undefined],
    ]);
  });

  it('attaches source locations to the instructions that follow', () => {
    const loc = { file: 'a.bpf.c', line: 10, column: 5, text: 'return 0;' };
    const insns = new Assembler().mov64Imm(R0, 1).at(loc).mov64Imm(R0, 0).exit().at(undefined).exit().assemble();
    assert.deepEqual(
      insns.map((i) => i.source),
      [undefined, loc, loc, undefined],
    );
  });

  it('checks registers, immediates, offsets and sizes', () => {
    assert.throws(() => new Assembler().mov64Reg(R0, 11), asmError('INVALID_REGISTER'));
    assert.throws(() => new Assembler().mov64Imm(-1, 0), asmError('INVALID_REGISTER'));
    assert.throws(() => new Assembler().mov64Imm(R0, 0xffffffff), asmError('OUT_OF_RANGE'));
    assert.equal(new Assembler().mov32Imm(R0, 0xffffffff).assemble()[0]!.imm, -1);
    assert.throws(() => new Assembler().ldx(BPF_W, R0, R1, 0x8000), asmError('OUT_OF_RANGE'));
    assert.throws(() => new Assembler().jmpImm(BPF_JEQ, R0, 1.5, 0), asmError('OUT_OF_RANGE'));
    assert.throws(() => new Assembler().ldxsx(BPF_DW, R0, R1, 0), asmError('INVALID_ARGUMENT'));
    assert.throws(() => new Assembler().atomicAdd(BPF_B, R0, R1, 0), asmError('INVALID_ARGUMENT'));
    assert.throws(() => new Assembler().ldx(3 as typeof BPF_W, R0, R1, 0), asmError('INVALID_ARGUMENT'));
    assert.throws(() => new Assembler().bswap(R0, 8 as 16), asmError('INVALID_ARGUMENT'));
    assert.throws(() => new Assembler().ldImm64(R0, 2 ** 60), asmError('INVALID_ARGUMENT'));
    assert.equal(imm64(new Assembler().ldImm64(R0, -(2 ** 40)).assemble()[0]!), -(2n ** 40n));
  });

  it('can go on after assembling, and hands out copies', () => {
    const b = new Assembler().mov64Imm(R0, 0);
    const first = b.assemble();
    first[0]!.imm = 99;
    b.exit();
    const second: Instruction[] = b.assemble();
    assert.equal(second.length, 2);
    assert.equal(second[0]!.imm, 0);
    assert.equal(b.length, 2);
  });
});
