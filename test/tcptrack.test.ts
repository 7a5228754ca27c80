// tcptrack against the running kernel: real TCP connections made by child processes, on
// loopback and in a network namespace the test creates, and what tcptrack reports about them.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CLOSE_KEYS, JSON_KEYS, type EventJson } from '../src/tools/tcptrack/event.js';
import { kernelProbes, type HookProbes } from '../src/tools/tcptrack/hooks.js';
import type { TcptrackOptions } from '../src/tools/tcptrack/options.js';
import { cgroup2Root } from '../src/tools/common/cgroups.js';
import { dnsReverse } from '../src/tools/tcptrack/names.js';
import { runTcptrack, type TcptrackResult } from '../src/tools/tcptrack/run.js';
import type { Summary } from '../src/tools/tcptrack/stats.js';
import { haveFentry } from '../src/features/kernel.js';
import { kernelTest, openFds, requireCommand, requireRoot, sh, skipUnsupported, uniqueName } from './helpers/kernel.js';

const REQUEST = 1000;
const RESPONSE = 2345;

// --- child processes ------------------------------------------------------------------------

/** Listens on each host; answers RESPONSE bytes once REQUEST bytes came, then closes. */
const SERVER = `
const net = require('net');
const cfg = JSON.parse(process.argv[1]);
const ports = {};
let pending = cfg.hosts.length;
for (const host of cfg.hosts) {
  const srv = net.createServer((sock) => {
    let n = 0;
    sock.on('error', () => {});
    sock.on('data', (d) => { n += d.length; if (n >= cfg.expect) sock.end(Buffer.alloc(cfg.send, 7)); });
  });
  srv.listen({ host, port: 0 }, () => {
    ports[host] = srv.address().port;
    if (--pending === 0) process.stdout.write(JSON.stringify({ pid: process.pid, ports }) + '\\n');
  });
}
`;

/**
 * Waits for a line on stdin, then runs its steps one after the other and prints what happened.
 * exchange: sends REQUEST bytes, reads until the server closes. fail: a connect expected to fail
 * (abortAfterMs gives up on it). flood: count connects to a closed port, parallel at a time.
 */
const CLIENT = `
const net = require('net');
const steps = JSON.parse(process.argv[1]);
function exchange(s) {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: s.host, port: s.port });
    let local = {};
    let received = 0;
    c.on('connect', () => { local = { localAddress: c.localAddress, localPort: c.localPort }; c.write(Buffer.alloc(s.send, 1)); });
    c.on('data', (d) => { received += d.length; });
    c.on('error', reject);
    c.on('close', () => resolve({ op: 'exchange', ...local, received }));
  });
}
function fail(s) {
  return new Promise((resolve) => {
    const c = net.connect({ host: s.host, port: s.port });
    let timer;
    if (s.abortAfterMs) timer = setTimeout(() => { c.destroy(); resolve({ op: 'fail', error: 'aborted' }); }, s.abortAfterMs);
    c.on('connect', () => { clearTimeout(timer); c.destroy(); resolve({ op: 'fail', error: 'connected' }); });
    c.on('error', (e) => { clearTimeout(timer); resolve({ op: 'fail', error: e.code }); });
  });
}
function flood(s) {
  return new Promise((resolve) => {
    let started = 0, done = 0;
    const one = () => {
      if (started >= s.count) return;
      started++;
      const c = net.connect({ host: s.host, port: s.port });
      const end = () => { c.destroy(); done++; if (done === s.count) resolve({ op: 'flood', count: done }); else one(); };
      c.on('error', end);
      c.on('connect', end);
    };
    for (let i = 0; i < s.parallel; i++) one();
  });
}
const ops = { exchange, fail, flood };
process.stdin.once('data', async () => {
  const results = [];
  for (const s of steps) results.push(await ops[s.op](s));
  process.stdout.write(JSON.stringify({ pid: process.pid, results }) + '\\n');
  process.exit(0);
});
`;

type Step =
  | { op: 'exchange'; host: string; port: number; send: number }
  | { op: 'fail'; host: string; port: number; abortAfterMs?: number }
  | { op: 'flood'; host: string; port: number; count: number; parallel: number };

interface StepResult {
  op: string;
  localAddress?: string;
  localPort?: number;
  received?: number;
  error?: string;
  count?: number;
}

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Resolves with `p`, or rejects after `ms` saying what was awaited. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** The first line a stream writes. */
function firstLine(stream: NodeJS.ReadableStream, what: string, ms = 10_000): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (d: Buffer): void => {
        text += d.toString();
        const nl = text.indexOf('\n');
        if (nl >= 0) {
          stream.off('data', onData);
          resolve(text.slice(0, nl));
        }
      };
      stream.on('data', onData);
      stream.once('end', () => reject(new Error(`${what} ended without a line (${text})`)));
    }),
    ms,
    what,
  );
}

interface Server {
  pid: number;
  ports: Record<string, number>;
  stop(): void;
}

/** `prefix` runs it another way (in a namespace); it answers `send` bytes once `expect` came. */
async function startServer(hosts: string[], prefix: string[] = [], sizes = { expect: REQUEST, send: RESPONSE }): Promise<Server> {
  const [cmd, ...args] = [...prefix, process.execPath, '-e', SERVER, JSON.stringify({ hosts, ...sizes })];
  const child = track(spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const info = JSON.parse(await firstLine(child.stdout!, 'the server')) as { pid: number; ports: Record<string, number> };
  if (prefix.length === 0) assert.equal(info.pid, child.pid);
  return { ...info, stop: () => child.kill('SIGKILL') };
}

interface Client {
  pid: number;
  /** Lets the client run its steps; resolves with their results once it exited. */
  go(): Promise<StepResult[]>;
  stop(): void;
}

function startClient(steps: Step[], prefix: string[] = []): Client {
  const [cmd, ...args] = [...prefix, process.execPath, '-e', CLIENT, JSON.stringify(steps)];
  const child = track(spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  const out = firstLine(child.stdout!, 'the client', 60_000);
  out.catch(() => {});
  return {
    pid: child.pid!,
    async go() {
      child.stdin!.write('go\n');
      const r = JSON.parse(await out) as { pid: number; results: StepResult[] };
      assert.equal(r.pid, child.pid, 'the client runs in the spawned process');
      return r.results;
    },
    stop: () => child.kill('SIGKILL'),
  };
}

/** A TCP port nothing listens on (for now). */
async function closedPort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * A server on 127.0.0.1 and ::1 (stopped after the test), its two ports, and a port nothing
 * listens on.
 */
async function dualStack(t: TestContext): Promise<{ server: Server; port4: number; port6: number; refused: number }> {
  const server = await startServer(['127.0.0.1', '::1']);
  t.after(() => server.stop());
  return { server, port4: server.ports['127.0.0.1']!, port6: server.ports['::1']!, refused: await closedPort() };
}

// --- running tcptrack in this process -------------------------------------------------------

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function eventLines(text: string): EventJson[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{"time"'))
    .map((l) => JSON.parse(l) as EventJson);
}

function statsLine(text: string): Summary | undefined {
  const line = text.split('\n').find((l) => l.startsWith('{"stats"'));
  return line === undefined ? undefined : (JSON.parse(line) as { stats: Summary }).stats;
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

interface Traced {
  events: EventJson[];
  stats: Summary;
  stderr: string;
  result: TcptrackResult;
}

/**
 * Runs tcptrack (JSON output) in this process; once it is attached runs `during`, then waits
 * until `enough` holds for the events printed (or `waitMs` passed) and stops it as Ctrl-C would.
 */
async function traced(options: TcptrackOptions, during: () => Promise<void>, enough: (events: EventJson[]) => boolean, waitMs = 5000, probes?: HookProbes, socketSlots?: number): Promise<Traced> {
  const out = new Capture();
  const err = new Capture();
  const stop = new AbortController();
  let ready: () => void = () => {};
  const attached = new Promise<void>((resolve) => (ready = resolve));
  const run = runTcptrack({ output: 'json', top: 1000, ...options }, { stdout: out, stderr: err }, stop.signal, { onReady: () => ready(), ...(probes ? { probes } : {}), ...(socketSlots !== undefined ? { socketSlots } : {}) });
  try {
    await within(Promise.race([attached, run.then(() => Promise.reject(new Error('tcptrack stopped before it was ready')))]), 30_000, 'tcptrack to attach');
    await during();
    await waitUntil(() => enough(eventLines(out.text)), waitMs);
  } finally {
    stop.abort();
  }
  const result = await within(run, 10_000, 'tcptrack to stop');
  const stats = statsLine(out.text);
  assert.ok(stats, `a {"stats": ...} line at the end: ${out.text.slice(-300)}`);
  return { events: eventLines(out.text), stats, stderr: err.text, result };
}

function pick(events: EventJson[], where: Partial<EventJson>): EventJson[] {
  return events.filter((e) => Object.entries(where).every(([k, v]) => e[k as keyof EventJson] === v));
}

function one(events: EventJson[], where: Partial<EventJson>): EventJson {
  const found = pick(events, where);
  assert.equal(found.length, 1, `exactly one event ${JSON.stringify(where)} among ${JSON.stringify(events, null, 1)}`);
  return found[0]!;
}

/** Events about connections to these (server) ports. */
function toPorts(events: EventJson[], ports: number[]): EventJson[] {
  return events.filter((e) => ports.includes(e.dport as number));
}

function kinds(events: EventJson[]): string[] {
  return events.map((e) => `${e.event}/${e.direction}/${e.family}/${e.dport}/${e.state}`).sort();
}

// --- the tests ------------------------------------------------------------------------------

describe('tcptrack (kernel)', () => {
  // With one slot in the socket table, every socket but the one holding it has its entry in
  // the hash table behind: both ways of keeping a socket are exercised, side by side.
  for (const [label, socketSlots] of [['', undefined], [', the socket table down to one slot', 1]] as const) {
    kernelTest(`outbound IPv4 and IPv6 connects, a refused connect, accepts and closes with exact bytes${label}`, async (t) => {
      const { server, port4, port6, refused } = await dualStack(t);
      const client = startClient([
        { op: 'exchange', host: '127.0.0.1', port: port4, send: REQUEST },
        { op: 'exchange', host: '::1', port: port6, send: REQUEST },
        { op: 'fail', host: '127.0.0.1', port: refused },
      ]);
      t.after(() => client.stop());
      let results: StepResult[] = [];
      const ports = [port4, port6, refused];
      const { events: all, stats, result } = await traced(
        { accept: true, close: true },
        async () => {
          results = await client.go();
        },
        (events) => toPorts(events, ports).length >= 9,
        5000,
        undefined,
        socketSlots,
      );
      assert.equal(results[0]!.received, RESPONSE);
      assert.equal(results[1]!.received, RESPONSE);
      assert.equal(results[2]!.error, 'ECONNREFUSED');
      const events = toPorts(all, ports);

      // Exactly these connections, seen from both ends.
      assert.deepEqual(
        kinds(events),
        [
          `accept/in/4/${port4}/established`,
          `accept/in/6/${port6}/established`,
          `close/in/4/${port4}/closed`,
          `close/in/6/${port6}/closed`,
          `close/out/4/${port4}/closed`,
          `close/out/6/${port6}/closed`,
          `connect/out/4/${port4}/established`,
          `connect/out/4/${refused}/refused`,
          `connect/out/6/${port6}/established`,
        ].sort(),
      );
      for (const e of events) {
        assert.deepEqual(Object.keys(e), e.event === 'close' ? [...JSON_KEYS, ...CLOSE_KEYS] : [...JSON_KEYS], 'the documented keys, in order');
        assert.match(e.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(e.comm, 'node');
        assert.equal(e.uid, 0);
        assert.ok((e.tid as number) > 0);
        assert.equal(e.pid, e.direction === 'out' ? client.pid : server.pid, `${e.event}/${e.direction}: the ${e.direction === 'out' ? 'connecting' : 'accepting'} process`);
      }

      for (const [family, host, port, r] of [
        [4, '127.0.0.1', port4, results[0]!],
        [6, '::1', port6, results[1]!],
      ] as const) {
        const connect = one(events, { event: 'connect', family, dport: port });
        assert.equal(connect.saddr, host);
        assert.equal(connect.sport, r.localPort, 'the client socket');
        assert.equal(connect.daddr, host);
        assert.ok(typeof connect.latencyMs === 'number' && connect.latencyMs > 0 && connect.latencyMs < 1000, `latency ${connect.latencyMs}`);

        const accept = one(events, { event: 'accept', family, dport: port });
        assert.equal(accept.saddr, host, 'inbound: the source is the connecting end');
        assert.equal(accept.sport, r.localPort);
        assert.equal(accept.daddr, host);
        assert.equal(accept.latencyMs, null);

        const closeOut = one(events, { event: 'close', direction: 'out', family, dport: port });
        assert.equal(closeOut.sport, r.localPort);
        assert.equal(closeOut.txBytes, REQUEST, 'client sent');
        assert.equal(closeOut.rxBytes, RESPONSE, 'client received');
        const closeIn = one(events, { event: 'close', direction: 'in', family, dport: port });
        assert.equal(closeIn.sport, r.localPort);
        assert.equal(closeIn.txBytes, RESPONSE, 'server sent');
        assert.equal(closeIn.rxBytes, REQUEST, 'server received');
        for (const c of [closeOut, closeIn]) {
          assert.equal(c.latencyMs, null);
          assert.ok((c.durationMs as number) > 0 && (c.durationMs as number) < 10_000, `duration ${c.durationMs}`);
        }

        // In the order they happened: connect, then accept, then the closes.
        const at = (e: EventJson): number => all.indexOf(e);
        assert.ok(at(connect) < at(accept), 'the connect completes before the accept returns');
        assert.ok(at(connect) < at(closeOut) && at(accept) < at(closeIn));
        assert.ok(Date.parse(connect.time as string) <= Date.parse(closeOut.time as string));
        assert.ok(Date.parse(accept.time as string) <= Date.parse(closeIn.time as string));
      }
      const refusal = one(events, { event: 'connect', dport: refused });
      assert.equal(refusal.saddr, '127.0.0.1');
      assert.ok((refusal.sport as number) > 0, 'the source port the refused connect had');
      assert.ok(typeof refusal.latencyMs === 'number' && refusal.latencyMs > 0);

      // The statistics from conn_stats: both ends of each connection, the refusal as a failure.
      const dest = (address: string, port: number) => stats.byDestination.find((d) => d.address === address && d.port === port);
      assert.deepEqual(dest('127.0.0.1', port4), { address: '127.0.0.1', port: port4, family: 4, connections: 2, failed: 0, txBytes: REQUEST + RESPONSE, rxBytes: REQUEST + RESPONSE });
      assert.deepEqual(dest('::1', port6), { address: '::1', port: port6, family: 6, connections: 2, failed: 0, txBytes: REQUEST + RESPONSE, rxBytes: REQUEST + RESPONSE });
      assert.deepEqual(dest('127.0.0.1', refused), { address: '127.0.0.1', port: refused, family: 4, connections: 1, failed: 1, txBytes: 0, rxBytes: 0 });
      assert.equal(stats.byPort.find((p) => p.port === port4)?.connections, 2);
      assert.equal(stats.byPort.find((p) => p.port === refused)?.failed, 1);
      assert.ok(stats.connections >= 5 && stats.outbound >= 3 && stats.inbound >= 2 && stats.failed >= 1);
      assert.equal(result.reason, 'signal');
      assert.equal(result.lost, 0);
    });
  }

  kernelTest('-p keeps one process, -P some ports, -4/-6 one family', async (t) => {
    const { port4, port6, refused } = await dualStack(t);
    const steps: Step[] = [
      { op: 'exchange', host: '127.0.0.1', port: port4, send: REQUEST },
      { op: 'exchange', host: '::1', port: port6, send: REQUEST },
      { op: 'fail', host: '127.0.0.1', port: refused },
    ];
    const ports = [port4, port6, refused];

    // -p: the traced client's connections; another client's and the server's are absent.
    const wanted = startClient(steps);
    const other = startClient(steps);
    t.after(() => {
      wanted.stop();
      other.stop();
    });
    const byPid = await traced(
      { pid: wanted.pid, accept: true, close: true },
      async () => {
        await Promise.all([wanted.go(), other.go()]);
      },
      (events) => toPorts(events, ports).length >= 5,
    );
    const mine = toPorts(byPid.events, ports);
    assert.deepEqual(kinds(mine), [`close/out/4/${port4}/closed`, `close/out/6/${port6}/closed`, `connect/out/4/${port4}/established`, `connect/out/4/${refused}/refused`, `connect/out/6/${port6}/established`].sort());
    assert.ok(
      byPid.events.every((e) => e.pid === wanted.pid),
      'only the pid asked for',
    );
    // The filter runs in the kernel: the other client's connections are not even counted.
    assert.equal(byPid.stats.byDestination.find((d) => d.port === port4)?.connections, 1);

    // -P: one port.
    const c2 = startClient(steps);
    t.after(() => c2.stop());
    const byPort = await traced(
      { pid: c2.pid, ports: [port6] },
      async () => {
        await c2.go();
      },
      (events) => events.length >= 1,
      2000,
    );
    assert.deepEqual(kinds(byPort.events), [`connect/out/6/${port6}/established`]);

    // -4 and -6.
    for (const family of [4, 6] as const) {
      const c = startClient(steps);
      t.after(() => c.stop());
      const byFamily = await traced(
        { pid: c.pid, family },
        async () => {
          await c.go();
        },
        (events) => events.length >= (family === 4 ? 2 : 1),
        2000,
      );
      assert.deepEqual(
        kinds(byFamily.events),
        family === 4 ? [`connect/out/4/${port4}/established`, `connect/out/4/${refused}/refused`].sort() : [`connect/out/6/${port6}/established`],
      );
    }
  });

  kernelTest('an IPv4 peer of a dual-stack socket is IPv4, and the accepting process is the server', async (t) => {
    const server = await startServer(['::']);
    t.after(() => server.stop());
    const port = server.ports['::']!;
    const client = startClient([{ op: 'exchange', host: '127.0.0.1', port, send: REQUEST }]);
    t.after(() => client.stop());
    let results: StepResult[] = [];
    const { events } = await traced(
      { ports: [port], accept: true, family: 4 },
      async () => {
        results = await client.go();
      },
      (evs) => evs.length >= 2,
    );
    const accept = one(events, { event: 'accept' });
    assert.equal(accept.family, 4, 'v4-mapped addresses are shown as IPv4');
    assert.equal(accept.saddr, '127.0.0.1');
    assert.equal(accept.sport, results[0]!.localPort);
    assert.equal(accept.daddr, '127.0.0.1');
    assert.equal(accept.dport, port);
    assert.equal(accept.pid, server.pid);
    assert.equal(accept.comm, 'node');
    assert.equal(one(events, { event: 'connect' }).pid, client.pid);
  });

  kernelTest('raw_tp instead of tp_btf, and inbound connections without the accept tracepoints', async (t) => {
    const server = await startServer(['127.0.0.1']);
    t.after(() => server.stop());
    const port = server.ports['127.0.0.1']!;
    const client = startClient([{ op: 'exchange', host: '127.0.0.1', port, send: REQUEST }]);
    t.after(() => client.stop());
    let results: StepResult[] = [];
    const { events, result } = await traced(
      { ports: [port], accept: true, close: true },
      async () => {
        results = await client.go();
      },
      (evs) => evs.length >= 4,
      5000,
      { tpBtf: () => 'left out by the test', tracepoint: () => 'left out by the test', fexit: kernelProbes.fexit },
    );
    assert.deepEqual(result.plan.use.slice(0, 1), ['stateRaw']);
    assert.ok(!result.plan.use.includes('accept4') && !result.plan.use.includes('accept'));
    assert.deepEqual(kinds(events), [`accept/in/4/${port}/established`, `close/in/4/${port}/closed`, `close/out/4/${port}/closed`, `connect/out/4/${port}/established`].sort());
    const accept = one(events, { event: 'accept' });
    assert.deepEqual([accept.pid, accept.tid, accept.comm, accept.sport], [0, 0, '?', results[0]!.localPort], 'no task to name without the accept tracepoints');
    assert.equal(one(events, { event: 'close', direction: 'in' }).comm, '?');
    const connect = one(events, { event: 'connect' });
    assert.equal(connect.pid, client.pid);
    assert.equal(one(events, { event: 'close', direction: 'out' }).txBytes, REQUEST);
    assert.equal(one(events, { event: 'close', direction: 'in' }).txBytes, RESPONSE);
  });

  kernelTest('--cgroup keeps the tasks of one cgroup v2 directory', async (t) => {
    const server = await startServer(['127.0.0.1']);
    t.after(() => server.stop());
    const port = server.ports['127.0.0.1']!;
    const dir = join(cgroup2Root(), uniqueName('tcptrack', 40));
    mkdirSync(dir);
    const inside = startClient([{ op: 'exchange', host: '127.0.0.1', port, send: REQUEST }]);
    const outside = startClient([{ op: 'exchange', host: '127.0.0.1', port, send: REQUEST }]);
    t.after(() => {
      inside.stop();
      outside.stop();
    });
    t.after(async () => {
      // The cgroup can go once the killed client has left it.
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    writeFileSync(join(dir, 'cgroup.procs'), String(inside.pid));
    const { events } = await traced(
      { cgroup: dir, ports: [port] },
      async () => {
        await Promise.all([inside.go(), outside.go()]);
      },
      (evs) => evs.length >= 1,
      2000,
    );
    assert.deepEqual(
      events.map((e) => e.pid),
      [inside.pid],
    );
  });

  kernelTest('timeout and failed: a SYN nobody answers, and a connect given up on', async (t) => {
    if (!requireCommand(t, 'nft', 'nftables')) return;
    // A namespace whose loopback drops SYNs to ports 8 and 9 on input: nobody answers them.
    const ns = uniqueName('tcptrackns', 30);
    sh('ip', ['netns', 'add', ns]);
    t.after(() => sh('ip', ['netns', 'del', ns], { allowFail: true }));
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
      input: 'table inet blackhole {\n chain input {\n type filter hook input priority 0;\n tcp dport { 8, 9 } drop\n }\n}\n',
    });
    // One retransmission: ETIMEDOUT after about 3 s instead of 2 minutes.
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.tcp_syn_retries=1']);
    const client = startClient(
      [
        { op: 'fail', host: '127.0.0.1', port: 8, abortAfterMs: 200 },
        { op: 'fail', host: '127.0.0.1', port: 9 },
      ],
      ['ip', 'netns', 'exec', ns],
    );
    t.after(() => client.stop());
    let results: StepResult[] = [];
    const { events, stats } = await traced(
      { pid: client.pid },
      async () => {
        results = await within(client.go(), 30_000, 'the connects to fail');
      },
      (evs) => evs.length >= 2,
    );
    assert.deepEqual(
      results.map((r) => r.error),
      ['aborted', 'ETIMEDOUT'],
    );
    const aborted = one(events, { dport: 8 });
    assert.equal(aborted.state, 'failed');
    assert.ok((aborted.latencyMs as number) >= 150, `latency ${aborted.latencyMs}`);
    const timedOut = one(events, { dport: 9 });
    assert.equal(timedOut.state, 'timeout');
    assert.equal(timedOut.daddr, '127.0.0.1');
    assert.equal(timedOut.pid, client.pid);
    assert.ok((timedOut.latencyMs as number) >= 2000, `a SYN and one retransmission: ${timedOut.latencyMs} ms`);
    assert.equal(stats.byDestination.filter((d) => d.port === 8 || d.port === 9).reduce((n, d) => n + d.failed, 0), 2);
  });

  kernelTest('with fexit: a connect that fails before sending a SYN (no route) is reported', async (t) => {
    if (!haveFentry()) {
      skipUnsupported(t, 'fentry/fexit (BPF trampolines over ftrace), which the tcp_v4_connect exit hook needs');
      return;
    }
    // A namespace with nothing but loopback: no route to 192.0.2.1, the connect fails in tcp_v4_connect.
    const ns = uniqueName('tcptrackns', 30);
    sh('ip', ['netns', 'add', ns]);
    t.after(() => sh('ip', ['netns', 'del', ns], { allowFail: true }));
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const client = startClient([{ op: 'fail', host: '192.0.2.1', port: 80 }], ['ip', 'netns', 'exec', ns]);
    t.after(() => client.stop());
    let results: StepResult[] = [];
    const { events, result } = await traced(
      { pid: client.pid },
      async () => {
        results = await client.go();
      },
      (evs) => evs.length >= 1,
    );
    assert.ok(result.plan.use.includes('connect4'), 'the fexit hooks are in use where fentry works');
    assert.equal(results[0]!.error, 'ENETUNREACH');
    const e = one(events, { dport: 80 });
    assert.deepEqual([e.state, e.daddr, e.pid, e.comm], ['failed', '192.0.2.1', client.pid, 'node']);
  });

  kernelTest('a full ring buffer: events lost are counted and reported, statistics stay complete', async (t) => {
    const port = await closedPort();
    const COUNT = 3000;
    const client = startClient([{ op: 'flood', host: '127.0.0.1', port, count: COUNT, parallel: 64 }]);
    t.after(() => client.stop());
    // A stdout that never drains: the reader pauses and the kernel has to drop once the
    // (small, 64 KiB: about 540 records) ring is full.
    const stuck = new Writable({ highWaterMark: 1, write() {} });
    const err = new Capture();
    const stop = new AbortController();
    let ready: () => void = () => {};
    const attached = new Promise<void>((resolve) => (ready = resolve));
    const run = runTcptrack({ pid: client.pid, output: 'json' }, { stdout: stuck, stderr: err }, stop.signal, { onReady: () => ready(), lostIntervalMs: 100, ringBytes: 64 * 1024 });
    try {
      await within(attached, 30_000, 'tcptrack to attach');
      const [r] = await within(client.go(), 60_000, 'the flood');
      assert.equal(r!.count, COUNT);
    } finally {
      stop.abort();
    }
    const result = await within(run, 10_000, 'tcptrack to stop');
    assert.ok(result.lost > 0, `some of ${COUNT} events lost (printed ${result.events})`);
    assert.ok(result.events + result.lost <= COUNT);
    assert.match(err.text, /^tcptrack: \d+ events lost$/m);
    const reported = [...err.text.matchAll(/^tcptrack: (\d+) events lost$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(reported, result.lost, 'every lost event reported on stderr');
    assert.equal(result.summary.lost, result.lost);
    const dest = result.summary.byDestination.find((d) => d.port === port);
    assert.equal(dest?.connections, COUNT, 'conn_stats counts what the ring buffer dropped');
    assert.equal(dest?.failed, COUNT);
  });

  kernelTest('--netns keeps the sockets of one network namespace; every event names its namespace and task uid', async (t) => {
    const ns = uniqueName('tcptrackns', 30);
    sh('ip', ['netns', 'add', ns]);
    t.after(() => sh('ip', ['netns', 'del', ns], { allowFail: true }));
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const inode = statSync(`/run/netns/${ns}`).ino;
    const hostInode = statSync('/proc/self/ns/net').ino;
    assert.notEqual(inode, hostInode);
    const inNs = ['ip', 'netns', 'exec', ns];
    // 127.0.0.1 in both namespaces: only the namespace tells them apart.
    const nsServer = await startServer(['127.0.0.1'], inNs);
    t.after(() => nsServer.stop());
    const { server: hostServer, port4: hostPort } = await dualStack(t);
    const nsPort = nsServer.ports['127.0.0.1']!;
    const run = async (netns: string | undefined): Promise<EventJson[]> => {
      const clients = [
        startClient([{ op: 'exchange', host: '127.0.0.1', port: nsPort, send: REQUEST }], [...inNs, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']),
        startClient([{ op: 'exchange', host: '127.0.0.1', port: hostPort, send: REQUEST }]),
      ];
      for (const c of clients) t.after(() => c.stop());
      const ports = [nsPort, hostPort];
      const { events } = await traced(
        { accept: true, close: true, ...(netns === undefined ? {} : { netns }) },
        async () => {
          for (const c of clients) assert.equal((await c.go())[0]!.received, RESPONSE);
        },
        (evs) => toPorts(evs, ports).length >= (netns === undefined ? 8 : 4),
      );
      return toPorts(events, ports);
    };

    // Unfiltered: both namespaces, each event with its own.
    const all = await run(undefined);
    assert.deepEqual(kinds(all.filter((e) => e.netns === inode)), [`accept/in/4/${nsPort}/established`, `close/in/4/${nsPort}/closed`, `close/out/4/${nsPort}/closed`, `connect/out/4/${nsPort}/established`].sort());
    assert.deepEqual(kinds(all.filter((e) => e.netns === hostInode)), [`accept/in/4/${hostPort}/established`, `close/in/4/${hostPort}/closed`, `close/out/4/${hostPort}/closed`, `connect/out/4/${hostPort}/established`].sort());
    // The uid of the task: the client in the namespace runs as 65534, the servers as root.
    assert.equal(one(all, { netns: inode, event: 'connect' }).uid, 65534);
    assert.equal(one(all, { netns: inode, event: 'accept' }).uid, 0);
    assert.equal(one(all, { netns: hostInode, event: 'accept' }).pid, hostServer.pid);

    // By name, by path and by inode number: only the namespace's connections, in the kernel.
    for (const netns of [ns, `/run/netns/${ns}`, String(inode)]) {
      const only = await run(netns);
      assert.deepEqual(kinds(only), [`accept/in/4/${nsPort}/established`, `close/in/4/${nsPort}/closed`, `close/out/4/${nsPort}/closed`, `connect/out/4/${nsPort}/established`].sort(), netns);
      assert.ok(only.every((e) => e.netns === inode));
    }
  });

  kernelTest('-o life: a row per closed connection, with its bytes in KiB, as tcplife', async (t) => {
    const sizes = { expect: 100_000, send: 300_000 };
    const server = await startServer(['127.0.0.1'], [], sizes);
    t.after(() => server.stop());
    const port = server.ports['127.0.0.1']!;
    const client = startClient([{ op: 'exchange', host: '127.0.0.1', port, send: sizes.expect }], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    t.after(() => client.stop());
    const out = new Capture();
    const stop = new AbortController();
    let ready: () => void = () => {};
    const attached = new Promise<void>((resolve) => (ready = resolve));
    const run = runTcptrack({ output: 'life', accept: true, ports: [port] }, { stdout: out, stderr: new Capture() }, stop.signal, { onReady: () => ready() });
    try {
      await within(attached, 30_000, 'tcptrack to attach');
      assert.equal((await client.go())[0]!.received, sizes.send);
      await waitUntil(() => out.text.split('\n').length >= 4, 5000);
    } finally {
      stop.abort();
    }
    const result = await within(run, 10_000, 'tcptrack to stop');
    const lines = out.text.split('\n');
    assert.match(lines[0]!, /^TIME\s+PID\s+UID COMM\s+LADDR\s+LPORT RADDR\s+RPORT TX_KB RX_KB\s+MS$/);
    const rows = lines.filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
    // Two rows, both ends of the one connection; its connect and accept only counted.
    assert.equal(rows.length, 2, out.text);
    assert.equal(result.events, 2);
    assert.equal(result.summary.connections, 2);
    const field = (row: string): string[] => row.trim().split(/\s+/);
    const outbound = rows.map(field).find((f) => f[7] === String(port))!;
    const inbound = rows.map(field).find((f) => f[5] === String(port))!;
    // TIME PID UID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS
    assert.deepEqual(outbound.slice(1, 5), [String(client.pid), '65534', 'node', '127.0.0.1']);
    assert.deepEqual(outbound.slice(8, 10), [String(Math.floor(100_000 / 1024)), String(Math.floor(300_000 / 1024))]);
    assert.deepEqual(inbound.slice(1, 3), [String(server.pid), '0']);
    assert.deepEqual(inbound.slice(8, 10), [String(Math.floor(300_000 / 1024)), String(Math.floor(100_000 / 1024))]);
    for (const f of [outbound, inbound]) assert.match(f[10]!, /^\d+\.\d\d$/);
    assert.match(out.text, /Connection Statistics/);
  });

  kernelTest('-d: the remote end by its name, from a reverse lookup that does not hold up the trace', async (t) => {
    const { port4 } = await dualStack(t);
    // What the resolver says of 127.0.0.1 here (/etc/hosts), or the address if nothing.
    const expected = (await dnsReverse()('127.0.0.1').catch(() => []))[0] ?? '127.0.0.1';
    const client = startClient([{ op: 'exchange', host: '127.0.0.1', port: port4, send: REQUEST }]);
    t.after(() => client.stop());
    const out = new Capture();
    let going: Promise<StepResult[]> | undefined;
    const result = await within(
      runTcptrack({ dns: true, ports: [port4], maxEvents: 1 }, { stdout: out, stderr: new Capture() }, undefined, { onReady: () => (going = client.go()) }),
      30_000,
      'tcptrack -d -n 1',
    );
    assert.equal(result.reason, 'count');
    // The client finishes before the test ends (and stops it).
    assert.equal((await within(going!, 30_000, 'the client'))[0]!.received, RESPONSE);
    const row = out.text.split('\n').find((l) => / established$/.test(l));
    assert.ok(row, out.text);
    // TIME PID UID COMM LADDR LPORT RADDR RPORT LAT(ms) STATE
    assert.deepEqual(row.trim().split(/\s+/).slice(6, 8), [expected, String(port4)]);
  });

  kernelTest('-c on a terminal says that it counts; the box starts on a line of its own', async () => {
    const tty = Object.assign(new Capture(), { isTTY: true, columns: 80 });
    const err = new Capture();
    const result = await within(runTcptrack({ countOnly: true, durationMs: 300, ports: [1] }, { stdout: tty, stderr: err }), 30_000, 'tcptrack -c -t 300ms');
    assert.equal(result.reason, 'duration');
    assert.equal(err.text, 'tcptrack: counting TCP connections for 300ms; Ctrl-C to stop\n');
    // After the ^C the terminal echoes, not on its line.
    assert.match(tty.text, /^\n╔═+ Connection Statistics ═+╗\n/);
    // Not on a pipe: stderr stays quiet there.
    const piped = new Capture();
    await within(runTcptrack({ countOnly: true, durationMs: 300, ports: [1] }, { stdout: new Capture(), stderr: piped }), 30_000, 'tcptrack -c to a pipe');
    assert.equal(piped.text, '');
  });

  kernelTest('stopping detaches everything: no descriptors are left behind', async () => {
    const quiet = async (): Promise<void> => {
      await traced(
        { accept: true, close: true, ports: [1] },
        async () => {},
        () => true,
        0,
      );
    };
    await quiet();
    const before = openFds();
    await quiet();
    await quiet();
    assert.equal(openFds(), before);
  });
});

// --- the command line, as a child process ---------------------------------------------------

const here = fileURLToPath(import.meta.url);
const fromDist = here.includes(`${join('dist', 'test')}`);
const root = join(here, '..', fromDist ? '../..' : '..');
const source = (rel: string): string => pathToFileURL(join(root, fromDist ? 'dist' : '', `${rel}${fromDist ? '.js' : '.ts'}`)).href;

/** Runs `tsbpf tcptrack` through main() once the command is registered there, else the command itself. */
const RUNNER = `
const [{ COMMANDS, main }, { command }, { UsageError }] = await Promise.all([import(${JSON.stringify(source('src/cli/main'))}), import(${JSON.stringify(source('src/tools/tcptrack/cli'))}), import(${JSON.stringify(source('src/cli/framework/index'))})]);
const args = process.argv.slice(1);
if (COMMANDS.some((c) => c.name === 'tcptrack')) process.exitCode = await main(['tcptrack', ...args]);
else {
  try {
    process.exitCode = await command.run(args, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
  } catch (err) {
    const usage = err instanceof UsageError;
    process.stderr.write('tsbpf ' + err.message.split('\\n')[0] + (usage ? '' : ' [' + err.code + ']') + '\\n');
    process.exitCode = usage ? 2 : 1;
  }
}
`;

interface Cli {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves once stderr has a line matching `re`; fails after `ms` or when the process ended first. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  exit: Promise<number | null>;
}

function cli(args: string[], options: { uid?: number } = {}): Cli {
  const nodeArgs = fromDist ? [] : ['--import', 'tsx'];
  const child = track(spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', RUNNER, '--', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...options }));
  let exited = false;
  const r: Cli = {
    child,
    stdout: '',
    stderr: '',
    async waitFor(re, ms = 30_000) {
      await waitUntil(() => re.test(r.stderr) || exited, ms);
      assert.match(r.stderr, re, exited ? `tcptrack exited early: ${r.stderr}` : `nothing matching ${re} within ${ms} ms: ${r.stderr}`);
    },
    exit: new Promise((resolve) =>
      child.once('exit', (code) => {
        exited = true;
        resolve(code);
      }),
    ),
  };
  child.stdout!.on('data', (d: Buffer) => (r.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (r.stderr += d.toString()));
  return r;
}

function withoutNoise(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('npm warn'));
}

function missingPid(): number {
  for (let pid = 4_000_000; ; pid++) {
    try {
      process.kill(pid, 0);
    } catch {
      return pid;
    }
  }
}

describe('tsbpf tcptrack (command line)', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    kernelTest(`${sig} detaches, prints the statistics and exits 0`, async (t) => {
      const server = await startServer(['127.0.0.1']);
      t.after(() => server.stop());
      const port = server.ports['127.0.0.1']!;
      const client = startClient([{ op: 'exchange', host: '127.0.0.1', port, send: REQUEST }]);
      t.after(() => client.stop());
      const run = cli(['-j', '-v', '--accept', '--close', '-P', String(port)]);
      t.after(() => run.child.kill('SIGKILL'));
      await run.waitFor(/^tcptrack: ready/m);
      assert.match(run.stderr, /^tcptrack: hooks: (tp_btf|raw_tp)\/inet_sock_set_state/m, '--verbose names the hooks');
      await client.go();
      assert.ok(await waitUntil(() => eventLines(run.stdout).length >= 4, 5000), run.stdout);
      run.child.kill(sig);
      assert.equal(await within(run.exit, 10_000, 'tcptrack to exit'), 0, run.stderr);
      const events = eventLines(run.stdout);
      assert.deepEqual(kinds(events), [`accept/in/4/${port}/established`, `close/in/4/${port}/closed`, `close/out/4/${port}/closed`, `connect/out/4/${port}/established`].sort());
      const stats = statsLine(run.stdout);
      assert.equal(stats?.byPort.find((p) => p.port === port)?.connections, 2);
      assert.equal(run.stdout.trim().split('\n').at(-1)!.startsWith('{"stats"'), true, 'the statistics come last');
    });
  }

  kernelTest('-c -t: statistics only, then exit 0 at the end of the duration', async (t) => {
    const server = await startServer(['127.0.0.1']);
    t.after(() => server.stop());
    const port = server.ports['127.0.0.1']!;
    const client = startClient([
      { op: 'exchange', host: '127.0.0.1', port, send: REQUEST },
      { op: 'exchange', host: '127.0.0.1', port, send: REQUEST },
    ]);
    t.after(() => client.stop());
    const run = cli(['-c', '-t', '3s', '-j', '-v', '--accept', '-P', String(port)]);
    t.after(() => run.child.kill('SIGKILL'));
    await run.waitFor(/^tcptrack: ready/m);
    await client.go();
    assert.equal(await within(run.exit, 15_000, 'tcptrack to stop after 3s'), 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `only the statistics: ${run.stdout}`);
    const stats = statsLine(run.stdout)!;
    assert.deepEqual({ connections: stats.connections, outbound: stats.outbound, inbound: stats.inbound, failed: stats.failed }, { connections: 4, outbound: 2, inbound: 2, failed: 0 });
  });

  kernelTest('-n: stops after that many events; the table by default', async (t) => {
    const server = await startServer(['127.0.0.1']);
    t.after(() => server.stop());
    const port = server.ports['127.0.0.1']!;
    const client = startClient([
      { op: 'exchange', host: '127.0.0.1', port, send: REQUEST },
      { op: 'exchange', host: '127.0.0.1', port, send: REQUEST },
    ]);
    t.after(() => client.stop());
    const run = cli(['-n', '2', '-v', '-P', String(port), '-p', String(client.pid)]);
    t.after(() => run.child.kill('SIGKILL'));
    await run.waitFor(/^tcptrack: ready/m);
    await client.go();
    assert.equal(await within(run.exit, 10_000, 'tcptrack to stop after 2 events'), 0, run.stderr);
    const lines = run.stdout.split('\n');
    // stdout is a pipe: the fixed layout, whatever the terminal.
    assert.match(lines[0]!, /^TIME\s+PID\s+UID COMM\s+LADDR\s+LPORT RADDR\s+RPORT\s+LAT\(ms\) STATE$/);
    const rows = lines.filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.match(row, new RegExp(`^\\S+\\s+${client.pid}\\s+0 node\\s+127\\.0\\.0\\.1\\s+\\d+\\s+127\\.0\\.0\\.1\\s+${port}\\s+\\d+\\.\\d{3} established$`));
    }
    assert.match(run.stdout, /Connection Statistics/);
  });

  kernelTest('on an 80-column terminal (a pty) no row wraps', async (t) => {
    const { port6, refused } = await dualStack(t);
    const dir = mkdtempSync(join(tmpdir(), 'tcptrack-pty-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The runner as a file: `script` takes one shell command line.
    const runner = join(dir, 'runner.mjs');
    writeFileSync(runner, RUNNER.replace('process.argv.slice(1)', 'process.argv.slice(2)'));
    const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
    const nodeArgs = fromDist ? [] : ['--import', 'tsx'];
    const line = ['stty cols 80 rows 24; exec', ...[process.execPath, ...nodeArgs, runner, '--accept', '--close', '-n', '5', '-P', `${port6},${refused}`].map(quote)].join(' ');
    const child = track(spawn('script', ['-qfec', line, '/dev/null'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    t.after(() => child.kill('SIGKILL'));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.ok(await waitUntil(() => /STATE/.test(text), 30_000), `the header: ${text}`);
    const client = startClient([
      { op: 'exchange', host: '::1', port: port6, send: REQUEST },
      { op: 'fail', host: '127.0.0.1', port: refused },
    ]);
    t.after(() => client.stop());
    await client.go();
    assert.equal(await within(exit, 15_000, 'tcptrack to stop after 5 events'), 0, text);
    const lines = text.split(/\r?\n/);
    for (const l of lines) assert.ok(l.length <= 80, `${l.length} characters: ${l}`);
    assert.match(lines[0]!, /^ +PID COMM +LPORT RADDR +RPORT STATE$/);
    const rows = lines.filter((l) => / node /.test(l));
    assert.equal(rows.length, 5, text);
    assert.match(rows.find((r) => r.includes('closed (in)'))!, new RegExp(` ${port6} +::1 +\\d+ +closed \\(in\\) \\d+ms 2\\.3K/1\\.0K$`));
    assert.ok(rows.some((r) => new RegExp(`127\\.0\\.0\\.1 +${refused} +refused$`).test(r)), text);
  });

  test('bad input: one line on stderr, exit 1 (2 for usage errors)', async (t) => {
    const cases: Array<[string[], number, RegExp]> = [
      [['-p', String(missingPid())], 1, /no process with pid \d+/],
      [['-P', '80,http'], 2, /invalid port 'http'/],
      [['-P', Array.from({ length: 17 }, (_, i) => String(1000 + i)).join(',')], 2, /at most 16 ports/],
      [['-4', '-6'], 2, /-4 and -6/],
      [['--cgroup', '/sys/fs/cgroup/no-such-cgroup-here'], 1, /no such cgroup/],
      [['-o', 'xml'], 2, /unknown format 'xml'/],
      [['--bogus'], 2, /bogus/],
      // Negative numbers are values to refuse, not options; no timer longer than 2^31-1 ms.
      [['-t', '-5'], 2, /-t '-5' must be positive$/],
      [['-t=-5'], 2, /-t '-5' must be positive$/],
      [['-n', '-1'], 2, /-n '-1' must be positive$/],
      [['-t', '720h'], 2, /-t '720h' is too long/],
      [['--netns', 'no-such-netns-here'], 1, /no network namespace 'no-such-netns-here' in \/run\/netns/],
      [['--life', '-j'], 2, /--json and --life contradict each other/],
    ];
    for (const [args, code, re] of cases) {
      const run = cli(args);
      assert.equal(await within(run.exit, 30_000, `tcptrack ${args.join(' ')}`), code, `${args.join(' ')}: ${run.stderr}`);
      const lines = withoutNoise(run.stderr).filter((l) => !l.startsWith('see tsbpf'));
      assert.equal(lines.length, 1, `one line: ${run.stderr}`);
      assert.match(lines[0]!, re);
      // Usage errors and failures alike name the command.
      assert.match(lines[0]!, /^tsbpf tcptrack: /);
      assert.equal(run.stdout, '');
    }
    if (!requireRoot(t)) return;
    const unprivileged = cli(['-t', '1s'], { uid: 65534 });
    assert.equal(await within(unprivileged.exit, 30_000, 'tcptrack as nobody'), 1, unprivileged.stderr);
    const lines = withoutNoise(unprivileged.stderr);
    assert.equal(lines.length, 1, unprivileged.stderr);
    assert.match(lines[0]!, /needs root/);
  });
});

