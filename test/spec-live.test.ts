// The spec side (object, elf, asm, BTF parsing) must not reach the live side or the addon, so
// that reading an object needs no syscall code. Walks value imports from the parse entry points.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

const root = repoRoot();
const src = join(root, 'src');

/** Relative modules a file imports at run time: `import type` and all-type braces are erased by tsc. */
function valueImports(code: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)|(?:^|\n)\s*import\s+'([^']+)'/g;
  for (const m of code.matchAll(re)) {
    const spec = m[4] ?? m[5] ?? m[6]!;
    if (m[2] !== undefined) continue;
    const clause = m[3] ?? '';
    const braces = /^\{([^}]*)\}$/.exec(clause.trim());
    if (braces && braces[1]!.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '))) continue;
    if (spec.startsWith('.')) out.push(spec);
  }
  return out;
}

function closure(entries: string[]): Map<string, string> {
  const seen = new Map<string, string>(); // file -> the file that first imported it
  const queue = entries.map((e) => join(src, e));
  for (const e of queue) seen.set(e, '(entry)');
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const spec of valueImports(readFileSync(file, 'utf8'))) {
      const target = join(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!seen.has(target)) {
        seen.set(target, file);
        queue.push(target);
      }
    }
  }
  return seen;
}

const PARSE_ENTRIES = [
  'object/index.ts',
  'object/spec.ts',
  'elf/index.ts',
  'asm/index.ts',
  'btf/parse.ts',
  'btf/marshal.ts',
  'btf/ext.ts',
  'btf/fixup.ts',
  'btf/format-c.ts',
  'btf/format-raw.ts',
  'btf/query.ts',
  'btf/sanitize.ts',
];

function isLive(file: string): boolean {
  const rel = relative(src, file);
  return (
    rel === 'sys/native.ts' ||
    rel === 'collection.ts' ||
    rel === 'map.ts' ||
    rel === 'program.ts' ||
    rel === 'btf/kernel.ts' ||
    /^(collection|link|perf|ringbuf|features)\//.test(rel)
  );
}

test('the parse side imports nothing of the live side or the addon', () => {
  const reached = closure(PARSE_ENTRIES);
  const bad = [...reached].filter(([f]) => isLive(f)).map(([f, by]) => `${relative(src, f)} (imported by ${relative(src, by)})`);
  assert.deepEqual(bad, []);
  assert.ok(reached.size > PARSE_ENTRIES.length, 'the walk followed imports');
});

test('the import scan sees value imports and skips type-only ones', () => {
  const code = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "import { type C } from './c.js';",
    "import { type D, e } from './d.js';",
    "export { f } from './f.js';",
    "export type { G } from './g.js';",
    "import './h.js';",
    "import {\n  i,\n  j,\n} from './i.js';",
    "import { k } from 'node:fs';",
  ].join('\n');
  assert.deepEqual(valueImports(code), ['./a.js', './d.js', './f.js', './h.js', './i.js']);
});

test('a live module is caught: collection.ts reaches the addon', () => {
  const reached = closure(['collection.ts']);
  assert.ok([...reached.keys()].some((f) => relative(src, f) === 'sys/native.ts'));
});

test('a spec reaches the loader once the live side is imported, and says so before', () => {
  const script = `
    const { CollectionSpec } = await import('./dist/src/object/index.js');
    const spec = CollectionSpec.fromFile('examples/xdp-drop/xdp_drop.bpf.o');
    let before;
    try { spec.relocate(); } catch (err) { before = err.code; }
    await import('./dist/src/collection.js');
    const after = Object.keys(spec.relocate());
    console.log(JSON.stringify([before, after]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['ENOLOADER', ['xdp_drop_udp']]);
});
