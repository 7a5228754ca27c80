// Object benchmark: opening a multi-program CO-RE object and preparing it for the kernel (BTF,
// maps, CO-RE against the kernel's BTF, calls, kernel symbols), without the kernel's part (no map
// creation, no verification): tsbpf's CollectionSpec.fromBuffer + relocate() against libbpf's
// bpf_object__open + bpf_object__load with bpf(2) answered by the benchmark, in one run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CollectionSpec } from '../../src/object/spec.js';
import { packageRoot } from '../../src/sys/package.js';
import type { BenchResult } from '../result.js';

const root = packageRoot();
const cSource = join(root, 'bench', 'object', 'object_bench.c');
const bin = join(root, 'build', 'bench', 'object_bench');

/** The objects measured: the tcptrack tool's (6 programs) and a libbpf-tools style one. */
const OBJECTS = [
  { label: 'tcptrack.bpf.o', path: join(root, 'src', 'tools', 'tcptrack', 'tcptrack.bpf.o') },
  { label: 'biolatency.bpf.o', path: join(root, 'test', 'bpf', 'realworld', 'biolatency.bpf.o') },
];

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Measure {
  ms: number;
  programs: number;
  relocations: number;
}

/** Mean CPU milliseconds per open + relocate; `cold` reads the kernel BTF again each time, as libbpf does. */
function measureTs(path: string, iterations: number, cold: boolean): Measure {
  const bytes = readFileSync(path);
  const once = (): CollectionSpec => {
    const spec = CollectionSpec.fromBuffer(bytes);
    spec.relocate(cold ? { kernelBtf: '/sys/kernel/btf/vmlinux' } : {});
    return spec;
  };
  for (let i = 0; i < 5; i++) once();
  let best = Infinity;
  let spec: CollectionSpec | undefined;
  for (let round = 0; round < 3; round++) {
    const t0 = cpuMs();
    for (let i = 0; i < iterations; i++) spec = once();
    best = Math.min(best, (cpuMs() - t0) / iterations);
  }
  const programs = Object.values(spec!.programs);
  return { ms: best, programs: programs.length, relocations: programs.reduce((n, p) => n + p.instructions.filter((i) => i.core !== undefined).length, 0) };
}

function buildReference(): boolean {
  try {
    if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(cSource).mtimeMs) {
      mkdirSync(join(root, 'build', 'bench'), { recursive: true });
      execFileSync('cc', ['-O2', '-o', bin, cSource, '-lbpf', '-ldl'], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    return true;
  } catch {
    return false;
  }
}

/** Mean CPU milliseconds per bpf_object__open_file + bpf_object__load, best of three runs. */
function measureLibbpf(path: string, iterations: number): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const text = execFileSync(bin, [path, String(iterations)], { encoding: 'utf8' });
    for (const line of text.trim().split('\n')) {
      const r = JSON.parse(line) as { name: string; ops: number; seconds: number };
      if (r.name === 'open+prepare') best = Math.min(best, (r.seconds * 1000) / r.ops);
    }
  }
  return best;
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const haveC = buildReference();
  for (const o of OBJECTS) {
    if (!existsSync(o.path)) continue;
    const warm = measureTs(o.path, 100, false);
    const cold = measureTs(o.path, 20, true);
    const ref = haveC ? measureLibbpf(o.path, 50) : NaN;
    const what = `${o.label}: ${warm.programs} programs, ${warm.relocations} CO-RE relocations`;
    results.push({
      name: `open + relocate ${what}, kernel BTF read each time`,
      unit: 'ms',
      ts: cold.ms,
      reference: ref,
      referenceName: 'libbpf 1.1 (C) open + load, bpf(2) stubbed',
      ratio: ref / cold.ms,
      note: 'both read and parse /sys/kernel/btf/vmlinux per object; CPU time per object',
    });
    results.push({
      name: `open + relocate ${what}, kernel BTF kept`,
      unit: 'ms',
      ts: warm.ms,
      reference: ref,
      referenceName: 'libbpf 1.1 (C) open + load, bpf(2) stubbed',
      ratio: ref / warm.ms,
      note: 'tsbpf keeps the parsed kernel BTF for the process; libbpf parses it again for every object',
    });
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) {
    process.stdout.write(`${r.name}: tsbpf ${r.ts.toFixed(2)} ${r.unit}, ${r.referenceName} ${r.reference.toFixed(2)} ${r.unit}, ratio ${r.ratio.toFixed(2)}x\n`);
  }
}
