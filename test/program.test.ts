import assert from 'node:assert/strict';
import { existsSync, statfsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Assembler, BPF_B, BPF_DW, BPF_W, R0, R1, R2, R3, R4, R5, R6, R10, type Instruction } from '../src/asm/index.js';
import { BpfError, ClosedError, InvalidArgumentError, NotSupportedError, VerifierError } from '../src/errors.js';
import { haveProgramType } from '../src/features/index.js';
import { enableStats, Program } from '../src/program.js';
import { ElemOp, getFdById, mapCreate } from '../src/sys/attrs.js';
import type { FD } from '../src/sys/fd.js';
import { mapInfo } from '../src/sys/info.js';
import { native } from '../src/sys/native.js';
import { Cmd, MapType, ProgramType } from '../src/sys/types.js';
import { assertErrno, kernelTest, openFds, sh, uniqueName } from './helpers/kernel.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const BPF_FS_MAGIC = 0xcafe4a11;

// Map access from user space through the raw commands, so these tests need nothing but sys/.
const elem = new ElemOp();

function lookupU64(map: FD, key: number): bigint | undefined {
  const k = new Uint32Array([key]);
  const v = new BigUint64Array(1);
  const r = elem.run(Cmd.MAP_LOOKUP_ELEM, map.value, native.addressOf(k), native.addressOf(v), 0);
  if (r === -2) return undefined;
  assert.ok(r >= 0, `lookup failed: ${r}`);
  return v[0];
}

function updateU64(map: FD, key: number, value: bigint): void {
  const k = new Uint32Array([key]);
  const v = new BigUint64Array([value]);
  assert.equal(elem.run(Cmd.MAP_UPDATE_ELEM, map.value, native.addressOf(k), native.addressOf(v), 0), 0);
}

function packet(first: number, length = 64): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = first;
  return p;
}

/** XDP: drops packets whose first byte is 'X', passes the rest; counts verdicts in an array map. */
function xdpFilter(counts: FD): Instruction[] {
  const a = new Assembler();
  a.ldx(BPF_W, R2, R1, 0) // data
    .ldx(BPF_W, R3, R1, 4) // data_end
    .mov64Reg(R4, R2)
    .add64Imm(R4, 1)
    .mov64Imm(R5, XDP_PASS)
    .jgtReg(R4, R3, 'count')
    .ldx(BPF_B, R4, R2, 0)
    .jneImm(R4, 'X'.charCodeAt(0), 'count')
    .mov64Imm(R5, XDP_DROP)
    .label('count')
    .stx(BPF_W, R10, R5, -4) // key = verdict
    .stx(BPF_DW, R10, R5, -16) // keep the verdict across the call
    .mov64Reg(R2, R10)
    .add64Imm(R2, -4)
    .ldMapFd(R1, counts.value)
    .call('map_lookup_elem')
    .jeqImm(R0, 0, 'out')
    .mov64Imm(R1, 1)
    .atomicAdd(BPF_DW, R0, R1, 0)
    .label('out')
    .ldx(BPF_DW, R0, R10, -16)
    .exit();
  return a.assemble();
}

function arrayMap(entries = 8): FD {
  return mapCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: entries, mapName: 'counts' });
}

function returnZero(): Instruction[] {
  return new Assembler().mov64Imm(R0, 0).exit().assemble();
}

function ensureBpffs(): void {
  let mounted = false;
  try {
    mounted = statfsSync('/sys/fs/bpf').type === BPF_FS_MAGIC;
  } catch {
    mounted = false;
  }
  if (!mounted) sh('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
}

describe('Program.load and testRun', () => {
  kernelTest('an XDP program drops packets by their first byte and counts verdicts in a map', () => {
    using counts = arrayMap();
    using prog = Program.load({ type: ProgramType.XDP, instructions: xdpFilter(counts), license: 'GPL', name: 'xdp_filter' });
    assert.equal(prog.type, ProgramType.XDP);
    assert.equal(prog.name, 'xdp_filter');

    const drop = prog.testRun({ data: packet('X'.charCodeAt(0)) });
    assert.equal(drop.retval, XDP_DROP);
    const pass = prog.testRun({ data: packet('Y'.charCodeAt(0)), repeat: 3 });
    assert.equal(pass.retval, XDP_PASS);
    assert.ok(pass.dataOut);
    assert.deepEqual(pass.dataOut, packet('Y'.charCodeAt(0)));

    assert.equal(lookupU64(counts, XDP_DROP), 1n);
    assert.equal(lookupU64(counts, XDP_PASS), 3n);
    assert.equal(lookupU64(counts, 0), 0n);
  });

  kernelTest('a socket filter keeps UDP packets whole and cuts the rest', () => {
    // skb->data is the IP header here; byte 9 is its protocol. Return skb->len or 0.
    // Legacy packet loads take the context from r6.
    const insns = new Assembler()
      .mov64Reg(R6, R1)
      .ldAbs(BPF_B, 9)
      .jneImm(R0, 17, 'drop')
      .ldx(BPF_W, R0, R6, 0)
      .exit()
      .label('drop')
      .mov64Imm(R0, 0)
      .exit()
      .assemble();
    using prog = Program.load({ type: ProgramType.SOCKET_FILTER, instructions: insns, license: 'GPL', name: 'udp_only' });
    const frame = (proto: number): Uint8Array => {
      const f = new Uint8Array(14 + 28);
      f[12] = 0x08; // ETH_P_IP
      f[14] = 0x45;
      f[14 + 9] = proto;
      return f;
    };
    assert.equal(prog.testRun({ data: frame(17) }).retval, 28);
    assert.equal(prog.testRun({ data: frame(6) }).retval, 0);
  });

  kernelTest('a program updates a hash map with the packet length and reads it back', () => {
    using lengths = mapCreate({ mapType: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, mapName: 'lengths' });
    updateU64(lengths, 1, 1000n);
    // value[7] = data_end - data + value[1]
    const insns = new Assembler()
      .ldx(BPF_W, R2, R1, 0)
      .ldx(BPF_W, R3, R1, 4)
      .sub64Reg(R3, R2)
      .stx(BPF_DW, R10, R3, -16)
      .st(BPF_W, R10, -4, 1)
      .mov64Reg(R2, R10)
      .add64Imm(R2, -4)
      .ldMapFd(R1, lengths.value)
      .call('map_lookup_elem')
      .jeqImm(R0, 0, 'store')
      .ldx(BPF_DW, R1, R0, 0)
      .ldx(BPF_DW, R3, R10, -16)
      .add64Reg(R3, R1)
      .stx(BPF_DW, R10, R3, -16)
      .label('store')
      .st(BPF_W, R10, -4, 7)
      .mov64Reg(R2, R10)
      .add64Imm(R2, -4)
      .mov64Reg(R3, R10)
      .add64Imm(R3, -16)
      .mov64Imm(R4, 0)
      .ldMapFd(R1, lengths.value)
      .call('map_update_elem')
      .exit()
      .assemble();
    using prog = Program.load({ type: ProgramType.XDP, instructions: insns, license: 'GPL' });
    const r = prog.testRun({ data: new Uint8Array(100) });
    assert.equal(r.retval, 0, 'map_update_elem returns 0');
    assert.equal(lookupU64(lengths, 7), 1100n);
  });

  kernelTest('raw instruction bytes load as well', () => {
    const bytes = new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    using prog = Program.load({ type: ProgramType.XDP, instructions: bytes, license: 'MIT' });
    assert.equal(prog.testRun({ data: packet(0) }).retval, XDP_PASS);
    assert.equal(prog.info().gplCompatible, false);
  });

  kernelTest('names the kernel refuses are made acceptable', () => {
    using prog = Program.load({ type: ProgramType.XDP, instructions: returnZero(), license: 'GPL', name: 'my-filter/with a long name' });
    assert.equal(prog.name, 'my-filter/with a long name');
    assert.equal(prog.info().name, 'my_filter_with_');
  });
});

describe('pinning, opening and info', () => {
  kernelTest('pin, openPinned, fromId, fromFd and info with map ids', () => {
    ensureBpffs();
    const path = `/sys/fs/bpf/${uniqueName('tsbpf_prog', 40)}`;
    using counts = arrayMap();
    using prog = Program.load({ type: ProgramType.XDP, instructions: xdpFilter(counts), license: 'GPL', name: 'pinned' });
    try {
      prog.pin(path);
      assert.equal(prog.pinnedPath, path);
      assert.ok(existsSync(path));

      using opened = Program.openPinned(path);
      assert.equal(opened.id, prog.id);
      assert.equal(opened.tag, prog.tag);
      assert.equal(opened.type, ProgramType.XDP);
      assert.equal(opened.name, 'pinned');
      assert.equal(opened.testRun({ data: packet('X'.charCodeAt(0)) }).retval, XDP_DROP);

      using byId = Program.fromId(prog.id);
      assert.equal(byId.tag, prog.tag);

      const info = prog.info();
      assert.equal(info.id, prog.id);
      assert.equal(info.type, ProgramType.XDP);
      assert.equal(info.typeName, 'xdp');
      assert.equal(info.name, 'pinned');
      assert.match(info.tag, /^[0-9a-f]{16}$/);
      assert.deepEqual(info.mapIds, [mapInfo(counts.value).id]);
      assert.ok(info.xlatedSize > 0);
      assert.ok(info.verifiedInstructions > 0);
      assert.equal(info.gplCompatible, true);
      assert.equal(info.createdByUid, 0);
      assert.ok(Math.abs(info.loadedAt.getTime() - Date.now()) < 60_000, `loadedAt ${info.loadedAt.toISOString()} is now`);
      assert.ok(info.memlock === undefined || info.memlock > 0);
      assert.ok(prog.xlated().byteLength === info.xlatedSize);

      prog.unpin();
      assert.equal(prog.pinnedPath, undefined);
      assert.ok(!existsSync(path));
    } finally {
      if (existsSync(path)) sh('rm', ['-f', path]);
    }
  });

  kernelTest('fromFd refuses what is not a program and leaves it to the caller', () => {
    const before = openFds();
    const map = arrayMap();
    assert.throws(() => Program.fromFd(map), InvalidArgumentError);
    assert.throws(() => Program.fromFd(map.value), /not a BPF program \(a bpf map\)/);
    assert.ok(!map.closed);
    map.close();
    assert.equal(openFds(), before);
  });

  kernelTest('fromFd takes a program descriptor over', () => {
    const before = openFds();
    const loaded = Program.load({ type: ProgramType.XDP, instructions: returnZero(), license: 'GPL', name: 'adopted' });
    const id = loaded.id;
    const prog = Program.fromFd(getFdById(Cmd.PROG_GET_FD_BY_ID, id).release());
    loaded.close();
    assert.equal(prog.id, id);
    assert.equal(prog.name, 'adopted');
    prog.close();
    assert.equal(openFds(), before);
  });

  kernelTest('fromId of a program that does not exist is ENOENT', () => {
    assertErrno(() => Program.fromId(0x7ffffff0), 'ENOENT', BpfError);
  });
});

describe('run statistics', () => {
  kernelTest('run count and time count while enableStats is held', () => {
    using prog = Program.load({ type: ProgramType.XDP, instructions: returnZero(), license: 'GPL' });
    {
      using _stats = enableStats();
      prog.testRun({ data: packet(0), repeat: 10 });
      const info = prog.info();
      assert.equal(info.runCount, 10n);
      assert.ok(info.runTimeNs > 0n);
    }
    prog.testRun({ data: packet(0), repeat: 10 });
    // Others may hold stats on too; without them the count stays.
    assert.ok(prog.info().runCount >= 10n);
  });
});

describe('bad input', () => {
  test('typed errors before anything reaches the kernel', () => {
    const base = { license: 'GPL', instructions: returnZero() };
    assert.throws(() => Program.load({ ...base, type: 999 as ProgramType }), InvalidArgumentError);
    assert.throws(() => Program.load({ ...base, type: ProgramType.UNSPEC }), InvalidArgumentError);
    assert.throws(() => Program.load({ ...base, type: ProgramType.XDP, instructions: [] }), InvalidArgumentError);
    assert.throws(() => Program.load({ ...base, type: ProgramType.XDP, instructions: new Uint8Array(0) }), InvalidArgumentError);
    assert.throws(() => Program.load({ ...base, type: ProgramType.XDP, instructions: new Uint8Array(12) }), InvalidArgumentError);
    assert.throws(() => Program.load({ ...base, type: ProgramType.XDP, logLevel: -1 }), InvalidArgumentError);
    assert.throws(() => Program.fromId(0), InvalidArgumentError);
  });

  kernelTest('use after close is a ClosedError; close twice is harmless', () => {
    const prog = Program.load({ type: ProgramType.XDP, instructions: returnZero(), license: 'GPL' });
    prog.close();
    prog.close();
    assert.ok(prog.closed);
    assert.throws(() => prog.fd, ClosedError);
    assert.throws(() => prog.testRun({ data: packet(0) }), ClosedError);
    assert.throws(() => prog.info(), ClosedError);
    assert.throws(() => prog.pin('/sys/fs/bpf/never'), ClosedError);
  });

  kernelTest('a program type the kernel lacks is a NotSupportedError naming it', (t) => {
    if (haveProgramType(ProgramType.LIRC_MODE2)) {
      t.skip('this kernel has lirc_mode2 programs');
      return;
    }
    assert.throws(
      () => Program.load({ type: ProgramType.LIRC_MODE2, instructions: returnZero(), license: 'GPL' }),
      (err: unknown) => err instanceof NotSupportedError && err.feature === 'program type lirc_mode2',
    );
  });
});

describe('file descriptors', () => {
  kernelTest('1,000 loads and 100 failed loads leave no fd behind', () => {
    const insns = returnZero();
    const bad = new Assembler().mov64Imm(R1, 0).ldx(BPF_DW, R0, R1, 0).exit().assemble();
    // Warm up lazily opened descriptors (the addon, probes) before counting.
    Program.load({ type: ProgramType.XDP, instructions: insns, license: 'GPL' }).close();
    assert.throws(() => Program.load({ type: ProgramType.XDP, instructions: bad, license: 'GPL' }), VerifierError);
    const before = openFds();
    for (let i = 0; i < 1000; i++) Program.load({ type: ProgramType.XDP, instructions: insns, license: 'GPL' }).close();
    for (let i = 0; i < 100; i++) {
      assert.throws(() => Program.load({ type: ProgramType.XDP, instructions: bad, license: 'GPL', logSize: 128 }), VerifierError);
    }
    assert.equal(openFds(), before);
  });
});
