// fanotify permission events: real processes open and exec files in a directory the test makes,
// and what the watcher decides is what they get. Children are started asynchronously: the
// answers come from this process's event loop, which a synchronous spawn would block.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { ClosedError, InvalidArgumentError } from '../src/errors.js';
import { FanotifyError, type PermissionRequest, PermissionWatcher } from '../src/fanotify.js';
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

describe('PermissionWatcher', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-fanotify-'));
  });
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
    {
      using w = new PermissionWatcher({
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
    }
    assert.equal(openFds(), fdsBefore, 'the group fd and every event fd are closed');
  });

  kernelTest('a denied exec never runs; an allowed copy in the same directory does', async () => {
    const tool = join(dir, 'tool');
    const other = join(dir, 'tool-ok');
    copyFileSync('/usr/bin/touch', tool);
    copyFileSync('/usr/bin/touch', other);
    rmSync(join(dir, 'marker'), { force: true });
    const kinds: string[] = [];
    using w = new PermissionWatcher({
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
  });

  kernelTest('closing the watcher allows an open waiting for an answer and leaves no mark', async () => {
    const file = join(dir, 'held');
    writeFileSync(file, 'held\n');
    const w = new PermissionWatcher({ decide: () => 'deny' });
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
    const got = JSON.parse(out.split('\n')[1] ?? '{}') as { fd?: number };
    assert.equal(typeof got.fd, 'number', `the waiting open went through, got ${out}`);
    assert.equal(typeof (await childOpen(file)).fd, 'number', 'no mark is left');
    assert.equal(w.closed, true);
  });

  kernelTest('a decision that throws falls back and is reported', async () => {
    const file = join(dir, 'thrown');
    writeFileSync(file, 'x\n');
    const errors: unknown[] = [];
    using w = new PermissionWatcher({
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

  kernelTest('bad paths and arguments give typed errors and leave no fd', () => {
    const fdsBefore = openFds();
    const w = new PermissionWatcher({ decide: () => 'allow' });
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
    assert.equal(openFds(), fdsBefore);
    assertErrno(() => new PermissionWatcher({ decide: 'deny' as never }), 'EINVAL', InvalidArgumentError);
    assertErrno(() => new PermissionWatcher({ decide: () => 'allow', fallback: 'maybe' as never }), 'EINVAL', InvalidArgumentError);
  });
});
