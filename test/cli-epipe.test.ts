import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { packageRoot } from '../src/sys/package.js';
import { corpus } from './bpf/corpus.js';
import { cliArgv } from './helpers/cli.js';
import { kernelTest } from './helpers/kernel.js';

/** Runs `tsbpf args` with its stdout read up to the first chunk and then closed, as `| head -1` does. */
function runIntoClosedPipe(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string; gotOutput: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args), { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let gotOutput = false;
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout.once('data', () => {
      gotOutput = true;
      child.stdout.destroy();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, gotOutput });
    });
  });
}

for (const args of [['btf', 'dump'], ['btf', 'dump', '--format', 'c'], ['usdt', 'list', '/usr/bin/python3']]) {
  test(`tsbpf ${args.join(' ')} into a pipe closed after its first line exits 0 without a stack trace`, async (t) => {
    if (args[0] === 'btf' && !existsSync('/sys/kernel/btf/vmlinux')) return t.skip('no kernel BTF at /sys/kernel/btf/vmlinux');
    if (args[0] === 'usdt' && !existsSync(args[2]!)) return t.skip(`${args[2]} is not installed`);
    const r = await runIntoClosedPipe(args);
    assert.ok(r.gotOutput, 'the command printed something');
    assert.equal(r.signal, null);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
}

kernelTest('object attach --events into a pipe closed after the first record exits 0 without a stack trace', async () => {
  const child = spawn(process.execPath, cliArgv(['object', 'attach', corpus('attach_exec.bpf.o'), '--for', '20s', '--events', 'events:exec_event']), {
    cwd: packageRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let execs: NodeJS.Timeout | undefined;
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    // Attached: exec children until the command has gone (each exec is a record on stdout).
    if (execs === undefined && /^attached \d+ programs?$/m.test(stderr)) execs = setInterval(() => spawnSync('/bin/true'), 20);
  });
  child.stdout.once('data', () => child.stdout.destroy());
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  clearInterval(execs);
  assert.equal(signal, null, stderr);
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|\n\s+at /);
});
