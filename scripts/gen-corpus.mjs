#!/usr/bin/env node
// Part of `npm run build:bpf`: runs tsbpf's generator on every object of the test corpus
// (test/bpf/*.bpf.o) and writes the typed modules to test/bpf/gen/<name>_bpf.ts, where `tsc -p .`
// type-checks them and test/gen-corpus.test.ts holds them to what the generator makes now.
//
// The modules read their object from test/bpf/ at load time instead of embedding it, so the
// repository holds each object once. Objects the generator cannot handle are skipped with the
// reason. test/bpf/gen/ holds only generated modules: one whose object is gone or now skipped
// is removed. Files are rewritten only when their text changes.
//
// The generator comes from src/ when this script runs under tsx (`npx tsx scripts/gen-corpus.mjs`),
// else from dist/ (`npm run build` first).
//
//   node scripts/gen-corpus.mjs
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const corpusDir = join(root, 'test', 'bpf');
const outDir = join(corpusDir, 'gen');

/** The options every corpus module is generated with; test/gen-corpus.test.ts uses the same. */
function corpusOptions(name, object) {
  return {
    name,
    object,
    objectFile: `../${name}.bpf.o`,
    runtime: '../../../src/codegen/runtime.js',
    embed: false,
    commandLine: 'npm run build:bpf',
  };
}

/** generateModule and the error class it reports unsupported input with, from dist/ or src/. */
async function generator() {
  // The sources first: they only import under tsx, and then they are the newest.
  const tries = [
    [join(root, 'src', 'codegen', 'generate.ts'), join(root, 'src', 'errors.ts')],
    [join(root, 'dist', 'src', 'codegen', 'generate.js'), join(root, 'dist', 'src', 'errors.js')],
  ];
  for (const [gen, errors] of tries) {
    if (!existsSync(gen)) continue;
    try {
      const { generateModule } = await import(pathToFileURL(gen).href);
      const { TsbpfError } = await import(pathToFileURL(errors).href);
      if (typeof generateModule === 'function' && typeof TsbpfError === 'function') return { generateModule, TsbpfError };
    } catch {
      // TypeScript without tsx: try the next.
    }
  }
  throw new Error('cannot load the generator: run `npm run build` first, or run this script under tsx');
}

function writeIfChanged(path, text) {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  const tmp = join(dirname(path), `.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return true;
}

async function main() {
  const { generateModule, TsbpfError } = await generator();
  mkdirSync(outDir, { recursive: true });
  const written = new Set();
  let changed = 0;
  let skipped = 0;
  for (const file of readdirSync(corpusDir).filter((f) => f.endsWith('.bpf.o')).sort()) {
    const name = file.slice(0, -'.bpf.o'.length);
    let text;
    try {
      text = generateModule(corpusOptions(name, readFileSync(join(corpusDir, file))));
    } catch (err) {
      if (!(err instanceof TsbpfError)) throw err;
      process.stdout.write(`  skip ${relative(root, join(corpusDir, file))}: ${err.message}\n`);
      skipped++;
      continue;
    }
    const out = join(outDir, `${name}_bpf.ts`);
    written.add(`${name}_bpf.ts`);
    if (writeIfChanged(out, text)) {
      changed++;
      process.stdout.write(`  ${relative(root, out)}\n`);
    }
  }
  for (const f of readdirSync(outDir)) {
    if (f.endsWith('.ts') && !written.has(f)) {
      rmSync(join(outDir, f));
      process.stdout.write(`  removed ${relative(root, join(outDir, f))}\n`);
    }
  }
  process.stdout.write(`${written.size} corpus module(s) in ${relative(root, outDir)} (${changed} rewritten), ${skipped} object(s) skipped\n`);
}

main().catch((err) => {
  process.stderr.write(`gen-corpus: ${err.message}\n`);
  process.exit(1);
});
