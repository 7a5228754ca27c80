// tsbpf observe serve: Hubble's Observer gRPC API, asked by a client built from the proto, over
// real traffic to a server in a network namespace the test creates.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ObserveServer } from '../src/tools/observe/server.js';
import { protoDir } from '../src/tools/observe/grpc.js';
import { createVethPair, isRoot, kernelTest, sh, type VethPair } from './helpers/kernel.js';
import { spawnCli } from './helpers/cli.js';
import { httpGet } from './helpers/observe.js';

// biome-ignore lint/suspicious/noExplicitAny: decoded messages, whose fields the asserts check one by one
type Msg = Record<string, any>;
type Client = grpc.Client & {
  GetFlows(req: Msg): grpc.ClientReadableStream<Msg>;
  ServerStatus(req: Msg, cb: (e: grpc.ServiceError | null, r: Msg) => void): void;
  GetNodes(req: Msg, cb: (e: grpc.ServiceError | null, r: Msg) => void): void;
  GetAgentEvents(req: Msg): grpc.ClientReadableStream<Msg>;
};

/** A client made the way any Hubble client is: from the .proto files alone. */
function client(address: string): Client {
  const def = protoLoader.loadSync(join(protoDir(), 'observer.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoDir()] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { observer: { Observer: new (a: string, c: grpc.ChannelCredentials) => Client } };
  return new pkg.observer.Observer(address, grpc.credentials.createInsecure());
}

function collect(call: grpc.ClientReadableStream<Msg>): Promise<Msg[]> {
  const out: Msg[] = [];
  return new Promise((resolve, reject) => {
    call.on('data', (m: Msg) => out.push(m));
    call.on('end', () => resolve(out));
    call.on('error', reject);
  });
}

const unary = (fn: (req: Msg, cb: (e: grpc.ServiceError | null, r: Msg) => void) => void, req: Msg = {}): Promise<Msg> =>
  new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r))));

/** The command line, run while this process serves (a synchronous run would block the server). */
function runCli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const child = spawnCli(args);
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr })));
}

describe('observe serve', { concurrency: false }, () => {
  let pair: VethPair | undefined;
  let web: ChildProcess | undefined;
  let server: ObserveServer | undefined;
  let dir = '';
  let unix = '';
  let tcp = '';
  const port = 19000 + (process.pid % 1000);

  before(async () => {
    if (!isRoot()) return;
    pair = createVethPair('og');
    web = spawn('ip', ['netns', 'exec', pair.netns, 'python3', '-m', 'http.server', String(port), '--bind', '::'], { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    while (!sh('ip', ['netns', 'exec', pair.netns, 'ss', '-ltnH']).includes(`:${port} `)) {
      if (Date.now() > until) throw new Error('http.server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-observe-grpc-'));
    server = new ObserveServer({ listen: [`unix:${join(dir, 'observe.sock')}`, '127.0.0.1:0'], bufferSize: 100, version: 'tsbpf test', interfaces: [pair.host], filter: {}, snapLen: 256, drops: false, aggregation: 'none' });
    [unix = '', tcp = ''] = await server.start();
  });

  after(() => {
    server?.close();
    web?.kill();
    pair?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  kernelTest('GetFlows from a client built from the proto: the flows of a real connection, filtered in the server', async () => {
    const p = pair!;
    assert.equal((await httpGet(p.peerAddr6, port)).status, 200);
    const c = client(unix);
    try {
      // The server drains the kernel's ring every 25 ms: asked until the response is in.
      const until = Date.now() + 5000;
      while ((await collect(c.GetFlows({ number: 1, whitelist: [{ protocol: ['http'], reply: [true] }] }))).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      const flows = (await collect(c.GetFlows({ number: 50, whitelist: [{ destination_port: [String(port)], tcp_flags: [{ SYN: true }] }] }))).map((m) => m.flow);
      assert.equal(flows.length, 1, JSON.stringify(flows));
      const f = flows[0]!;
      assert.equal(f.verdict, 'FORWARDED');
      assert.equal(f.Type, 'L3_L4');
      assert.deepEqual({ source: f.IP.source, destination: f.IP.destination, ipVersion: f.IP.ipVersion }, { source: p.hostAddr6, destination: p.peerAddr6, ipVersion: 'IPv6' });
      assert.equal(f.l4.TCP.destination_port, port);
      assert.equal(f.l4.TCP.flags.SYN, true);
      assert.equal(f.l4.TCP.flags.ACK, false);
      assert.deepEqual(f.is_reply, { value: false });
      assert.equal(f.traffic_direction, 'EGRESS');
      assert.deepEqual(f.interface, { index: p.ifindex, name: p.host });
      assert.ok(f.source.labels.includes(`tsbpf:pid=${process.pid}`));
      // The L7 response, and the blacklist.
      const http = (await collect(c.GetFlows({ number: 50, whitelist: [{ protocol: ['http'] }], blacklist: [{ http_method: ['GET'], reply: [false] }] }))).map((m) => m.flow);
      assert.equal(http.length, 1);
      assert.equal(http[0]!.l7.type, 'RESPONSE');
      assert.equal(http[0]!.l7.http.code, 200);
      assert.ok(Number(http[0]!.l7.latency_ns) > 0);
      const status = await unary(c.ServerStatus.bind(c));
      assert.equal(status.max_flows, '100');
      assert.ok(Number(status.num_flows) > 0 && Number(status.seen_flows) >= Number(status.num_flows));
      assert.equal(status.version, 'tsbpf test');
      const nodes = await unary(c.GetNodes.bind(c));
      assert.equal(nodes.nodes.length, 1);
    } finally {
      c.close();
    }
  });

  kernelTest('a second server on the same socket is refused, and attaches nothing', async () => {
    const second = new ObserveServer({ listen: [unix], bufferSize: 10, version: 'x', interfaces: [pair!.host], filter: {}, snapLen: 0, drops: false, aggregation: 'medium' });
    await assert.rejects(second.start(), { code: 'EADDRINUSE' });
    const c = client(unix);
    try {
      assert.equal((await unary(c.ServerStatus.bind(c))).version, 'tsbpf test');
    } finally {
      c.close();
    }
  });

  kernelTest('unimplemented methods and bad filters get a gRPC status with a message', async () => {
    const c = client(tcp);
    try {
      await assert.rejects(collect(c.GetAgentEvents({})), (e: grpc.ServiceError) => e.code === grpc.status.UNIMPLEMENTED && /GetAgentEvents/.test(e.details));
      await assert.rejects(collect(c.GetFlows({ whitelist: [{ source_ip: ['10.0.0.0/40'] }] })), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /invalid prefix length/.test(e.details));
    } finally {
      c.close();
    }
  });

  kernelTest('the server survives clients that disconnect mid-stream, and -f clients see new flows', async () => {
    const p = pair!;
    for (let i = 0; i < 5; i++) {
      const c = client(unix);
      const call = c.GetFlows({ follow: true, number: 100 });
      call.on('error', () => {});
      await new Promise<void>((resolve) => call.once('data', () => resolve()));
      call.cancel();
      c.close();
    }
    const c = client(tcp);
    try {
      const call = c.GetFlows({ follow: true, number: 0, whitelist: [{ destination_port: [String(port)], tcp_flags: [{ SYN: true }] }] });
      const seen = new Promise<Msg>((resolve) => call.on('data', (m: Msg) => resolve(m)));
      call.on('error', () => {});
      // The server sends its headers once the follower is in place: what follows is seen.
      await new Promise((resolve) => call.once('metadata', resolve));
      await httpGet(p.peerAddr, port);

      const m = await seen;
      assert.equal(m.flow.IP.destination, p.peerAddr);
      call.cancel();
      const status = await unary(c.ServerStatus.bind(c));
      assert.ok(Number(status.seen_flows) > 0);
    } finally {
      c.close();
    }
    // The command line as a client of the server.
    const r = await runCli(['observe', '--server', unix, '--last', '2', '--protocol', 'http', '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { flow: { Type: string; l7: { type: string } } });
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.flow.Type === 'L7'));
    const s = await runCli(['observe', 'status', '--server', tcp]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /^Healthcheck \(via .*\): Ok\nCurrent\/Max Flows: \d+\/100\n/);
    const refused = await runCli(['observe', 'status', '--server', `unix:${join(dir, 'none.sock')}`]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^tsbpf observe: .*none\.sock.*\n$/);
  });
});
