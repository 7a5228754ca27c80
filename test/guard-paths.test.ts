// Paths as the process sees them: the kernel-side walk of an executable's path and of the
// working directory stops at the task's root, as d_path does, so a chrooted (or
// containerised) process is reported with its own paths, not the host's.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe } from 'node:test';
import type { Alert } from '../src/tools/guard/engine.js';
import type { GuardEvent } from '../src/tools/guard/event.js';
import { loadRules } from '../src/tools/guard/loader.js';
import { GuardSession } from '../src/tools/guard/session.js';
import { kernelTest } from './helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'guard-paths-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A root holding /bin/ctrue (a copy of /bin/true) and the libraries it links. */
function chrootWithTrue(root: string): void {
  const files = ['/bin/true', ...execFileSync('ldd', ['/bin/true'], { encoding: 'utf8' }).split('\n').map((l) => /(\/\S+) \(0x/.exec(l)?.[1]).filter((f): f is string => f !== undefined)];
  for (const f of files) {
    const to = join(root, f === '/bin/true' ? '/bin/ctrue' : f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(f, to);
  }
  execFileSync('chmod', ['755', join(root, 'bin', 'ctrue')]);
}

describe('guard paths', () => {
  kernelTest('a chrooted exec is reported with the paths of its own root', async () => {
    const root = join(dir, 'root');
    chrootWithTrue(root);
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, `- rule: Chrooted true
  desc: d
  condition: evt.type in (execve, execveat) and evt.dir = < and proc.name = ctrue
  output: "exe=%proc.exepath cwd=%proc.cwd"
  priority: notice
`);
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules: loadRules([rules]), onAlert: (a, e) => alerts.push([a, e]) });
    try {
      // chroot(8) enters the root, changes to its / and execs /bin/ctrue there.
      const child = spawn('chroot', [root, '/bin/ctrue'], { stdio: 'ignore' });
      const pid = await new Promise<number>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(child.pid!) : reject(new Error(`chroot exited ${code}`))));
      });
      assert.ok(await s.waitForExit(pid));
      assert.deepEqual(alerts.filter(([, e]) => e.pid === pid).map(([a]) => a.output), ['exe=/bin/ctrue cwd=/']);
    } finally {
      s.close();
    }
  });
});
