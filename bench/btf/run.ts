// BTF benchmark: parsing the running kernel's BTF (/sys/kernel/btf/vmlinux), tsbpf's
// readKernelBtf() against libbpf's btf__load_vmlinux_btf(), in one run. Two tsbpf figures: the
// lazy parse alone (file read and type offset table), and "ready", which adds the name index and
// looking up task_struct and sk_buff, what a caller pays before it has a kernel type in hand.
// Time is wall-clock per parse; memory is what one parsed BTF keeps: the JS heap and external
// (ArrayBuffer) growth after a full collection, against libbpf's malloc'd bytes.
//
//   npx tsx bench/btf/run.ts [--iterations N]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../src/sys/package.js';
import { loaderArgs } from '../loader-args.js';
import type { BenchResult } from '../result.js';
import type { Measurement, Mode } from './measure.js';

const root = packageRoot();
const here = dirname(fileURLToPath(import.meta.url));
const cSource = join(root, 'bench', 'btf', 'btf_bench.c');
const bin = join(root, 'build', 'bench', 'btf_bench');
const VMLINUX = '/sys/kernel/btf/vmlinux';
const ROUNDS = 3;
const MB = 1e6;

export interface BtfBenchOptions {
  /** Parses per round; the mean of the fastest of three rounds counts. */
  iterations?: number;
}

interface LibbpfResult {
  types: number;
  parseMs: number;
  readyMs: number;
  mallocBytes: number;
  rssBytes: number;
}

/** One fresh `node --expose-gc` per mode, so each heap figure starts from an empty process. */
function measureTs(mode: Mode, iterations: number): Measurement {
  const script = join(here, `measure${extname(fileURLToPath(import.meta.url))}`);
  const out = execFileSync(process.execPath, ['--expose-gc', ...loaderArgs(), script, mode, String(iterations), String(ROUNDS)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as Measurement;
}

function buildReference(): boolean {
  try {
    if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(cSource).mtimeMs) {
      mkdirSync(join(root, 'build', 'bench'), { recursive: true });
      execFileSync('cc', ['-O2', '-o', bin, cSource, '-lbpf'], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    return true;
  } catch {
    return false;
  }
}

/** Mean wall milliseconds per parse, best of three runs of the C program; memory from the first. */
function measureLibbpf(iterations: number): LibbpfResult {
  const result: LibbpfResult = { types: 0, parseMs: Infinity, readyMs: Infinity, mallocBytes: 0, rssBytes: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const text = execFileSync(bin, [String(iterations)], { encoding: 'utf8' });
    for (const line of text.trim().split('\n')) {
      const r = JSON.parse(line) as { name: string; ops?: number; seconds?: number; types?: number; mallocBytes?: number; rssBytes?: number };
      const ms = ((r.seconds ?? 0) * 1000) / (r.ops ?? 1);
      if (r.name === 'parse') result.parseMs = Math.min(result.parseMs, ms);
      else if (r.name === 'parse+lookup') result.readyMs = Math.min(result.readyMs, ms);
      else if (r.name === 'memory' && round === 0) {
        result.types = r.types ?? 0;
        result.mallocBytes = r.mallocBytes ?? 0;
        result.rssBytes = r.rssBytes ?? 0;
      }
    }
  }
  return result;
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

export async function run(options: BtfBenchOptions = {}): Promise<BenchResult[]> {
  if (!existsSync(VMLINUX)) return [];
  const iterations = options.iterations ?? 20;
  const lazy = measureTs('lazy', iterations);
  const ready = measureTs('ready', iterations);
  const ref: LibbpfResult = buildReference()
    ? measureLibbpf(iterations)
    : { types: 0, parseMs: NaN, readyMs: NaN, mallocBytes: NaN, rssBytes: NaN };
  if (ref.types !== 0 && ref.types !== lazy.types) throw new Error(`tsbpf found ${lazy.types} types, libbpf ${ref.types}`);
  const referenceName = 'libbpf 1.1 (C) btf__load_vmlinux_btf';
  const size = mb(statSync(VMLINUX).size);
  const what = `vmlinux BTF (${size}, ${lazy.types.toLocaleString('en-US')} types)`;
  const retained = (m: Measurement): number => m.heapUsed + m.external;
  const breakdown = (m: Measurement): string =>
    `JS heap ${mb(m.heapUsed)}, external ${mb(m.external)} (ArrayBuffers ${mb(m.arrayBuffers)}); libbpf RSS growth ${mb(ref.rssBytes)}`;
  return [
    {
      name: `parse ${what}, lazy`,
      unit: 'ms',
      ts: lazy.ms,
      reference: ref.parseMs,
      referenceName,
      ratio: ref.parseMs / lazy.ms,
      target: '>= 0.67',
      note: 'wall time per parse, getting the bytes included: tsbpf maps the file (Linux 6.16+), libbpf 1.1 reads it a page per read(2); tsbpf builds an offset table and decodes types on use, libbpf checks every type',
    },
    {
      name: `parse ${what} + look up task_struct, sk_buff`,
      unit: 'ms',
      ts: ready.ms,
      reference: ref.readyMs,
      referenceName: `${referenceName} + btf__find_by_name_kind`,
      ratio: ref.readyMs / ready.ms,
      target: '>= 0.67',
      note: 'wall time until both structs are decoded; libbpf scans the types for each name; tsbpf too, comparing the first byte of each raw name inline (its full name index is built only after 32 look-ups)',
    },
    {
      name: `memory kept by one parsed ${what}, lazy`,
      unit: 'MB',
      ts: retained(lazy) / MB,
      reference: ref.mallocBytes / MB,
      referenceName: 'libbpf 1.1 (C) malloc in use',
      ratio: ref.mallocBytes / retained(lazy),
      target: 'JS heap < 30 MB',
      note: breakdown(lazy),
    },
    {
      name: `memory kept by one parsed ${what} after look-ups`,
      unit: 'MB',
      ts: retained(ready) / MB,
      reference: ref.mallocBytes / MB,
      referenceName: 'libbpf 1.1 (C) malloc in use',
      ratio: ref.mallocBytes / retained(ready),
      target: 'JS heap < 30 MB',
      note: breakdown(ready),
    },
  ];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--iterations');
  const iterations = at > 0 ? Number(process.argv[at + 1]) : undefined;
  for (const r of await run(iterations === undefined ? {} : { iterations })) {
    process.stdout.write(
      `${r.name}: tsbpf ${r.ts.toFixed(2)} ${r.unit}, ${r.referenceName} ${r.reference.toFixed(2)} ${r.unit}, ratio ${r.ratio.toFixed(2)}x (target ${r.target ?? '-'}; ${r.note ?? ''})\n`,
    );
  }
}
