// `tsbpf guard` as users run it: validation, listing, usage errors, and (as root) the default
// rules alerting in JSON on `cat /etc/shadow` run by this test.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, spawnCli } from './helpers/cli.js';
import { kernelTest } from './helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'guard-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('tsbpf guard: rules on the command line', () => {
  it('-V validates a good file', () => {
    const f = file('good.yaml', '- macro: m\n  condition: evt.type = open\n- rule: R\n  desc: d\n  condition: m and fd.name = /x\n  output: "%fd.name"\n  priority: info\n');
    const r = runCli(['guard', '-V', f]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1 rules, 1 macros, 0 lists: ok/);
  });

  it('-V on a broken rule: exit 1, one line naming file, line, column, rule and why', () => {
    const f = file('bad.yaml', '- rule: Broken\n  desc: d\n  condition: evt.type = open and proc.nmae = cat\n  output: o\n  priority: info\n');
    const r = runCli(['guard', '-V', f]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, new RegExp(`${f.replace(/[.]/g, '\\.')}:3:34: rule 'Broken': unknown field 'proc\\.nmae'`));
  });

  it('-L lists the default rules and -l describes one', () => {
    const list = runCli(['guard', '-L']);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /Read sensitive file by untrusted program\s+Warning\s+open,openat,openat2/);
    const one = runCli(['guard', '-l', 'Kernel module load attempt']);
    assert.equal(one.status, 0);
    assert.match(one.stdout, /priority: Critical\nenabled: true/);
    assert.equal(runCli(['guard', '-l', 'No such rule']).status, 1);
  });

  it('usage errors exit 2', () => {
    assert.equal(runCli(['guard', '-o', 'xml']).status, 2);
    assert.equal(runCli(['guard', '--priority', 'loud']).status, 2);
    assert.equal(runCli(['guard', '--dry-run']).status, 2);
  });

  it('a rule the kernel cannot enforce is refused with the reason, before anything loads', () => {
    const f = file('rich.yaml', '- rule: Rich\n  desc: d\n  condition: evt.type = execve and proc.exepath = /tmp/x and proc.pname = bash\n  output: o\n  priority: critical\n  action: kill\n');
    const r = runCli(['guard', '-r', f, '--enforce']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /rule 'Rich': cannot be enforced in the kernel: 'proc\.pname =/);
    const dry = runCli(['guard', '-r', f, '--list-syscalls']);
    assert.equal(dry.stdout.trim(), 'execve');
  });
});

describe('tsbpf guard: the default rules running', () => {
  kernelTest('alerts in JSON on cat /etc/shadow run by an untrusted process', async () => {
    const socket = join(dir, 'guard.sock');
    const guard = spawnCli(['guard', '-j', '-v', '--stats', '--socket', socket, '-M', '60']);
    let stdout = '';
    let stderr = '';
    guard.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const ready = new Promise<void>((resolve) =>
      guard.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('tracing')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => guard.on('exit', (c) => resolve(c)));
    try {
      await Promise.race([ready, exited]);
      assert.match(stderr, /rules; tracing open, openat, openat2, execve/);
      const cat = spawn('cat', ['/etc/shadow'], { stdio: 'ignore' });
      await new Promise((r) => cat.on('exit', r));
      const mine = (): Record<string, unknown> | undefined =>
        stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((a) => (a.output_fields as Record<string, unknown>)['proc.pid'] === cat.pid);
      while (mine() === undefined) {
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(guard.exitCode, null, `guard exited early: ${stderr}`);
      }
      const alert = mine()!;
      assert.equal(alert.rule, 'Read sensitive file by untrusted program');
      assert.equal(alert.priority, 'Warning');
      assert.equal(alert.source, 'syscall');
      assert.equal(typeof alert.hostname, 'string');
      assert.match(String(alert.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      assert.deepEqual(alert.tags, ['filesystem', 'credentials', 'mitre_credential_access', 'T1555']);
      assert.equal((alert.output_fields as Record<string, unknown>)['fd.name'], '/etc/shadow');
      assert.match(String(alert.output), /^Sensitive file opened for reading by untrusted program \(file=\/etc\/shadow user=root uid=0 process=cat cmdline=cat \/etc\/shadow pid=\d+ /);
      const status = runCli(['guard', 'status', '--socket', socket, '--json']);
      assert.equal(status.status, 0, status.stderr);
      const st = JSON.parse(status.stdout) as { pid: number; rules: number; events: number; hits: Record<string, number>; syscalls: string[] };
      assert.equal(st.pid, guard.pid);
      assert.ok(st.rules >= 12 && st.events > 0 && st.syscalls.includes('openat'));
      assert.ok((st.hits['Read sensitive file by untrusted program'] ?? 0) >= 1);
      const text = runCli(['guard', 'status', '--socket', socket]);
      assert.match(text.stdout, /^guard pid \d+, running since /);
    } finally {
      guard.kill('SIGINT');
    }
    assert.equal(await exited, 0);
    assert.match(stderr, /\d+ events, \d+ alerts, \d+ dropped in the kernel/);
    const gone = runCli(['guard', 'status', '--socket', socket]);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /no guard answers on .*guard\.sock/);
    const enter = /guard_sys_enter: (\d+) runs, [\d.]+ ms, (\d+) ns per run/.exec(stderr);
    assert.ok(enter !== null && Number(enter[1]) > 0, `the run time of sys_enter is reported: ${stderr}`);
  });
});
