// guard in the running kernel: each default rule fires on a child process doing the thing,
// and not on a harmless look-alike; the exact drop count of a burst larger than the ring.
// Only alerts of this test's own descendants are looked at (other work runs on the machine).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { defaultRulesFile } from '../src/tools/guard/default-rules.js';
import type { Alert } from '../src/tools/guard/engine.js';
import type { GuardEvent } from '../src/tools/guard/event.js';
import { loadRules } from '../src/tools/guard/loader.js';
import { GuardSession } from '../src/tools/guard/session.js';
import { cgroup2Root, isRoot, kernelTest, uniqueName } from './helpers/kernel.js';

interface Seen {
  alert: Alert;
  event: GuardEvent;
}

let session: GuardSession | undefined;
const seen: Seen[] = [];
/** Every event of this test's descendants. */
const events: GuardEvent[] = [];
const dir = mkdtempSync(join(tmpdir(), 'guard-test-'));

/** Whether `pid` descends from this test process, by guard's own process table. */
function mine(pid: number): boolean {
  if (session === undefined) return false;
  return session.engine.table.ancestors(pid, 32).some((p) => p.pid === process.pid);
}

before(async () => {
  if (!isRoot()) return;
  session = await GuardSession.open({
    rules: loadRules([defaultRulesFile()]),
    onAlert: (alert, event) => {
      if (mine(event.pid)) seen.push({ alert, event });
    },
    onEvent: (event) => {
      if (event.kind === 1 && mine(event.pid)) events.push(event);
    },
  });
});

after(() => {
  session?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  pid: number;
  code: number | null;
  stdout: string;
}

/** Runs a child to its end and waits until guard has read its exit (so every event before it). */
async function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<Ran> {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', () => {});
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const pid = child.pid!;
  assert.ok(await session!.waitForExit(pid), `guard saw the exit of ${cmd} (pid ${pid})`);
  return { pid, code, stdout };
}

/** Alerts of `rule` among the processes of run `r` (the child and its descendants). */
function alertsOf(rule: string, r: Ran): Seen[] {
  return seen.filter((s) => s.alert.rule === rule && (s.event.pid === r.pid || session!.engine.table.ancestors(s.event.pid, 32).some((p) => p.pid === r.pid)));
}

function expectOne(rule: string, r: Ran, priority: string, fields: Record<string, unknown>): Alert {
  const got = alertsOf(rule, r);
  assert.equal(got.length, 1, `one '${rule}' alert for pid ${r.pid}, got ${got.length}: ${JSON.stringify(seen.map((s) => [s.alert.rule, s.event.pid]))}`);
  const a = got[0]!.alert;
  assert.equal(a.priority, priority);
  for (const [k, v] of Object.entries(fields)) assert.equal(a.output_fields[k], v, `${rule}: ${k}`);
  assert.equal(a.source, 'syscall');
  return a;
}

function expectNone(rule: string, r: Ran): void {
  assert.deepEqual(alertsOf(rule, r).map((s) => s.alert.output), [], `no '${rule}' alert for the look-alike`);
}

const PY = 'python3';

describe('guard default rules on real processes', () => {
  kernelTest('Read sensitive file by untrusted program', async () => {
    const bad = await run('cat', ['/etc/shadow']);
    expectOne('Read sensitive file by untrusted program', bad, 'Warning', { 'fd.name': '/etc/shadow', 'proc.name': 'cat', 'proc.pid': bad.pid, 'user.uid': 0, 'container.id': 'host' });
    expectNone('Read sensitive file by untrusted program', await run('cat', ['/etc/hostname']));
  });

  kernelTest('Shell in container (a cgroup named as docker names its scopes)', async () => {
    const root = cgroup2Root();
    assert.ok(root, 'a cgroup v2 hierarchy');
    const id = randomBytes(32).toString('hex');
    const cg = join(root, `docker-${id}.scope`);
    mkdirSync(cg);
    try {
      const bad = await run('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec sh -c 'exit 0'`]);
      expectOne('Shell in container', bad, 'Notice', { 'proc.name': 'sh', 'container.id': id.slice(0, 12) });
      expectNone('Shell in container', await run('sh', ['-c', "exec sh -c 'exit 0'"]));
    } finally {
      rmdirSync(cg);
    }
  });

  kernelTest('Shell spawned by a server process', async () => {
    const server = join(dir, 'nginx');
    copyFileSync('/bin/bash', server);
    const bad = await run(server, ['-c', "sh -c 'exit 0'; true"]);
    expectOne('Shell spawned by a server process', bad, 'Warning', { 'proc.pname': 'nginx', 'proc.name': 'sh' });
    expectNone('Shell spawned by a server process', await run('bash', ['-c', "sh -c 'exit 0'; true"]));
  });

  kernelTest('Write below binary directory', async () => {
    const target = `/usr/local/sbin/${uniqueName('tsbpf-guard-', 40)}`;
    try {
      const bad = await run('sh', ['-c', `echo x > ${target}`]);
      expectOne('Write below binary directory', bad, 'Error', { 'fd.name': target, 'proc.name': 'sh' });
    } finally {
      rmSync(target, { force: true });
    }
    expectNone('Write below binary directory', await run('sh', ['-c', `echo x > ${join(dir, 'notbin')}`]));
  });

  kernelTest('Shell made a network connection', async () => {
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const bad = await run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; exit 0`]);
      const a = expectOne('Shell made a network connection', bad, 'Warning', { 'proc.name': 'bash', 'fd.l4proto': 'tcp' });
      assert.match(String(a.output_fields['fd.name']), new RegExp(`^127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${port}$`));
      const alike = await run(PY, ['-c', `import socket; socket.create_connection(('127.0.0.1', ${port})).close()`]);
      expectNone('Shell made a network connection', alike);
    } finally {
      server.close();
    }
  });

  kernelTest('Network tool launched', async () => {
    const nc = join(dir, 'nc');
    copyFileSync('/bin/true', nc);
    expectOne('Network tool launched', await run(nc, []), 'Notice', { 'proc.name': 'nc' });
    const alike = join(dir, 'ncx');
    copyFileSync('/bin/true', alike);
    expectNone('Network tool launched', await run(alike, []));
  });

  kernelTest('Process attached to another with ptrace', async () => {
    const attach = `
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = os.fork()
if pid == 0:
    time.sleep(10)
    os._exit(0)
assert libc.ptrace(16, pid, None, None) == 0
os.waitpid(pid, 0)
libc.ptrace(17, pid, None, None)
os.kill(pid, 9)
os.waitpid(pid, 0)
`;
    const bad = await run(PY, ['-c', attach]);
    assert.equal(bad.code, 0);
    expectOne('Process attached to another with ptrace', bad, 'Warning', { 'evt.arg.request': 'PTRACE_ATTACH', 'proc.name': 'python3' });
    const alike = await run(PY, ['-c', 'import ctypes; ctypes.CDLL(None).ptrace(0, 0, None, None)']);
    expectNone('Process attached to another with ptrace', alike);
  });

  kernelTest('Fileless execution from memfd', async () => {
    const code = "import os\nfd = os.memfd_create('payload', 0)\nos.write(fd, open('/bin/true', 'rb').read())\nos.execve(fd, ['payload'], {})\n";
    const bad = await run(PY, ['-c', code]);
    assert.equal(bad.code, 0);
    const a = expectOne('Fileless execution from memfd', bad, 'Critical', { 'proc.pid': bad.pid });
    assert.match(String(a.output_fields['proc.exepath']), /memfd:payload/);
    expectNone('Fileless execution from memfd', await run(PY, ['-c', "import os; os.execve('/bin/true', ['true'], {})"]));
  });

  kernelTest('Execution from /dev/shm', async () => {
    const shm = `/dev/shm/${uniqueName('tsbpf-guard-', 40)}`;
    copyFileSync('/bin/true', shm);
    try {
      expectOne('Execution from /dev/shm', await run(shm, []), 'Warning', { 'proc.exepath': shm });
    } finally {
      rmSync(shm, { force: true });
    }
    const alike = join(dir, 'true-copy');
    copyFileSync('/bin/true', alike);
    expectNone('Execution from /dev/shm', await run(alike, [], { cwd: '/dev/shm' }));
  });

  kernelTest('Setuid to root by non-root user', async () => {
    const bad = await run(PY, ['-c', 'import os; os.setresuid(65534, 65534, 0); os.setuid(0)']);
    assert.equal(bad.code, 0);
    expectOne('Setuid to root by non-root user', bad, 'Critical', { 'evt.type': 'setuid', 'user.uid': 65534 });
    expectNone('Setuid to root by non-root user', await run(PY, ['-c', 'import os; os.setresuid(65534, 65534, 65534); os.setuid(65534)']));
  });

  kernelTest('Kernel module load attempt', async () => {
    const bad = await run(PY, ['-c', "import ctypes, os; fd = os.open('/dev/null', os.O_RDONLY); ctypes.CDLL(None).syscall(313, fd, b'', 0)"]);
    const a = expectOne('Kernel module load attempt', bad, 'Critical', { 'evt.type': 'finit_module' });
    assert.notEqual(a.output_fields['evt.res'], 'SUCCESS');
    expectNone('Kernel module load attempt', await run('cat', ['/proc/modules']));
  });

  kernelTest('Log file cleared', async () => {
    const log = `/var/log/${uniqueName('tsbpf-guard-', 40)}.log`;
    writeFileSync(log, 'line\n');
    try {
      expectNone('Log file cleared', await run('sh', ['-c', `echo more >> ${log}`]));
      expectOne('Log file cleared', await run('sh', ['-c', `: > ${log}`]), 'Warning', { 'fd.name': log });
    } finally {
      rmSync(log, { force: true });
    }
  });

  kernelTest('Symlink to sensitive file', async () => {
    const bad = await run('ln', ['-s', '/etc/shadow', join(dir, 'shadow-link')]);
    expectOne('Symlink to sensitive file', bad, 'Warning', { 'fs.path.source': '/etc/shadow', 'fs.path.target': join(dir, 'shadow-link') });
    expectNone('Symlink to sensitive file', await run('ln', ['-s', '/etc/hostname', join(dir, 'host-link')]));
  });

  kernelTest('Packet socket created', async () => {
    const bad = await run(PY, ['-c', 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)']);
    expectOne('Packet socket created', bad, 'Notice', { 'evt.arg.type': 'SOCK_RAW' });
    expectNone('Packet socket created', await run(PY, ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)']));
  });

  kernelTest('Search for private keys', async () => {
    const bad = await run('find', [dir, '-name', 'id_rsa']);
    expectOne('Search for private keys', bad, 'Warning', { 'proc.cmdline': `find ${dir} -name id_rsa` });
    expectNone('Search for private keys', await run('find', [dir, '-name', 'notes.txt']));
  });
});

describe('guard narrows file calls in the kernel to the rules\' path prefixes', () => {
  kernelTest('an open outside every prefix is not reported; one it cannot judge is', async () => {
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'x');
    const outside = await run('cat', [plain]);
    assert.deepEqual(events.filter((e) => e.pid === outside.pid && e.str1 === plain).map((e) => e.type), []);
    const dotted = await run('cat', ['/etc/../etc/shadow']);
    expectOne('Read sensitive file by untrusted program', dotted, 'Warning', { 'fd.name': '/etc/shadow' });
    const relative = await run('cat', ['shadow'], { cwd: '/etc' });
    expectOne('Read sensitive file by untrusted program', relative, 'Warning', { 'fd.name': '/etc/shadow' });
  });
});

describe('guard loses nothing silently', () => {
  kernelTest('a burst larger than the ring: delivered + dropped is exactly the burst', async () => {
    const burst = 3000;
    const path = join(dir, 'chmod-target');
    writeFileSync(path, '');
    // The child waits for a line, makes the burst, says so and waits for the next line.
    const child = spawn(PY, ['-c', `import os, sys\nsys.stdin.readline()\nfor _ in range(${burst}):\n    os.chmod(${JSON.stringify(path)}, 0o644)\nprint('done', flush=True)\nsys.stdin.readline()\n`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let delivered = 0;
    writeFileSync(join(dir, 'chmod.yaml'), '- rule: chmod\n  desc: d\n  condition: evt.type = chmod\n  output: "%fd.name"\n  priority: debug\n');
    const s = await GuardSession.open({
      rules: loadRules([join(dir, 'chmod.yaml')]),
      targetPid: child.pid!,
      ringBytes: 1 << 16,
      onEvent: (e) => {
        if (e.type === 'chmod' && e.pid === child.pid) delivered++;
      },
    });
    try {
      s.pauseReading();
      const done = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('done') && resolve()));
      child.stdin!.write('go\n');
      await done;
      s.drain();
      const dropped = s.kernelDrops();
      assert.ok(dropped > 0, 'the ring overflowed');
      assert.equal(delivered + dropped, burst, `delivered ${delivered} + dropped ${dropped}`);
      assert.equal(s.checkDrops(), dropped);
    } finally {
      child.stdin!.end();
      s.close();
    }
  });
});
