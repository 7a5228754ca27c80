import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, type TestContext } from 'node:test';
import { createCounters, loadProducer, produce, produceOnWorker, readCounters, type CountersMap, type ProducerOptions } from '../bench/ringbuf/producers.js';
import { struct, u32 } from '../src/codec/index.js';
import { ClosedError, TsbpfError } from '../src/errors.js';
import { BpfMap } from '../src/map.js';
import { PerfReader } from '../src/perf/index.js';
import type { Program } from '../src/program.js';
import { MapTypeError, RingBufReader, RingBufSet, UserRingBufWriter } from '../src/ringbuf/index.js';
import { pageSize } from '../src/ringbuf/mapping.js';
import { FD } from '../src/sys/fd.js';
import { Attr, bpfRaw } from '../src/sys/syscall.js';
import { Cmd, MapType } from '../src/sys/types.js';
import { kernelTest, openFds, uniqueName } from './helpers/kernel.js';

const PAGE = 4096;

interface Rig {
  ring: BpfMap;
  counters: CountersMap;
  prog: Program;
}

/** A ring buffer of `size` bytes, its producer and counters, all closed after the test. */
function rig(t: TestContext, size: number, opts: ProducerOptions): Rig {
  const ring = BpfMap.create({ type: MapType.RINGBUF, maxEntries: size, name: uniqueName('rb') });
  const counters = createCounters();
  const prog = loadProducer(ring, counters, opts);
  t.after(() => {
    prog.close();
    counters.close();
    ring.close();
  });
  return { ring, counters, prog };
}

function reader<T = Uint8Array>(t: TestContext, r: RingBufReader<T>): RingBufReader<T> {
  t.after(() => r.close());
  return r;
}

/** The u32 words of a record. */
function words(rec: Uint8Array): number[] {
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= rec.byteLength; i += 4) out.push(v.getUint32(i, true));
  return out;
}

/** Checks a record holds seq, seq + 1, ... and returns seq. */
function seqOf(rec: Uint8Array, size: number): number {
  assert.equal(rec.byteLength, size);
  const w = words(rec);
  w.forEach((x, j) => assert.equal(x, w[0]! + j, `word ${j} of record ${w[0]}`));
  return w[0]!;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function bpfMapMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('anon_inode:bpf-map')).length;
}

/** Whether a map id still names a live map. */
function mapAlive(id: number): boolean {
  const r = bpfRaw(Cmd.MAP_GET_FD_BY_ID, new Attr(16).u32(0, id));
  if (r < 0) return false;
  new FD(r, 'map probe').close();
  return true;
}

describe('RingBufReader', () => {
  kernelTest('drains every record bpf_ringbuf_output wrote, in order, in place', (t) => {
    const { ring, counters, prog } = rig(t, 64 * 1024, { kind: 'output', size: 16 });
    const r = reader(t, new RingBufReader(ring));
    assert.equal(r.size, 64 * 1024);
    produce(prog, 1000);
    assert.equal(r.pendingBytes, 1000 * 24);
    const seqs: number[] = [];
    assert.equal(
      r.drain((rec) => {
        assert.equal(rec.buffer.byteLength, PAGE + 2 * 64 * 1024, 'a view into the mapped ring');
        seqs.push(seqOf(rec, 16));
      }),
      1000,
    );
    assert.deepEqual(seqs, range(0, 1000));
    assert.equal(r.pendingBytes, 0);
    assert.equal(readCounters(counters).failed, 0);
    assert.equal(r.drain(() => assert.fail('nothing left')), 0);
  });

  kernelTest('a long drain hands space back every sixteenth of the ring, not only at the end', (t) => {
    // A ring of 16 pages: a sixteenth is a page. 16-byte records take 24 bytes.
    const size = 16 * pageSize();
    const n = Math.floor((size * 3) / 4 / 24);
    const { ring, prog } = rig(t, size, { kind: 'output', size: 16 });
    const r = reader(t, new RingBufReader(ring));
    produce(prog, n);
    const pending: number[] = [];
    r.drain(() => pending.push(r.pendingBytes));
    // Within the callback of record i, the kernel sees the position of the last store: made
    // after the first record whose end reaches a page.
    const first = Math.ceil(pageSize() / 24);
    assert.equal(pending[0], n * 24);
    assert.equal(pending[first - 1], n * 24, `record ${first} ends at ${first * 24} bytes: nothing stored before it`);
    assert.equal(pending[first], n * 24 - first * 24, 'stored after the record that reached a page');
    assert.ok(new Set(pending).size >= 11, `${new Set(pending).size} distinct positions seen`);
    assert.equal(r.pendingBytes, 0);
  });

  kernelTest('skips records discarded with bpf_ringbuf_discard', (t) => {
    const { ring, counters, prog } = rig(t, 16 * 1024, { kind: 'reserve', size: 12, discardEvery: 3 });
    const r = reader(t, new RingBufReader(ring));
    produce(prog, 300);
    const seqs: number[] = [];
    r.drain((rec) => seqs.push(seqOf(rec, 12)));
    assert.deepEqual(
      seqs,
      range(0, 300).filter((s) => s % 3 !== 2),
    );
    assert.deepEqual(readCounters(counters), { seq: 300, failed: 0, discarded: 100 });
  });

  kernelTest('reads records that wrap around the end of the data area as one view', async (t) => {
    // 28-byte records take 40 bytes: record 102 spans bytes 4080..4119 of a 4096-byte ring.
    const { ring, prog } = rig(t, PAGE, { kind: 'reserve', size: 28 });
    const r = reader(t, new RingBufReader(ring));
    const seqs: number[] = [];
    for (let round = 0; round < 5; round++) {
      produce(prog, 100);
      r.drain((rec) => seqs.push(seqOf(rec, 28)));
    }
    assert.deepEqual(seqs, range(0, 500));
    // The same through iteration, which takes one record at a time.
    const it = r[Symbol.asyncIterator]();
    for (let round = 0; round < 3; round++) {
      produce(prog, 90);
      for (let i = 0; i < 90; i++) {
        const next = await it.next();
        assert.equal(next.done, false);
        assert.equal(seqOf(next.value as Uint8Array, 28), 500 + round * 90 + i);
      }
    }
    await it.return!();
    assert.equal(r.pendingBytes, 0);
  });

  kernelTest('a full ring refuses reservations: what the program counted as failed is exactly what is missing', (t) => {
    const { ring, counters, prog } = rig(t, PAGE, { kind: 'reserve', size: 8 });
    const r = reader(t, new RingBufReader(ring));
    produce(prog, 1000);
    const c = readCounters(counters);
    const seqs: number[] = [];
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    // The kernel keeps producer - consumer below the ring size: 255 records of 16 bytes fit in 4096.
    const fit = Math.floor((PAGE - 1) / 16);
    assert.equal(seqs.length, fit);
    assert.equal(c.failed, 1000 - fit);
    assert.deepEqual(seqs, range(0, fit));
    // Room again once drained.
    produce(prog, 10);
    seqs.length = 0;
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    assert.deepEqual(seqs, range(1000, 1010));
    assert.equal(readCounters(counters).failed, c.failed);
  });

  kernelTest('bpf_ringbuf_output into a full ring fails just as often as records go missing', (t) => {
    const { ring, counters, prog } = rig(t, PAGE, { kind: 'output', size: 32 });
    const r = reader(t, new RingBufReader(ring));
    let delivered = 0;
    for (let round = 0; round < 4; round++) {
      produce(prog, 250);
      delivered += r.drainRaw(() => {});
    }
    const c = readCounters(counters);
    assert.equal(c.seq, 1000);
    assert.ok(c.failed > 0);
    assert.equal(delivered + c.failed, c.seq);
  });

  kernelTest('drainRaw hands out the data area, an offset and a length, with records contiguous', (t) => {
    const { ring, prog } = rig(t, PAGE, { kind: 'output', size: 20 });
    const r = reader(t, new RingBufReader(ring));
    const seqs: number[] = [];
    let area: Uint8Array | undefined;
    for (let round = 0; round < 3; round++) {
      produce(prog, 100);
      r.drainRaw((data, offset, length) => {
        area ??= data;
        assert.equal(data, area, 'the same array every time');
        assert.equal(length, 20);
        assert.ok(offset + length <= 2 * PAGE);
        seqs.push(seqOf(data.subarray(offset, offset + length), 20));
      });
    }
    assert.deepEqual(seqs, range(0, 300));
  });

  kernelTest('decodes records through a codec, and refuses records shorter than it', (t) => {
    const { ring, prog } = rig(t, PAGE, { kind: 'output', size: 8 });
    const r = reader(t, new RingBufReader(ring, { codec: struct({ seq: u32, next: u32 }) }));
    produce(prog, 3);
    const got: { seq: number; next: number }[] = [];
    r.drain((v) => got.push(v));
    assert.deepEqual(got, [
      { seq: 0, next: 1 },
      { seq: 1, next: 2 },
      { seq: 2, next: 3 },
    ]);
    const wide = reader(t, new RingBufReader(ring, { codec: struct({ a: u32, b: u32, c: u32, d: u32 }) }));
    produce(prog, 1);
    assert.throws(
      () => wide.drain(() => {}),
      (err: unknown) => err instanceof TsbpfError && err.code === 'EMSGSIZE' && /8 bytes.*16 bytes/.test(err.message),
    );
  });

  kernelTest('copies outlive the reader; views do not', (t) => {
    const { ring, prog } = rig(t, PAGE, { kind: 'output', size: 8 });
    const copying = new RingBufReader(ring, { copy: true });
    produce(prog, 2);
    const kept: Uint8Array[] = [];
    copying.drain((rec) => kept.push(rec));
    copying.close();
    assert.deepEqual(kept.map((k) => words(k)), [
      [0, 1],
      [1, 2],
    ]);
    const viewing = new RingBufReader(ring);
    produce(prog, 1);
    let view: Uint8Array | undefined;
    viewing.drain((rec) => (view = rec));
    viewing.close();
    assert.equal(view!.byteLength, 0, 'the mapping is gone, and the view with it');
    assert.throws(() => viewing.drain(() => {}), ClosedError);
  });

  kernelTest('for await yields records as the producer writes them; break leaves the reader open', async (t) => {
    const { ring, prog } = rig(t, 16 * 1024, { kind: 'output', size: 8 });
    const r = reader(t, new RingBufReader(ring));
    let produced = 0;
    const timer = setInterval(() => {
      produce(prog, 10);
      produced += 10;
      if (produced === 50) clearInterval(timer);
    }, 5);
    t.after(() => clearInterval(timer));
    const seqs: number[] = [];
    for await (const rec of r) {
      seqs.push(seqOf(rec, 8));
      if (seqs.length === 50) break;
    }
    assert.deepEqual(seqs, range(0, 50));
    assert.equal(r.closed, false);
    produce(prog, 5);
    const more: number[] = [];
    for await (const rec of r) {
      more.push(seqOf(rec, 8));
      if (more.length === 5) break;
    }
    assert.deepEqual(more, range(50, 55));
  });

  kernelTest('close() ends a pending for await', async (t) => {
    const { ring } = rig(t, PAGE, { kind: 'output', size: 8 });
    const r = new RingBufReader(ring);
    const loop = (async () => {
      let n = 0;
      for await (const _ of r) n++;
      return n;
    })();
    await delay(20);
    r.close();
    assert.equal(await loop, 0);
    assert.equal(r.closed, true);
    for await (const _ of r) assert.fail('a closed reader yields nothing');
  });

  kernelTest('an AbortSignal ends a pending for await and closes the reader', async (t) => {
    const { ring, prog } = rig(t, PAGE, { kind: 'output', size: 8 });
    const ac = new AbortController();
    const r = new RingBufReader(ring, { signal: ac.signal });
    produce(prog, 2);
    const seqs: number[] = [];
    const loop = (async () => {
      for await (const rec of r) seqs.push(seqOf(rec, 8));
      return 'ended';
    })();
    await delay(20);
    ac.abort();
    assert.equal(await loop, 'ended');
    assert.deepEqual(seqs, [0, 1]);
    assert.equal(r.closed, true);
    const pre = new RingBufReader(ring, { signal: AbortSignal.abort() });
    assert.equal(pre.closed, true);
  });

  kernelTest('start() delivers to a callback on each wake-up until stop()', async (t) => {
    const { ring, prog } = rig(t, 16 * 1024, { kind: 'output', size: 8 });
    const r = reader(t, new RingBufReader(ring));
    const seqs: number[] = [];
    let reached: () => void = () => {};
    const done = new Promise<void>((resolve) => (reached = resolve));
    r.start((rec) => {
      seqs.push(seqOf(rec, 8));
      if (seqs.length === 30) reached();
    });
    for (let i = 0; i < 3; i++) {
      await delay(5);
      produce(prog, 10);
    }
    await done;
    assert.deepEqual(seqs, range(0, 30));
    assert.throws(() => r[Symbol.asyncIterator](), /already delivering/);
    r.stop();
    produce(prog, 4);
    await delay(30);
    assert.equal(seqs.length, 30, 'nothing after stop()');
    assert.equal(r.drain((rec) => seqs.push(seqOf(rec, 8))), 4);
    assert.deepEqual(seqs.slice(30), range(30, 34));
  });

  kernelTest('poll() waits for records up to a timeout', async (t) => {
    const { ring, prog } = rig(t, PAGE, { kind: 'output', size: 8 });
    const r = reader(t, new RingBufReader(ring));
    const seqs: number[] = [];
    const started = Date.now();
    assert.equal(await r.poll((rec) => seqs.push(seqOf(rec, 8)), 30), 0);
    assert.ok(Date.now() - started >= 25);
    setTimeout(() => produce(prog, 3), 10);
    assert.equal(await r.poll((rec) => seqs.push(seqOf(rec, 8)), 5000), 3);
    assert.deepEqual(seqs, [0, 1, 2]);
  });

  kernelTest('keeps up with a producer on another thread without losing a wake-up', async (t) => {
    const { ring, counters, prog } = rig(t, 64 * 1024, { kind: 'output', size: 16 });
    const r = reader(t, new RingBufReader(ring));
    let delivered = 0;
    let last = -1;
    let ordered = true;
    r.startRaw((data, offset) => {
      const seq = data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16) | (data[offset + 3]! << 24);
      if (seq <= last) ordered = false;
      last = seq;
      delivered++;
    });
    const rounds = 200;
    const repeat = 1000;
    await produceOnWorker(prog, rounds, repeat);
    const { seq, failed } = readCounters(counters);
    assert.equal(seq, rounds * repeat);
    const deadline = Date.now() + 5000;
    while (delivered + failed < seq && Date.now() < deadline) await delay(5);
    assert.equal(delivered + failed, seq, `${delivered} delivered + ${failed} refused`);
    assert.ok(ordered, 'records arrive in order');
  });

  kernelTest('refuses a map of another type, naming it', (t) => {
    const name = uniqueName('hash');
    const hash = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, name });
    const perf = BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    const user = BpfMap.create({ type: MapType.USER_RINGBUF, maxEntries: PAGE });
    const ring = BpfMap.create({ type: MapType.RINGBUF, maxEntries: PAGE });
    t.after(() => [hash, perf, user, ring].forEach((m) => m.close()));
    assert.throws(
      () => new RingBufReader(hash),
      (err: unknown) =>
        err instanceof MapTypeError &&
        err.code === 'EINVAL' &&
        err.actual === MapType.HASH &&
        err.expected === MapType.RINGBUF &&
        err.message.includes(`"${name}"`) &&
        /needs a RINGBUF map.* is a HASH map/.test(err.message),
    );
    assert.throws(() => new RingBufReader(perf.fd), /is a PERF_EVENT_ARRAY map/);
    assert.throws(() => new RingBufReader(user.fd), /is a USER_RINGBUF map/);
    assert.throws(() => new UserRingBufWriter(ring), /needs a USER_RINGBUF map.* is a RINGBUF map/);
    assert.throws(() => new PerfReader(ring), /needs a PERF_EVENT_ARRAY map.* is a RINGBUF map/);
  });

  kernelTest('leaves no fd and no mapping behind, and the map goes away with its last user', async () => {
    const fdsBefore = openFds();
    const mappingsBefore = bpfMapMappings();
    const ring = BpfMap.create({ type: MapType.RINGBUF, maxEntries: PAGE });
    const counters = createCounters();
    const prog = loadProducer(ring, counters, { kind: 'output', size: 8 });
    const id = ring.id;
    const r = new RingBufReader(ring);
    assert.equal(bpfMapMappings(), mappingsBefore + 2);
    produce(prog, 10);
    assert.equal(r.drain(() => {}), 10);
    prog.close();
    counters.close();
    ring.close();
    // The mapping alone keeps the map alive.
    await delay(50);
    assert.equal(mapAlive(id), true);
    r.close();
    r.close();
    assert.equal(bpfMapMappings(), mappingsBefore);
    const deadline = Date.now() + 3000;
    while (mapAlive(id) && Date.now() < deadline) await delay(20);
    assert.equal(mapAlive(id), false, `map ${id} is gone`);
    await delay(10);
    assert.equal(openFds(), fdsBefore);
  });
});

describe('RingBufSet', () => {
  kernelTest('serves several ring buffers as one tagged stream', async (t) => {
    const a = rig(t, PAGE, { kind: 'output', size: 8 });
    const b = rig(t, PAGE, { kind: 'reserve', size: 16 });
    const set = new RingBufSet();
    t.after(() => set.close());
    set.add('a', a.ring);
    set.add('b', b.ring);
    assert.deepEqual(set.names, ['a', 'b']);
    assert.throws(() => set.add('a', b.ring), /already has a ring buffer named "a"/);
    setTimeout(() => produce(a.prog, 5), 5);
    setTimeout(() => produce(b.prog, 7), 10);
    const got: Record<string, number[]> = { a: [], b: [] };
    let n = 0;
    for await (const { name, record } of set) {
      got[name]!.push(seqOf(record, name === 'a' ? 8 : 16));
      if (++n === 12) break;
    }
    assert.deepEqual(got, { a: range(0, 5), b: range(0, 7) });

    const tagged: string[] = [];
    let reached: () => void = () => {};
    const done = new Promise<void>((resolve) => (reached = resolve));
    set.start((record, name) => {
      tagged.push(`${name}${seqOf(record, name === 'a' ? 8 : 16)}`);
      if (tagged.length === 4) reached();
    });
    produce(a.prog, 2);
    produce(b.prog, 2);
    await done;
    assert.deepEqual(tagged.sort(), ['a5', 'a6', 'b7', 'b8']);
    set.stop();
    produce(a.prog, 1);
    assert.equal(set.drain((record, name) => tagged.push(`${name}${seqOf(record, 8)}`)), 1);
    assert.equal(tagged.at(-1), 'a7');
  });

  kernelTest('an AbortSignal ends the stream and closes every reader', async (t) => {
    const a = rig(t, PAGE, { kind: 'output', size: 8 });
    const b = rig(t, PAGE, { kind: 'output', size: 8 });
    const ac = new AbortController();
    const set = new RingBufSet({ signal: ac.signal });
    const ra = set.add('a', a.ring);
    const rb = set.add('b', b.ring);
    const loop = (async () => {
      for await (const _ of set) assert.fail('nothing was produced');
      return 'ended';
    })();
    await delay(20);
    ac.abort();
    assert.equal(await loop, 'ended');
    assert.equal(ra.closed && rb.closed && set.closed, true);
    assert.throws(() => set.add('c', a.ring), ClosedError);
  });
});
