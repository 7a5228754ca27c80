// The examples' main programs check their arguments as the tsbpf command line does, fail in one
// line, and stop at Ctrl-C without finishing the second they were waiting for.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kernelTest, uniqueName } from './helpers/kernel.js';

const here = dirname(fileURLToPath(import.meta.url));

function mainArgv(example: string, args: string[]): string[] {
  const js = join(here, '..', 'examples', example, 'main.js');
  if (existsSync(js)) return [js, ...args];
  return ['--import', 'tsx', join(here, '..', 'examples', example, 'main.ts'), ...args];
}

function runMain(example: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, mainArgv(example, args), { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bad arguments are one line and exit 2, before anything loads', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['xdp-drop', [], /^xdp-drop: expected an interface\nusage: /],
    ['xdp-drop', ['lo', '--port', 'abc'], /^xdp-drop: --port: expected a number 0-65535, got 'abc'\n/],
    ['xdp-drop', ['lo', '--port', '70000'], /--port: expected a number 0-65535/],
    ['xdp-drop', ['lo', 'extra'], /unexpected argument 'extra'/],
    ['xdp-drop', ['lo', '--frob'], /Unknown option '--frob'/],
    ['exec-count', ['--uid', 'abc'], /^exec-count: --uid: expected a number 0-4294967294, got 'abc'\n/],
    ['exec-count', ['--seconds', '-1'], /--seconds/],
    ['exec-stream', ['--count', 'x'], /^exec-stream: --count: expected a number/],
    ['exec-stream', ['--children-of', '1.5'], /--children-of: expected a number/],
  ];
  for (const [example, args, message] of cases) {
    const r = runMain(example, args);
    assert.equal(r.status, 2, `${example} ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, `${example} ${args.join(' ')}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, '');
  }
});

kernelTest('a missing interface is one line and exit 1, no stack trace', () => {
  const r = runMain('xdp-drop', [uniqueName('tsbpfnoif')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^xdp-drop: interface tsbpfnoif\S* not found\n$/);
});

kernelTest('Ctrl-C ends the wait at once: no report of a second that did not pass', async () => {
  const child = spawn(process.execPath, mainArgv('exec-count', []), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/Ctrl-C to stop/.test(stderr)) child.kill('SIGINT');
    });
    child.on('close', resolve);
  });
  assert.equal(code, 0, stderr);
  // Before, the loop slept out its second and printed the counts once more after Ctrl-C.
  assert.equal(stdout, '');
});
