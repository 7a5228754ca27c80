// fanotify permission events: a denied open never returns a file descriptor (it fails with
// EPERM), an allowed one does, and a denied exec never runs the program.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import { FanotifyMask, FanotifyPermissions, type FanotifyEvent } from '../src/index.js';
import { kernelTest } from './helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'fanotify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('FanotifyPermissions', () => {
  kernelTest('a denied open fails with EPERM and returns no fd; other files open', async () => {
    const secret = join(dir, 'secret');
    const open = join(dir, 'open');
    writeFileSync(secret, 'x');
    writeFileSync(open, 'y');
    const asked: FanotifyEvent[] = [];
    using group = new FanotifyPermissions();
    group.mark(secret, FanotifyMask.OPEN_PERM);
    group.start((e) => {
      asked.push(e);
      return e.pid === process.pid;
    });
    const py = `import os\ntry:\n    fd = os.open(${JSON.stringify(secret)}, os.O_RDONLY)\n    print('fd', fd)\nexcept PermissionError as e:\n    print('errno', e.errno)\n`;
    const denied = await run('python3', ['-c', py]);
    assert.equal(denied.out.trim(), 'errno 1');
    const other = await run('cat', [open]);
    assert.equal(other.code, 0);
    assert.equal(other.out, 'y');
    assert.deepEqual(asked.map((e) => [e.path, e.mask & FanotifyMask.OPEN_PERM]), [[secret, FanotifyMask.OPEN_PERM]]);
  });

  kernelTest('a denied exec fails with EPERM before the program runs', async () => {
    const prog = join(dir, 'prog');
    writeFileSync(prog, `#!/bin/sh\necho ran > ${join(dir, 'prog.ran')}\n`);
    chmodSync(prog, 0o755);
    const group = new FanotifyPermissions();
    try {
      group.mark(prog, FanotifyMask.OPEN_EXEC_PERM);
      group.start(() => false);
      const r = await run('sh', ['-c', `${prog}; echo status $?`]);
      assert.match(r.out, /Operation not permitted/);
      assert.match(r.out, /status 126/);
      assert.equal(existsSync(join(dir, 'prog.ran')), false);
    } finally {
      group.close();
    }
    const after = await run(prog, []);
    assert.equal(after.code, 0, 'closing the group lifts the marks');
  });
});
