// guard's fanotify enforcement with real rule files: what fanotify refuses never happens (an
// open returns no file descriptor, an exec never runs), it follows the file rather than the
// path spelled (a symlink or a hard link to a denied program is refused too), and `action: kill` on opens
// refuses the open and then signals the opener.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { planEnforcement } from '../src/tools/guard/enforce.js';
import type { Alert } from '../src/tools/guard/engine.js';
import type { GuardEvent } from '../src/tools/guard/event.js';
import { loadRules } from '../src/tools/guard/loader.js';
import { GuardSession } from '../src/tools/guard/session.js';
import { kernelTest } from './helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'guard-fanotify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rulesFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

interface Run {
  pid: number;
  out: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs a program to its end (asynchronously: guard answers on this process's event loop). */
function run(cmd: string, args: string[]): Promise<Run> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ pid: child.pid!, out, code, signal })));
}

/** A node process that opens `path` and prints the fd it got, or the error code. */
function nodeOpen(path: string): Promise<Run> {
  return run(process.execPath, ['-e', `try { console.log('fd ' + require('fs').openSync(${JSON.stringify(path)}, 'r')) } catch (e) { console.log(e.code) }`]);
}

describe('guard with fanotify', () => {
  it('plans action: kill on opens as a fanotify refusal that also signals, and says so', () => {
    const set = loadRules([rulesFile('plan.yaml', `- rule: Key read
  desc: d
  condition: evt.type in (open, openat, openat2) and fd.name = /srv/key
  output: o
  priority: critical
  action: SIGTERM
`)]);
    const plan = planEnforcement(set);
    assert.deepEqual(plan.denies, [{ rule: 'Key read', kind: 'open', files: ['/srv/key'], dirs: [], kill: { signal: 15, signalName: 'SIGTERM' } }]);
    assert.deepEqual(plan.notes, ["rule 'Key read': open of /srv/key is refused (EPERM) before it happens, with fanotify FAN_OPEN_PERM, and the opener sent SIGTERM"]);
  });

  kernelTest('action: kill on an open: the open fails, no fd, then the opener is killed', async () => {
    const secret = join(dir, 'kill-secret');
    writeFileSync(secret, 'secret');
    const rules = loadRules([rulesFile('kill-open.yaml', `- rule: Secret opened
  desc: d
  condition: evt.type in (open, openat, openat2) and fd.name = ${secret}
  output: "open of %fd.name by %proc.name: %evt.res"
  priority: critical
  action: kill
`)]);
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules, enforce: true, onAlert: (a, e) => alerts.push([a, e]) });
    try {
      const r = await nodeOpen(secret);
      assert.equal(r.signal, 'SIGKILL', 'the opener was killed');
      assert.doesNotMatch(r.out, /^fd /m, 'the open never returned a file descriptor');
      assert.ok(await s.waitForExit(r.pid));
      const mine = alerts.filter(([a, e]) => e.pid === r.pid && a.rule === 'Secret opened');
      assert.equal(mine.length, 1);
      assert.equal(mine[0]![0].output, `open of ${secret} by node: EPERM`);
      assert.equal(mine[0]![0].enforcement, 'refused (EPERM) by fanotify before it happened, SIGKILL sent');
    } finally {
      s.close();
    }
  });

  kernelTest('action: deny on a directory, but for one program: others get EPERM and no fd', async () => {
    const keys = join(dir, 'keys');
    mkdirSync(keys);
    writeFileSync(join(keys, 'id'), 'key');
    const rules = loadRules([rulesFile('deny-dir.yaml', `- rule: Keys read by others
  desc: d
  condition: evt.type in (open, openat, openat2) and fd.directory = ${keys} and not proc.name in (cat)
  output: "open of %fd.name by %proc.name refused"
  priority: critical
  action: deny
`)]);
    const s = await GuardSession.open({ rules, enforce: true });
    try {
      assert.match(s.plan!.notes[0]!, new RegExp(`open of ${keys}/\\* by processes not named cat is refused \\(EPERM\\) before it happens, with fanotify FAN_OPEN_PERM`));
      const refused = await nodeOpen(join(keys, 'id'));
      assert.equal(refused.out.trim(), 'EPERM', 'the open failed and returned no fd');
      assert.equal(refused.code, 0, 'the process lives on');
      const cat = await run('cat', [join(keys, 'id')]);
      assert.equal(cat.out, 'key', 'the named program reads it');
    } finally {
      s.close();
    }
  });

  kernelTest('action: deny on an exec refuses the file, whatever path reaches it', async () => {
    const tool = join(dir, 'tool');
    copyFileSync('/usr/bin/touch', tool);
    const link = join(dir, 'tool-link');
    symlinkSync(tool, link);
    const hard = join(dir, 'tool-hard');
    linkSync(tool, hard);
    const rules = loadRules([rulesFile('deny-exec.yaml', `- rule: Tool run
  desc: d
  condition: evt.type in (execve, execveat) and proc.exepath = ${tool}
  output: "exec of %proc.exepath refused"
  priority: critical
  action: deny
`)]);
    const s = await GuardSession.open({ rules, enforce: true });
    try {
      assert.match(s.plan!.notes[0]!, /exec of .* is refused \(EPERM\) before it happens, with fanotify FAN_OPEN_EXEC_PERM/);
      for (const [name, path] of [['direct', tool], ['symlink', link], ['hard link', hard]] as const) {
        const marker = join(dir, `ran-${name}`);
        const r = await run('sh', ['-c', `"$0" "$1"; echo status $?`, path, marker]);
        assert.match(r.out, /status 126/, `the exec of ${path} failed and the shell carried on`);
        assert.equal(existsSync(marker), false, `${path} never ran`);
      }
    } finally {
      s.close();
    }
    const marker = join(dir, 'ran-after');
    const after = await new Promise<number | null>((resolve) => execFile(link, [marker], (err) => resolve(err === null ? 0 : ((err as { code?: number }).code ?? -1))));
    assert.equal(after, 0, 'once guard is closed, the program runs again');
    assert.equal(existsSync(marker), true);
  });
});
