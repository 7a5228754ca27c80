// Every map type this kernel offers: created, and exercised from user space where the type
// allows it.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { bytes, struct, u32, u64 } from '../src/codec/index.js';
import { BpfError, NotSupportedError } from '../src/errors.js';
import { BpfMap, possibleCpus, structOpsValueType } from '../src/map.js';
import { progLoadRaw } from '../src/sys/attrs.js';
import { progInfo } from '../src/sys/info.js';
import { native } from '../src/sys/native.js';
import { MapFlags, MapType, ProgramType } from '../src/sys/types.js';
import { Assembler, R1, R2, R3 } from '../src/asm/index.js';
import { Program } from '../src/program.js';
import { probeMapType } from '../src/features/index.js';
import { assertErrno, createVethPair, kernelTest, requireCgroup2, requireKernelFeature, uniqueName } from './helpers/kernel.js';
import { createXskSocket } from './helpers/xsk.js';

const XDP_PASS = 2;
const XDP_REDIRECT = 4;

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_REUSEPORT = 15;

function check(r: number, what: string): number {
  if (r < 0) throw new BpfError(what, -r);
  return r;
}

/** A UDP socket bound to 127.0.0.1 on an ephemeral port (hashed, so sockmaps accept it). */
function udpSocket(reuseport = false): number {
  const fd = check(native.socket(AF_INET, SOCK_DGRAM, 0), 'socket');
  if (reuseport) check(native.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, Int32Array.of(1)), 'setsockopt');
  const sa = new Uint8Array(16);
  sa[0] = AF_INET;
  sa.set([127, 0, 0, 1], 4);
  check(native.bind(fd, sa), 'bind');
  return fd;
}

/** `r0 = 0; exit` as a socket filter. */
function trivialProgram(): number {
  const insns = Uint8Array.of(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0);
  return check(progLoadRaw({ progType: ProgramType.SOCKET_FILTER, insns, license: 'GPL' }).result, 'BPF_PROG_LOAD');
}

/** A perf event fd that bpf_perf_event_output can write to (software BPF_OUTPUT on CPU 0). */
function perfOutputEvent(): number {
  const attr = new Uint8Array(128);
  const v = new DataView(attr.buffer);
  v.setUint32(0, 1, true); // PERF_TYPE_SOFTWARE
  v.setUint32(4, 128, true);
  v.setBigUint64(8, 10n, true); // PERF_COUNT_SW_BPF_OUTPUT
  v.setBigUint64(16, 1n, true); // sample_period
  v.setBigUint64(24, 1n << 10n, true); // PERF_SAMPLE_RAW
  v.setUint32(48, 1, true); // wakeup_events
  return check(native.perfEventOpen(attr, -1, 0, -1, 8 /* PERF_FLAG_FD_CLOEXEC */), 'perf_event_open');
}

/** A cgroup v2 directory made for the test, and an fd of it. */
function testCgroup(t: TestContext): { fd: number; remove(): void } | undefined {
  const root = requireCgroup2(t);
  if (root === undefined) return undefined;
  const dir = join(root, uniqueName('tsbpf', 30));
  mkdirSync(dir);
  const fd = openSync(dir, 'r');
  return {
    fd,
    remove() {
      closeSync(fd);
      rmdirSync(dir);
    },
  };
}

interface Case {
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  mapExtra?: bigint;
}

const cpus = possibleCpus();
const creatable: Case[] = [
  { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 },
  { type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: cpus },
  { type: MapType.PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.STACK_TRACE, keySize: 4, valueSize: 8 * 16, maxEntries: 4 },
  { type: MapType.CGROUP_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 },
  { type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.LRU_PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.LPM_TRIE, keySize: 8, valueSize: 8, maxEntries: 4, flags: MapFlags.NO_PREALLOC },
  { type: MapType.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 4 },
  { type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.CPUMAP, keySize: 4, valueSize: 4, maxEntries: cpus },
  { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4 },
  { type: MapType.SOCKHASH, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.CGROUP_STORAGE, keySize: 16, valueSize: 8, maxEntries: 0 },
  { type: MapType.REUSEPORT_SOCKARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
  { type: MapType.PERCPU_CGROUP_STORAGE, keySize: 16, valueSize: 8, maxEntries: 0 },
  { type: MapType.QUEUE, keySize: 0, valueSize: 8, maxEntries: 4 },
  { type: MapType.STACK, keySize: 0, valueSize: 8, maxEntries: 4 },
  { type: MapType.SK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC },
  { type: MapType.DEVMAP_HASH, keySize: 4, valueSize: 4, maxEntries: 4 },
  { type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4 * native.constants.PAGE_SIZE },
  { type: MapType.INODE_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC },
  { type: MapType.TASK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC },
  { type: MapType.BLOOM_FILTER, keySize: 0, valueSize: 8, maxEntries: 4, mapExtra: 3n },
  { type: MapType.USER_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4 * native.constants.PAGE_SIZE },
  { type: MapType.CGRP_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC },
  { type: MapType.ARENA, keySize: 0, valueSize: 0, maxEntries: 4, flags: MapFlags.MMAPABLE },
];

describe('every map type', () => {
  it('the table covers every MapType except UNSPEC, ARRAY_OF_MAPS, HASH_OF_MAPS and STRUCT_OPS (tested below)', () => {
    const covered = new Set([...creatable.map((c) => c.type), MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.STRUCT_OPS]);
    const all = Object.values(MapType).filter((v): v is MapType => typeof v === 'number' && v !== MapType.UNSPEC);
    assert.deepEqual(
      all.filter((v) => !covered.has(v)).map((v) => MapType[v]),
      [],
    );
  });

  for (const c of creatable) {
    kernelTest(`creates ${MapType[c.type]}`, (t) => {
      if (!requireKernelFeature(t, `map type ${MapType[c.type]}`, probeMapType(c.type))) return;
      const name = uniqueName('t', 15).replace(/[^A-Za-z0-9_]/g, '_');
      using m = BpfMap.create({ ...c, name });
      const info = m.info();
      assert.equal(info.type, c.type);
      assert.equal(info.keySize, c.keySize);
      assert.equal(info.valueSize, c.valueSize);
      assert.equal(info.maxEntries, c.maxEntries);
      assert.equal(info.name, name);
      assert.equal(m.id, info.id);
      if (c.mapExtra !== undefined) assert.equal(info.mapExtra, c.mapExtra);
    });
  }
});

describe('maps of maps', () => {
  for (const type of [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS] as const) {
    kernelTest(`${MapType[type]} holds inner maps by fd and returns their ids`, () => {
      using template = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u64, maxEntries: 2 });
      using outer = BpfMap.create({ type, key: u32, value: u32, maxEntries: 4, innerMap: template });
      using inner = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u64, maxEntries: 2 });
      inner.update(1, 77n);
      outer.update(2, inner.fd);
      assert.equal(outer.lookup(2), inner.id);
      using viaId = BpfMap.fromId(outer.lookup(2) as number, { key: u32, value: u64 });
      assert.equal(viaId.lookup(1), 77n);
      assertErrno(() => {
        using wrong = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 2 });
        outer.update(3, wrong.fd);
      }, 'EINVAL', BpfError);
      assert.equal(outer.delete(2), true);
    });
  }
});

describe('fd-holding maps', () => {
  kernelTest('PROG_ARRAY stores programs and reads back their ids', () => {
    using m = BpfMap.create({ type: MapType.PROG_ARRAY, key: u32, value: u32, maxEntries: 4 });
    const prog = trivialProgram();
    try {
      m.update(1, prog);
      assert.equal(m.lookup(1), progInfo(prog).id);
      assert.equal(m.lookup(0), undefined);
      assert.deepEqual([...m.entries()].map(([k]) => k), [1]);
      assert.equal(m.delete(1), true);
    } finally {
      native.close(prog);
    }
  });

  kernelTest('PERF_EVENT_ARRAY stores perf events; values are not readable from user space', () => {
    using m = BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, key: u32, value: u32, maxEntries: cpus });
    const ev = perfOutputEvent();
    try {
      m.update(0, ev);
      assert.throws(() => m.lookup(0), NotSupportedError);
      assert.equal(m.delete(0), true);
      assert.equal(m.delete(0), false);
    } finally {
      native.close(ev);
    }
  });

  kernelTest('CGROUP_ARRAY stores cgroup v2 fds', (t) => {
    const cg = testCgroup(t);
    if (!cg) return;
    try {
      using m = BpfMap.create({ type: MapType.CGROUP_ARRAY, key: u32, value: u32, maxEntries: 2 });
      m.update(0, cg.fd);
      assert.throws(() => m.lookup(0), NotSupportedError);
      assert.equal(m.delete(0), true);
    } finally {
      cg.remove();
    }
  });

  kernelTest('SOCKMAP and SOCKHASH store sockets and read back their cookies', () => {
    const sock = udpSocket();
    try {
      using sm = BpfMap.create({ type: MapType.SOCKMAP, key: u32, value: u64, maxEntries: 2 });
      using sh = BpfMap.create({ type: MapType.SOCKHASH, key: u32, value: u64, maxEntries: 2 });
      sm.update(1, BigInt(sock));
      sh.update(4242, BigInt(sock));
      const cookie = sm.lookup(1);
      assert.ok(typeof cookie === 'bigint' && cookie > 0n);
      assert.equal(sh.lookup(4242), cookie);
      assert.deepEqual([...sh.keys()], [4242]);
      assert.equal(sm.delete(1), true);
      assert.equal(sh.delete(4242), true);
    } finally {
      native.close(sock);
    }
  });

  kernelTest('REUSEPORT_SOCKARRAY stores SO_REUSEPORT sockets', () => {
    const sock = udpSocket(true);
    try {
      using m = BpfMap.create({ type: MapType.REUSEPORT_SOCKARRAY, key: u32, value: u64, maxEntries: 2 });
      m.update(0, BigInt(sock));
      assert.ok((m.lookup(0) as bigint) > 0n);
      assert.equal(m.delete(0), true);
    } finally {
      native.close(sock);
    }
  });

  kernelTest('XSKMAP refuses sockets that are not bound AF_XDP sockets', () => {
    // A usable entry needs an AF_XDP socket with a registered UMEM bound to a device queue (the
    // next test makes one); here the map's own checks are exercised.
    const sock = udpSocket();
    try {
      using m = BpfMap.create({ type: MapType.XSKMAP, key: u32, value: u32, maxEntries: 2 });
      const eopnotsupp = (e: unknown): boolean => e instanceof BpfError && e.errno === 95;
      assert.throws(() => m.update(0, sock), eopnotsupp);
      assert.throws(() => m.lookup(0), eopnotsupp, 'XSKMAP values are not readable from user space');
      assert.equal(m.delete(0), true, 'the kernel clears an empty XSKMAP slot without ENOENT');
    } finally {
      native.close(sock);
    }
  });

  kernelTest('XSKMAP holds a bound AF_XDP socket, and bpf_redirect_map finds it there', () => {
    const veth = createVethPair('xk');
    try {
      const xsk = createXskSocket(veth.ifindex, 0);
      try {
        using m = BpfMap.create({ type: MapType.XSKMAP, key: u32, value: u32, maxEntries: 4 });
        // return bpf_redirect_map(&m, 0, XDP_PASS): XDP_REDIRECT when slot 0 holds a socket.
        const insns = new Assembler().ldMapFd(R1, m.fd).mov64Imm(R2, 0).mov64Imm(R3, XDP_PASS).call('redirect_map').exit().assemble();
        using prog = Program.load({ type: ProgramType.XDP, instructions: insns, license: 'GPL', name: 'xsk_redirect' });
        const run = (): number => prog.testRun({ data: new Uint8Array(64) }).retval;
        assert.equal(run(), XDP_PASS, 'an empty slot: the fallback action');
        m.update(0, xsk.fd);
        assert.equal(run(), XDP_REDIRECT, 'the socket is found');
        const eopnotsupp = (e: unknown): boolean => e instanceof BpfError && e.errno === 95;
        assert.throws(() => m.lookup(0), eopnotsupp, 'XSKMAP values are not readable from user space');
        assert.equal(m.delete(0), true);
        assert.equal(run(), XDP_PASS, 'deleted');
        // A socket is bound to one queue: slot 1 takes it too, as the kernel allows.
        m.update(1, xsk.fd);
        m.update(0, xsk.fd, 1 /* NOEXIST */);
        assert.equal(run(), XDP_REDIRECT);
      } finally {
        xsk.close();
      }
    } finally {
      veth.remove();
    }
  });

  kernelTest('DEVMAP and DEVMAP_HASH store interfaces', () => {
    using dm = BpfMap.create({ type: MapType.DEVMAP, key: u32, value: u32, maxEntries: 4 });
    using dh = BpfMap.create({ type: MapType.DEVMAP_HASH, key: u32, value: u32, maxEntries: 4 });
    dm.update(2, 1); // lo
    dh.update(1000, 1);
    assert.equal(dm.lookup(2), 1);
    assert.equal(dm.lookup(0), undefined);
    assert.equal(dh.lookup(1000), 1);
    assert.deepEqual([...dm.entries()], [[2, 1]]);
    assert.deepEqual([...dh.keys()], [1000]);
    assertErrno(() => dm.update(3, 0x7ffffff), 'EINVAL', BpfError);
  });

  kernelTest('CPUMAP stores queue sizes per CPU', () => {
    using m = BpfMap.create({ type: MapType.CPUMAP, key: u32, value: u32, maxEntries: cpus });
    m.update(0, 192);
    assert.equal(m.lookup(0), 192);
    assert.equal(m.delete(0), true);
  });
});

describe('local storage maps', () => {
  kernelTest('SK_STORAGE keeps a value per socket, with a generated BTF', () => {
    using m = BpfMap.create({ type: MapType.SK_STORAGE, key: u32, value: u64, maxEntries: 0, flags: MapFlags.NO_PREALLOC });
    const info = m.info();
    assert.ok(info.btfId > 0 && info.btfKeyTypeId > 0 && info.btfValueTypeId > 0);
    const sock = udpSocket();
    try {
      assert.equal(m.lookup(sock), undefined);
      m.update(sock, 0xfeedn);
      assert.equal(m.lookup(sock), 0xfeedn);
      assert.equal(m.delete(sock), true);
      assert.equal(m.lookup(sock), undefined);
      assert.throws(() => [...m.keys()], NotSupportedError);
    } finally {
      native.close(sock);
    }
  });

  kernelTest('CGRP_STORAGE keeps a value per cgroup', (t) => {
    const cg = testCgroup(t);
    if (!cg) return;
    try {
      using m = BpfMap.create({ type: MapType.CGRP_STORAGE, key: u32, value: struct({ a: u32, b: u32 }), maxEntries: 0, flags: MapFlags.NO_PREALLOC });
      m.update(cg.fd, { a: 1, b: 2 });
      assert.deepEqual(m.lookup(cg.fd), { a: 1, b: 2 });
      assert.equal(m.delete(cg.fd), true);
    } finally {
      cg.remove();
    }
  });

  kernelTest('INODE_STORAGE keeps a value per inode where the BPF LSM allows it', (t) => {
    using m = BpfMap.create({ type: MapType.INODE_STORAGE, key: u32, value: u64, maxEntries: 0, flags: MapFlags.NO_PREALLOC });
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-inode-'));
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      try {
        m.update(fd, 5n);
      } catch (err) {
        // Inode storage lives in the LSM blob that the BPF LSM reserves; without "bpf" in the
        // active LSMs (lsm=) the kernel has nowhere to keep it.
        if (err instanceof BpfError && (err.code === 'EBADF' || err.code === 'EOPNOTSUPP' || err.code === 'ENOTSUPP')) {
          t.skip(`this kernel keeps no inode storage: the BPF LSM is not active (${err.code})`);
          return;
        }
        throw err;
      }
      assert.equal(m.lookup(fd), 5n);
      assert.equal(m.delete(fd), true);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('TASK_STORAGE is created with its BTF (elements are keyed by pidfds)', () => {
    // Element operations need a pidfd (pidfd_open), which the native layer does not offer;
    // an ordinary fd is refused by the kernel, which this checks.
    using m = BpfMap.create({ type: MapType.TASK_STORAGE, key: u32, value: u64, maxEntries: 0, flags: MapFlags.NO_PREALLOC });
    assert.ok(m.info().btfValueTypeId > 0);
    const fd = openSync('/proc/self/status', 'r');
    try {
      assert.throws(() => m.update(fd, 1n), BpfError);
    } finally {
      closeSync(fd);
    }
  });
});

describe('other special maps', () => {
  kernelTest('STACK_TRACE: empty, and not writable from user space', () => {
    using m = BpfMap.create({ type: MapType.STACK_TRACE, key: u32, value: bytes(8 * 16), maxEntries: 8 });
    assert.equal(m.lookup(0), undefined);
    assert.deepEqual([...m.keys()], []);
    assert.equal(m.delete(0), false);
    assert.throws(() => m.update(0, new Uint8Array(128)), BpfError);
  });

  kernelTest('CGROUP_STORAGE: nothing to read until a program is attached', () => {
    using m = BpfMap.create({ type: MapType.CGROUP_STORAGE, keySize: 16, valueSize: 8, maxEntries: 0 });
    assert.equal(m.lookup(new Uint8Array(16)), undefined);
  });

  kernelTest('RINGBUF and USER_RINGBUF have no elements for the element commands', () => {
    for (const type of [MapType.RINGBUF, MapType.USER_RINGBUF]) {
      using m = BpfMap.create({ type, maxEntries: 4 * native.constants.PAGE_SIZE });
      assert.throws(() => m.peek(), (e: unknown) => e instanceof BpfError || e instanceof NotSupportedError);
    }
    assertErrno(() => BpfMap.create({ type: MapType.RINGBUF, maxEntries: 1000 }), 'EINVAL', BpfError);
  });

  kernelTest('STRUCT_OPS: created for tcp_congestion_ops from vmlinux BTF; its value reads back', () => {
    const vt = structOpsValueType('tcp_congestion_ops');
    using m = BpfMap.createStructOps('tcp_congestion_ops', { name: 'cc' });
    const info = m.info();
    assert.equal(info.type, MapType.STRUCT_OPS);
    assert.equal(info.btfVmlinuxValueTypeId, vt.id);
    assert.equal(m.valueSize, vt.size);
    const v = m.lookup(new Uint8Array(4));
    assert.equal(v?.length, vt.size);
    assert.throws(() => structOpsValueType('no_such_ops'), NotSupportedError);
  });

  kernelTest('ARENA: mmap gives pages shared with the kernel', (t) => {
    if (!requireKernelFeature(t, 'map type ARENA', probeMapType(MapType.ARENA))) return;
    const page = native.constants.PAGE_SIZE;
    const m = BpfMap.create({ type: MapType.ARENA, maxEntries: 4, flags: MapFlags.MMAPABLE });
    let buf: ArrayBuffer;
    try {
      buf = m.mmap();
      assert.equal(buf.byteLength, 4 * page);
      const mem = new Uint8Array(buf);
      mem[0] = 1;
      mem[3 * page + 5] = 9;
      assert.equal(mem[0] + (mem[3 * page + 5] as number), 10);
      assert.equal(m.info().mapExtra, 0n);
    } finally {
      m.close();
    }
    assert.equal(buf.byteLength, 0);
  });

  kernelTest('ARENA with map_extra keeps its address; mapping it needs that address', (t) => {
    if (!requireKernelFeature(t, 'map type ARENA', probeMapType(MapType.ARENA))) return;
    const want = 1n << 40n;
    using m = BpfMap.create({ type: MapType.ARENA, maxEntries: 4, flags: MapFlags.MMAPABLE, mapExtra: want });
    assert.equal(m.mapExtra, want);
    assert.equal(m.info().mapExtra, want);
    assert.throws(() => m.mmap(), (e: unknown) => e instanceof NotSupportedError && /0x10000000000/.test(e.message));
  });
});
