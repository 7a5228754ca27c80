// `tsbpf object attach`, run as a separate process: XDP on a veth pair with traffic from the
// peer namespace, a tracepoint seeing the test's children exec, cgroup hooks seeing a child's
// connect, SIGTERM, and the one-line errors of bad input.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { allIds } from '../src/sys/attrs.js';
import { Cmd } from '../src/sys/types.js';
import { corpus } from './bpf/corpus.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { createVethPair, kernelTest, requireCgroup2, sh, uniqueName } from './helpers/kernel.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `tsbpf object attach`. */
interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr says `attached N programs`, with N. */
  ready: Promise<number>;
  exited: Promise<Exit>;
}

function start(args: string[]): Running {
  const child = spawnCli(['object', 'attach', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  let onReady: (n: number) => void = () => undefined;
  const ready = new Promise<number>((resolve) => (onReady = resolve));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    const m = /^attached (\d+) programs?$/m.exec(stderr);
    if (m) onReady(Number(m[1]));
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    ready: Promise.race([ready, exited.then((e) => Promise.reject(new Error(`object attach exited (${e.code ?? e.signal}) before attaching: ${e.stderr}`)))]),
    exited,
  };
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The bpf_link ids a process holds fds of, from /proc/<pid>/fdinfo. */
function processLinks(pid: number): number[] {
  const ids: number[] = [];
  const dir = `/proc/${pid}/fdinfo`;
  for (const fd of readdirSync(dir)) {
    let text: string;
    try {
      text = readFileSync(join(dir, fd), 'utf8');
    } catch {
      continue; // closed since listed
    }
    const m = /^link_id:\s*(\d+)$/m.exec(text);
    if (m) ids.push(Number(m[1]));
  }
  return ids;
}

function assertGone(ids: number[]): void {
  const live = new Set(allIds(Cmd.LINK_GET_NEXT_ID));
  assert.deepEqual(
    ids.filter((id) => live.has(id)),
    [],
    'links of the command are left',
  );
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

type Dump = Record<string, { key: unknown; value: unknown }[]>;

/** The map dump: the last JSON line. */
function dumpOf(lines: Record<string, unknown>[]): Dump {
  const last = lines[lines.length - 1];
  assert.ok(last !== undefined && 'maps' in last, `the last line is the map dump: ${JSON.stringify(last)}`);
  return last.maps as Dump;
}

function valueOf(dump: Dump, map: string, key: unknown): unknown {
  return dump[map]?.find((e) => JSON.stringify(e.key) === JSON.stringify(key))?.value;
}


let portBase = 30000 + (process.pid % 20000);
function freshPort(): number {
  portBase = portBase >= 60000 ? 30000 : portBase + 1;
  return portBase;
}

const XDP = corpus('attach_xdp.bpf.o');
const EXEC = corpus('attach_exec.bpf.o');
const CGROUP = corpus('attach_cgroup.bpf.o');

describe('tsbpf object attach: bad input', () => {
  test('unknown file, unknown or wrong --events map, unknown type, missing --iface: one line, exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['/nonexistent/tsbpf.bpf.o'], /\/nonexistent\/tsbpf\.bpf\.o/],
      [[EXEC, '--events', 'nope'], /--events nope: .*has no map nope \(its maps: .*events/],
      [[EXEC, '--events', 'execs:exec_event'], /--events execs:exec_event: map execs is a hash map; --events takes a ringbuf or perf_event_array map/],
      [[EXEC, '--events', 'events:struct no_such_type'], /has no type struct no_such_type in its BTF/],
      [[XDP], /program count_packets \(section xdp\) attaches to a network interface: give --iface NAME/],
      [[CGROUP], /program count_connect4 \(section cgroup\/connect4\) attaches to a cgroup: give --cgroup PATH/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(['object', 'attach', ...args]);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0]!, /^tsbpf object attach: /);
      assert.match(lines[0]!, message);
    }
  });

  test('usage errors exit 2', () => {
    for (const args of [[], [EXEC, '--for', 'soon'], [EXEC, '--for', '0'], [EXEC, '--for', '-5'], [EXEC, '--for', '3000000'], [EXEC, '--for', '720h'], [EXEC, '--pid', 'x'], [EXEC, '--events', 'events:'], [EXEC, '--dump-maps', '--no-dump-maps'], [EXEC, '--bogus']]) {
      const r = runCli(['object', 'attach', ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^tsbpf object/);
    }
    const help = runCli(['object', 'attach', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /attached N programs/);
  });

  kernelTest('a hook that fails to attach leaves nothing attached and exits 1', () => {
    const r = runCli(['object', 'attach', XDP, '--iface', uniqueName('tsbpfnoif'), '--for', '100ms']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^tsbpf object attach: interface tsbpfnoif\S* not found/m);
    assert.doesNotMatch(r.stderr, /^attached/m);
  });
});

describe('tsbpf object attach', () => {
  kernelTest('xdp on a veth: a ring buffer record per datagram from the peer namespace, counts in the map dump', async () => {
    const v = createVethPair('oa');
    const port = freshPort();
    const count = 5;
    const run = start([XDP, '--iface', v.host, '--set', `watch_port=${port}`, '--events', 'events:packet_event', '--json']);
    try {
      assert.equal(await run.ready, 1);
      assert.match(run.stderr(), /^count_packets: xdp link on /m);
      const send = `
        const s = require('node:dgram').createSocket('udp4');
        let n = 0;
        const next = () => { if (n++ === ${count}) return s.close(); s.send('hello', ${port}, '${v.hostAddr}', () => setTimeout(next, 20)); };
        next();`;
      sh('ip', ['netns', 'exec', v.netns, process.execPath, '-e', send]);
      await waitFor(() => jsonLines(run.stdout()).length >= count, `${count} records`);
      run.child.kill('SIGINT');
      const exit = await run.exited;
      assert.equal(exit.code, 0, exit.stderr);
      const lines = jsonLines(exit.stdout);
      const records = lines.filter((l) => l.map === 'events');
      assert.equal(records.length, count, 'one record per datagram to the watched port, and no other');
      for (const r of records) {
        assert.deepEqual(Object.keys(r), ['map', 'record']);
        const rec = r.record as { saddr: number[]; sport: number; dport: number; len: number; proto: number; ipv6: number };
        assert.equal(rec.saddr.join('.'), v.peerAddr);
        assert.equal(rec.dport, port);
        assert.ok(rec.sport > 0);
        assert.equal(rec.proto, 17);
        assert.equal(rec.ipv6, 0);
        assert.equal(rec.len, 14 + 20 + 8 + 'hello'.length);
      }
      const dump = dumpOf(lines);
      const udp = valueOf(dump, 'packets', 17) as number;
      assert.ok(udp >= count, `packets[17] counts the datagrams (${udp})`);
      assert.deepEqual(dump['.bss'], [{ key: 0, value: { reported: count, unused_packet_event: 0 } }]);
      assert.equal(dump.events, undefined, 'ring buffers are not dumped');
      assert.deepEqual(dump['.rodata'], [{ key: 0, value: { watch_port: port } }]);
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
      v.remove();
    }
  });

  kernelTest('tracepoint for 2s: the children exec while it runs are in the records and the map dump', async () => {
    const started = Date.now();
    const run = start([EXEC, '--for', '2s', '--events', 'events:exec_event', '--events', 'perf_events:struct exec_event']);
    try {
      assert.equal(await run.ready, 2);
      assert.match(run.stderr(), /^count_execs: tracepoint link on sched\/sched_process_exec$/m);
      assert.match(run.stderr(), /^count_exits: raw_tracepoint link on sched_process_exit$/m);
      const pids: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = spawnSync('/bin/true');
        assert.equal(r.status, 0);
        pids.push(r.pid!);
      }
      const exit = await run.exited;
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.signal, null);
      assert.ok(Date.now() - started >= 2000, 'it ran for 2s');
      const lines = exit.stdout.split('\n');
      for (const pid of pids) {
        const ring = lines.find((l) => l.startsWith('events: ') && (JSON.parse(l.slice(8)) as { pid: number }).pid === pid);
        assert.ok(ring, `a ring buffer record of child ${pid}`);
        assert.deepEqual(JSON.parse(ring.slice(8)), { pid, uid: 0, comm: 'true' });
        const perf = lines.find((l) => /^perf_events cpu \d+: /.test(l) && l.includes(`"pid":${pid},`));
        assert.ok(perf, `a perf event record of child ${pid}`);
        assert.deepEqual(JSON.parse(perf.slice(perf.indexOf(': ') + 2)), { pid, uid: 0, comm: 'true' });
        assert.ok(lines.includes(`  ${pid}: 1`), `execs[${pid}] is 1 in the map dump`);
      }
      assert.match(exit.stdout, /^execs \(hash, \d+ elements?\):$/m);
      const bss = /^\.bss \(array, 1 element\):\n {2}0: (.*)$/m.exec(exit.stdout);
      assert.ok(bss, exit.stdout);
      assert.ok((JSON.parse(bss[1]!) as { exits: number }).exits >= pids.length, 'the exits of the children were counted');
      assert.doesNotMatch(exit.stdout, /^(events|perf_events) \(/m, 'event buffers are not dumped');
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  });

  kernelTest('cgroup hooks: a child in the cgroup connects over loopback, counted in the map dump', async (t) => {
    const root = requireCgroup2(t);
    if (root === undefined) return;
    const cg = join(root, uniqueName('tsbpf-oattach-', 40));
    mkdirSync(cg);
    const server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const run = start([CGROUP, '--cgroup', cg, '--json']);
    try {
      assert.equal(await run.ready, 2);
      const script = `
        require('node:fs').writeFileSync(${JSON.stringify(join(cg, 'cgroup.procs'))}, String(process.pid));
        const c = require('node:net').connect(${port}, '127.0.0.1');
        c.on('connect', () => c.end());
        c.on('close', () => process.exit(0));
        c.on('error', () => process.exit(3));`;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let childErr = '';
      child.stderr.on('data', (d: Buffer) => (childErr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, childErr);
      run.child.kill('SIGTERM');
      const exit = await run.exited;
      assert.equal(exit.code, 0, exit.stderr);
      const dump = dumpOf(jsonLines(exit.stdout));
      assert.deepEqual(dump.connects, [{ key: port, value: 1 }], 'one connect to the server port');
      const bss = dump['.bss']![0]!.value as { egress_packets: number };
      assert.ok(bss.egress_packets > 0, 'the connection sent packets');
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
      server.close();
      await waitFor(() => readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim() === '', 'the cgroup to empty', 3000).catch(() => undefined);
      rmdirSync(cg);
    }
  });

  kernelTest('SIGTERM: exit 0, the map dump printed, no link of the process left', async () => {
    const run = start([EXEC, '--json']);
    try {
      assert.equal(await run.ready, 2);
      const links = processLinks(run.child.pid!);
      assert.equal(links.length, 2, `two links held by the command: ${links.join(', ')}`);
      run.child.kill('SIGTERM');
      const exit = await run.exited;
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.signal, null);
      const dump = dumpOf(jsonLines(exit.stdout));
      assert.ok(Array.isArray(dump.execs));
      assert.ok(Array.isArray(dump['.bss']));
      assertGone(links);
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  });

  kernelTest('--no-dump-maps prints no dump', async () => {
    const r = runCli(['object', 'attach', EXEC, '--for', '100ms', '--no-dump-maps', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^attached 2 programs$/m);
  });
});
