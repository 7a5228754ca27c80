// bin/tsbpf.cjs: it runs the one-file build through a per-command V8 code cache when that build
// is at least as new as the compiled modules, and the modules otherwise; a cache it cannot
// write never fails the command. Checked on a copy of the launcher in a layout of its own, and
// on the real build of this checkout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from '../src/sys/package.js';

const root = packageRoot();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A package with the real launcher, a stand-in build and stand-in modules that say which ran. */
function layout(): { dir: string; bundle: string; entry: string; cacheDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-launcher-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist', 'cli'), { recursive: true });
  mkdirSync(join(dir, 'dist', 'src', 'cli'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  copyFileSync(join(root, 'bin', 'tsbpf.cjs'), join(dir, 'bin', 'tsbpf.cjs'));
  const bundle = join(dir, 'dist', 'cli', 'tsbpf.cjs');
  const entry = join(dir, 'dist', 'src', 'cli', 'entry.js');
  writeFileSync(bundle, "process.stdout.write('bundle ' + process.argv.slice(2).join(' ') + '\\n');\n");
  writeFileSync(entry, "process.stdout.write('modules ' + process.argv.slice(2).join(' ') + '\\n');\n");
  return { dir, bundle, entry, cacheDir: join(dir, 'dist', 'cli', 'cache') };
}

function run(dir: string, args: string[]): string {
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'tsbpf.cjs'), ...args], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function setAge(file: string, secondsAgo: number): void {
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(file, t, t);
}

test('a build at least as new as the modules runs, with a cache per command', () => {
  const l = layout();
  setAge(l.entry, 60);
  setAge(l.bundle, 30);
  assert.equal(run(l.dir, ['map', 'list']), 'bundle map list\n');
  const cache = join(l.cacheDir, 'map.list.v8');
  assert.ok(existsSync(cache), 'the first run of a command writes its code cache');
  const written = statSync(cache).mtimeMs;
  assert.equal(run(l.dir, ['map', 'list']), 'bundle map list\n');
  assert.equal(statSync(cache).mtimeMs, written, 'an accepted cache is not written again');
  // Options and arguments that are not words do not name caches.
  run(l.dir, ['--help']);
  run(l.dir, ['object', 'load', '/tmp/x.o']);
  assert.ok(existsSync(join(l.cacheDir, 'tsbpf.v8')));
  assert.ok(existsSync(join(l.cacheDir, 'object.load.v8')));
});

test('no more than 64 caches are written; a rejected one is still replaced', () => {
  const l = layout();
  setAge(l.entry, 60);
  mkdirSync(l.cacheDir);
  for (let i = 0; i < 64; i++) writeFileSync(join(l.cacheDir, `filler${i}.v8`), '');
  run(l.dir, ['gen', 'somename']);
  assert.ok(!existsSync(join(l.cacheDir, 'gen.somename.v8')), 'a 65th cache is not written');
  writeFileSync(join(l.cacheDir, 'filler0.v8'), 'not a code cache');
  run(l.dir, ['filler0']);
  assert.notEqual(readFileSync(join(l.cacheDir, 'filler0.v8'), 'utf8'), 'not a code cache');
});

test('a cache made for other source is rejected and rewritten', () => {
  const l = layout();
  setAge(l.entry, 60);
  run(l.dir, ['prog']);
  const cache = join(l.cacheDir, 'prog.v8');
  const first = readFileSync(cache);
  writeFileSync(l.bundle, "process.stdout.write('rebuilt\\n');\n");
  assert.equal(run(l.dir, ['prog']), 'rebuilt\n');
  assert.notDeepEqual(readFileSync(cache), first, 'the rejected cache was replaced');
});

test('modules compiled after the build run instead of the stale build', () => {
  const l = layout();
  setAge(l.bundle, 60);
  setAge(l.entry, 30);
  assert.equal(run(l.dir, ['map', 'list']), 'modules map list\n');
  rmSync(l.bundle);
  assert.equal(run(l.dir, ['map']), 'modules map\n', 'no build at all');
});

test('a cache directory that cannot be written costs only the cache', () => {
  const l = layout();
  setAge(l.entry, 60);
  // A file where the cache directory should be: creating it fails for root as for anyone.
  writeFileSync(l.cacheDir, '');
  assert.equal(run(l.dir, ['link']), 'bundle link\n');
  assert.deepEqual(
    spawnSync('ls', [join(l.dir, 'dist', 'cli')], { encoding: 'utf8' }).stdout.split('\n').filter((f) => f.startsWith('cache.') || f.includes('.v8')),
    [],
    'no temporary file is left behind',
  );
});

test('the build of this checkout runs the same command line as the modules', () => {
  const bundle = join(root, 'dist', 'cli', 'tsbpf.cjs');
  const entry = join(root, 'dist', 'src', 'cli', 'entry.js');
  assert.ok(existsSync(bundle), 'npm run build makes dist/cli/tsbpf.cjs');
  assert.ok(statSync(bundle).mtimeMs >= statSync(entry).mtimeMs, 'the build is as new as the compiled modules');
  const viaBin = spawnSync(process.execPath, [join(root, 'bin', 'tsbpf.cjs'), 'object', 'inspect', '--help'], { encoding: 'utf8' });
  const viaModules = spawnSync(process.execPath, [entry, 'object', 'inspect', '--help'], { encoding: 'utf8' });
  assert.equal(viaBin.status, 0, viaBin.stderr);
  assert.equal(viaBin.stdout, viaModules.stdout);
  const bad = spawnSync(process.execPath, [join(root, 'bin', 'tsbpf.cjs'), 'object', 'inspect', join(root, 'package.json')], { encoding: 'utf8' });
  const badModules = spawnSync(process.execPath, [entry, 'object', 'inspect', join(root, 'package.json')], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, badModules.stderr, 'failures read the same');
});
