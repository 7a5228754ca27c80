// fanotify permission events: real processes open and exec files in a directory the test makes,
// and what the watcher decides is what they get. Children are started asynchronously: the
// answers come from this process's event loop, which a synchronous spawn would block.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe } from 'node:test';
import { ClosedError, InvalidArgumentError } from '../src/errors.js';
import { FanotifyError, type PermissionRequest, PermissionWatcher, type PermissionWatcherOptions } from '../src/fanotify.js';
import { packageRoot } from '../src/sys/package.js';
import { assertErrno, kernelTest, openFds } from './helpers/kernel.js';

/** What a child node process got from open(path): its fd, or the error code. */
function childOpen(path: string): Promise<{ fd?: number; code?: string }> {
  const script = `try { console.log(JSON.stringify({ fd: require('fs').openSync(${JSON.stringify(path)}, 'r') })) } catch (e) { console.log(JSON.stringify({ code: e.code })) }`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 20000 }, (err, out) => (err ? reject(err) : resolve(JSON.parse(out))));
  });
}

/** What a child node process got from running `binary args...`: the spawn error's code, or the exit status. */
function childExec(binary: string, args: string[]): Promise<{ code?: string; status?: number | null }> {
  const script = `const r = require('child_process').spawnSync(${JSON.stringify(binary)}, ${JSON.stringify(args)}); console.log(JSON.stringify(r.error ? { code: r.error.code } : { status: r.status }))`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 20000 }, (err, out) => (err ? reject(err) : resolve(JSON.parse(out))));
  });
}

const REFUSED = ['EPERM', 'EACCES'];

/** Watchers of the running test, closed after it (and waited for: their fds are gone then). */
const open: PermissionWatcher[] = [];

function watcher(options: PermissionWatcherOptions): PermissionWatcher {
  const w = new PermissionWatcher(options);
  open.push(w);
  return w;
}

async function closeAll(): Promise<void> {
  for (const w of open.splice(0)) {
    w.close();
    await w.released();
  }
}

describe('PermissionWatcher', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-fanotify-'));
  });
  afterEach(closeAll);
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  kernelTest('a denied open never returns a file descriptor; a sibling still opens', async () => {
    const secret = join(dir, 'secret');
    const plain = join(dir, 'plain');
    writeFileSync(secret, 'secret\n');
    writeFileSync(plain, 'plain\n');
    const seen: PermissionRequest[] = [];
    const fdsBefore = openFds();
    const w = watcher({
      decide: (r) => {
        seen.push(r);
        return r.path === secret ? 'deny' : 'allow';
      },
    });
    w.watch(dir, { open: true, exec: false });
    const denied = await childOpen(secret);
    assert.equal(denied.fd, undefined, 'the child got no fd');
    assert.ok(REFUSED.includes(denied.code ?? ''), `open refused, got ${denied.code}`);
    const allowed = await childOpen(plain);
    assert.equal(typeof allowed.fd, 'number', `the sibling opened, got ${JSON.stringify(allowed)}`);
    assert.ok(seen.some((r) => r.path === secret && r.kind === 'open' && r.pid > 0 && r.pid !== process.pid));
    assert.ok(seen.some((r) => r.path === plain && r.kind === 'open'));
    const stats = w.stats;
    assert.equal(stats.denied, 1);
    assert.ok(stats.allowed >= 1);
    assert.equal(stats.errors, 0);
    await closeAll();
    assert.equal(openFds(), fdsBefore, 'the group fds and every event fd are closed');
  });

  kernelTest('a denied exec never runs; an allowed copy in the same directory does', async () => {
    const tool = join(dir, 'tool');
    const other = join(dir, 'tool-ok');
    copyFileSync('/usr/bin/touch', tool);
    copyFileSync('/usr/bin/touch', other);
    rmSync(join(dir, 'marker'), { force: true });
    const kinds: string[] = [];
    const w = watcher({
      decide: (r) => {
        if (r.path === tool) kinds.push(r.kind);
        return r.path === tool && r.kind === 'exec' ? 'deny' : 'allow';
      },
    });
    w.watch(tool, { exec: true, open: false });
    w.watch(other, { exec: true, open: false });
    const denied = await childExec(tool, [join(dir, 'marker')]);
    assert.ok(REFUSED.includes(denied.code ?? ''), `exec refused, got ${JSON.stringify(denied)}`);
    assert.equal(existsSync(join(dir, 'marker')), false, 'the denied binary never ran');
    assert.deepEqual(kinds, ['exec']);
    const allowed = await childExec(other, [join(dir, 'marker-ok')]);
    assert.deepEqual(allowed, { status: 0 });
    assert.equal(existsSync(join(dir, 'marker-ok')), true);
    // Reading the binary is not an exec: a path watched for exec only opens.
    assert.equal(typeof (await childOpen(tool)).fd, 'number');
    await closeAll();
    assert.deepEqual(await childExec(tool, [join(dir, 'marker')]), { status: 0 }, 'closing lifts the marks');
    assert.equal(existsSync(join(dir, 'marker')), true);
  });

  kernelTest("the watcher's own synchronous open of a watched file does not wait on itself", async () => {
    const file = join(dir, 'own');
    writeFileSync(file, 'own\n');
    // In a child, so that a watcher waiting on itself fails the test (SIGKILL after 20 s: the
    // wait ends for no other signal) instead of hanging the run.
    const script = `
      import { readFileSync } from 'node:fs';
      import { PermissionWatcher } from ${JSON.stringify(join(packageRoot(), 'dist', 'src', 'index.js'))};
      const w = new PermissionWatcher({ decide: () => 'deny' });
      w.watch(${JSON.stringify(file)}, { exec: false });
      const text = readFileSync(${JSON.stringify(file)}, 'utf8'); // the main thread waits in open(2) here
      // The reader thread's count of what it allowed reaches this thread as a message.
      while (w.stats.allowed === 0) await new Promise((r) => setTimeout(r, 10));
      console.log(JSON.stringify({ text, stats: w.stats }));
      w.close();`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20000, killSignal: 'SIGKILL' }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const got = JSON.parse(out) as { text: string; stats: { allowed: number; denied: number } };
    assert.equal(got.text, 'own\n');
    assert.deepEqual({ allowed: got.stats.allowed, denied: got.stats.denied }, { allowed: 1, denied: 0 });
    const w = watcher({ decide: () => 'deny' });
    w.watch(file, { exec: false });
    assert.ok(REFUSED.includes((await childOpen(file)).code ?? ''), 'another process is refused');
  });

  kernelTest('closing the watcher allows an open waiting for an answer and leaves no mark', async () => {
    const file = join(dir, 'held');
    writeFileSync(file, 'held\n');
    const w = watcher({ decide: () => 'deny' });
    w.watch(file, { exec: false });
    const script = `process.stdout.write('ready\\n'); try { console.log(JSON.stringify({ fd: require('fs').openSync(${JSON.stringify(file)}, 'r') })) } catch (e) { console.log(JSON.stringify({ code: e.code })) }`;
    const child = spawn(process.execPath, ['-e', script]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => child.on('close', resolve));
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      // This loop holds the event loop, so the event stays unanswered until the child is seen
      // waiting in the kernel for it; then the watcher closes without ever answering.
      const until = Date.now() + 10000;
      let waiting = false;
      while (!waiting && Date.now() < until) waiting = /fanotify/.test(readFileSync(`/proc/${child.pid}/stack`, 'utf8'));
      assert.ok(waiting, 'the child waits in fanotify for an answer');
    } finally {
      w.close();
    }
    await exited;
    await w.released();
    const got = JSON.parse(out.split('\n')[1] ?? '{}') as { fd?: number };
    assert.equal(typeof got.fd, 'number', `the waiting open went through, got ${out}`);
    assert.equal(typeof (await childOpen(file)).fd, 'number', 'no mark is left');
    assert.equal(w.closed, true);
  });

  kernelTest('a decision that throws falls back and is reported', async () => {
    const file = join(dir, 'thrown');
    writeFileSync(file, 'x\n');
    const errors: unknown[] = [];
    const w = watcher({
      decide: () => {
        throw new Error('policy broke');
      },
      fallback: 'deny',
      onError: (e) => errors.push(e),
    });
    w.watch(file);
    assert.ok(REFUSED.includes((await childOpen(file)).code ?? ''));
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /policy broke/);
    assert.deepEqual({ denied: w.stats.denied, errors: w.stats.errors }, { denied: 1, errors: 1 });
  });

  kernelTest('bad paths and arguments give typed errors and leave no fd', async () => {
    const fdsBefore = openFds();
    const w = watcher({ decide: () => 'allow' });
    try {
      assertErrno(() => w.watch(join(dir, 'missing', 'file')), 'ENOENT', FanotifyError);
      assertErrno(() => w.watch(''), 'EINVAL', InvalidArgumentError);
      assertErrno(() => w.watch('/tmp/a\0b'), 'EINVAL', InvalidArgumentError);
      assertErrno(() => w.watch(dir, { open: false, exec: false }), 'EINVAL', InvalidArgumentError);
      assertErrno(() => w.unwatch(dir), 'ENOENT', FanotifyError);
    } finally {
      w.close();
    }
    assertErrno(() => w.watch(dir), 'EBADF', ClosedError);
    w.close();
    await closeAll();
    assert.equal(openFds(), fdsBefore);
    assertErrno(() => new PermissionWatcher({ decide: 'deny' as never }), 'EINVAL', InvalidArgumentError);
    assertErrno(() => new PermissionWatcher({ decide: () => 'allow', fallback: 'maybe' as never }), 'EINVAL', InvalidArgumentError);
  });
});
