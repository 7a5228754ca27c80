// The BPF programs that produce records for the ring and perf buffer tests and benchmarks.
//
// Each is a sched_cls program, so BPF_PROG_TEST_RUN with `repeat: n` runs it n times back to
// back at a fixed cost per call (an XDP test run with repeat costs tens of milliseconds a call).
// Its maps come by fd_array index (0: the ring or perf event array, 1: the counters), so the
// same instructions load in this process and in the C baseline.
//
// Every record is `size / 4` little-endian u32 words, word j holding seq + j, where seq counts
// the program's runs from 0: order and completeness can be checked from the records alone.
import { Assembler, BPF_DW, BPF_W, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, encode, type Instruction } from '../../src/asm/index.js';
import { struct, u32, u64 } from '../../src/codec/index.js';
import { BpfMap } from '../../src/map.js';
import { Worker } from 'node:worker_threads';
import { Program } from '../../src/program.js';
import { nativeAddonPath } from '../../src/sys/native.js';
import { MapType, ProgramType } from '../../src/sys/types.js';

export type ProducerKind = 'output' | 'reserve' | 'perf';

export interface ProducerOptions {
  kind: ProducerKind;
  /** Record size in bytes: a multiple of 4, at most 256. */
  size: number;
  /** reserve: discard (instead of submit) every n-th record, the one with seq % n == n - 1. */
  discardEvery?: number;
  /** bpf_ringbuf_output / bpf_ringbuf_submit flags (BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2). */
  flags?: number;
  /**
   * 'sched_cls' (the default) runs `repeat` times per test run; 'raw_tp' runs once per test run
   * but on a chosen CPU (see produceOn), or attached to a raw tracepoint.
   */
  programType?: 'sched_cls' | 'raw_tp';
  /** raw_tp: only produce in the process with this tgid. */
  tgid?: number;
  /** raw_tp on sys_enter: only produce for this system call number (its second argument). */
  syscall?: number;
}

const TC_ACT_OK = 0;
const BPF_F_CURRENT_CPU = 0xffffffff;

export function producerInstructions(opts: ProducerOptions): Instruction[] {
  const { kind, size } = opts;
  if (size % 4 !== 0 || size < 4 || size > 256) throw new RangeError(`record size ${size} is not a multiple of 4 in 4..256`);
  const words = size / 4;
  const stack = -((size + 7) & ~7);
  const b = new Assembler();
  b.mov64Reg(R6, R1);
  if (opts.tgid !== undefined) {
    b.call('get_current_pid_tgid');
    b.rsh64Imm(R0, 32);
    b.jneImm(R0, opts.tgid, 'out');
  }
  if (opts.syscall !== undefined) {
    b.ldx(BPF_DW, R1, R6, 8);
    b.jneImm(R1, opts.syscall, 'out');
  }
  b.st(BPF_W, R10, -4, 0);
  b.ldMapIdx(R1, 1);
  b.mov64Reg(R2, R10).add64Imm(R2, -4);
  b.call('map_lookup_elem');
  b.jeqImm(R0, 0, 'out');
  b.mov64Reg(R7, R0);
  b.mov64Imm(R8, 1);
  b.atomicFetchAdd(BPF_DW, R7, R8, 0);
  const fill = (base: number, off: number): void => {
    for (let j = 0; j < words; j++) {
      b.mov64Reg(R9, R8);
      if (j > 0) b.add64Imm(R9, j);
      b.stx(BPF_W, base, R9, off + 4 * j);
    }
  };
  const countFailed = (): void => {
    b.mov64Imm(R1, 1);
    b.atomicAdd(BPF_DW, R7, R1, 8);
  };
  if (kind === 'reserve') {
    b.ldMapIdx(R1, 0);
    b.mov64Imm(R2, size);
    b.mov64Imm(R3, 0);
    b.call('ringbuf_reserve');
    b.jneImm(R0, 0, 'have');
    countFailed();
    b.ja('out');
    b.label('have');
    b.mov64Reg(R6, R0);
    fill(R6, 0);
    const every = opts.discardEvery ?? 0;
    if (every > 0) {
      b.mov64Reg(R9, R8);
      b.mod64Imm(R9, every);
      b.jneImm(R9, every - 1, 'submit');
      b.mov64Reg(R1, R6);
      b.mov64Imm(R2, 0);
      b.call('ringbuf_discard');
      b.mov64Imm(R1, 1);
      b.atomicAdd(BPF_DW, R7, R1, 16);
      b.ja('out');
    }
    b.label('submit');
    b.mov64Reg(R1, R6);
    b.mov64Imm(R2, opts.flags ?? 0);
    b.call('ringbuf_submit');
  } else {
    fill(R10, stack);
    if (kind === 'output') {
      b.ldMapIdx(R1, 0);
      b.mov64Reg(R2, R10).add64Imm(R2, stack);
      b.mov64Imm(R3, size);
      b.mov64Imm(R4, opts.flags ?? 0);
      b.call('ringbuf_output');
    } else {
      b.mov64Reg(R1, R6);
      b.ldMapIdx(R2, 0);
      b.ldImm64(R3, BPF_F_CURRENT_CPU);
      b.mov64Reg(R4, R10).add64Imm(R4, stack);
      b.mov64Imm(R5, size);
      b.call('perf_event_output');
    }
    b.jeqImm(R0, 0, 'out');
    countFailed();
  }
  b.label('out');
  b.mov64Imm(R0, TC_ACT_OK);
  b.exit();
  return b.assemble();
}

/** The encoded instructions, for the C baseline. */
export function producerBytes(opts: ProducerOptions): Uint8Array {
  return encode(producerInstructions(opts));
}

/** Loads a producer writing to `target` (a ring buffer or perf event array) and counting in `counters`. */
export function loadProducer(target: { readonly fd: number }, counters: CountersMap, opts: ProducerOptions): Program {
  return Program.load({
    type: opts.programType === 'raw_tp' ? ProgramType.RAW_TRACEPOINT : ProgramType.SCHED_CLS,
    instructions: producerInstructions(opts),
    license: 'GPL',
    name: `rb_${opts.kind}`,
    fdArray: [target.fd, counters.fd],
  });
}

const countersCodec = struct({ seq: u64, failed: u64, discarded: u64 });

/** The counters map of a producer: an ARRAY of one value, u64 seq (runs so far), u64 failed (output or reserve refused), u64 discarded. */
export type CountersMap = BpfMap<number, { seq: bigint; failed: bigint; discarded: bigint }>;

export function createCounters(): CountersMap {
  return BpfMap.create({ type: MapType.ARRAY, maxEntries: 1, key: u32, value: countersCodec, name: 'rb_counters' });
}

export interface Counters {
  /** Runs of the program: the records it tried to write. */
  seq: number;
  /** Records the ring refused (full) or the perf output failed on. */
  failed: number;
  discarded: number;
}

export function readCounters(counters: CountersMap): Counters {
  const v = counters.lookup(0)!;
  return { seq: Number(v.seq), failed: Number(v.failed), discarded: Number(v.discarded) };
}

/** The packet the producers are test-run on. */
export const PACKET = new Uint8Array(new ArrayBuffer(64));

const BPF_F_TEST_RUN_ON_CPU = 1;
const RAW_TP_ARGS = new Uint8Array(new ArrayBuffer(8));

/** Runs a raw_tp producer `n` times on `cpu`. */
export function produceOn(prog: Program, n: number, cpu: number): void {
  for (let i = 0; i < n; i++) prog.testRun({ ctx: RAW_TP_ARGS, flags: BPF_F_TEST_RUN_ON_CPU, cpu });
}

/** Runs a sched_cls producer `n` times in the kernel, in chunks the kernel accepts. */
export function produce(prog: Program, n: number): void {
  for (let left = n; left > 0; ) {
    const repeat = Math.min(left, 1 << 24);
    prog.testRun({ data: PACKET, repeat, dataOutSize: PACKET.byteLength });
    left -= repeat;
  }
}

/**
 * Runs a sched_cls producer `rounds` times with `repeat` on a worker thread, through the bare
 * addon, so this thread's event loop stays free to consume. Resolves when the thread has exited.
 */
export function produceOnWorker(prog: Program, rounds: number, repeat: number): Promise<void> {
  const source = `
    const { workerData } = require('node:worker_threads');
    const native = require(workerData.addon);
    const packet = new Uint8Array(new ArrayBuffer(64));
    const attr = new Uint8Array(new ArrayBuffer(80));
    const v = new DataView(attr.buffer);
    v.setUint32(0, workerData.progFd, true);
    v.setUint32(8, packet.byteLength, true);
    v.setBigUint64(16, native.addressOf(packet), true);
    v.setUint32(32, workerData.repeat, true);
    for (let i = 0; i < workerData.rounds; i++) {
      const r = native.bpf(10, attr);
      if (r < 0) throw new Error('BPF_PROG_TEST_RUN: ' + r);
    }
  `;
  const addon = nativeAddonPath();
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: { addon, progFd: prog.fd, rounds, repeat } });
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`producer thread exited with ${code}`))));
  });
}
