// Ring and perf buffer throughput: records per second delivered to a JavaScript callback,
// against libbpf's ring_buffer / perf_buffer consuming the same producer in C.
//
// Three producers, each with 8-byte and 64-byte records:
// - drain: the ring is filled by BPF_PROG_TEST_RUN with repeat, then one drain is timed (the
//   consumer's own cost per record; best of several rounds);
// - live: a second thread runs the producer flat out while the consumer is woken by the kernel;
// - tracepoint: a raw_tp on sys_enter produces a record per getppid() of a load process, which
//   starts from its own timer once either consumer is ready (see load.c).
// Live and tracepoint rates count from the first record delivered to the last; the machine's
// noise moves them a lot, so each is the median of several runs, alternating the two sides,
// after a warm-up run of each, and the rows give the median number of records each side lost
// (the program's failed reservations or outputs).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BpfMap } from '../../src/map.js';
import { possibleCpuIds } from '../../src/sys/cpus.js';
import { PerfReader } from '../../src/perf/index.js';
import { RingBufReader } from '../../src/ringbuf/index.js';
import { rawTracepointOpen } from '../../src/sys/attrs.js';
import { packageRoot } from '../../src/sys/package.js';
import { MapType } from '../../src/sys/types.js';
import type { BenchResult } from '../result.js';
import { createCounters, loadProducer, produce, produceOnWorker, producerBytes, readCounters, type ProducerKind, type ProducerOptions } from './producers.js';

const SYS_GETPPID = 110;
const TARGET = '>= 0.9';
const DRAIN_ROUNDS = 5;
const LIVE_RUNS = 5;

interface Measured {
  rate: number;
  delivered: number;
  failed: number;
}

type Buffer = 'ring' | 'perf';

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function powerOfTwoAtLeast(n: number): number {
  let p = 4096;
  while (p < n) p *= 2;
  return p;
}

/** Bytes a record of `size` takes: ring buffer header, or perf header and raw size, padded to 8. */
function recordSpace(buffer: Buffer, size: number): number {
  return buffer === 'ring' ? (size + 8 + 7) & ~7 : (size + 12 + 7) & ~7;
}

/** The ring's bytes, or for perf the pages per CPU: the form consumer.c takes. */
function cSize(buffer: Buffer, bytes: number): number {
  return buffer === 'ring' ? bytes : bytes / 4096;
}

/** A producer with its maps, and a reader of the kind asked for. */
function setUp(buffer: Buffer, bytes: number, opts: ProducerOptions) {
  const target =
    buffer === 'ring'
      ? BpfMap.create({ type: MapType.RINGBUF, maxEntries: bytes, name: 'bench_ring' })
      : BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: possibleCpuIds().length, name: 'bench_perf' });
  const counters = createCounters();
  const prog = loadProducer(target, counters, opts);
  const reader = buffer === 'ring' ? new RingBufReader(target) : new PerfReader(target, { bufferSize: bytes });
  return {
    counters,
    prog,
    reader,
    close(): void {
      reader.close();
      prog.close();
      counters.close();
      target.close();
    },
  };
}

function kindOf(buffer: Buffer): ProducerKind {
  return buffer === 'ring' ? 'output' : 'perf';
}

function jsDrain(buffer: Buffer, size: number, n: number, raw: boolean): Measured {
  const bytes = powerOfTwoAtLeast(n * recordSpace(buffer, size) + 4096);
  const rig = setUp(buffer, bytes, { kind: kindOf(buffer), size });
  try {
    let sink = 0;
    let count = 0;
    let view: DataView | undefined;
    let viewOf: Uint8Array | undefined;
    const onView = (rec: Uint8Array): void => {
      sink += rec[0]!;
      count++;
    };
    const onRaw = (data: Uint8Array, offset: number): void => {
      if (data !== viewOf) {
        viewOf = data;
        view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      }
      sink += view!.getUint32(offset, true);
      count++;
    };
    let best = Infinity;
    for (let round = 0; round < DRAIN_ROUNDS; round++) {
      count = 0;
      produce(rig.prog, n);
      const t0 = process.hrtime.bigint();
      if (raw) rig.reader.drainRaw(onRaw);
      else rig.reader.drain(onView);
      const t = Number(process.hrtime.bigint() - t0) / 1e9;
      if (count !== n) throw new Error(`drained ${count} of ${n} records`);
      best = Math.min(best, t);
    }
    if (sink === -1) process.stdout.write('');
    return { rate: n / best, delivered: n, failed: 0 };
  } finally {
    rig.close();
  }
}

type Rig = ReturnType<typeof setUp>;

/**
 * Starts the rig's reader on a callback that counts records, runs `produce`, then waits until
 * every record the program tried to write was delivered or counted as failed. The rate counts
 * from the first record delivered.
 */
async function consume(rig: Rig, produce: () => Promise<void>): Promise<Measured & { seq: number }> {
  let delivered = 0;
  let first = 0;
  let sink = 0;
  rig.reader.start((rec: Uint8Array): void => {
    if (delivered === 0) first = performance.now();
    sink += rec[0]!;
    delivered++;
  });
  await produce();
  let c = readCounters(rig.counters);
  while (delivered + c.failed < c.seq) {
    await delay(1);
    c = readCounters(rig.counters);
  }
  const secs = (performance.now() - first) / 1000;
  if (sink === -1) process.stdout.write('');
  return { rate: delivered / secs, delivered, failed: c.failed, seq: c.seq };
}

async function jsLive(buffer: Buffer, size: number, bytes: number, rounds: number, repeat: number): Promise<Measured> {
  const rig = setUp(buffer, bytes, { kind: kindOf(buffer), size });
  try {
    return await consume(rig, () => produceOnWorker(rig.prog, rounds, repeat));
  } finally {
    rig.close();
  }
}

/**
 * Time the consumer has between starting the load and the load's first call: setting up and
 * attaching takes a few milliseconds.
 */
const LOAD_START_MS = 300;

/** A load process that makes `n` getppid() calls from `startAt` (CLOCK_MONOTONIC, ns) on. */
function startLoad(loadBin: string, n: number): { load: ChildProcess; startAt: bigint } {
  const startAt = process.hrtime.bigint() + BigInt(LOAD_START_MS * 1e6);
  return { load: spawn(loadBin, [String(n), String(startAt)], { stdio: ['ignore', 'ignore', 'inherit'] }), startAt };
}

/** Throws when the consumer was not ready before the load started: its first calls went unseen. */
function checkReady(startAt: bigint, who: string): void {
  if (process.hrtime.bigint() >= startAt) throw new Error(`${who} was not ready within ${LOAD_START_MS} ms of starting the load`);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${child.spawnfile} exited with ${code}`))));
  });
}

async function jsTracepoint(buffer: Buffer, size: number, bytes: number, n: number, loadBin: string): Promise<Measured> {
  const { load, startAt } = startLoad(loadBin, n);
  const opts: ProducerOptions = { kind: kindOf(buffer), size, programType: 'raw_tp', tgid: load.pid!, syscall: SYS_GETPPID };
  const rig = setUp(buffer, bytes, opts);
  const link = rawTracepointOpen(rig.prog.fd, 'sys_enter');
  try {
    const m = await consume(rig, async () => {
      checkReady(startAt, 'the TypeScript consumer');
      await exited(load);
    });
    if (m.seq !== n) throw new Error(`the load made ${m.seq} getppid() calls, not ${n}`);
    return { rate: m.rate, delivered: m.delivered, failed: m.failed };
  } finally {
    link.close();
    rig.close();
  }
}

interface Tools {
  dir: string;
  consumer: string;
  load: string;
}

function build(): Tools {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-ringbuf-bench-'));
  const src = join(packageRoot(), 'bench', 'ringbuf');
  const consumer = join(dir, 'consumer');
  const load = join(dir, 'load');
  execFileSync('cc', ['-O2', '-o', consumer, join(src, 'consumer.c'), '-lbpf', '-lpthread']);
  execFileSync('cc', ['-O2', '-o', load, join(src, 'load.c')]);
  return { dir, consumer, load };
}

function writeInsns(tools: Tools, opts: ProducerOptions): string {
  const path = join(tools.dir, `producer-${opts.kind}-${opts.size}-${opts.programType ?? 'sched_cls'}.bin`);
  writeFileSync(path, producerBytes(opts));
  return path;
}

function parse(out: string): Measured {
  const line = out.trim().split('\n').at(-1) ?? '';
  const r = JSON.parse(line) as { rate: number; delivered: number; failed: number };
  return { rate: r.rate, delivered: r.delivered, failed: r.failed };
}

function cDrain(tools: Tools, buffer: Buffer, size: number, n: number): Measured {
  const bytes = powerOfTwoAtLeast(n * recordSpace(buffer, size) + 4096);
  const insns = writeInsns(tools, { kind: kindOf(buffer), size });
  return parse(execFileSync(tools.consumer, [buffer, 'drain', insns, String(cSize(buffer, bytes)), String(n), String(DRAIN_ROUNDS)], { encoding: 'utf8' }));
}

function cLive(tools: Tools, buffer: Buffer, size: number, bytes: number, rounds: number, repeat: number): Measured {
  const insns = writeInsns(tools, { kind: kindOf(buffer), size });
  return parse(execFileSync(tools.consumer, [buffer, 'live', insns, String(cSize(buffer, bytes)), String(rounds), String(repeat)], { encoding: 'utf8' }));
}

async function cTracepoint(tools: Tools, buffer: Buffer, size: number, bytes: number, n: number): Promise<Measured> {
  const { load, startAt } = startLoad(tools.load, n);
  const insns = writeInsns(tools, { kind: kindOf(buffer), size, programType: 'raw_tp', tgid: load.pid!, syscall: SYS_GETPPID });
  const consumer = spawn(tools.consumer, [buffer, 'tp', insns, String(cSize(buffer, bytes)), String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: consumer.stdout! });
  let out = '';
  try {
    for await (const line of lines) {
      if (line === 'ready') checkReady(startAt, 'the C consumer');
      else out += `${line}\n`;
    }
    await exited(consumer);
    await exited(load);
  } finally {
    load.kill();
  }
  return parse(out);
}

function median(runs: Measured[]): Measured {
  const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { rate: mid(runs.map((r) => r.rate)), delivered: mid(runs.map((r) => r.delivered)), failed: mid(runs.map((r) => r.failed)) };
}

/**
 * Median of LIVE_RUNS runs of each side, alternating, after one run of each that is not
 * counted: the first run in a process also measures the JIT compiling the consumer.
 */
async function alternate(ts: () => Promise<Measured>, ref: () => Promise<Measured> | Measured): Promise<[Measured, Measured]> {
  const a: Measured[] = [];
  const b: Measured[] = [];
  await ref();
  await ts();
  for (let i = 0; i < LIVE_RUNS; i++) {
    b.push(await ref());
    a.push(await ts());
  }
  return [median(a), median(b)];
}

function row(name: string, ts: Measured, ref: Measured, referenceName: string, what: string): BenchResult {
  const lossy = ts.failed > 0 || ref.failed > 0;
  return {
    name,
    unit: 'records/s',
    ts: ts.rate,
    reference: ref.rate,
    referenceName,
    ratio: ts.rate / ref.rate,
    target: TARGET,
    note: lossy
      ? `${what}; lost: tsbpf ${ts.failed}, libbpf ${ref.failed}`
      : `${what}; nothing lost`,
  };
}

export async function run(): Promise<BenchResult[]> {
  const tools = build();
  const results: BenchResult[] = [];
  try {
    for (const buffer of ['ring', 'perf'] as const) {
      const ref = buffer === 'ring' ? 'libbpf ring_buffer (C)' : 'libbpf perf_buffer (C)';
      const label = buffer === 'ring' ? 'ring buffer' : 'perf buffer';
      for (const size of [8, 64]) {
        const n = buffer === 'ring' ? 1_000_000 : 300_000;
        const cd = cDrain(tools, buffer, size, n);
        results.push(row(`${label}, ${size} B records, drain: view per record`, jsDrain(buffer, size, n, false), cd, ref, `${n} records, best of ${DRAIN_ROUNDS}`));
        results.push(row(`${label}, ${size} B records, drain: drainRaw (no view)`, jsDrain(buffer, size, n, true), cd, ref, `${n} records, best of ${DRAIN_ROUNDS}`));

        const liveBytes = buffer === 'ring' ? 1 << 20 : 1 << 19;
        const [rounds, repeat] = [200, 5000];
        const [jl, cl] = await alternate(
          () => jsLive(buffer, size, liveBytes, rounds, repeat),
          () => cLive(tools, buffer, size, liveBytes, rounds, repeat),
        );
        const held = Math.floor(liveBytes / recordSpace(buffer, size));
        const fill = buffer === 'ring' ? `; the ring holds ${held.toLocaleString('en-US')} records, ${((held / jl.rate) * 1000).toFixed(1)} ms of this producer, so a consumer thread descheduled longer loses records` : '';
        results.push(row(`${label}, ${size} B records, live producer thread (test runs)`, jl, cl, ref, `${rounds * repeat} records, median of ${LIVE_RUNS}${fill}`));

        const tpN = 1_000_000;
        const [jt, ct] = await alternate(
          () => jsTracepoint(buffer, size, liveBytes, tpN, tools.load),
          () => cTracepoint(tools, buffer, size, liveBytes, tpN),
        );
        results.push(row(`${label}, ${size} B records, raw_tp sys_enter from a load process`, jt, ct, ref, `${tpN} records, median of ${LIVE_RUNS}`));
      }
    }
  } finally {
    rmSync(tools.dir, { recursive: true, force: true });
  }
  return results;
}
