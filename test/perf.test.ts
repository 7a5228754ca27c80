import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import { createCounters, loadProducer, produce, produceOn, readCounters, type CountersMap, type ProducerOptions } from '../bench/ringbuf/producers.js';
import { struct, u32 } from '../src/codec/index.js';
import { ClosedError } from '../src/errors.js';
import { BpfMap } from '../src/map.js';
import { PerfReader, bpfOutputAttr, parseCpuIds, possibleCpuIds, type PerfRecord } from '../src/perf/index.js';
import type { Program } from '../src/program.js';
import { MapTypeError } from '../src/ringbuf/index.js';
import { MapType } from '../src/sys/types.js';
import { kernelTest, openFds, uniqueName } from './helpers/kernel.js';

const PAGE = 4096;

interface Rig {
  events: BpfMap;
  counters: CountersMap;
  prog: Program;
}

/** A perf event array with a slot per possible CPU, a raw_tp producer (run on a chosen CPU) and its counters. */
function rig(t: TestContext, size = 8, opts: Partial<ProducerOptions> = {}): Rig {
  const events = BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: possibleCpuIds().length, name: uniqueName('pev') });
  const counters = createCounters();
  const prog = loadProducer(events, counters, { kind: 'perf', size, programType: 'raw_tp', ...opts });
  t.after(() => {
    prog.close();
    counters.close();
    events.close();
  });
  return { events, counters, prog };
}

function reader<T>(t: TestContext, r: PerfReader<T>): PerfReader<T> {
  t.after(() => r.close());
  return r;
}

/** The seq a sample starts with, after checking the `size` bytes the program sent (the rest is padding). */
function seqOf(rec: Uint8Array, size: number): number {
  // The kernel pads raw data so that its u32 size and the data end on 8 bytes.
  assert.equal(rec.byteLength, ((size + 4 + 7) & ~7) - 4);
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const seq = v.getUint32(0, true);
  for (let j = 1; j < size / 4; j++) assert.equal(v.getUint32(4 * j, true), seq + j, `word ${j} of sample ${seq}`);
  return seq;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lets a reader that just started watching take its first look (two event loop turns). */
const settled = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));

function perfMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('[perf_event]')).length;
}

describe('perf event attr', () => {
  test('encodes a BPF output event as struct perf_event_attr (PERF_ATTR_SIZE_VER8)', () => {
    const v = new DataView(bpfOutputAttr({ watermark: 4096, backward: true }).buffer);
    assert.equal(v.byteLength, 136);
    assert.equal(v.getUint32(0, true), 1, 'PERF_TYPE_SOFTWARE');
    assert.equal(v.getUint32(4, true), 136, 'size');
    assert.equal(v.getBigUint64(8, true), 10n, 'PERF_COUNT_SW_BPF_OUTPUT');
    assert.equal(v.getBigUint64(16, true), 1n, 'sample_period');
    assert.equal(v.getBigUint64(24, true), 1024n, 'PERF_SAMPLE_RAW');
    assert.equal(v.getBigUint64(40, true), (1n << 0n) | (1n << 14n) | (1n << 27n), 'disabled, watermark, write_backward');
    assert.equal(v.getUint32(48, true), 4096, 'wakeup_watermark');
    assert.equal(new DataView(bpfOutputAttr().buffer).getUint32(48, true), 1, 'wakeup_events');
  });

  test('parses kernel CPU lists', () => {
    assert.deepEqual(parseCpuIds('0-3,5,7-8\n'), [0, 1, 2, 3, 5, 7, 8]);
    assert.deepEqual(parseCpuIds('0'), [0]);
    assert.throws(() => parseCpuIds('3-1'), /cannot parse CPU list/);
  });
});

describe('PerfReader', () => {
  kernelTest('reads the samples of each CPU, tagged with it', (t) => {
    const { events, counters, prog } = rig(t, 8);
    const r = reader(t, new PerfReader(events));
    assert.deepEqual(r.cpus, possibleCpuIds());
    assert.deepEqual(r.offlineCpus, []);
    const cpus = r.cpus;
    cpus.forEach((cpu, i) => produceOn(prog, 10 + i, cpu));
    const byCpu: Record<number, number[]> = {};
    const n = r.drain((rec, cpu) => (byCpu[cpu] ??= []).push(seqOf(rec, 8)));
    let seq = 0;
    cpus.forEach((cpu, i) => {
      assert.deepEqual(byCpu[cpu], range(seq, seq + 10 + i), `CPU ${cpu}`);
      seq += 10 + i;
    });
    assert.equal(n, seq);
    assert.deepEqual(readCounters(counters), { seq, failed: 0, discarded: 0 });
    assert.equal(r.lostTotal, 0);
  });

  kernelTest('counts lost samples exactly: delivered + lost == produced', (t) => {
    const { events, counters, prog } = rig(t, 8);
    const lostCalls: [number, number][] = [];
    const r = reader(t, new PerfReader(events, { bufferSize: PAGE, onLost: (lost, cpu) => lostCalls.push([lost, cpu]) }));
    const cpu = r.cpus.at(-1)!;
    // 24-byte records: 170 fit in one page; the 130 after them are lost.
    produceOn(prog, 300, cpu);
    const seqs: number[] = [];
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    assert.deepEqual(seqs, range(0, 170));
    assert.equal(readCounters(counters).failed, 130);
    // The kernel reports the loss with the next sample that fits.
    assert.equal(r.lostTotal, 0);
    produceOn(prog, 1, cpu);
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    assert.deepEqual(seqs.slice(170), [300]);
    assert.equal(r.lost[cpu], 130);
    assert.deepEqual(lostCalls, [[130, cpu]]);
    const c = readCounters(counters);
    assert.equal(seqs.length + r.lostTotal, c.seq);
    assert.equal(r.lostTotal, c.failed);
  });

  kernelTest('copies samples that wrap around the end of a ring into one buffer', (t) => {
    // 28-byte samples take 40 bytes of ring, 36-byte ones 48: both wrap in a 4096-byte ring.
    for (const size of [28, 36]) {
      const { events, prog } = rig(t, size);
      const r = reader(t, new PerfReader(events, { bufferSize: PAGE }));
      const cpu = r.cpus[0]!;
      const seqs: number[] = [];
      const copies = new Set<number>();
      for (let round = 0; round < 8; round++) {
        produceOn(prog, 50, cpu);
        r.drainRaw((data, offset, length, c) => {
          assert.equal(c, cpu);
          if (data.byteLength !== PAGE) copies.add(offset);
          seqs.push(seqOf(data.subarray(offset, offset + length), size));
        });
      }
      assert.deepEqual(seqs, range(0, 400));
      assert.ok(copies.size > 0, 'some samples wrapped');
    }
  });

  kernelTest('decodes samples through a codec', (t) => {
    const { events, prog } = rig(t, 8);
    const r = reader(t, new PerfReader(events, { codec: struct({ seq: u32, next: u32 }) }));
    produceOn(prog, 2, r.cpus[0]!);
    const got: unknown[] = [];
    r.drain((v, cpu) => got.push({ ...v, cpu }));
    assert.deepEqual(got, [
      { seq: 0, next: 1, cpu: r.cpus[0] },
      { seq: 1, next: 2, cpu: r.cpus[0] },
    ]);
  });

  kernelTest('for await yields samples and losses tagged with the CPU', async (t) => {
    const { events, prog } = rig(t, 8);
    const r = reader(t, new PerfReader(events, { bufferSize: PAGE }));
    const cpu = r.cpus[0]!;
    setTimeout(() => produceOn(prog, 5, cpu), 10);
    const items: PerfRecord<Uint8Array>[] = [];
    for await (const item of r) {
      items.push(item.record ? { cpu: item.cpu, record: item.record.slice() } : item);
      if (items.length === 5) break;
    }
    assert.deepEqual(
      items.map((i) => [i.cpu, seqOf(i.record!, 8)]),
      range(0, 5).map((s) => [cpu, s]),
    );
    produceOn(prog, 200, cpu);
    const seqs: number[] = [];
    let lost = 0;
    setTimeout(() => produceOn(prog, 1, cpu), 20);
    for await (const item of r) {
      if (item.lost !== undefined) {
        assert.equal(item.cpu, cpu);
        lost += item.lost;
      } else seqs.push(seqOf(item.record, 8));
      if (seqs.length + lost === 201) break;
    }
    assert.equal(seqs.length, 171);
    assert.equal(lost, 30);
    assert.equal(r.lost[cpu], 30);
  });

  kernelTest('close() and an AbortSignal end a pending for await', async (t) => {
    const { events } = rig(t, 8);
    const closing = new PerfReader(events);
    const ac = new AbortController();
    const loop = async (r: PerfReader): Promise<string> => {
      for await (const _ of r) assert.fail('nothing was produced');
      return 'ended';
    };
    const first = loop(closing);
    await delay(20);
    closing.close();
    assert.equal(await first, 'ended');
    const aborting = new PerfReader(events, { signal: ac.signal });
    const second = loop(aborting);
    await delay(20);
    ac.abort();
    assert.equal(await second, 'ended');
    assert.equal(aborting.closed, true);
    assert.throws(() => aborting.drain(() => {}), ClosedError);
  });

  kernelTest('pause() takes the rings out of the map until resume()', (t) => {
    const { events, counters, prog } = rig(t, 8);
    const r = reader(t, new PerfReader(events));
    const cpu = r.cpus[0]!;
    produceOn(prog, 3, cpu);
    r.pause();
    assert.equal(r.paused, true);
    produceOn(prog, 4, cpu);
    assert.equal(readCounters(counters).failed, 4, 'bpf_perf_event_output fails while paused');
    const seqs: number[] = [];
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    assert.deepEqual(seqs, [0, 1, 2], 'what was in the rings is still read');
    r.resume();
    produceOn(prog, 2, cpu);
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    assert.deepEqual(seqs, [0, 1, 2, 7, 8]);
    assert.equal(r.lostTotal, 0, 'a missing ring loses nothing in the ring');
  });

  kernelTest('start() is woken per wakeupEvents samples, or by the watermark', async (t) => {
    const { events, prog } = rig(t, 8);
    const counted = reader(t, new PerfReader(events, { wakeupEvents: 5 }));
    const cpu = counted.cpus[0]!;
    let n = 0;
    counted.start(() => n++);
    await settled();
    produceOn(prog, 4, cpu);
    await delay(50);
    assert.equal(n, 0, 'four samples do not wake the reader');
    produceOn(prog, 1, cpu);
    const deadline = Date.now() + 2000;
    while (n < 5 && Date.now() < deadline) await delay(5);
    assert.equal(n, 5);
    counted.close();

    const marked = reader(t, new PerfReader(events, { watermark: 2048 }));
    let m = 0;
    marked.start(() => m++);
    await settled();
    produceOn(prog, 10, cpu);
    await delay(50);
    assert.equal(m, 0, '240 bytes stay under the watermark');
    produceOn(prog, 80, cpu);
    const until = Date.now() + 2000;
    while (m < 90 && Date.now() < until) await delay(5);
    assert.equal(m, 90);
  });

  kernelTest('overwritable rings keep the newest samples and read oldest first', (t) => {
    const { events, counters, prog } = rig(t, 8);
    const r = reader(t, new PerfReader(events, { bufferSize: PAGE, overwritable: true }));
    const cpu = r.cpus[0]!;
    produceOn(prog, 300, cpu);
    assert.equal(readCounters(counters).failed, 0, 'an overwritable ring never refuses');
    const seqs: number[] = [];
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    // 170 whole samples of 24 bytes fit in 4096 bytes; the oldest may be cut by the next.
    assert.ok(seqs.length >= 169 && seqs.length <= 170, `${seqs.length} samples`);
    assert.deepEqual(seqs, range(300 - seqs.length, 300));
    produceOn(prog, 5, cpu);
    seqs.length = 0;
    r.drain((rec) => seqs.push(seqOf(rec, 8)));
    assert.deepEqual(seqs, range(300, 305), 'only what is new since the last read');
    assert.equal(r.drain(() => assert.fail('nothing new')), 0);
    assert.equal(r.lostTotal, 0);
  });

  kernelTest('uses as many CPUs as the map has slots', (t) => {
    const events = BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    t.after(() => events.close());
    const r = reader(t, new PerfReader(events));
    assert.deepEqual(r.cpus, [possibleCpuIds()[0]]);
  });

  kernelTest('a sched_cls producer running repeatedly on any CPU loses nothing in a large ring', (t) => {
    const events = BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: possibleCpuIds().length });
    const counters = createCounters();
    const prog = loadProducer(events, counters, { kind: 'perf', size: 16 });
    t.after(() => [prog, counters, events].forEach((x) => x.close()));
    const r = reader(t, new PerfReader(events, { bufferSize: 1 << 20 }));
    produce(prog, 20000);
    const seqs = new Set<number>();
    r.drain((rec) => seqs.add(seqOf(rec, 16)));
    assert.equal(seqs.size, 20000);
    assert.equal(Math.max(...seqs), 19999);
  });

  kernelTest('refuses a map of another type', (t) => {
    const hash = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1 });
    t.after(() => hash.close());
    assert.throws(
      () => new PerfReader(hash),
      (err: unknown) => err instanceof MapTypeError && err.actual === MapType.HASH && /needs a PERF_EVENT_ARRAY map/.test(err.message),
    );
  });

  kernelTest('closes its perf events and unmaps its rings', () => {
    const fds = openFds();
    const mappings = perfMappings();
    const events = BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: possibleCpuIds().length });
    const counters = createCounters();
    const prog = loadProducer(events, counters, { kind: 'perf', size: 8, programType: 'raw_tp' });
    const r = new PerfReader(events);
    assert.equal(openFds(), fds + 3 + r.cpus.length);
    assert.equal(perfMappings(), mappings + r.cpus.length);
    produceOn(prog, 1, r.cpus[0]!);
    r.close();
    r.close();
    assert.equal(perfMappings(), mappings);
    produceOn(prog, 1, r.cpus[0]!);
    assert.equal(readCounters(counters).failed, 1, 'the map slots were cleared');
    prog.close();
    counters.close();
    events.close();
    assert.equal(openFds(), fds);
  });
});
