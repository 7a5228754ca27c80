// tsbpf observe against the running kernel: real servers (python3 -m http.server, dnsmasq) in a
// network namespace the test creates, reached over a veth pair from this process, and the flows
// observe reports on the pair's host end.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe } from 'node:test';
import { decodeRecord, RECORD, type Flow, type FlowItem } from '../src/tools/observe/flow.js';
import { openDatapath, SNAP_MAX } from '../src/tools/observe/datapath.js';
import { cgroup2Root } from '../src/tools/observe/context.js';
import { FlowSource } from '../src/tools/observe/source.js';
import { RingBufReader } from '../src/index.js';
import { parseObserveArgs, type ObserveOptions } from '../src/tools/observe/options.js';
import { runObserve, type ObserveResult } from '../src/tools/observe/run.js';
import { allIds, getFdById } from '../src/sys/attrs.js';
import { linkInfo } from '../src/sys/linkinfo.js';
import { progInfo } from '../src/sys/info.js';
import { Cmd } from '../src/sys/types.js';
import { createVethPair, isRoot, kernelTest, requireCommand, sh, uniqueName, type VethPair } from './helpers/kernel.js';
import { runCli } from './helpers/cli.js';
import { httpGet } from './helpers/observe.js';

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(c: Buffer | string, _e, done) {
      chunks.push(c.toString());
      done();
    },
  }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

interface Observation {
  items: FlowItem[];
  flows(): Flow[];
  output(): string;
  /** Waits until `done` holds for the flows seen (5 s at most), then stops observing. */
  stop(done?: (flows: Flow[]) => boolean): Promise<ObserveResult>;
}

/** Starts observing with `tsbpf observe ARGS`; resolves once everything is attached. */
async function observe(args: string[], hooks: { lostIntervalMs?: number } = {}): Promise<Observation> {
  const options = parseObserveArgs(['-f', ...args]) as ObserveOptions;
  const out = sink();
  const items: FlowItem[] = [];
  const controller = new AbortController();
  let ready: () => void = () => {};
  let failed: (e: unknown) => void = () => {};
  const attached = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const running = runObserve(options, { stdout: out, stderr: sink() }, controller.signal, { onReady: () => ready(), onItem: (i) => items.push(i), ...hooks });
  running.catch(failed);
  await attached;
  const flows = (): Flow[] => items.flatMap((i) => ('flow' in i ? [i.flow] : []));
  return {
    items,
    flows,
    output: () => out.text(),
    async stop(done = () => true) {
      const until = Date.now() + 5000;
      while (!done(flows()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      return running;
    },
  };
}

function waitForPort(netns: string, addr: string, port: number): void {
  const until = Date.now() + 10_000;
  for (;;) {
    const ss = sh('ip', ['netns', 'exec', netns, 'ss', '-ltnH']);
    if (ss.includes(`:${port} `)) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${addr}:${port} in ${netns}`);
    execFileSync('sleep', ['0.1']);
  }
}

const tcp = (f: Flow) => f.l4?.TCP;
const has = (f: Flow, ...flags: string[]): boolean => flags.every((x) => (tcp(f)?.flags as Record<string, boolean> | undefined)?.[x] === true);

/** The ids of links whose program is one of observe's. */
function observeLinks(): number[] {
  const out: number[] = [];
  for (const id of allIds(Cmd.LINK_GET_NEXT_ID)) {
    try {
      const fd = getFdById(Cmd.LINK_GET_FD_BY_ID, id);
      try {
        const prog = getFdById(Cmd.PROG_GET_FD_BY_ID, linkInfo(fd.value).progId);
        try {
          if (progInfo(prog.value).name.startsWith('observe_')) out.push(id);
        } finally {
          prog.close();
        }
      } finally {
        fd.close();
      }
    } catch {
      // Gone since listed.
    }
  }
  return out;
}

describe('observe', { concurrency: false }, () => {
  let pair: VethPair | undefined;
  let server: ChildProcess | undefined;
  const port = 18000 + (process.pid % 1000);

  before(() => {
    if (!isRoot()) return;
    pair = createVethPair('ob');
    // One server for both families: python's http.server on the IPv6 wildcard takes IPv4 too.
    server = spawn('ip', ['netns', 'exec', pair.netns, 'python3', '-m', 'http.server', String(port), '--bind', '::'], { stdio: 'ignore' });
    waitForPort(pair.netns, '::', port);
  });

  after(() => {
    server?.kill();
    pair?.remove();
  });

  for (const family of [4, 6] as const) {
    kernelTest(`a TCP connection to an HTTP server over IPv${family}: SYN, SYN-ACK (a reply), ACK, and the HTTP request and response`, async (t) => {
      if (!requireCommand(t, 'python3', 'python3')) return;
      const p = pair!;
      const peer = family === 4 ? p.peerAddr : p.peerAddr6;
      const o = await observe(['--iface', p.host, '--port', String(port)]);
      const res = await httpGet(peer, port, '/missing-page');
      assert.equal(res.status, 404);
      await o.stop((fs) => fs.some((f) => f.l7?.type === 'RESPONSE'));
      const conn = o.flows().filter((f) => tcp(f)?.source_port === res.localPort || tcp(f)?.destination_port === res.localPort);
      const l3 = conn.filter((f) => f.Type === 'L3_L4');
      const syn = l3.findIndex((f) => has(f, 'SYN') && !has(f, 'ACK'));
      const synAck = l3.findIndex((f) => has(f, 'SYN', 'ACK'));
      const ack = l3.findIndex((f, i) => i > synAck && has(f, 'ACK') && !has(f, 'SYN') && f.is_reply === false);
      assert.ok(syn >= 0 && synAck > syn && ack > synAck, `SYN, SYN-ACK, ACK in order:\n${o.output()}`);
      const local = family === 4 ? p.hostAddr : p.hostAddr6;
      assert.deepEqual(l3[syn]!.IP, { source: local, destination: peer, ipVersion: family === 4 ? 'IPv4' : 'IPv6' });
      assert.deepEqual(tcp(l3[syn]!), { source_port: res.localPort, destination_port: port, flags: { SYN: true } });
      assert.equal(l3[syn]!.is_reply, false);
      assert.equal(l3[syn]!.traffic_direction, 'EGRESS');
      assert.equal(l3[syn]!.interface?.name, p.host);
      // This process made the socket: the datapath says so.
      assert.equal(l3[syn]!.source?.pid, process.pid);
      assert.deepEqual(l3[synAck]!.IP, { source: peer, destination: local, ipVersion: family === 4 ? 'IPv4' : 'IPv6' });
      assert.deepEqual(tcp(l3[synAck]!), { source_port: port, destination_port: res.localPort, flags: { SYN: true, ACK: true } });
      assert.equal(l3[synAck]!.is_reply, true);
      assert.equal(l3[synAck]!.traffic_direction, 'INGRESS');
      const l7 = conn.filter((f) => f.Type === 'L7');
      const req = l7.find((f) => f.l7?.type === 'REQUEST');
      const resp = l7.find((f) => f.l7?.type === 'RESPONSE');
      const url = `http://${family === 4 ? peer : `[${peer}]`}:${port}/missing-page`;
      assert.deepEqual(req?.l7?.http, { method: 'GET', url, protocol: 'HTTP/1.1' });
      assert.equal(req?.Summary, `HTTP/1.1 GET ${url}`);
      assert.equal(resp?.l7?.http?.code, 404);
      assert.equal(resp?.l7?.http?.method, 'GET');
      assert.equal(resp?.is_reply, true);
      assert.ok(Number(resp?.l7?.latency_ns) > 0);
      assert.match(resp?.Summary ?? '', new RegExp(`^HTTP/1\\.0 404 \\d+ms \\(GET ${url.replace(/[[\]]/g, '\\$&')}\\)$`));
      assert.match(o.output(), /http-request FORWARDED \(HTTP\/1\.1 GET /);
    });
  }

  /** Three HTTP requests on one keep-alive connection from the namespace; the flows seen. */
  async function keepAlive(p: VethPair, args: string[], done: (fs: Flow[]) => boolean): Promise<{ flows: Flow[]; output: string; url: (i: number) => string }> {
    const srv = createHttpServer({ keepAlive: true }, (_req, res) => res.end('ok\n'));
    await new Promise<void>((resolve) => srv.listen(0, p.hostAddr, resolve));
    const listening = (srv.address() as { port: number }).port;
    try {
      const o = await observe(['--iface', p.host, '--port', String(listening), ...args]);
      const client = ['import http.client', `c = http.client.HTTPConnection('${p.hostAddr}', ${listening}, timeout=5)`, 'for i in range(3):', "    c.request('GET', f'/r{i}')", '    c.getresponse().read()', 'c.close()'].join('\n');
      // Not execFileSync: this process's event loop answers the requests.
      await promisify(execFile)('ip', ['netns', 'exec', p.netns, 'python3', '-c', client]);
      await o.stop(done);
      return { flows: o.flows(), output: o.output(), url: (i) => `http://${p.hostAddr}:${listening}/r${i}` };
    } finally {
      srv.close();
    }
  }

  kernelTest('requests on one connection under monitor aggregation: each shows as its L7 flow, PSH once per side', async (t) => {
    if (!requireCommand(t, 'python3', 'python3')) return;
    const seen = await keepAlive(pair!, [], (fs) => fs.filter((f) => f.l7?.type === 'RESPONSE').length >= 3);
    const l7 = seen.flows.filter((f) => f.Type === 'L7');
    assert.deepEqual(l7.filter((f) => f.l7?.type === 'REQUEST').map((f) => f.l7?.http?.url), [0, 1, 2].map(seen.url), seen.output);
    assert.deepEqual(l7.filter((f) => f.l7?.type === 'RESPONSE').map((f) => f.l7?.http?.code), [200, 200, 200]);
    // The packets that carried them show as flows of their own only where Cilium's "medium"
    // makes a trace event: the first PSH from each side.
    const psh = seen.flows.filter((f) => f.Type === 'L3_L4' && has(f, 'PSH'));
    assert.deepEqual(psh.map((f) => f.traffic_direction).sort(), ['EGRESS', 'INGRESS'], seen.output);
  });

  kernelTest('--snap-len 0: no L7, and turns make no flows of their own, as Cilium\'s "medium"', async (t) => {
    if (!requireCommand(t, 'python3', 'python3')) return;
    const seen = await keepAlive(pair!, ['--snap-len', '0'], (fs) => fs.filter((f) => has(f, 'FIN')).length >= 2);
    assert.deepEqual(seen.flows.filter((f) => f.Type === 'L7'), []);
    const psh = seen.flows.filter((f) => has(f, 'PSH'));
    assert.deepEqual(psh.map((f) => f.traffic_direction).sort(), ['EGRESS', 'INGRESS'], seen.output);
  });

  for (const aggregation of ['medium', 'none'] as const) {
    kernelTest(`HTTP on loopback (--monitor-aggregation ${aggregation}): the request and the response once each`, async () => {
      const srv = createHttpServer((_req, res) => res.end('ok\n'));
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      const listening = (srv.address() as { port: number }).port;
      try {
        const o = await observe(['--iface', 'lo', '--port', String(listening), '--monitor-aggregation', aggregation]);
        const res = await httpGet('127.0.0.1', listening, '/lo');
        assert.equal(res.status, 200);
        await o.stop((fs) => fs.some((f) => f.l7?.type === 'RESPONSE') && fs.filter((f) => has(f, 'FIN')).length >= 2);
        const l7 = o.flows().filter((f) => f.Type === 'L7');
        assert.deepEqual(l7.map((f) => [f.l7?.type, f.l7?.http?.url]), [['REQUEST', `http://127.0.0.1:${listening}/lo`], ['RESPONSE', `http://127.0.0.1:${listening}/lo`]], o.output());
      } finally {
        srv.close();
      }
    });
  }

  kernelTest('a listener made before observe started is named by its process', async () => {
    const p = pair!;
    const srv = createServer((s) => s.end());
    await new Promise<void>((resolve) => srv.listen(0, p.hostAddr, resolve));
    const listening = (srv.address() as { port: number }).port;
    try {
      const o = await observe(['--iface', p.host, '--port', String(listening)]);
      sh('ip', ['netns', 'exec', p.netns, 'python3', '-c', `import socket\ns = socket.create_connection(('${p.hostAddr}', ${listening}), 2)\ns.close()`]);
      await o.stop((fs) => fs.some((f) => has(f, 'SYN', 'ACK')));
      const synAck = o.flows().find((f) => has(f, 'SYN', 'ACK'));
      assert.equal(synAck?.source?.pid, process.pid, o.output());
      assert.equal(synAck?.source?.comm, readFileSync('/proc/self/comm', 'utf8').trim());
      assert.equal(synAck?.is_reply, true);
    } finally {
      srv.close();
    }
  });

  kernelTest('a DNS query to dnsmasq shows the name, the answer and the rcode', async (t) => {
    if (!requireCommand(t, 'dnsmasq', 'dnsmasq-base')) return;
    const p = pair!;
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-observe-'));
    const dns = spawn('ip', ['netns', 'exec', p.netns, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${p.peerAddr}`, '--address=/web.observe.test/192.0.2.80', '--local=/observe.test/', `--pid-file=${join(dir, 'pid')}`, '--port=53'], { stdio: 'ignore' });
    try {
      const until = Date.now() + 10_000;
      while (!sh('ip', ['netns', 'exec', p.netns, 'ss', '-lunH']).includes(`${p.peerAddr}:53 `)) {
        if (Date.now() > until) throw new Error('dnsmasq did not start');
        execFileSync('sleep', ['0.1']);
      }
      const o = await observe(['--iface', p.host, '--protocol', 'dns']);
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([p.peerAddr]);
      assert.deepEqual(await resolver.resolve4('web.observe.test'), ['192.0.2.80']);
      await assert.rejects(resolver.resolve4('gone.observe.test'), { code: 'ENOTFOUND' });
      await o.stop((fs) => fs.filter((f) => f.l7?.type === 'RESPONSE').length >= 2);
      const l7 = o.flows().filter((f) => f.Type === 'L7');
      const q = l7.find((f) => f.l7?.type === 'REQUEST' && f.l7.dns?.query === 'web.observe.test.');
      assert.equal(q?.Summary, 'DNS Query web.observe.test. A');
      const a = l7.find((f) => f.l7?.type === 'RESPONSE' && f.l7.dns?.query === 'web.observe.test.');
      assert.deepEqual(a?.l7?.dns?.ips, ['192.0.2.80']);
      assert.equal(a?.l7?.dns?.rcode, undefined);
      assert.ok(Number(a?.l7?.latency_ns) > 0);
      const nx = l7.find((f) => f.l7?.type === 'RESPONSE' && f.l7.dns?.query === 'gone.observe.test.');
      assert.equal(nx?.l7?.dns?.rcode, 3);
      assert.match(nx?.Summary ?? '', /^DNS Answer RCode: Non-Existent Domain/);
      // --protocol dns shows DNS flows only.
      assert.ok(o.flows().every((f) => f.Type === 'L7' && f.l7?.dns !== undefined), o.output());
    } finally {
      dns.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('a packet dropped by an nftables rule and one to a closed port show as DROPPED with their reasons', async (t) => {
    if (!requireCommand(t, 'nft', 'nftables')) return;
    const p = pair!;
    const table = uniqueName('obsdrop', 30);
    const blocked = port + 1;
    const closed = port + 2;
    sh('nft', ['-f', '-'], { input: `table inet ${table} {\n chain input {\n  type filter hook input priority 0;\n  iifname "${p.host}" tcp dport ${blocked} drop\n }\n}\n` });
    try {
      const o = await observe(['--iface', p.host, '--verdict', 'DROPPED']);
      // From the namespace towards this one, where the rule and the closed port are.
      sh('ip', ['netns', 'exec', p.netns, 'python3', '-c', `import socket\nfor port in (${blocked}, ${closed}):\n  s = socket.socket(); s.settimeout(0.3)\n  try: s.connect(('${p.hostAddr}', port))\n  except Exception: pass\n  s.close()`]);
      await o.stop((fs) => fs.some((f) => tcp(f)?.destination_port === blocked) && fs.some((f) => tcp(f)?.destination_port === closed));
      const nft = o.flows().find((f) => tcp(f)?.destination_port === blocked);
      assert.equal(nft?.verdict, 'DROPPED');
      assert.equal(nft?.drop_reason_desc, 'NETFILTER_DROP');
      assert.deepEqual(tcp(nft!)?.flags, { SYN: true });
      assert.equal(nft?.IP.source, p.peerAddr);
      assert.equal(nft?.interface?.name, p.host);
      const refused = o.flows().find((f) => tcp(f)?.destination_port === closed);
      assert.equal(refused?.drop_reason_desc, 'NO_SOCKET');
      assert.match(o.output(), new RegExp(`-> ${p.hostAddr.replace(/\./g, '\\.')}:${blocked} NETFILTER_DROP DROPPED \\(TCP Flags: SYN\\)`));
      assert.ok(o.flows().every((f) => f.verdict === 'DROPPED'));
    } finally {
      sh('nft', ['delete', 'table', 'inet', table], { allowFail: true });
    }
  });

  kernelTest('a packet dropped by tsbpf xdp-filter shows as DROPPED with the rule that matched', async () => {
    const p = pair!;
    const target = port + 4;
    const load = runCli(['xdp-filter', 'load', p.host, '--mode', 'native', '--no-ssh-guard']);
    assert.equal(load.status, 0, load.stderr);
    try {
      const port = runCli(['xdp-filter', 'port', String(target), '--proto', 'udp', '--iface', p.host]);
      assert.equal(port.status, 0, port.stderr);
      const o = await observe(['--iface', p.host, '--verdict', 'DROPPED', '--protocol', 'udp']);
      sh('ip', ['netns', 'exec', p.netns, 'python3', '-c', `import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('${p.hostAddr}', ${target}))`]);
      // veth runs native XDP on an skb and frees it as NOT_SPECIFIED: kfree_skb sees it too.
      const isXdp = (f: Flow) => f.l4?.UDP?.destination_port === target && f.ingress_denied_by !== undefined;
      await o.stop((fs) => fs.some(isXdp));
      const drop = o.flows().find(isXdp);
      assert.equal(drop?.verdict, 'DROPPED');
      assert.equal(drop?.drop_reason_desc, 'POLICY_DENIED');
      assert.deepEqual(drop?.ingress_denied_by, [{ name: `dst ${target}/udp`, kind: 'XdpFilter' }]);
      assert.equal(drop?.IP.source, p.peerAddr);
      assert.equal(drop?.interface?.name, p.host);
      assert.match(o.output(), new RegExp(`:${target} POLICY_DENIED DROPPED \\(UDP; xdp-filter rule: deny dst ${target}/udp\\)`));
    } finally {
      runCli(['xdp-filter', 'unload', p.host]);
    }
  });

  kernelTest('a record is as long as its payload needs, in steps, and carries all of it', async () => {
    const p = pair!;
    const target = port + 4;
    const dp = await openDatapath({ interfaces: [p.host], filter: { protocols: 2, ports: new Map([[target, 2]]) }, snapLen: SNAP_MAX, drops: false, aggregation: 'none', cgroupRoot: cgroup2Root() });
    const reader = new RingBufReader(dp.object.collection.maps.events!);
    try {
      const sizes = [1, 64, 65, 128, 129, 256, 257, 400];
      const socket = createSocket('udp4');
      for (const n of sizes) await new Promise<void>((resolve, reject) => socket.send(Buffer.alloc(n, n & 0xff), target, p.peerAddr, (err) => (err ? reject(err) : resolve())));
      socket.close();
      const got: Array<[number, number, boolean]> = [];
      const until = Date.now() + 5000;
      while (got.length < sizes.length && Date.now() < until) {
        reader.drainRaw((data, at, length) => {
          const r = decodeRecord(data, at, 0n);
          got.push([r.payload.length, length, r.payload.every((b) => b === (r.payload.length & 0xff))]);
        });
        await new Promise((r) => setTimeout(r, 20));
      }
      const step = (n: number): number => (n <= 64 ? 64 : n <= 128 ? 128 : n <= 256 ? 256 : SNAP_MAX);
      assert.deepEqual(got, sizes.map((n) => [n, RECORD.head + step(n), true]));
    } finally {
      reader.close();
      dp.close();
    }
  });

  kernelTest('the ring wakes observe only when it fills past an eighth; the rest waits for a drain', async () => {
    const p = pair!;
    const target = port + 5;
    const items: FlowItem[] = [];
    // 64 KiB: an eighth is 8 KiB, about 38 records of a one-byte datagram.
    const source = await FlowSource.open({ interfaces: [p.host], filter: { protocols: 2, ports: new Map([[target, 2]]) }, snapLen: 256, drops: false, aggregation: 'none', ringBytes: 65536 }, (i) => items.push(i));
    const socket = createSocket('udp4');
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await new Promise<void>((resolve, reject) => socket.send(Buffer.from('x'), target, p.peerAddr, (err) => (err ? reject(err) : resolve())));
    };
    const flows = (): number => items.filter((i) => 'flow' in i).length;
    try {
      // Past the reader's first look at the ring, made when it starts.
      await new Promise((r) => setTimeout(r, 100));
      await send(5);
      // No drain: five records leave the ring only when asked.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(flows(), 0);
      source.drain();
      assert.equal(flows(), 5);
      await send(100);
      const until = Date.now() + 5000;
      while (flows() < 40 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.ok(flows() >= 40, `the ring past an eighth woke the reader: ${flows()} flows`);
      source.drain();
      assert.equal(flows(), 105);
    } finally {
      socket.close();
      source.close();
    }
  });

  kernelTest('a flood larger than the ring: flows read and lost add up to the packets sent', async (t) => {
    if (!requireCommand(t, 'python3', 'python3')) return;
    const p = pair!;
    const target = port + 3;
    const sent = 3000;
    const o = await observe(['--iface', p.host, '--no-drops', '--monitor-aggregation', 'none', '--protocol', 'udp', '--to-port', String(target), '--ring-size', '8', '-o', 'json'], { lostIntervalMs: 50 });
    // Sent while this process waits (the ring is not read meanwhile), so most cannot fit.
    sh('ip', ['netns', 'exec', p.netns, 'python3', '-c', `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${sent}): s.sendto(b'x', ('${p.hostAddr}', ${target}))`]);
    const result = await o.stop(() => false);
    const seen = o.flows().filter((f) => f.l4?.UDP?.destination_port === target).length;
    const lostItems = o.items.flatMap((i) => ('lost_events' in i ? [Number(i.lost_events.num_events_lost)] : []));
    assert.ok(result.lost > 0, 'the ring overflowed');
    assert.equal(seen + result.lost, sent, `${seen} read + ${result.lost} lost`);
    assert.equal(lostItems.reduce((a, b) => a + b, 0), result.lost);
    assert.match(o.output(), /"lost_events":\{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"\d+"\}/);
  });

  kernelTest('--input-file replays what -o json wrote, through the same filters', async () => {
    const p = pair!;
    const o = await observe(['--iface', p.host, '-o', 'json']);
    for (const host of [p.peerAddr, p.peerAddr6]) await httpGet(host, port, '/');
    await o.stop((fs) => fs.filter((f) => f.l7?.type === 'RESPONSE').length >= 2);
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-observe-'));
    try {
      const file = join(dir, 'flows.json');
      writeFileSync(file, o.output());
      const all = runCli(['observe', '--input-file', file, '-o', 'json']);
      assert.equal(all.status, 0, all.stderr);
      assert.equal(all.stdout, o.output());
      const filters = ['-6', '--tcp-flags', 'SYN', '--not', '--reply'];
      const replayed = runCli(['observe', '--input-file', file, ...filters, '-o', 'json']);
      assert.equal(replayed.status, 0, replayed.stderr);
      const lines = replayed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { flow: Flow }).flow);
      assert.ok(lines.length >= 1);
      assert.ok(lines.every((f) => f.IP.ipVersion === 'IPv6' && f.l4?.TCP?.flags?.SYN === true && f.is_reply === false), replayed.stdout);
      const compact = runCli(['observe', '--input-file', file, '--protocol', 'http', '--last', '1']);
      assert.equal(compact.status, 0, compact.stderr);
      assert.match(compact.stdout, /^\w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3}: .+ <- .+ http-response FORWARDED \(HTTP\/1\.0 200 \d+ms \(GET http:\/\/\S+\/\)\)\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('--netns observes inside a network namespace', async (t) => {
    if (!requireCommand(t, 'nsenter', 'util-linux')) return;
    const p = pair!;
    const child = spawn(process.execPath, [...(await import('./helpers/cli.js')).cliArgv(['observe', '--netns', p.netns, '--iface', p.peer, '--first', '1', '--protocol', 'tcp', '--to-port', String(port), '-o', 'json'])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      // Until it is attached, connections go unseen: try until one is.
      const until = Date.now() + 20_000;
      while (out === '' && Date.now() < until) {
        await new Promise<void>((resolve) => {
          const s = createConnection({ host: p.peerAddr, port }, () => s.end());
          s.on('close', () => resolve());
          s.on('error', () => resolve());
        });
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(await exited, 0);
      const flow = (JSON.parse(out.trim().split('\n')[0]!) as { flow: Flow }).flow;
      assert.equal(flow.interface?.name, p.peer);
      assert.equal(flow.traffic_direction, 'INGRESS');
      assert.equal(tcp(flow)?.destination_port, port);
    } finally {
      child.kill();
    }
  });

  kernelTest('bad input: one line, a non-zero exit, nothing left attached', () => {
    const before = observeLinks();
    const cases: Array<[string[], number, RegExp]> = [
      [['observe', '--iface', 'no-such-if0', '--first', '1'], 1, /^tsbpf observe: .*no-such-if0.*\n$/],
      [['observe', '--ip', '10.0.0.0/33'], 2, /^tsbpf observe: invalid prefix length in '10\.0\.0\.0\/33'/],
      [['observe', '--ip', 'not-an-ip'], 2, /^tsbpf observe: invalid IP address or CIDR 'not-an-ip'/],
      [['observe', '--port', '70000'], 2, /^tsbpf observe: invalid port '70000'/],
      [['observe', '--http-path', '(unclosed'], 2, /^tsbpf observe: --http-path: invalid regular expression '\(unclosed'/],
      [['observe', '--protocol', 'sctp'], 2, /^tsbpf observe: unknown protocol 'sctp'/],
      [['observe', '--not'], 2, /^tsbpf observe: --not must come before a filter flag/],
      [['observe', '--input-file', '/nonexistent/flows.json'], 1, /^tsbpf observe: cannot read \/nonexistent\/flows\.json: .*\[ENOENT\]\n$/],
      [['observe', '--netns', 'no-such-netns-x'], 1, /^tsbpf observe: no network namespace 'no-such-netns-x'/],
    ];
    for (const [args, status, stderr] of cases) {
      const r = runCli(args, { timeoutMs: 20_000 });
      assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, stderr, args.join(' '));
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(observeLinks().filter((id) => !before.includes(id)), []);
  });
});
