// The tsbpf side of the BTF benchmark, run by bench/btf/run.ts in a child `node --expose-gc` so
// that nothing else the benchmark runner loaded shows up in the heap figures.
//
// Usage: node --expose-gc measure.js lazy|ready ITERATIONS ROUNDS
//   lazy   readKernelBtf(path): the file read and the type offset table; types decode on use.
//   ready  lazy, then the name index and struct lookups of task_struct and sk_buff: what a
//          caller pays before the first kernel type is in hand.
// Prints one JSON line: mean wall milliseconds per parse (best round) and the bytes one parsed
// BTF keeps after a full collection.
import { fileURLToPath } from 'node:url';
import type { Btf } from '../../src/btf/btf.js';
import { readKernelBtf } from '../../src/btf/kernel.js';

export type Mode = 'lazy' | 'ready';

export interface Measurement {
  mode: Mode;
  types: number;
  /** Mean wall milliseconds per parse in the fastest round. */
  ms: number;
  /** Growth after a full collection with one parsed BTF kept alive. */
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const VMLINUX = '/sys/kernel/btf/vmlinux';

function parse(mode: Mode): Btf {
  // An explicit path: readKernelBtf() without one would cache and hand back the same object.
  const btf = readKernelBtf(VMLINUX);
  if (mode === 'ready') {
    btf.typeByName('task_struct', 'STRUCT');
    btf.typeByName('sk_buff', 'STRUCT');
  }
  return btf;
}

function collect(gc: () => void): NodeJS.MemoryUsage {
  // Several passes: weak references and finalizers can free more on the next one.
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage();
}

export function measure(mode: Mode, iterations: number, rounds: number): Measurement {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('measure.ts must run under node --expose-gc');

  // One parse first, dropped, so compiled code and one-time module state are in the baseline.
  let kept: Btf | undefined = parse(mode);
  kept = undefined;
  const before = collect(gc);
  kept = parse(mode);
  const after = collect(gc);
  const types = kept.typeCount;
  kept = undefined;

  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) kept = parse(mode);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6 / iterations);
  }
  if (kept?.typeCount !== types) throw new Error('the BTF parsed differently between runs');

  return {
    mode,
    types,
    ms: best,
    heapUsed: after.heapUsed - before.heapUsed,
    external: after.external - before.external,
    arrayBuffers: after.arrayBuffers - before.arrayBuffers,
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [mode, iterations = '20', rounds = '3'] = process.argv.slice(2);
  if (mode !== 'lazy' && mode !== 'ready') {
    process.stderr.write('usage: node --expose-gc measure.js lazy|ready [ITERATIONS] [ROUNDS]\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(measure(mode, Number(iterations), Number(rounds)))}\n`);
}
