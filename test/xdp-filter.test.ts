// xdp-filter against real traffic: a veth pair into a namespace the test creates, UDP, TCP and
// ICMP sent from the peer, each command a separate `tsbpf` process acting on the pinned state.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { allIds } from '../src/sys/attrs.js';
import { linkInfo } from '../src/sys/info.js';
import { getFdById } from '../src/sys/attrs.js';
import { Cmd } from '../src/sys/types.js';
import { runCli, spawnCli, type CliResult } from './helpers/cli.js';
import { createVethPair, isRoot, sh, toolSkip, type VethPair } from './helpers/kernel.js';

const PIN_ROOT = '/sys/fs/bpf/tsbpf/xdp-filter';

function cli(args: string[], input?: string): CliResult {
  return runCli(['xdp-filter', ...args], input === undefined ? {} : { input });
}

function ok(args: string[]): string {
  const r = cli(args);
  assert.equal(r.status, 0, `tsbpf xdp-filter ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

interface Status {
  interfaces: Array<{ name: string; mode: string; policy: string; programId: number }>;
  stats: { total: number; passed: number; dropped: number; invalid: number; bytesDropped: number };
  rules: Array<{ rule: string; direction: string; hits: number }>;
}

function status(): Status {
  return JSON.parse(ok(['status', '--json'])) as Status;
}

function hits(rule: string): number {
  return status().rules.find((r) => r.rule === rule)?.hits ?? -1;
}

/** Sends `count` UDP datagrams from inside the namespace, from `src` to `dst:port`. */
function udpScript(src: string, dst: string, port: number, count: number, gapMs: number): string {
  const family = dst.includes(':') ? 'udp6' : 'udp4';
  return `
    const s = require('node:dgram').createSocket('${family}');
    s.bind({ address: '${src}' }, async () => {
      for (let i = 0; i < ${count}; i++) {
        await new Promise((r, j) => s.send(Buffer.from('p' + i), ${port}, '${dst}', (e) => (e ? j(e) : r())));
        if (${gapMs}) await new Promise((r) => setTimeout(r, ${gapMs}));
      }
      s.close();
    });`;
}

function sendUdp(netns: string, src: string, dst: string, port: number, count: number): void {
  sh('ip', ['netns', 'exec', netns, process.execPath, '-e', udpScript(src, dst, port, count, 0)]);
}

/** The same, in the background, with a gap between datagrams. */
function sendUdpPaced(netns: string, src: string, dst: string, port: number, count: number, gapMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', udpScript(src, dst, port, count, gapMs)], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited with ${code}`))));
  });
}

/** A UDP receiver in the root namespace counting datagrams. */
async function udpReceiver(addr: string, port: number): Promise<{ count(): number; close(): void }> {
  const sock = createSocket(addr.includes(':') ? 'udp6' : 'udp4');
  let n = 0;
  sock.on('message', () => n++);
  await new Promise<void>((resolve) => sock.bind(port, addr, resolve));
  return { count: () => n, close: () => sock.close() };
}

/** Lets in-flight datagrams reach the receiver. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

/** Whether a TCP connect from the namespace to dst:port succeeds within 1.5 s. */
function tcpConnects(netns: string, src: string, dst: string, port: number): boolean {
  const script = `
    const c = require('node:net').connect({ host: '${dst}', port: ${port}, localAddress: '${src}' });
    const t = setTimeout(() => { c.destroy(); process.exit(3); }, 1500);
    c.on('connect', () => { clearTimeout(t); c.end(); process.exit(0); });
    c.on('error', () => process.exit(4));`;
  try {
    sh('ip', ['netns', 'exec', netns, process.execPath, '-e', script]);
    return true;
  } catch {
    return false;
  }
}

describe('xdp-filter on a veth pair', { skip: !isRoot() && process.env.CI !== 'true' ? 'needs root (CAP_BPF, CAP_NET_ADMIN)' : false }, () => {
  let v: VethPair;
  let peer2: string;
  let cidrPeer: string;
  let prefix: string;
  let tcp: Server;
  const TCP_PORT = 47001;

  before(async () => {
    v = createVethPair('xf');
    const base = v.peerAddr.split('.').slice(0, 3).join('.');
    peer2 = `${base}.3`;
    cidrPeer = `${base}.130`;
    prefix = `${base}.128/25`;
    sh('ip', ['netns', 'exec', v.netns, 'ip', 'addr', 'add', `${peer2}/24`, 'dev', v.peer]);
    sh('ip', ['netns', 'exec', v.netns, 'ip', 'addr', 'add', `${cidrPeer}/24`, 'dev', v.peer]);
    // Permanent neighbour entries: no ARP or neighbour discovery, so counts are exact.
    const hostMac = sh('cat', [`/sys/class/net/${v.host}/address`]).trim();
    const peerMac = sh('ip', ['netns', 'exec', v.netns, 'cat', `/sys/class/net/${v.peer}/address`]).trim();
    for (const a of [v.peerAddr, peer2, cidrPeer]) sh('ip', ['neigh', 'replace', a, 'lladdr', peerMac, 'dev', v.host, 'nud', 'permanent']);
    sh('ip', ['-6', 'neigh', 'replace', v.peerAddr6, 'lladdr', peerMac, 'dev', v.host, 'nud', 'permanent']);
    sh('ip', ['netns', 'exec', v.netns, 'ip', 'neigh', 'replace', v.hostAddr, 'lladdr', hostMac, 'dev', v.peer, 'nud', 'permanent']);
    sh('ip', ['netns', 'exec', v.netns, 'ip', '-6', 'neigh', 'replace', v.hostAddr6, 'lladdr', hostMac, 'dev', v.peer, 'nud', 'permanent']);
    tcp = createServer((s) => s.end());
    await new Promise<void>((r) => tcp.listen(TCP_PORT, v.hostAddr, r));
  });

  after(() => {
    cli(['unload', v.host]);
    tcp?.close();
    v?.remove();
  });

  test('load attaches in native mode and reports status', () => {
    ok(['load', v.host, '--mode', 'native']);
    const s = status();
    const me = s.interfaces.find((i) => i.name === v.host);
    assert.ok(me, 'interface listed');
    assert.equal(me.mode, 'native');
    assert.equal(me.policy, 'deny');
    assert.ok(me.programId > 0);
    assert.match(sh('ip', ['link', 'show', v.host]), /xdp/);
    const again = cli(['load', v.host]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already loaded/);
  });

  test('a blocked IPv4 address is dropped and counted exactly; others pass', async () => {
    const rx = await udpReceiver(v.hostAddr, 47010);
    try {
      ok(['block', v.peerAddr]);
      sendUdp(v.netns, v.peerAddr, v.hostAddr, 47010, 20);
      await settle();
      assert.equal(rx.count(), 0);
      assert.equal(hits(`${v.peerAddr}/32`), 20);
      sendUdp(v.netns, peer2, v.hostAddr, 47010, 10);
      await settle();
      assert.equal(rx.count(), 10);
      const s = status();
      assert.equal(s.stats.dropped, 20);
      // The peer's own IPv6 link-local chatter (MLD, router solicitations) passes too.
      assert.ok(s.stats.passed >= 10);
      assert.equal(s.stats.total, s.stats.passed + s.stats.dropped);
      assert.ok(s.stats.bytesDropped >= 20 * 42);
    } finally {
      rx.close();
    }
  });

  test('a CIDR prefix drops every address inside it', async () => {
    const rx = await udpReceiver(v.hostAddr, 47011);
    try {
      const r = cli(['block', prefix.replace(/\.128\//, '.131/')]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(prefix.replace(/\./g, '\\.')));
      sendUdp(v.netns, cidrPeer, v.hostAddr, 47011, 15);
      await settle();
      assert.equal(rx.count(), 0);
      assert.equal(hits(prefix), 15);
    } finally {
      rx.close();
    }
  });

  test('a blocked IPv6 address is dropped and counted exactly', async () => {
    const rx = await udpReceiver(v.hostAddr6, 47012);
    try {
      sendUdp(v.netns, v.peerAddr6, v.hostAddr6, 47012, 3);
      await settle();
      assert.equal(rx.count(), 3, 'IPv6 passes before the rule');
      ok(['block', v.peerAddr6]);
      sendUdp(v.netns, v.peerAddr6, v.hostAddr6, 47012, 12);
      await settle();
      assert.equal(rx.count(), 3);
      assert.equal(hits(`${v.peerAddr6}/128`), 12);
    } finally {
      rx.close();
    }
  });

  test('TCP from a blocked source cannot connect; from another it can', () => {
    assert.equal(tcpConnects(v.netns, peer2, v.hostAddr, TCP_PORT), true);
    const before = hits(`${v.peerAddr}/32`);
    assert.equal(tcpConnects(v.netns, v.peerAddr, v.hostAddr, TCP_PORT), false);
    assert.ok(hits(`${v.peerAddr}/32`) > before, 'the SYNs were counted');
  });

  test('ICMP echo from a blocked source is dropped', { skip: toolSkip('ping', 'iputils-ping') }, () => {
    const before = hits(`${v.peerAddr}/32`);
    const out = sh('ip', ['netns', 'exec', v.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '-I', v.peerAddr, v.hostAddr], { allowFail: true });
    assert.doesNotMatch(out, / 0% packet loss/);
    assert.equal(hits(`${v.peerAddr}/32`), before + 3);
    const okPing = sh('ip', ['netns', 'exec', v.netns, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '-I', peer2, v.hostAddr]);
    assert.match(okPing, / 0% packet loss/);
  });

  test('a port rule drops only that destination port', async () => {
    const a = await udpReceiver(v.hostAddr, 47020);
    const b = await udpReceiver(v.hostAddr, 47021);
    try {
      ok(['port', '47020', '--proto', 'udp']);
      sendUdp(v.netns, peer2, v.hostAddr, 47020, 5);
      sendUdp(v.netns, peer2, v.hostAddr, 47021, 5);
      await settle();
      assert.equal(a.count(), 0);
      assert.equal(b.count(), 5);
      assert.equal(hits('47020/udp'), 5);
      ok(['port', '47020', '--proto', 'udp', '--remove']);
      sendUdp(v.netns, peer2, v.hostAddr, 47020, 2);
      await settle();
      assert.equal(a.count(), 2);
    } finally {
      a.close();
      b.close();
    }
  });

  test('a rule added while traffic flows takes effect at once', async () => {
    const rx = await udpReceiver(v.hostAddr, 47030);
    try {
      const sender = sendUdpPaced(v.netns, peer2, v.hostAddr, 47030, 300, 5);
      await new Promise((r) => setTimeout(r, 500));
      ok(['block', peer2]);
      await sender;
      await settle();
      const dropped = hits(`${peer2}/32`);
      assert.ok(dropped > 0, 'some packets were dropped after the rule');
      assert.ok(rx.count() > 0, 'some packets passed before the rule');
      assert.equal(rx.count() + dropped, 300);
      ok(['unblock', peer2]);
    } finally {
      rx.close();
    }
  });

  test('state persists across processes and list shows every rule', () => {
    const list = JSON.parse(ok(['list', '--json'])) as { rules: Array<{ rule: string; direction: string; interface: string }> };
    const rules = list.rules.filter((r) => r.interface === v.host).map((r) => r.rule).sort();
    assert.deepEqual(rules, [`${v.peerAddr}/32`, `${v.peerAddr6}/128`, prefix].sort());
  });

  test('bad input is refused with state untouched', () => {
    const before = status().rules;
    for (const [args, code] of [
      [['block', '10.0.0.300'], 2],
      [['block', '10.0.0.0/40'], 2],
      [['port', '70000'], 2],
      [['port', '80', '--proto', 'icmp'], 2],
      [['unblock', '192.0.2.99'], 1],
      [['block', '192.0.2.1', '--iface', 'nosuchif0'], 1],
      [['load', 'nosuchif0'], 1],
      [['unload', 'nosuchif0'], 1],
      [['frobnicate'], 2],
    ] as const) {
      const r = cli([...args]);
      assert.equal(r.status, code, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n')[0]?.startsWith('tsbpf'), true, r.stderr);
    }
    assert.deepEqual(status().rules, before);
  });

  test('unload --keep-rules keeps rules for the next load', () => {
    ok(['unload', v.host, '--keep-rules']);
    assert.doesNotMatch(sh('ip', ['link', 'show', v.host]), /prog\/xdp/);
    ok(['load', v.host, '--mode', 'generic']);
    const s = status();
    assert.equal(s.interfaces.find((i) => i.name === v.host)?.mode, 'generic');
    assert.ok(s.rules.some((r) => r.rule === `${v.peerAddr}/32`));
  });

  test('the allow-list policy drops everything but the listed sources', async () => {
    ok(['unload', v.host]);
    ok(['load', v.host, '--policy', 'allow', '--no-ssh-guard']);
    ok(['block', peer2]);
    const rx = await udpReceiver(v.hostAddr, 47040);
    try {
      sendUdp(v.netns, peer2, v.hostAddr, 47040, 6);
      sendUdp(v.netns, v.peerAddr, v.hostAddr, 47040, 4);
      await settle();
      assert.equal(rx.count(), 6);
      const s = status();
      assert.equal(s.interfaces[0]?.policy, 'allow');
      assert.equal(s.stats.dropped, 4);
      assert.equal(hits(`${peer2}/32`), 6);
    } finally {
      rx.close();
    }
  });

  test('unload leaves nothing pinned or attached', () => {
    const ifindex = v.ifindex;
    ok(['unload', v.host]);
    assert.equal(existsSync(`${PIN_ROOT}/${v.host}`), false);
    if (existsSync(PIN_ROOT)) assert.equal(readdirSync(PIN_ROOT).includes(v.host), false);
    assert.doesNotMatch(sh('ip', ['link', 'show', v.host]), /xdp/);
    for (const id of allIds(Cmd.LINK_GET_NEXT_ID)) {
      try {
        using fd = getFdById(Cmd.LINK_GET_FD_BY_ID, id);
        const info = linkInfo(fd.value);
        // XDP links (type 6) keep the ifindex first in their union.
        if (info.type === 6) assert.notEqual(info.extra.getUint32(0, true), ifindex);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT') throw err;
      }
    }
  });

  test('run: the interactive prompt blocks, lists, prints stats and detaches on quit', () => {
    const r = cli(['run', v.host, '--mode', 'generic'], `block ${v.peerAddr}\nlist\nstats\nhelp\nquit\n`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`blocked ${v.peerAddr.replace(/\./g, '\\.')}/32`));
    assert.match(r.stdout, /Commands:/);
    assert.match(r.stdout, /Final statistics:/);
    assert.match(r.stdout, /detached/);
    assert.doesNotMatch(sh('ip', ['link', 'show', v.host]), /xdp/);
    assert.equal(existsSync(`${PIN_ROOT}/${v.host}`), false);
  });
});

describe('xdp-filter on several interfaces', { skip: !isRoot() && process.env.CI !== 'true' ? 'needs root (CAP_BPF, CAP_NET_ADMIN)' : false }, () => {
  let a: VethPair;
  let b: VethPair;

  before(() => {
    a = createVethPair('xa');
    b = createVethPair('xb');
  });

  after(() => {
    cli(['unload', a.host]);
    cli(['unload', b.host]);
    a?.remove();
    b?.remove();
  });

  test('rules apply to every loaded interface unless --iface names one; unload is per interface', () => {
    ok(['load', a.host, '--mode', 'generic']);
    ok(['load', b.host, '--mode', 'native', '--policy', 'deny']);
    const both = ok(['block', '192.0.2.0/24']);
    assert.match(both, new RegExp(`on ${a.host}`));
    assert.match(both, new RegExp(`on ${b.host}`));
    ok(['block', '198.51.100.7', '--iface', b.host]);
    const rules = (JSON.parse(ok(['list', '--json'])) as { rules: Array<{ rule: string; interface: string }> }).rules;
    const on = (iface: string): string[] => rules.filter((r) => r.interface === iface).map((r) => r.rule).sort();
    assert.deepEqual(on(a.host), ['192.0.2.0/24']);
    assert.deepEqual(on(b.host), ['192.0.2.0/24', '198.51.100.7/32']);
    const s = status();
    const mine = s.interfaces.filter((i) => i.name === a.host || i.name === b.host);
    assert.deepEqual(mine.map((i) => i.mode).sort(), ['generic', 'native']);
    ok(['unload', a.host]);
    assert.equal(existsSync(`${PIN_ROOT}/${a.host}`), false);
    assert.ok(status().interfaces.some((i) => i.name === b.host), 'the other interface stays loaded');
    assert.match(sh('ip', ['link', 'show', b.host]), /xdp/);
  });

  test('stats --watch prints repeatedly until stopped', async () => {
    const child = spawnCli(['xdp-filter', 'stats', '--watch', '200ms', '--iface', b.host, '--json']);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { interfaces: Array<{ interface: string; total: number }> });
    assert.ok(lines.length >= 3, `expected several samples, got ${lines.length}`);
    assert.equal(lines[0]?.interfaces[0]?.interface, b.host);
  });
});
