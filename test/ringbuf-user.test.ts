import assert from 'node:assert/strict';
import { describe, type TestContext } from 'node:test';
import { Assembler, BPF_DW, BPF_W, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, programSlots } from '../src/asm/index.js';
import { Btf, marshalBtf } from '../src/btf/index.js';
import { u32, u64 } from '../src/codec/index.js';
import { BpfError, ClosedError, InvalidArgumentError } from '../src/errors.js';
import { BpfMap } from '../src/map.js';
import { Program } from '../src/program.js';
import { UserRingBufWriter } from '../src/ringbuf/index.js';
import { btfLoadRaw } from '../src/sys/attrs.js';
import { FD } from '../src/sys/fd.js';
import { MapType, ProgFlags, ProgramType } from '../src/sys/types.js';
import { kernelTest, openFds, uniqueName } from './helpers/kernel.js';

const PAGE = 4096;
/** out[0]: the last drain's result; out[1]: samples seen; out[2 + k]: the first u64 of sample k. */
const OUT_ENTRIES = 2048;
const UNREADABLE = 0xdeadn;

interface Rig {
  ring: BpfMap;
  out: BpfMap<number, bigint>;
  prog: Program;
}

/** BTF for the program's two functions, which the verifier needs to check the callback. */
function functionsBtf(): FD {
  const btf = Btf.fromTypes([
    { kind: 'INT', name: 'int', size: 4, encoding: 'SIGNED', bitsOffset: 0, nrBits: 32 },
    { kind: 'PTR', name: '', type: 0 },
    { kind: 'FUNC_PROTO', name: '', returnType: 1, params: [{ name: 'ctx', type: 2 }] },
    { kind: 'FUNC_PROTO', name: '', returnType: 1, params: [{ name: 'dynptr', type: 2 }, { name: 'ctx', type: 2 }] },
    { kind: 'FUNC', name: 'urb_drain', type: 3, linkage: 'global' },
    { kind: 'FUNC', name: 'urb_sample', type: 4, linkage: 'static' },
  ]);
  const r = btfLoadRaw({ btf: marshalBtf(btf) });
  if (r.result < 0) throw new BpfError('BPF_BTF_LOAD', -r.result, 'functions of the drain program');
  return new FD(r.result, 'btf');
}

/**
 * A BPF_PROG_TYPE_SYSCALL program that drains the user ring buffer with bpf_user_ringbuf_drain;
 * its callback reads the first 8 bytes of each sample with bpf_dynptr_read into `out`.
 */
function rig(t: TestContext, size: number): Rig {
  const ring = BpfMap.create({ type: MapType.USER_RINGBUF, maxEntries: size, name: uniqueName('urb') });
  const out = BpfMap.create({ type: MapType.ARRAY, maxEntries: OUT_ENTRIES, key: u32, value: u64, name: uniqueName('urbout') });
  const b = new Assembler();
  b.ldMapIdx(R1, 0);
  b.ldFunc(R2, 'sample');
  b.mov64Imm(R3, 0);
  b.mov64Imm(R4, 0);
  b.call('user_ringbuf_drain');
  b.mov64Reg(R6, R0);
  b.st(BPF_W, R10, -4, 0);
  b.ldMapIdx(R1, 1);
  b.mov64Reg(R2, R10).add64Imm(R2, -4);
  b.call('map_lookup_elem');
  b.jeqImm(R0, 0, 'done');
  b.stx(BPF_DW, R0, R6, 0);
  b.label('done');
  b.mov64Imm(R0, 0);
  b.exit();

  b.label('sample');
  b.mov64Reg(R6, R1);
  b.st(BPF_W, R10, -4, 1);
  b.ldMapIdx(R1, 1);
  b.mov64Reg(R2, R10).add64Imm(R2, -4);
  b.call('map_lookup_elem');
  b.jeqImm(R0, 0, 'stop');
  b.mov64Reg(R7, R0);
  b.ldx(BPF_DW, R8, R7, 0);
  b.mov64Reg(R1, R10).add64Imm(R1, -16);
  b.mov64Imm(R2, 8);
  b.mov64Reg(R3, R6);
  b.mov64Imm(R4, 0);
  b.mov64Imm(R5, 0);
  b.call('dynptr_read');
  b.jeqImm(R0, 0, 'store');
  b.mov64Imm(R9, Number(UNREADABLE));
  b.stx(BPF_DW, R10, R9, -16);
  b.label('store');
  b.mov64Reg(R9, R8).add64Imm(R9, 2);
  b.stx(BPF_W, R10, R9, -4);
  b.ldMapIdx(R1, 1);
  b.mov64Reg(R2, R10).add64Imm(R2, -4);
  b.mov64Reg(R3, R10).add64Imm(R3, -16);
  b.mov64Imm(R4, 0);
  b.call('map_update_elem');
  b.mov64Imm(R1, 1);
  b.atomicAdd(BPF_DW, R7, R1, 0);
  b.mov64Imm(R0, 0);
  b.exit();
  b.label('stop');
  b.mov64Imm(R0, 1);
  b.exit();

  const insns = b.assemble();
  const btf = functionsBtf();
  const sample = programSlots(insns.slice(0, insns.findIndex((i) => i.symbol === 'sample')));
  const prog = Program.load({
    type: ProgramType.SYSCALL,
    instructions: insns,
    license: 'GPL',
    name: 'urb_drain',
    flags: ProgFlags.SLEEPABLE,
    fdArray: [ring.fd, out.fd],
    btf: { fd: btf, funcInfo: new Uint8Array(new Uint32Array([0, 5, sample, 6]).buffer) },
  });
  t.after(() => {
    prog.close();
    btf.close();
    out.close();
    ring.close();
  });
  return { ring, out, prog };
}

/** Runs the drain program once; returns what bpf_user_ringbuf_drain returned. */
function drain(r: Rig): number {
  r.prog.testRun({ ctx: new Uint8Array(8) });
  return Number(BigInt.asIntN(64, r.out.lookup(0)!));
}

/** The first u64 of every sample the program has seen so far. */
function seen(r: Rig): bigint[] {
  const n = Number(r.out.lookup(1)!);
  return Array.from({ length: n }, (_, k) => r.out.lookup(2 + k)!);
}

/** A record of `length` bytes starting with the u64 `seq`. */
function record(seq: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(seq), true);
  for (let i = 8; i < length; i++) bytes[i] = i;
  return bytes;
}

describe('UserRingBufWriter', () => {
  kernelTest('records written from user space reach bpf_user_ringbuf_drain in order', (t) => {
    const r = rig(t, PAGE);
    const w = new UserRingBufWriter(r.ring);
    t.after(() => w.close());
    assert.equal(w.size, PAGE);
    assert.equal(w.available, PAGE);
    for (let i = 0; i < 10; i++) assert.equal(w.write(record(i, 16)), true);
    assert.equal(w.available, PAGE - 10 * 24);
    assert.equal(drain(r), 10);
    assert.deepEqual(seen(r), Array.from({ length: 10 }, (_, i) => BigInt(i)));
    assert.equal(w.available, PAGE);
    assert.equal(drain(r), 0);
  });

  kernelTest('reserve() hands out views; submit() and discard() commit them in any order', (t) => {
    const r = rig(t, PAGE);
    const w = new UserRingBufWriter(r.ring);
    t.after(() => w.close());
    const a = w.reserve(8)!;
    const b = w.reserve(8)!;
    const c = w.reserve(8)!;
    new DataView(a.buffer, a.byteOffset).setBigUint64(0, 100n, true);
    new DataView(b.buffer, b.byteOffset).setBigUint64(0, 101n, true);
    new DataView(c.buffer, c.byteOffset).setBigUint64(0, 102n, true);
    assert.throws(() => w.submit(), /3 records are reserved; say which/);
    w.submit(c);
    // The drain stops at the first record still being written.
    assert.equal(drain(r), 0);
    w.submit(a);
    assert.equal(drain(r), 1);
    w.discard(b);
    assert.throws(() => w.discard(b), /not reserved/);
    assert.equal(drain(r), 1);
    assert.deepEqual(seen(r), [100n, 102n]);
    const d = w.reserve(8)!;
    new DataView(d.buffer, d.byteOffset).setBigUint64(0, 103n, true);
    w.submit();
    assert.throws(() => w.submit(), /nothing is reserved/);
    assert.throws(() => w.submit(new Uint8Array(8)), /not reserved from this ring/);
    assert.equal(drain(r), 1);
    assert.deepEqual(seen(r), [100n, 102n, 103n]);
  });

  kernelTest('records that wrap around the end of the ring arrive whole', (t) => {
    const r = rig(t, PAGE);
    const w = new UserRingBufWriter(r.ring);
    t.after(() => w.close());
    // 28-byte records take 40 bytes; some straddle the end of the 4096-byte data area.
    let seq = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 100; i++) assert.equal(w.write(record(seq++, 28)), true);
      assert.equal(drain(r), 100);
    }
    assert.deepEqual(seen(r), Array.from({ length: 400 }, (_, i) => BigInt(i)));
  });

  kernelTest('a full ring refuses until the BPF side drains it, and waitForSpace() wakes then', async (t) => {
    const r = rig(t, PAGE);
    const w = new UserRingBufWriter(r.ring);
    t.after(() => w.close());
    let written = 0;
    while (w.write(record(written, 56))) written++;
    assert.equal(written, PAGE / 64);
    assert.equal(w.available, 0);
    assert.equal(w.reserve(1), undefined);
    assert.equal(await w.waitForSpace(56, { timeoutMs: 20 }), false);
    const waited = w.waitForSpace(56, { timeoutMs: 5000 });
    setTimeout(() => drain(r), 10);
    assert.equal(await waited, true);
    assert.equal(await w.writeAsync(record(written++, 56), { timeoutMs: 1000 }), true);
    assert.equal(drain(r), 1);
    assert.deepEqual(seen(r), Array.from({ length: written }, (_, i) => BigInt(i)));
  });

  kernelTest('refuses records that can never fit, and use after close()', (t) => {
    const r = rig(t, PAGE);
    const fds = openFds();
    const w = new UserRingBufWriter(r.ring);
    assert.throws(() => w.reserve(PAGE), InvalidArgumentError);
    assert.throws(() => w.reserve(-1), InvalidArgumentError);
    const pending = w.waitForSpace(PAGE - 8);
    w.write(record(0, PAGE - 16));
    const blocked = w.waitForSpace(64);
    w.close();
    return Promise.all([pending, blocked]).then(([a, b]) => {
      assert.equal(a, true);
      assert.equal(b, false, 'close() ends a wait');
      assert.throws(() => w.write(record(1, 8)), ClosedError);
      assert.equal(openFds(), fds);
    });
  });
});
