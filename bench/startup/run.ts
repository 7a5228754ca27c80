// Start-up benchmark: the CPU time of whole `tsbpf` processes against bare Node (`node -e 0`),
// in pairs that alternate tsbpf and Node so that the machine's drift moves both alike. The CPU
// of each child (user + system, every thread) is read by a tiny CommonJS preload at its exit,
// given to both sides, so it costs both the same and does not start Node's ESM loader for
// `node -e 0`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/sys/package.js';
import type { BenchResult } from '../result.js';

export interface StartupBenchOptions {
  /** Pairs per command; the median pair counts. */
  pairs?: number;
}

interface Case {
  name: string;
  args: string[];
  /** The most CPU tsbpf may use, as a multiple of bare Node's. */
  limit: number;
  root?: boolean;
}

const XDP = 'examples/xdp-drop/xdp_drop.bpf.o';

const CASES: Case[] = [
  { name: `tsbpf object load ${XDP}`, args: ['object', 'load', XDP], limit: 1.6, root: true },
  { name: 'tsbpf --help', args: ['--help'], limit: 1.2 },
  { name: 'tsbpf object --help', args: ['object', '--help'], limit: 1.2 },
  { name: 'tsbpf object load --help', args: ['object', 'load', '--help'], limit: 1.2 },
  { name: 'tsbpf map --help', args: ['map', '--help'], limit: 1.2 },
  { name: 'tsbpf gen --help', args: ['gen', '--help'], limit: 1.2 },
  { name: 'tsbpf tcptrack --help', args: ['tcptrack', '--help'], limit: 1.2 },
  { name: 'tsbpf xdp-filter --help', args: ['xdp-filter', '--help'], limit: 1.2 },
  { name: 'tsbpf observe --help', args: ['observe', '--help'], limit: 1.2 },
  { name: 'tsbpf guard --help', args: ['guard', '--help'], limit: 1.2 },
  { name: 'tsbpf exporter --help', args: ['exporter', '--help'], limit: 1.2 },
  { name: 'tsbpf lb --help', args: ['lb', '--help'], limit: 1.2 },
];

const HOOK = `'use strict';
process.on('exit', () => {
  const u = process.cpuUsage();
  require('node:fs').appendFileSync(process.env.TSBPF_BENCH_CPU, (u.user + u.system) + '\\n');
});
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `node -r hook args` once and returns its CPU milliseconds. */
function cpuOf(hook: string, out: string, args: string[], cwd: string): number {
  writeFileSync(out, '');
  const r = spawnSync(process.execPath, ['-r', hook, ...args], { cwd, env: { ...process.env, TSBPF_BENCH_CPU: out }, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  const us = Number(readFileSync(out, 'utf8').trim());
  if (!Number.isFinite(us) || us <= 0) throw new Error(`node ${args.join(' ')}: no CPU time recorded`);
  return us / 1000;
}

export async function run(options: StartupBenchOptions = {}): Promise<BenchResult[]> {
  const pairs = options.pairs ?? 15;
  const root = packageRoot();
  const cli = join(root, 'bin', 'tsbpf.cjs');
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-startup-'));
  const hook = join(dir, 'cpu.cjs');
  const out = join(dir, 'cpu');
  writeFileSync(hook, HOOK);
  const results: BenchResult[] = [];
  try {
    for (const c of CASES) {
      if (c.root === true && process.getuid?.() !== 0) continue;
      const argv = [cli, ...c.args];
      // One unmeasured pair warms the page cache for both.
      cpuOf(hook, out, argv, root);
      cpuOf(hook, out, ['-e', '0'], root);
      const ts: number[] = [];
      const node: number[] = [];
      const ratios: number[] = [];
      for (let i = 0; i < pairs; i++) {
        const a = cpuOf(hook, out, argv, root);
        const b = cpuOf(hook, out, ['-e', '0'], root);
        ts.push(a);
        node.push(b);
        ratios.push(a / b);
      }
      const times = median(ratios);
      results.push({
        name: c.name,
        unit: 'ms CPU',
        ts: median(ts),
        reference: median(node),
        referenceName: 'node -e 0',
        ratio: 1 / times,
        target: `>= ${(1 / c.limit).toFixed(2)} (at most ${c.limit}x Node's CPU)`,
        note: `${times.toFixed(2)}x bare Node's CPU (median of ${pairs} pairs)`,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
