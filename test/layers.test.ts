// The syscall boundary: only src/sys talks to the native addon or builds bpf_attr by hand.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../src/sys/package.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const root = packageRoot();
const outside = sources(join(root, 'src')).filter((f) => !relative(root, f).startsWith(`${join('src', 'sys')}/`));

function importers(pattern: RegExp): string[] {
  return outside.filter((f) => pattern.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
}

test('only src/sys imports the native addon', () => {
  assert.ok(outside.length > 100, `scanned ${outside.length} files`);
  assert.deepEqual(importers(/from '[./]*\/sys\/native\.js'/), []);
});

test('only src/sys encodes bpf_attr: nothing else builds an Attr or calls bpf(2) directly', () => {
  assert.deepEqual(importers(/import \{[^}]*\b(Attr|bpf|bpfRaw)\b[^}]*\} from '[./]*\/sys\/syscall\.js'/), []);
});
