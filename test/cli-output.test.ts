// Where compile and gen write: paths the user gave, checked before compiling, and errors that
// name them rather than temporary files.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeOutputs } from '../src/cli/output.js';
import { TsbpfError } from '../src/errors.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-output-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SOURCE = 'examples/xdp-drop/xdp_drop.bpf.c';

test('compile -o into a missing directory or onto a directory is refused before compiling, naming the path given', () => {
  const missing = join(dir, 'nowhere', 'c.o');
  const r = runCli(['compile', SOURCE, '-o', missing]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.split('\n')[0], `tsbpf compile: -o ${missing}: no such directory ${join(dir, 'nowhere')}`);
  const onto = runCli(['compile', SOURCE, '-o', dir]);
  assert.equal(onto.status, 2, onto.stderr);
  assert.match(onto.stderr, /-o .*: is a directory; give a file name/);
  assert.doesNotMatch(r.stderr + onto.stderr, /\.tmp/);
});

test('gen --out a missing directory is refused and nothing is created', () => {
  const out = join(dir, 'missing', 'deeper');
  const r = runCli(['gen', 'xdp_drop', SOURCE, '--out', out]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^tsbpf gen: --out .*deeper: no such directory\n/);
  assert.equal(existsSync(join(dir, 'missing')), false);
});

test('gen on something clang does not compile says so, not that llvm-strip found no file', () => {
  const notC = join(dir, 'notelf.o');
  writeFileSync(notC, '\x7fELF');
  const r = runCli(['gen', 'ok', notC, '--out', dir]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /clang produced no object from .*notelf\.o: is it C source\?/);
  assert.doesNotMatch(r.stderr, /llvm-strip|out\.o/);
});

test('writeOutputs names the file asked for on failure and leaves no temporary file', () => {
  const target = join(dir, 'taken');
  mkdirSync(join(target, 'inside'), { recursive: true });
  assert.throws(
    () => writeOutputs([{ path: join(dir, 'first.o'), data: 'x' }, { path: target, data: 'y' }]),
    (e: unknown) => e instanceof TsbpfError && e.message.startsWith(`cannot write ${target}: `) && !e.message.includes('.tmp'),
  );
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});
