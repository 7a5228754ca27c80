// `npm run bench`: runs every benchmark suite, prints the results and rewrites docs/benchmarks.md.
import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/sys/package.js';
import type { BenchResult } from './result.js';

/** Suites by name; each module exports `run(): Promise<BenchResult[]>`. */
const suites: Record<string, string> = {
  maps: './map/run.js',
  ringbuf: './ringbuf/run.js',
  gen: './gen/run.js',
  object: './object/run.js',
  btf: './btf/run.js',
  xdp: './xdp/run.js',
  tcptrack: './tcptrack/run.js',
  observe: './observe/run.js',
  guard: './guard/run.js',
  startup: './startup/run.js',
  exporter: './exporter/run.js',
  lb: './lb/run.js',
};

function fmt(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const sections: string[] = [];
  for (const [suite, path] of Object.entries(suites)) {
    if (only.length > 0 && !only.includes(suite)) continue;
    process.stdout.write(`== ${suite}\n`);
    const mod = (await import(path)) as { run(): Promise<BenchResult[]> };
    const results = await mod.run();
    const rows = results.map(
      (r) => `| ${r.name} | ${fmt(r.ts)} ${r.unit} | ${fmt(r.reference)} ${r.unit} (${r.referenceName}) | **${r.ratio.toFixed(2)}x** | ${r.target ?? ''} | ${r.note ?? ''} |`,
    );
    for (const r of results) process.stdout.write(`${r.name}: tsbpf ${fmt(r.ts)} ${r.unit}, ${r.referenceName} ${fmt(r.reference)} ${r.unit}, ratio ${r.ratio.toFixed(2)}x${r.note ? ` (${r.note})` : ''}\n`);
    sections.push(`## ${suite}\n\n| benchmark | tsbpf | reference | ratio | target | note |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`);
  }
  if (only.length === 0) {
    const doc = `# Benchmarks\n\nProduced by \`npm run bench\` on Linux ${release()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.\nEach row runs tsbpf and its reference in the same process run on the same machine; the ratio is\ntsbpf relative to the reference (above 1 means tsbpf is faster).\n\nThe machine is a 2-CPU VM shared with other work, so rates move by 10-30% between runs; ratios\ntaken within one run are what to compare. Suites can be run alone: \`npm run bench -- maps\`\n(${Object.keys(suites).join(', ')}); such partial runs print but do not rewrite\nthis file.\n\n${sections.join('\n')}`;
    writeFileSync(join(packageRoot(), 'docs', 'benchmarks.md'), doc);
  }
}

await main();
