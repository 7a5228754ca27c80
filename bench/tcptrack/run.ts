// tcptrack overhead: connect() + close() on loopback (connect_bench.c, C client threads against
// a listener in the same program) with and without tcptrack running in this process,
// alternating in one run; and the highest event rate tcptrack takes with no event lost, found by
// pacing the client higher and higher with every event kind on (up to 4 events per connection).
//
// The machines here are shared and busy, so the wall-clock rate swings by a factor of two from
// one second to the next. The ratio is therefore taken on CPU time: connections per CPU-second
// spent on them, counting the generator's own CPU time, the softirq time of the whole machine
// (where loopback packets are received and half of tcptrack's programs run) and, when tracing,
// tcptrack's user side: this process's CPU time less what it uses untraced (spawning and
// reaping the generator). The wall-clock rates are in the note.
//
// What is measured is tcptrack while it runs, not its start: each traced run first drives a
// short unmeasured burst of connections through it (so its event path is compiled, as it is a
// moment after a real start) and collects the garbage that loading left (the object, BTF);
// then the measured run begins, and only its events are counted.
//
//   npx tsx bench/tcptrack/run.ts [--seconds S] [--rounds N] [--clients N] [--verbose]
//
// Needs root and cc. tcptrack writes JSON lines to /dev/null, so formatting is measured and
// the terminal is not.
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { packageRoot } from '../../src/sys/package.js';
import type { TcptrackOptions } from '../../src/tools/tcptrack/options.js';
import { runTcptrack, type TraceProgress } from '../../src/tools/tcptrack/run.js';
import type { BenchResult } from '../result.js';

export interface TcptrackBenchOptions {
  /** Length of one measured run (1.5 s): short runs, many rounds, against a busy machine's drift. */
  seconds?: number;
  /** Rounds of (untraced, traced, traced with every event kind), in rotated order (8). */
  rounds?: number;
  /** Client threads of connect_bench (2: with the listener thread, every CPU of a 2-CPU machine stays busy, so what tcptrack takes shows). */
  clients?: number;
  verbose?: boolean;
}

const cSource = join(packageRoot(), 'bench', 'tcptrack', 'connect_bench.c');

interface Sample {
  /** Connections per second of wall-clock time. */
  rate: number;
  /** Connections per CPU-second: generator, softirq and (when tracing) tcptrack's user side. */
  perCpu: number;
  /** Events tcptrack printed per second, and lost in all. */
  eventRate: number;
  lost: number;
  /** CPU time of this process (tcptrack's user side) over the run's wall time. */
  cpuShare: number;
  /** What the per-CPU rate is made of, for the correction by the harness's own CPU time. */
  connections: number;
  machineCpu: number;
  /** CPU seconds of this process during the run: tcptrack's user side and the harness's own. */
  processCpu: number;
}

interface Generated {
  connections: number;
  seconds: number;
  /** CPU seconds the generator used, and the machine's softirq CPU seconds meanwhile. */
  cpu: number;
  softirq: number;
}

/** Softirq time of all CPUs so far, in seconds (/proc/stat, USER_HZ ticks). */
function softirqSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  return Number(fields[7]) / 100;
}

function build(dir: string): string {
  const bin = join(dir, 'connect_bench');
  execFileSync('cc', ['-O2', '-pthread', '-o', bin, cSource], { stdio: 'inherit' });
  return bin;
}

function generate(bin: string, seconds: number, clients: number, pace?: number): Promise<Generated> {
  const args = [String(seconds), String(clients), ...(pace !== undefined ? [String(pace)] : [])];
  const softirq0 = softirqSeconds();
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(err);
      const [n, s, cpu] = stdout.trim().split(/\s+/).map(Number);
      resolve({ connections: n!, seconds: s!, cpu: cpu!, softirq: softirqSeconds() - softirq0 });
    });
  });
}

/** A stdout that writes to /dev/null synchronously, as process.stdout does to a file. */
function devNull(): { stream: Writable; close(): void } {
  const fd = openSync('/dev/null', 'w');
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      writeSync(fd, chunk);
      done();
    },
  });
  return { stream, close: () => closeSync(fd) };
}

async function measure(bin: string, seconds: number, clients: number, tracing: TcptrackOptions | undefined, pace?: number): Promise<Sample> {
  if (tracing === undefined) {
    // The same unmeasured burst as the traced runs have, so both start from the same state.
    await generate(bin, WARM_UP_SECONDS, clients, pace);
    // This process still spawns and waits for the generator: its CPU time then is the
    // harness's own, which the traced runs subtract.
    const cpu0 = process.cpuUsage();
    const g = await generate(bin, seconds, clients, pace);
    const used = process.cpuUsage(cpu0);
    const machineCpu = g.cpu + g.softirq;
    return { rate: g.connections / g.seconds, perCpu: g.connections / machineCpu, eventRate: 0, lost: 0, cpuShare: 0, connections: g.connections, machineCpu, processCpu: (used.user + used.system) / 1e6 };
  }
  const out = devNull();
  const stop = new AbortController();
  let ready: (progress: () => TraceProgress) => void = () => {};
  const attached = new Promise<() => TraceProgress>((resolve) => (ready = resolve));
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const run = runTcptrack({ output: 'json', ...tracing }, { stdout: out.stream, stderr: sink }, stop.signal, { onReady: (_plan, progress) => ready(progress) });
  try {
    const progress = await attached;
    await generate(bin, WARM_UP_SECONDS, clients, pace);
    // Until the warm-up's events are read (the reader drains every 25 ms).
    await new Promise((r) => setTimeout(r, 100));
    collectGarbage();
    const before = progress();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const g = await generate(bin, seconds, clients, pace);
    const used = process.cpuUsage(cpu0);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    // What the generator made is in the ring or on its way: let the reader catch up.
    await new Promise((r) => setTimeout(r, 200));
    stop.abort();
    const result = await run;
    const tsCpu = (used.user + used.system) / 1e6;
    return {
      rate: g.connections / g.seconds,
      perCpu: g.connections / (g.cpu + g.softirq + tsCpu),
      eventRate: (result.events - before.events) / g.seconds,
      lost: result.lost - before.lost,
      cpuShare: tsCpu / wall,
      connections: g.connections,
      machineCpu: g.cpu + g.softirq,
      processCpu: tsCpu,
    };
  } finally {
    stop.abort();
    await run.catch(() => undefined);
    out.close();
  }
}

/** Seconds of connections driven through a fresh tcptrack before its measured run. */
const WARM_UP_SECONDS = 0.3;

/** A full garbage collection, now. */
const collectGarbage = ((): (() => void) => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const CASES = {
  untraced: undefined,
  connects: {},
  everything: { accept: true, close: true },
} satisfies Record<string, TcptrackOptions | undefined>;
type CaseName = keyof typeof CASES;

export async function run(options: TcptrackBenchOptions = {}): Promise<BenchResult[]> {
  const seconds = options.seconds ?? 1.5;
  const rounds = options.rounds ?? 8;
  const clients = options.clients ?? 2;
  const log = (s: string): void => {
    if (options.verbose) process.stderr.write(`${s}\n`);
  };
  const dir = mkdtempSync(join(tmpdir(), 'tcptrack-bench-'));
  try {
    const bin = build(dir);
    const samples: Record<CaseName, Sample[]> = { untraced: [], connects: [], everything: [] };
    const names = Object.keys(CASES) as CaseName[];
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + r) % names.length]!;
        const s = await measure(bin, seconds, clients, CASES[name]);
        log(`round ${r + 1} ${name}: ${fmt(s.rate)} conn/s, ${fmt(s.perCpu)} conn per CPU-s, ${fmt(s.eventRate)} events/s, ${s.lost} lost, tcptrack CPU ${(s.cpuShare * 100).toFixed(1)}%`);
        samples[name].push(s);
      }
    }
    // The harness's own CPU time (spawning and reaping the generator), taken from the untraced
    // runs, is not tcptrack's: the traced runs count only what this process used beyond it.
    const harness = median(samples.untraced.map((s) => s.processCpu));
    for (const name of ['connects', 'everything'] as const) {
      for (const s of samples[name]) {
        const own = Math.max(0, s.processCpu - harness);
        s.perCpu = s.connections / (s.machineCpu + own);
        s.cpuShare = s.processCpu > 0 ? (own / s.processCpu) * s.cpuShare : 0;
      }
    }
    log(`harness CPU per run (untraced median): ${(harness * 1000).toFixed(1)} ms`);
    const base = median(samples.untraced.map((s) => s.perCpu));
    const baseRate = median(samples.untraced.map((s) => s.rate));
    const results: BenchResult[] = [];
    for (const [name, label] of [
      ['connects', 'connect events (default)'],
      ['everything', '--accept --close (up to 4 events per connection)'],
    ] as const) {
      const perCpu = median(samples[name].map((s) => s.perCpu));
      const rate = median(samples[name].map((s) => s.rate));
      const ev = median(samples[name].map((s) => s.eventRate));
      const cpu = median(samples[name].map((s) => s.cpuShare));
      const lost = samples[name].reduce((n, s) => n + s.lost, 0);
      results.push({
        name: `loopback connect()+close() under tcptrack, ${label}`,
        unit: 'conn/CPU-s',
        ts: perCpu,
        reference: base,
        referenceName: 'no tracing',
        ratio: perCpu / base,
        target: '>= 0.95',
        note: `wall clock ${fmt(rate)} vs ${fmt(baseRate)} conn/s; ${fmt(ev)} events/s printed, ${lost} lost; tcptrack's user side ${(cpu * 100).toFixed(0)}% of one CPU; median of ${rounds} runs of ${seconds} s`,
      });
    }

    // Pace the client higher until events are lost or it cannot go faster.
    const full = median(samples.everything.map((s) => s.rate));
    let best: Sample | undefined;
    let firstLoss: Sample | undefined;
    for (const share of [0.25, 0.5, 0.75, 1, 2]) {
      const pace = share >= 2 ? undefined : Math.round(full * share);
      const s = await measure(bin, seconds, Math.max(2, clients), CASES.everything, pace);
      log(`paced at ${pace === undefined ? 'full speed' : `${fmt(pace)} conn/s`}: ${fmt(s.rate)} conn/s, ${fmt(s.eventRate)} events/s, ${s.lost} lost`);
      if (s.lost === 0) best = s;
      else {
        firstLoss = s;
        break;
      }
    }
    if (best !== undefined) {
      const lossRate = firstLoss === undefined ? undefined : firstLoss.eventRate + firstLoss.lost / seconds;
      results.push({
        name: 'highest event rate with no event lost (--accept --close)',
        unit: 'events/s',
        ts: best.eventRate,
        reference: lossRate ?? best.eventRate,
        referenceName: lossRate === undefined ? 'the generator at full speed' : 'events/s at the first rate with losses',
        ratio: lossRate === undefined ? 1 : best.eventRate / lossRate,
        note:
          firstLoss === undefined
            ? 'no event lost with the generator at full speed on 2 threads: the generator, not tcptrack, was the limit'
            : `next step up: ${fmt(firstLoss.eventRate)} events/s printed and ${firstLoss.lost} lost (counted, reported)`,
      });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, rounds: { type: 'string' }, clients: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } },
  });
  const results = await run({
    ...(values.seconds !== undefined ? { seconds: Number(values.seconds) } : {}),
    ...(values.rounds !== undefined ? { rounds: Number(values.rounds) } : {}),
    ...(values.clients !== undefined ? { clients: Number(values.clients) } : {}),
    verbose: values.verbose ?? true,
  });
  for (const r of results) {
    process.stdout.write(`${r.name}: ${fmt(r.ts)} ${r.unit} vs ${fmt(r.reference)} ${r.unit} (${r.referenceName}), ratio ${r.ratio.toFixed(3)}${r.target ? ` (target ${r.target})` : ''}${r.note ? `; ${r.note}` : ''}\n`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
