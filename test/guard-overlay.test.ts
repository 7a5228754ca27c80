// proc.is_exe_upper_layer: an executable written into an overlay mount (its upper layer) is
// told from one that comes from a lower layer, on real execs under a real overlay mount.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Alert } from '../src/tools/guard/engine.js';
import type { GuardEvent } from '../src/tools/guard/event.js';
import { loadRules } from '../src/tools/guard/loader.js';
import { inUpperLayer, parseMountinfo } from '../src/tools/guard/overlay.js';
import { GuardSession } from '../src/tools/guard/session.js';
import { kernelTest } from './helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'guard-overlay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('proc.is_exe_upper_layer', () => {
  it('reads overlay mounts from mountinfo and looks for the file in the upper directory', () => {
    const upper = join(dir, 'unit upper');
    mkdirSync(join(upper, 'bin'), { recursive: true });
    writeFileSync(join(upper, 'bin', 'new'), '');
    const text = [
      '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      `90 22 0:50 / /ctr rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=${upper.replaceAll(' ', '\\040')},workdir=/w`,
      '91 90 0:51 / /ctr/proc rw - proc proc rw',
    ].join('\n');
    const mounts = parseMountinfo(text);
    assert.deepEqual(mounts.map((m) => [m.point, m.fstype]), [['/', 'ext4'], ['/ctr', 'overlay'], ['/ctr/proc', 'proc']]);
    assert.equal(inUpperLayer(mounts, '/ctr/bin/new'), true);
    assert.equal(inUpperLayer(mounts, '/ctr/bin/old'), false, 'only in a lower layer');
    assert.equal(inUpperLayer(mounts, '/ctr/proc/self/exe'), false, 'a mount inside the overlay is not the overlay');
    assert.equal(inUpperLayer(mounts, '/usr/bin/new'), false, 'not on an overlay');
    assert.equal(inUpperLayer(mounts, '/ctrx/bin/new'), false, 'a sibling with the same prefix');
  });

  kernelTest('an exec of a binary written into an overlay fires; one from the lower layer does not', async (t) => {
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    const merged = join(dir, 'merged');
    for (const d of [lower, upper, work, merged]) mkdirSync(d);
    copyFileSync('/bin/true', join(lower, 'from-image'));
    execFileSync('chmod', ['755', join(lower, 'from-image')]);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    t.after(() => execFileSync('umount', ['-l', merged]));
    // Written through the overlay: the file lands in the upper directory.
    copyFileSync('/bin/true', join(merged, 'dropped'));
    execFileSync('chmod', ['755', join(merged, 'dropped')]);
    const rules = loadRules([join(dir, 'rules.yaml')].map((f) => {
      writeFileSync(f, `- rule: Drift
  desc: a program that was not in the image
  condition: evt.type in (execve, execveat) and evt.dir = < and proc.is_exe_upper_layer = true and proc.exepath startswith ${merged}/
  output: "drift %proc.exepath"
  priority: critical
`);
      return f;
    }));
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules, onAlert: (a, e) => alerts.push([a, e]) });
    try {
      const run = (path: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const c = spawn(path, [], { stdio: 'ignore' });
          c.on('error', reject);
          c.on('exit', () => resolve(c.pid!));
        });
      const image = await run(join(merged, 'from-image'));
      const dropped = await run(join(merged, 'dropped'));
      assert.ok(await s.waitForExit(image));
      assert.ok(await s.waitForExit(dropped));
      assert.deepEqual(alerts.filter(([, e]) => e.pid === dropped).map(([a]) => a.output), [`drift ${join(merged, 'dropped')}`]);
      assert.deepEqual(alerts.filter(([, e]) => e.pid === image), [], 'the lower layer binary does not fire');
    } finally {
      s.close();
    }
  });
});
