// The README's examples run as written: the files they name exist, and the commands and code
// they show work from the repository root.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../src/sys/package.js';
import { runCli } from './helpers/cli.js';
import { kernelTest } from './helpers/kernel.js';

const root = packageRoot();
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced blocks of one language, in order. */
function blocks(lang: string): string[] {
  return [...readme.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
}

test('every examples/ path the README names exists', () => {
  const paths = [...readme.matchAll(/examples\/[\w./-]+[\w]/g)].map((m) => m[0]);
  assert.ok(paths.length >= 3);
  for (const p of paths) assert.ok(existsSync(join(root, p)), p);
});

test("the README's `tsbpf gen` command generates the module its code imports", () => {
  const line = blocks('sh').flatMap((b) => b.split('\n')).find((l) => l.startsWith('npx tsbpf gen '));
  assert.ok(line, 'a gen command');
  const args = line.replace(/^npx tsbpf /, '').split(/\s+/);
  const out = mkdtempSync(join(root, '.readme-gen-'));
  try {
    const outAt = args.indexOf('--out');
    assert.ok(outAt > 0);
    args[outAt + 1] = out;
    const r = runCli(args);
    assert.equal(r.status, 0, r.stderr);
    const imported = /from '\.\/gen\/(\w+)\.js'/.exec(blocks('ts').join('\n'))?.[1];
    assert.ok(imported !== undefined && existsSync(join(out, `${imported}.ts`)), `${imported}.ts`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

kernelTest("the README's library example runs from the repository root", (t) => {
  if (/xdp/.test(execFileSync('ip', ['link', 'show', 'lo'], { encoding: 'utf8' }))) return t.skip('lo already has an XDP program');
  const code = blocks('ts').find((b) => b.includes("from 'tsbpf'"));
  assert.ok(code);
  const file = join(root, `.readme-lib-${process.pid}.ts`);
  writeFileSync(file, code);
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^VERDICT_PASS \[/m);
  } finally {
    rmSync(file, { force: true });
  }
});
