// guard's enforcement in the running kernel: an exec of a forbidden path is stopped before
// the program runs (its marker file is never written), and a connect to a forbidden address
// is refused before the server could accept it, the caller killed in both cases.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import type { Alert } from '../src/tools/guard/engine.js';
import type { GuardEvent } from '../src/tools/guard/event.js';
import { loadRules } from '../src/tools/guard/loader.js';
import { GuardSession } from '../src/tools/guard/session.js';
import { kernelTest, linksOfPrograms, requireCgroup2, settledCount, uniqueName } from './helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'guard-enforce-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rulesFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

interface Exit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function runToEnd(cmd: string, args: string[]): Promise<Exit> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ pid: child.pid!, code, signal })));
}

describe('guard enforcement', () => {
  kernelTest('action: kill stops an exec of the path before the program runs', async () => {
    const forbidden = join(dir, 'forbidden');
    const allowed = join(dir, 'allowed');
    for (const [path, marker] of [[forbidden, 'forbidden.ran'], [allowed, 'allowed.ran']] as const) {
      writeFileSync(path, `#!/bin/sh\necho ran > ${join(dir, marker)}\n`);
      chmodSync(path, 0o755);
    }
    const rules = loadRules([rulesFile('exec.yaml', `- rule: Forbidden program
  desc: d
  condition: evt.type in (execve, execveat) and proc.exepath = ${forbidden}
  output: "forbidden exec %proc.exepath by pid %proc.pid"
  priority: critical
  action: kill
`)]);
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules, enforce: true, onAlert: (a, e) => alerts.push([a, e]) });
    try {
      assert.match(s.plan!.notes[0]!, /SIGKILL sent at sys_enter/);
      const killed = await runToEnd(forbidden, []);
      assert.equal(killed.signal, 'SIGKILL');
      assert.equal(existsSync(join(dir, 'forbidden.ran')), false, 'the forbidden program never ran');
      const ok = await runToEnd(allowed, []);
      assert.equal(ok.code, 0);
      assert.equal(existsSync(join(dir, 'allowed.ran')), true, 'the allowed program ran');
      assert.ok(await s.waitForExit(ok.pid));
      const mine = alerts.filter(([, e]) => e.pid === killed.pid);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]![0].rule, 'Forbidden program');
      assert.equal(mine[0]![0].enforcement, 'killed with SIGKILL at sys_enter');
      assert.equal(mine[0]![0].output, `forbidden exec ${forbidden} by pid ${killed.pid}`);
      assert.equal(alerts.filter(([, e]) => e.pid === ok.pid).length, 0);
    } finally {
      s.close();
    }
  });

  kernelTest('action: kill refuses a connect in the cgroup hook and kills the caller', async () => {
    const accepted: string[] = [];
    const server = createServer((sock: Socket) => {
      accepted.push(sock.localAddress ?? '');
      sock.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    const port = (server.address() as { port: number }).port;
    const rules = loadRules([rulesFile('connect.yaml', `- rule: Forbidden destination
  desc: d
  condition: evt.type = connect and fd.sip = 127.0.0.1 and fd.sport = ${port}
  output: "connect to %fd.sip:%fd.sport by %proc.name"
  priority: critical
  action: kill
`)]);
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules, enforce: true, onAlert: (a, e) => alerts.push([a, e]) });
    const progIds = s.programIds();
    try {
      assert.equal(linksOfPrograms(progIds).length, 9, 'five tracepoints and the connect and sendmsg hooks attached');
      assert.match(s.plan!.notes[0]!, /refused \(EPERM\) by cgroup connect4\/6 and sendmsg4\/6 hooks/);
      const killed = await runToEnd('python3', ['-c', `import socket; socket.create_connection(('127.0.0.1', ${port}))`]);
      assert.equal(killed.signal, 'SIGKILL');
      // Another address of the same server: connections are accepted in order, so once this
      // one is, the forbidden one would have been too.
      const control = await runToEnd('python3', ['-c', `import socket; socket.create_connection(('127.0.0.2', ${port})).close()`]);
      assert.equal(control.code, 0);
      while (accepted.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(accepted, ['127.0.0.2'], 'the server accepted only the allowed connection');
      assert.ok(await s.waitForExit(control.pid));
      const mine = alerts.filter(([, e]) => e.pid === killed.pid);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]![0].output, `connect to 127.0.0.1:${port} by python3`);
      assert.equal(mine[0]![0].enforcement, 'killed with SIGKILL at sys_enter');
    } finally {
      s.close();
      server.close();
    }
    assert.equal(settledCount(() => linksOfPrograms(progIds).length), 0, 'nothing left attached');
  });

  kernelTest('action: deny refuses an open with fanotify: the process gets EPERM, never a fd, and lives', async () => {
    const secret = join(dir, 'deny-secret');
    writeFileSync(secret, 'secret');
    const rules = loadRules([rulesFile('deny-open.yaml', `- rule: Secret read by python
  desc: d
  condition: evt.type in (open, openat, openat2) and fd.name = ${secret} and proc.name in (python3)
  output: "open of %fd.name by %proc.name refused: %evt.res"
  priority: critical
  action: deny
`)]);
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules, enforce: true, onAlert: (a, e) => alerts.push([a, e]) });
    try {
      assert.match(s.plan!.notes[0]!, /refused \(EPERM\) before it happens, with fanotify FAN_OPEN_PERM/);
      const py = `import os\ntry:\n    fd = os.open(${JSON.stringify(secret)}, os.O_RDONLY)\n    print('fd', fd)\nexcept PermissionError as e:\n    print('errno', e.errno)\n`;
      const child = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0, 'the process lives on');
      assert.equal(out.trim(), 'errno 1', 'the open failed with EPERM and returned no fd');
      const cat = spawn('cat', [secret], { stdio: ['ignore', 'pipe', 'ignore'] });
      let catOut = '';
      cat.stdout.on('data', (d: Buffer) => (catOut += d.toString()));
      await new Promise((r) => cat.on('exit', r));
      assert.equal(catOut, 'secret', 'another program opens the file');
      assert.ok(await s.waitForExit(cat.pid!));
      const mine = alerts.filter(([, e]) => e.pid === child.pid);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]![0].output, `open of ${secret} by python3 refused: EPERM`);
      assert.equal(mine[0]![0].enforcement, 'refused (EPERM) by fanotify before it happened');
      assert.equal(alerts.filter(([, e]) => e.pid === cat.pid).length, 0);
    } finally {
      s.close();
    }
  });

  kernelTest('action: deny refuses an exec with fanotify: the program never runs, the caller lives', async () => {
    const prog = join(dir, 'deny-prog');
    writeFileSync(prog, `#!/bin/sh\necho ran > ${join(dir, 'deny-prog.ran')}\n`);
    chmodSync(prog, 0o755);
    const rules = loadRules([rulesFile('deny-exec.yaml', `- rule: Denied program
  desc: d
  condition: evt.type = execve and proc.exepath = ${prog}
  output: "exec of %proc.exepath refused"
  priority: critical
  action: deny
`)]);
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules, enforce: true, onAlert: (a, e) => alerts.push([a, e]) });
    try {
      const sh = spawn('sh', ['-c', `${prog}; echo status $?`], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      sh.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((r) => sh.on('exit', r));
      assert.match(out, /status 126/, 'the exec failed and the shell carried on');
      assert.equal(existsSync(join(dir, 'deny-prog.ran')), false, 'the program never ran');
      assert.ok(await s.waitForExit(sh.pid!));
      const mine = alerts.filter(([a]) => a.rule === 'Denied program' && a.output === `exec of ${prog} refused`);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]![0].enforcement, 'refused (EPERM) by fanotify before it happened');
    } finally {
      s.close();
    }
  });

  // The hooks attach to a cgroup of the test's own, with the child in it: on the root, the raw
  // socket rule would refuse every process on the machine its raw sockets (ping among them).
  kernelTest('action: deny refuses socket creation, a bind and a datagram in cgroup hooks; the process lives', async (t) => {
    const root = requireCgroup2(t);
    if (root === undefined) return;
    const cgroup = join(root, uniqueName('guard-deny', 40));
    mkdirSync(cgroup);
    t.after(() => rmdirSync(cgroup));
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '0.0.0.0', r));
    const udpPort = udp.address().port;
    let received = 0;
    udp.on('message', () => received++);
    const bindPort = 20000 + (process.pid % 20000);
    const rules = loadRules([rulesFile('deny-net.yaml', `- rule: No raw sockets
  desc: d
  condition: evt.type = socket and evt.arg.domain = AF_INET and evt.arg.type = SOCK_RAW
  output: "raw socket by %proc.name: %evt.res"
  priority: critical
  action: deny
- rule: No listener on the port
  desc: d
  condition: evt.type = bind and fd.sport = ${bindPort}
  output: "bind to %fd.sport by %proc.name: %evt.res"
  priority: critical
  action: deny
- rule: No datagrams to the port
  desc: d
  condition: evt.type = connect and fd.sip = 127.0.0.1 and fd.sport = ${udpPort}
  output: "to %fd.sport"
  priority: critical
  action: deny
`)]);
    const alerts: Array<[Alert, GuardEvent]> = [];
    const s = await GuardSession.open({ rules, enforce: true, cgroup, onAlert: (a, e) => alerts.push([a, e]) });
    try {
      assert.equal(s.plan!.notes.length, 3);
      assert.match(s.plan!.notes[0]!, /socket\(AF_INET, SOCK_RAW\) is refused \(EPERM\) by a cgroup sock_create hook on the cgroup v2 root; the caller lives/);
      const py = [
        'import errno, socket',
        'def attempt(f):',
        '    try:',
        '        f()',
        "        return 'ok'",
        '    except OSError as e:',
        '        return errno.errorcode[e.errno]',
        "print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)))",
        "print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()))",
        `print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).bind(('127.0.0.1', ${bindPort}))))`,
        `print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', ${udpPort}))))`,
      ].join('\n');
      // The shell joins the cgroup, then becomes python, so every socket call is made in it.
      const child = spawn('sh', ['-c', `echo $$ > ${join(cgroup, 'cgroup.procs')} && exec python3 -c "$0"`, py], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0);
      assert.deepEqual(out.trim().split('\n'), ['EPERM', 'ok', 'EPERM', 'EPERM']);
      assert.ok(await s.waitForExit(child.pid!));
      const mine = alerts.filter(([, e]) => e.pid === child.pid).map(([a]) => a.output);
      assert.ok(mine.includes('raw socket by python3: EPERM'), JSON.stringify(mine));
      assert.ok(mine.includes(`bind to ${bindPort} by python3: EPERM`), JSON.stringify(mine));
      // The datagram never arrived: a control datagram from this process arrives alone.
      udp.send('control', udpPort, '127.0.0.2');
      await new Promise((r) => udp.once('message', r));
      assert.equal(received, 1);
    } finally {
      s.close();
      udp.close();
    }
  });
});
