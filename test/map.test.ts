import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { array, bytes, chars, struct, u32, u32be, u64, u8 } from '../src/codec/index.js';
import { BpfError, ClosedError, InvalidArgumentError, NotSupportedError, TsbpfError } from '../src/errors.js';
import { BatchError, BpffsError, IterationAbortedError, BpfMap, possibleCpus } from '../src/map.js';
import { BtfBuilder } from '../src/map/btf.js';
import { native } from '../src/sys/native.js';
import { Cmd, MapFlags, MapType, UpdateFlags } from '../src/sys/types.js';
import { assertErrno, kernelTest, openFds, sh, uniqueName } from './helpers/kernel.js';

function key8(n: number): Uint8Array {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setUint32(0, n, true);
  return k;
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** A private bpffs mounted on a fresh directory, unmounted and removed by `remove()`. */
function privateBpffs(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bpffs-'));
  sh('mount', ['-t', 'bpf', 'bpf', dir]);
  return {
    dir,
    remove() {
      sh('umount', [dir], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('hash map element operations', () => {
  kernelTest('update, lookup, delete and lookupAndDelete with codecs', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: struct({ packets: u64, bytes: u64 }), maxEntries: 16, name: 'ops' });
    assert.equal(m.keySize, 4);
    assert.equal(m.valueSize, 16);
    assert.equal(m.name, 'ops');
    assert.equal(m.type, MapType.HASH);
    assert.ok(m.id > 0);
    assert.equal(m.lookup(1), undefined);
    m.update(1, { packets: 1n, bytes: 100n });
    m.update(2, { packets: 2n, bytes: 200n }, UpdateFlags.NOEXIST);
    assert.deepEqual(m.lookup(1), { packets: 1n, bytes: 100n });
    assert.throws(() => m.update(2, { packets: 0n, bytes: 0n }, UpdateFlags.NOEXIST), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST' && /map ops/.test(e.message));
    assertErrno(() => m.update(3, { packets: 0n, bytes: 0n }, UpdateFlags.EXIST), 'ENOENT', BpfError);
    m.update(2, { packets: 3n, bytes: 300n }, UpdateFlags.EXIST);
    assert.deepEqual(m.lookup(2), { packets: 3n, bytes: 300n });
    assert.equal(m.delete(1), true);
    assert.equal(m.delete(1), false);
    assert.deepEqual(m.lookupAndDelete(2), { packets: 3n, bytes: 300n });
    assert.equal(m.lookupAndDelete(2), undefined);
    assert.equal(m.lookup(2), undefined);
  });

  kernelTest('returns values that do not alias its buffers', () => {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 8, valueSize: 4, maxEntries: 4 });
    m.update(key8(1), Uint8Array.of(1, 1, 1, 1));
    m.update(key8(2), Uint8Array.of(2, 2, 2, 2));
    const a = m.lookup(key8(1));
    const b = m.lookup(key8(2));
    assert.deepEqual([...(a as Uint8Array)], [1, 1, 1, 1]);
    assert.deepEqual([...(b as Uint8Array)], [2, 2, 2, 2]);
  });

  kernelTest('lookupInto writes the value into the caller\'s buffer, and leaves it alone for a missing key', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, valueSize: 4, maxEntries: 4 });
    m.update(1, Uint8Array.of(1, 2, 3, 4));
    m.update(2, Uint8Array.of(5, 6, 7, 8));
    const out = new Uint8Array(4);
    assert.equal(m.lookupInto(1, out), true);
    assert.deepEqual([...out], [1, 2, 3, 4]);
    assert.equal(m.lookupInto(2, out), true, 'the same buffer again');
    assert.deepEqual([...out], [5, 6, 7, 8]);
    assert.equal(m.lookupInto(3, out), false);
    assert.deepEqual([...out], [5, 6, 7, 8], 'unchanged when the key is missing');
    // Another buffer, here a view into the middle of a larger one: only its bytes are written.
    const big = new Uint8Array(12).fill(0xee);
    assert.equal(m.lookupInto(1, big.subarray(4, 8)), true);
    assert.deepEqual([...big], [0xee, 0xee, 0xee, 0xee, 1, 2, 3, 4, 0xee, 0xee, 0xee, 0xee]);
    assert.deepEqual([...out], [5, 6, 7, 8], 'the first buffer is not written any more');
    assert.throws(() => m.lookupInto(1, new Uint8Array(3)), (e: unknown) => e instanceof InvalidArgumentError && /at least 4 bytes/.test(e.message));
    m.close();
    assert.throws(() => m.lookupInto(1, out), ClosedError);
  });

  kernelTest('the bound element call runs on its own attr, which outlives every other reference to it', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, valueSize: 4, maxEntries: 4 });
    m.update(7, Uint8Array.of(9, 8, 7, 6));
    const key = new Uint8Array(4);
    const value = new Uint8Array(4);
    const call = ((): ((cmd: number) => number) => {
      const attr = new Uint8Array(32);
      const view = new DataView(attr.buffer);
      view.setUint32(0, m.fd, true);
      view.setBigUint64(8, native.addressOf(key), true);
      view.setBigUint64(16, native.addressOf(value), true);
      return native.bpfBound(attr);
    })();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 3; i++) {
      gc();
      Array.from({ length: 1000 }, () => new Uint8Array(32).fill(0xff));
    }
    key[0] = 7;
    assert.equal(call(Cmd.MAP_LOOKUP_ELEM), 0);
    assert.deepEqual([...value], [9, 8, 7, 6]);
    key[0] = 3;
    assert.equal(call(Cmd.MAP_LOOKUP_ELEM), -2, '-ENOENT for a missing key');
    assert.throws(() => (call as unknown as (cmd: string) => number)('lookup'), TypeError);
  });

  kernelTest('lookupInto on a per-CPU map fills one 8-byte slot per possible CPU', () => {
    const cpus = possibleCpus();
    using m = BpfMap.create({ type: MapType.PERCPU_ARRAY, key: u32, value: u32, maxEntries: 2 });
    m.update(1, Array.from({ length: cpus }, (_, i) => 100 + i));
    assert.throws(() => m.lookupInto(1, new Uint8Array(4)), InvalidArgumentError);
    const out = new Uint8Array(8 * cpus);
    assert.equal(m.lookupInto(1, out), true);
    const v = new DataView(out.buffer);
    assert.deepEqual(
      Array.from({ length: cpus }, (_, i) => v.getUint32(8 * i, true)),
      Array.from({ length: cpus }, (_, i) => 100 + i),
    );
  });

  kernelTest('BPF_F_LOCK updates and lookups on a value holding a bpf_spin_lock', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, true);
    const lock = b.addStruct('bpf_spin_lock', 4, [{ name: 'val', type: int, offset: 0 }]);
    const value = b.addStruct('locked', 8, [
      { name: 'lock', type: lock, offset: 0 },
      { name: 'count', type: int, offset: 4 },
    ]);
    using btf = b.load('spin lock test');
    const codec = struct({ lock: u32, count: u32 });
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: codec, maxEntries: 4, btf: { fd: btf.value, keyTypeId: int, valueTypeId: value } });
    m.update(1, { lock: 0, count: 7 }, UpdateFlags.ANY | UpdateFlags.F_LOCK);
    assert.equal(m.lookup(1, UpdateFlags.F_LOCK)?.count, 7);
    m.update(1, { lock: 0, count: 8 }, UpdateFlags.EXIST | UpdateFlags.F_LOCK);
    assert.equal(m.lookup(1, UpdateFlags.F_LOCK)?.count, 8);
  });
});

describe('array maps', () => {
  kernelTest('have every index, refuse deletes and out-of-range keys', () => {
    using m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u64, maxEntries: 4 });
    assert.deepEqual([...m.keys()], [0, 1, 2, 3]);
    assert.equal(m.lookup(3), 0n);
    m.update(3, 33n);
    assert.deepEqual([...m.entries()], [
      [0, 0n],
      [1, 0n],
      [2, 0n],
      [3, 33n],
    ]);
    assertErrno(() => m.update(4, 1n), 'E2BIG', BpfError);
    assertErrno(() => m.delete(0), 'EINVAL', BpfError);
    assertErrno(() => m.update(0, 1n, UpdateFlags.NOEXIST), 'EEXIST', BpfError);
  });
});

describe('per-CPU maps', () => {
  const cpus = possibleCpus();
  const perCpuValues = (base: number): bigint[] => Array.from({ length: cpus }, (_, i) => BigInt(base + i));

  for (const type of [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH] as const) {
    kernelTest(`${MapType[type]}: one value per possible CPU round-trips`, () => {
      using m = BpfMap.create({ type, key: u32, value: u64, maxEntries: 8 });
      assert.equal(m.cpus, cpus);
      assert.equal(m.perCpu, true);
      m.update(1, perCpuValues(10));
      m.update(2, perCpuValues(20));
      assert.deepEqual(m.lookup(1), perCpuValues(10));
      assert.deepEqual(m.lookup(2), perCpuValues(20));
      const all = new globalThis.Map<number, bigint[]>(m.entries());
      assert.deepEqual(all.get(2), perCpuValues(20));
      assert.throws(() => m.update(1, [1n]), (e: unknown) => e instanceof InvalidArgumentError && /one per possible CPU/.test(e.message));
    });
  }

  kernelTest('pads values to 8 bytes per CPU in raw and batch layouts', () => {
    using m = BpfMap.create({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
    assert.equal(m.valueStride, 8 * cpus);
    const values = Array.from({ length: cpus }, (_, i) => Uint8Array.of(i + 1, 0, 0, 0x7f));
    m.update(Uint8Array.of(1, 0, 0, 0), values);
    assert.deepEqual(m.lookup(Uint8Array.of(1, 0, 0, 0)), values);
    const [chunk] = [...m.lookupBatch()];
    assert.ok(chunk);
    assert.equal(chunk.count, 1);
    assert.equal(chunk.valueBytes.length, 8 * cpus);
    for (let i = 0; i < cpus; i++) assert.equal(chunk.valueBytes[i * 8], i + 1);
    assert.deepEqual(chunk.value(0), values);
  });

  kernelTest('accepts a whole-array codec when opened by id', () => {
    using m = BpfMap.create({ type: MapType.PERCPU_ARRAY, key: u32, value: u32, maxEntries: 2 });
    m.update(0, Array.from({ length: cpus }, (_, i) => i + 5));
    using byElement = BpfMap.fromId<number, number[]>(m.id, { key: u32, value: u32 });
    assert.deepEqual(byElement.lookup(0), Array.from({ length: cpus }, (_, i) => i + 5));
    using raw = BpfMap.fromId<number, Uint8Array>(m.id, { key: u32, value: bytes(8 * cpus) });
    assert.equal(raw.lookup(0)?.[8], 6);
  });
});

describe('batch operations', () => {
  kernelTest('lookupBatch of 100,000 entries equals per-key lookups', () => {
    const n = 100_000;
    using m = BpfMap.create({ type: MapType.HASH, keySize: 8, valueSize: 16, maxEntries: n });
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      keys.push(key8(i));
      const v = new Uint8Array(16);
      new DataView(v.buffer).setUint32(0, i * 7, true);
      new DataView(v.buffer).setUint32(12, i ^ 0x5a5a, true);
      values.push(v);
    }
    assert.equal(m.updateBatch(keys, values), n);
    const batch = new globalThis.Map<string, string>();
    let chunks = 0;
    for (const chunk of m.lookupBatch()) {
      chunks++;
      for (let i = 0; i < chunk.count; i++) batch.set(hexOf(chunk.key(i)), hexOf(chunk.value(i)));
    }
    assert.ok(chunks > 1);
    assert.equal(batch.size, n);
    for (let i = 0; i < n; i++) {
      const v = m.lookup(keys[i] as Uint8Array);
      assert.ok(v);
      assert.equal(batch.get(hexOf(keys[i] as Uint8Array)), hexOf(v));
    }
  });

  kernelTest('grows the chunk when a hash bucket does not fit (ENOSPC)', () => {
    const n = 5000;
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: n });
    m.updateBatch(
      Array.from({ length: n }, (_, i) => i),
      Array.from({ length: n }, (_, i) => i * 2),
    );
    const seen = new globalThis.Map<number, number>();
    for (const chunk of m.lookupBatch({ chunkSize: 1 })) for (const [k, v] of chunk.entries()) seen.set(k, v);
    assert.equal(seen.size, n);
    for (const [k, v] of seen) assert.equal(v, k * 2);
  });

  kernelTest('lookupAndDeleteBatch drains the map and deleteBatch skips missing keys', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 1000 });
    const ks = Array.from({ length: 1000 }, (_, i) => i);
    m.updateBatch(ks, ks);
    assert.equal(m.deleteBatch([1, 2, 5000, 3, 6000, 6001, 4], { chunkSize: 3 }), 4);
    const drained: number[] = [];
    for (const chunk of m.lookupAndDeleteBatch({ chunkSize: 100 })) for (let i = 0; i < chunk.count; i++) drained.push(chunk.key(i));
    assert.equal(drained.length, 996);
    assert.deepEqual(new Set(drained), new Set(ks.filter((k) => k < 1 || k > 4)));
    assert.deepEqual([...m.keys()], []);
  });

  kernelTest('updateBatch replaces existing elements and reports how far it got', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 3 });
    m.update(1, 0);
    assert.throws(
      () => m.updateBatch([1, 2, 3, 4, 5], [10, 20, 30, 40, 50]),
      (e: unknown) => e instanceof BatchError && e.code === 'E2BIG' && e.done === 3,
    );
    assert.deepEqual([m.lookup(1), m.lookup(2), m.lookup(3), m.lookup(4)], [10, 20, 30, undefined]);
    assert.throws(() => m.updateBatch([1, 2], [1]), InvalidArgumentError);
  });

  kernelTest('works on arrays, and lookupAndDeleteBatch there is NotSupported', () => {
    using m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 100 });
    m.updateBatch([5, 6], [50, 60]);
    const all: [number, number][] = [];
    for (const chunk of m.lookupBatch({ chunkSize: 7 })) all.push(...chunk.entries());
    assert.equal(all.length, 100);
    assert.deepEqual(all[5], [5, 50]);
    assert.deepEqual(all[6], [6, 60]);
    assert.throws(() => [...m.lookupAndDeleteBatch()], NotSupportedError);
  });
});

describe('iteration', () => {
  kernelTest('survives deleting the yielded key (draining)', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 2000 });
    const n = 1500;
    m.updateBatch(
      Array.from({ length: n }, (_, i) => i),
      Array.from({ length: n }, (_, i) => i),
    );
    const seen: number[] = [];
    for (const [k, v] of m.entries()) {
      assert.equal(k, v);
      seen.push(k);
      assert.equal(m.delete(k), true);
    }
    assert.equal(seen.length, n);
    assert.equal(new Set(seen).size, n);
    assert.deepEqual([...m.keys()], []);
  });

  kernelTest('terminates, never repeats and covers the survivors when the key ahead is deleted', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 1024 });
    const n = 600;
    m.updateBatch(
      Array.from({ length: n }, (_, i) => i),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    // The kernel's order, so the test can delete the key the walk has already fetched next:
    // every GET_NEXT_KEY from it restarts at the first key.
    const order = [...m.keys()];
    const position = new globalThis.Map(order.map((k, i) => [k, i]));
    const deleted = new Set<number>();
    const yielded: number[] = [];
    for (const [k, v] of m.entries()) {
      assert.equal(v, k + 1);
      assert.ok(!deleted.has(k), 'entries() yields only live keys');
      yielded.push(k);
      const ahead = order[(position.get(k) as number) + 1];
      if (ahead !== undefined && yielded.length % 3 === 0 && m.delete(ahead)) deleted.add(ahead);
    }
    assert.ok(deleted.size > 100);
    assert.equal(new Set(yielded).size, yielded.length, 'no key twice');
    for (const k of order) if (!deleted.has(k)) assert.ok(yielded.includes(k), `survivor ${k} yielded`);
  });

  kernelTest('covers survivors while random keys are deleted concurrently', () => {
    using m = BpfMap.create({ type: MapType.LRU_HASH, key: u32, value: u32, maxEntries: 4096 });
    const n = 2000;
    m.updateBatch(
      Array.from({ length: n }, (_, i) => i),
      Array.from({ length: n }, (_, i) => i),
    );
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const deleted = new Set<number>();
    const yielded = new Set<number>();
    let steps = 0;
    for (const k of m.keys()) {
      assert.ok(!yielded.has(k));
      yielded.add(k);
      steps++;
      for (let i = 0; i < 2; i++) {
        const d = rand();
        if (m.delete(d)) deleted.add(d);
      }
    }
    assert.ok(steps <= n);
    for (let k = 0; k < n; k++) if (!deleted.has(k)) assert.ok(yielded.has(k), `survivor ${k}`);
  });

  kernelTest('gives up with IterationAbortedError on a map that is rewritten at every step', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 16 });
    let next = 0;
    const refill = (): void => {
      for (const k of [...m.keys()]) m.delete(k);
      for (let i = 0; i < 16; i++) m.update(next++, 0);
    };
    refill();
    assert.throws(() => {
      for (const _ of m.keys()) refill();
    }, IterationAbortedError);
  });

  kernelTest('keys() of an empty map and values()', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 4 });
    assert.deepEqual([...m.keys()], []);
    m.update(9, 90);
    assert.deepEqual([...m.values()], [90]);
    assert.deepEqual([...m], [[9, 90]]);
  });
});

describe('LPM trie', () => {
  kernelTest('finds the longest matching prefix', () => {
    const key = struct({ prefixlen: u32, addr: u32be });
    using m = BpfMap.create({ type: MapType.LPM_TRIE, key, value: u32, maxEntries: 16, flags: MapFlags.NO_PREALLOC });
    const ip = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
    m.update({ prefixlen: 8, addr: ip('10.0.0.0') }, 8);
    m.update({ prefixlen: 16, addr: ip('10.1.0.0') }, 16);
    m.update({ prefixlen: 24, addr: ip('10.1.2.0') }, 24);
    m.update({ prefixlen: 0, addr: 0 }, 0);
    assert.equal(m.lookup({ prefixlen: 32, addr: ip('10.1.2.3') }), 24);
    assert.equal(m.lookup({ prefixlen: 32, addr: ip('10.1.9.9') }), 16);
    assert.equal(m.lookup({ prefixlen: 32, addr: ip('10.9.9.9') }), 8);
    assert.equal(m.lookup({ prefixlen: 32, addr: ip('192.168.0.1') }), 0);
    assert.equal(m.delete({ prefixlen: 0, addr: 0 }), true);
    assert.equal(m.lookup({ prefixlen: 32, addr: ip('192.168.0.1') }), undefined);
    assert.deepEqual(new Set([...m.values()]), new Set([8, 16, 24]));
  });
});

describe('queue, stack and bloom filter', () => {
  kernelTest('a queue pops oldest first; a full one refuses, or overwrites with EXIST', () => {
    using q = BpfMap.create({ type: MapType.QUEUE, value: u32, maxEntries: 3 });
    assert.equal(q.keySize, 0);
    assert.equal(q.pop(), undefined);
    q.push(1);
    q.push(2);
    q.push(3);
    assertErrno(() => q.push(4), 'E2BIG', BpfError);
    q.push(4, UpdateFlags.EXIST);
    assert.equal(q.peek(), 2);
    assert.deepEqual([q.pop(), q.pop(), q.pop(), q.pop()], [2, 3, 4, undefined]);
  });

  kernelTest('a stack pops newest first', () => {
    using s = BpfMap.create({ type: MapType.STACK, value: u64, maxEntries: 8 });
    for (const v of [1n, 2n, 3n]) s.push(v);
    assert.equal(s.peek(), 3n);
    assert.deepEqual([s.pop(), s.pop(), s.pop(), s.pop()], [3n, 2n, 1n, undefined]);
  });

  kernelTest('a bloom filter contains what was pushed', () => {
    using b = BpfMap.create({ type: MapType.BLOOM_FILTER, value: u32, maxEntries: 1000, mapExtra: 5 });
    assert.equal(b.info().mapExtra, 5n);
    for (let i = 0; i < 100; i++) b.push(i * 3);
    for (let i = 0; i < 100; i++) assert.equal(b.contains(i * 3), true);
    let absent = 0;
    for (let i = 0; i < 100; i++) if (!b.contains(1_000_000 + i)) absent++;
    assert.ok(absent > 90, `false positives should be rare, got ${100 - absent}%`);
  });

  kernelTest('push/pop on keyed maps is refused with the map named', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 2, name: 'keyed' });
    assert.throws(() => m.push(1), (e: unknown) => e instanceof InvalidArgumentError && /map keyed/.test(e.message));
  });
});

describe('freeze and mmap', () => {
  kernelTest('a frozen map refuses user updates with EPERM and still reads', () => {
    using m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 2 });
    m.update(0, 42);
    m.freeze();
    assertErrno(() => m.update(0, 1), 'EPERM', BpfError);
    assert.equal(m.lookup(0), 42);
  });

  kernelTest('an mmapable array shares memory with lookup/update and is unmapped on close', () => {
    const m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: struct({ a: u32, b: u8 }), maxEntries: 10, flags: MapFlags.MMAPABLE });
    let buf: ArrayBuffer;
    try {
      buf = m.mmap();
      assert.equal(m.mmap(), buf, 'one mapping per map');
      assert.ok(buf.byteLength >= 10 * 8);
      const view = new DataView(buf);
      view.setUint32(3 * 8, 0xcafe, true); // element 3, stride round_up(5, 8) = 8
      view.setUint8(3 * 8 + 4, 7);
      assert.deepEqual(m.lookup(3), { a: 0xcafe, b: 7 });
      m.update(9, { a: 1, b: 2 });
      assert.equal(view.getUint32(9 * 8, true), 1);
      assert.equal(view.getUint8(9 * 8 + 4), 2);
    } finally {
      m.close();
    }
    assert.equal(buf.byteLength, 0, 'the mapping is detached after close');
  });

  kernelTest('mmap of a map that cannot be mapped is refused', () => {
    using m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 2 });
    assert.throws(() => m.mmap(), InvalidArgumentError);
  });
});

describe('pinning and opening', () => {
  const here = fileURLToPath(import.meta.url);
  const mapModule = new URL('../src/map.js', import.meta.url).href;
  const codecModule = new URL('../src/codec/index.js', import.meta.url).href;
  const childArgs = here.endsWith('.ts') ? ['--import', 'tsx'] : [];

  kernelTest('a pin is readable from another process and removed by unpin()', () => {
    const fs = privateBpffs();
    const path = join(fs.dir, uniqueName('dir', 30), 'nested', 'counts');
    try {
      using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u64, maxEntries: 4, name: 'pinned' });
      m.update(7, 0x1234567890n);
      m.pin(path);
      assert.equal(m.pinnedPath, path);
      assert.ok(existsSync(path));
      const script = `
        const { BpfMap } = await import(${JSON.stringify(mapModule)});
        const { u32, u64 } = await import(${JSON.stringify(codecModule)});
        const m = BpfMap.openPinned(${JSON.stringify(path)}, { key: u32, value: u64 });
        try {
          m.update(8, 99n);
          process.stdout.write(JSON.stringify({ id: m.id, value: String(m.lookup(7)) }));
        } finally {
          m.close();
        }
      `;
      const out = execFileSync(process.execPath, [...childArgs, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: join(here, '..', '..') });
      assert.deepEqual(JSON.parse(out), { id: m.id, value: String(0x1234567890n) });
      assert.equal(m.lookup(8), 99n, 'the child wrote through the pin');
      using again = BpfMap.openPinned(path, { key: u32, value: u64 });
      assert.equal(again.id, m.id);
      assert.equal(m.unpin(), true);
      assert.equal(existsSync(path), false);
      assert.equal(m.unpin(), false);
    } finally {
      fs.remove();
    }
  });

  kernelTest('pinning outside a bpffs says how to mount one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-nobpffs-'));
    try {
      using m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 1 });
      assert.throws(() => m.pin(join(dir, 'x')), (e: unknown) => e instanceof BpffsError && e.code === 'ENOTBPFFS' && /mount -t bpf bpf \/sys\/fs\/bpf/.test(e.message));
      assert.throws(() => BpfMap.openPinned(join(dir, 'x')), (e: unknown) => e instanceof TsbpfError && e.code === 'ENOENT' && e.message === `no such pin: ${join(dir, 'x')}`);
      writeFileSync(join(dir, 'y'), '');
      assert.throws(() => BpfMap.openPinned(join(dir, 'y')), BpffsError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('opening a missing pin fails with ENOENT', () => {
    const fs = privateBpffs();
    try {
      assert.throws(() => BpfMap.openPinned(join(fs.dir, 'missing')), (e: unknown) => e instanceof TsbpfError && e.code === 'ENOENT' && e.message.startsWith('no such pin: '));
    } finally {
      fs.remove();
    }
  });

  kernelTest('fromId and fromFd open the same map', () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: chars(8), maxEntries: 4, name: 'byid' });
    m.update(1, 'one');
    using o = BpfMap.fromId(m.id, { key: u32, value: chars(8) });
    assert.equal(o.name, 'byid');
    assert.equal(o.type, MapType.HASH);
    assert.equal(o.maxEntries, 4);
    assert.equal(o.lookup(1), 'one');
    o.update(2, 'two');
    assert.equal(m.lookup(2), 'two');
    assert.deepEqual(o.info(), m.info());
    assertErrno(() => BpfMap.fromId(0x7ffffff0), 'ENOENT', BpfError);
  });

  kernelTest('fromFd refuses an fd that is not a map and leaves it open', () => {
    const fd = openSync('/proc/self/status', 'r');
    try {
      assert.throws(() => BpfMap.fromFd(fd), (e: unknown) => e instanceof InvalidArgumentError && /not a BPF map/.test(e.message));
      assert.ok(existsSync(`/proc/self/fd/${fd}`));
    } finally {
      closeSync(fd);
    }
  });
});

describe('bad input', () => {
  kernelTest('wrong key and value sizes are InvalidArgumentErrors naming the map', () => {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 8, valueSize: 4, maxEntries: 2, name: 'sized' });
    assert.throws(() => m.lookup(new Uint8Array(4)), (e: unknown) => e instanceof InvalidArgumentError && /key of map sized .* must be 8 bytes, got 4/.test(e.message));
    assert.throws(() => m.update(new Uint8Array(8), new Uint8Array(5)), (e: unknown) => e instanceof InvalidArgumentError && /value of map sized/.test(e.message));
    assert.throws(() => m.delete('x' as unknown as Uint8Array), InvalidArgumentError);
    using typed = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 2, name: 'typed' });
    assert.throws(() => typed.update(-1, 0), (e: unknown) => e instanceof InvalidArgumentError && /map typed/.test(e.message));
    assert.throws(() => typed.updateBatch([1], [2 ** 40]), (e: unknown) => e instanceof InvalidArgumentError && /map typed/.test(e.message));
  });

  kernelTest('use after close is a ClosedError naming the map, and close is idempotent', () => {
    const m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 2, name: 'gone' });
    m.update(1, 1);
    const it = m.keys();
    m.close();
    m.close();
    assert.equal(m.closed, true);
    const closed = (e: unknown): boolean => e instanceof ClosedError && /map gone/.test(e.message);
    assert.throws(() => m.lookup(1), closed);
    assert.throws(() => m.update(1, 1), closed);
    assert.throws(() => m.delete(1), closed);
    assert.throws(() => m.info(), closed);
    assert.throws(() => m.freeze(), closed);
    assert.throws(() => m.lookupBatch(), closed);
    assert.throws(() => it.next(), closed);
    assert.throws(() => m.pin('/sys/fs/bpf/x'), closed);
  });

  kernelTest('unknown types, bad names and mismatched codecs are refused before the kernel', () => {
    assert.throws(() => BpfMap.create({ type: 999 as MapType, keySize: 4, valueSize: 4, maxEntries: 1 }), (e: unknown) => e instanceof InvalidArgumentError && /unknown map type 999/.test(e.message));
    assert.throws(() => BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, name: 'has space' }), /at most 15 characters/);
    assert.throws(() => BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, name: 'x'.repeat(16) }), InvalidArgumentError);
    assert.throws(() => BpfMap.create({ type: MapType.HASH, key: u32, keySize: 8, valueSize: 4, maxEntries: 1 }), /key codec is 4 bytes/);
    assert.throws(() => BpfMap.create({ type: MapType.HASH, keySize: -1, valueSize: 4, maxEntries: 1 }), InvalidArgumentError);
    assertErrno(() => BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 0 }), 'EINVAL', BpfError);
    assert.throws(() => BpfMap.create({ type: MapType.STRUCT_OPS, keySize: 4, valueSize: 4, maxEntries: 1 }), /vmlinuxValueTypeId/);
  });
});

describe('fd ownership', () => {
  kernelTest('1,000 create/close cycles and failed creates leak no fds', () => {
    const inner = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 1 });
    const cycle = (i: number): void => {
      switch (i % 5) {
        case 0: {
          using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 4 });
          m.update(1, 1);
          break;
        }
        case 1: {
          using m = BpfMap.create({ type: MapType.PERCPU_ARRAY, key: u32, value: array(u8, 3), maxEntries: 2 });
          using o = BpfMap.fromId(m.id);
          void o.info();
          break;
        }
        case 2: {
          using m = BpfMap.create({ type: MapType.SK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC });
          void m.id;
          break;
        }
        case 3: {
          using m = BpfMap.create({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: inner });
          void [...m.keys()];
          break;
        }
        default: {
          using m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 4, flags: MapFlags.MMAPABLE });
          m.mmap();
        }
      }
    };
    const fail = (): void => {
      assert.throws(() => BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 0 }), BpfError);
      assert.throws(() => BpfMap.create({ type: MapType.SK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 1, flags: MapFlags.NO_PREALLOC }), BpfError);
      assert.throws(() => BpfMap.fromId(0x7fffffff), BpfError);
      assert.throws(() => BpfMap.create({ type: MapType.HASH, key: u32, value: u32, keySize: 8, maxEntries: 1 }), InvalidArgumentError);
    };
    try {
      for (let i = 0; i < 20; i++) {
        cycle(i);
        fail();
      }
      const before = openFds();
      for (let i = 0; i < 1000; i++) {
        cycle(i);
        if (i % 10 === 0) fail();
      }
      assert.equal(openFds(), before);
    } finally {
      inner.close();
    }
  });
});
