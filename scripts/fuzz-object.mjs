#!/usr/bin/env node
// `npm run fuzz`: mutates the committed BPF objects and reads each mutant with tsbpf's object
// reader (and, with --load as root, loads the ones that read), failing on anything but a typed
// TsbpfError or on a case slower than --max-ms. Runs the compiled code in dist/ (npm run build),
// or the sources when started with tsx.
//
//   node scripts/fuzz-object.mjs [--iterations 10000] [--seed N] [--load] [--max-ms 2000]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function args(argv) {
  const o = { iterations: 10000, seed: Date.now() >>> 0, load: false, maxMs: 2000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--iterations' || a === '-n') o.iterations = Number(argv[++i]);
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--load') o.load = true;
    else if (a === '--max-ms') o.maxMs = Number(argv[++i]);
    else {
      process.stderr.write(`fuzz-object: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return o;
}

async function loadModules() {
  const dist = join(root, 'dist', 'test', 'bpf');
  const src = join(root, 'test', 'bpf');
  const base = existsSync(join(dist, 'fuzz.js')) ? { dir: dist, ext: 'js' } : { dir: src, ext: 'ts' };
  try {
    const fuzz = await import(pathToFileURL(join(base.dir, `fuzz.${base.ext}`)).href);
    const corpus = await import(pathToFileURL(join(base.dir, `corpus.${base.ext}`)).href);
    return { fuzz, corpus };
  } catch (err) {
    process.stderr.write(`fuzz-object: cannot load the fuzzer (${err.message}); run \`npm run build\` first or use tsx\n`);
    process.exit(2);
  }
}

const opts = args(process.argv.slice(2));
const { fuzz, corpus } = await loadModules();
const objects = corpus.corpusObjects().filter((f) => !f.endsWith('core_target.bpf.o'));
const counts = { ok: 0, 'typed error': 0, crash: 0, slow: 0 };
const started = performance.now();
let slowest = { ms: 0, what: '' };
const slow = [];
const crashes = fuzz.fuzz(objects, opts.iterations, opts.seed, {
  load: opts.load,
  onCase(r) {
    counts[r.outcome]++;
    if (r.ms > slowest.ms) slowest = { ms: r.ms, what: r.what };
    if (r.ms > opts.maxMs) {
      counts.slow++;
      slow.push(r);
    }
  },
});
const secs = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(
  `${opts.iterations} cases from seed ${opts.seed} over ${objects.length} objects in ${secs}s: ` +
    `${counts.ok} read, ${counts['typed error']} typed errors, ${counts.crash} crashes, ${counts.slow} over ${opts.maxMs} ms ` +
    `(slowest ${slowest.ms.toFixed(1)} ms)\n`,
);
for (const c of [...crashes, ...slow].slice(0, 20)) {
  const e = c.error;
  const cause = e?.cause ?? e;
  process.stdout.write(`\n${c.what}\n  ${cause?.stack ?? cause ?? `${c.ms.toFixed(0)} ms`}\n`);
}
process.exit(crashes.length > 0 || slow.length > 0 ? 1 : 0);
