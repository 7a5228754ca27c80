// xdp-filter against real traffic: a veth pair into a namespace the test creates, UDP, TCP and
// ICMP sent from the peer, each command a separate `tsbpf` process acting on the pinned state.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { allIds } from '../src/sys/attrs.js';
import { linkInfo } from '../src/sys/linkinfo.js';
import { getFdById } from '../src/sys/attrs.js';
import { Cmd } from '../src/sys/types.js';
import { cliArgv, type CliResult } from './helpers/cli.js';
import { createVethPair, isRoot, sh, toolSkip, uniqueName, type VethPair } from './helpers/kernel.js';
import { formatStats } from '../src/tools/xdp-filter/commands.js';
import { sshSession } from '../src/tools/xdp-filter/ssh.js';
import { pinName } from '../src/map/pinname.js';

const PIN_ROOT = '/sys/fs/bpf/tsbpf/xdp-filter';

/**
 * Every command of this file runs in a mount namespace with a bpffs of its own (see
 * privateBpffs): filters a user or another test run loaded on this machine, whose rule commands
 * without --iface act on every filter they see, never reach this file's filters, nor these theirs.
 */
let fileBpffs: PrivateBpffs | undefined;

before(async () => {
  if (isRoot()) fileBpffs = await privateBpffs();
});

after(() => fileBpffs?.close());

/** The command prefix that enters this file's bpffs. */
const inBpffs = (): string[] => fileBpffs?.wrap ?? [];

/** Where this file's filters are pinned, seen from this process. */
const pins = (): string => (fileBpffs ? `/proc/${fileBpffs.pid}/root${PIN_ROOT}` : PIN_ROOT);

/** `tsbpf xdp-filter args` behind a command prefix (nsenter, setpriv, sh...). */
function exec(prefix: string[], args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const argv = [...prefix, process.execPath, ...cliArgv(['xdp-filter', ...args])];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: opts.input ?? '', env: { ...process.env, ...opts.env }, timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same in the background, in this file's bpffs. */
function spawnXf(args: string[]): ChildProcessWithoutNullStreams {
  const argv = [...inBpffs(), process.execPath, ...cliArgv(['xdp-filter', ...args])];
  return spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
}

function cli(args: string[], input?: string): CliResult {
  return exec(inBpffs(), args, input === undefined ? {} : { input });
}

function ok(args: string[]): string {
  const r = cli(args);
  assert.equal(r.status, 0, `tsbpf xdp-filter ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

interface IfStatus {
  name: string;
  state: string;
  mode: string;
  policy: string;
  programId: number;
  stats?: { total: number; passed: number; dropped: number; invalid: number; bytesDropped: number };
  rules: Array<{ rule: string; kind: string; direction: string; hits: number }>;
}

/**
 * The status of one interface, asked for by name: filters a user or a parallel test run has
 * loaded on other interfaces never show up in it.
 */
function ifStatus(iface: string): IfStatus {
  const s = JSON.parse(ok(['status', '--iface', iface, '--json'])) as { interfaces: IfStatus[] };
  assert.deepEqual(s.interfaces.map((i) => i.name), [iface]);
  return s.interfaces[0]!;
}

function hits(iface: string, rule: string, direction = 'src'): number {
  return ifStatus(iface).rules.find((r) => r.rule === rule && r.direction === direction)?.hits ?? -1;
}

/** Sends `count` UDP datagrams from inside the namespace, from `src` to `dst:port`. */
function udpScript(src: string, dst: string, port: number, count: number, gapMs: number, srcPort = 0): string {
  const family = dst.includes(':') ? 'udp6' : 'udp4';
  return `
    const s = require('node:dgram').createSocket('${family}');
    s.bind({ address: '${src}', port: ${srcPort} }, async () => {
      for (let i = 0; i < ${count}; i++) {
        await new Promise((r, j) => s.send(Buffer.from('p' + i), ${port}, '${dst}', (e) => (e ? j(e) : r())));
        if (${gapMs}) await new Promise((r) => setTimeout(r, ${gapMs}));
      }
      s.close();
    });`;
}

function sendUdp(netns: string, src: string, dst: string, port: number, count: number, srcPort = 0): void {
  sh('ip', ['netns', 'exec', netns, process.execPath, '-e', udpScript(src, dst, port, count, 0, srcPort)]);
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

interface PrivateBpffs {
  /** The process holding the namespace. */
  pid: number;
  /** The command prefix that runs a command in the namespace. */
  wrap: string[];
  /** Ends the namespace: its bpffs, pins and the filters they hold go with it. */
  close(): void;
}

/**
 * A mount namespace with a bpffs of its own, held open by a sleeping process: filters loaded
 * through it are invisible to every other xdp-filter on this machine, and it to them.
 */
async function privateBpffs(): Promise<PrivateBpffs> {
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' });
  const pid = holder.pid!;
  const ours = readlinkSync('/proc/self/ns/mnt');
  try {
    await until('the mount namespace', () => {
      try {
        return readlinkSync(`/proc/${pid}/ns/mnt`) !== ours && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
      } catch {
        return false;
      }
    });
    // -r and -w: the holder's root and directory, which setns alone would leave for the
    // namespace's (outside a chroot the tests run in, where the package is not).
    const wrap = ['nsenter', '-t', String(pid), '-m', '-r', '-w'];
    sh(wrap[0]!, [...wrap.slice(1), 'mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf']);
    return { pid, wrap, close: () => holder.kill() };
  } catch (err) {
    holder.kill();
    throw err;
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
    const me = ifStatus(v.host);
    assert.equal(me.state, 'attached');
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
      ok(['block', v.peerAddr, '--iface', v.host]);
      sendUdp(v.netns, v.peerAddr, v.hostAddr, 47010, 20);
      await settle();
      assert.equal(rx.count(), 0);
      assert.equal(hits(v.host, `${v.peerAddr}/32`), 20);
      sendUdp(v.netns, peer2, v.hostAddr, 47010, 10);
      await settle();
      assert.equal(rx.count(), 10);
      const s = ifStatus(v.host).stats!;
      assert.equal(s.dropped, 20);
      // The peer's own IPv6 link-local chatter (MLD, router solicitations) passes too.
      assert.ok(s.passed >= 10);
      assert.equal(s.total, s.passed + s.dropped);
      assert.ok(s.bytesDropped >= 20 * 42);
    } finally {
      rx.close();
    }
  });

  test('a CIDR prefix drops every address inside it', async () => {
    const rx = await udpReceiver(v.hostAddr, 47011);
    try {
      const r = cli(['block', prefix.replace(/\.128\//, '.131/'), '--iface', v.host]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(prefix.replace(/\./g, '\\.')));
      sendUdp(v.netns, cidrPeer, v.hostAddr, 47011, 15);
      await settle();
      assert.equal(rx.count(), 0);
      assert.equal(hits(v.host, prefix), 15);
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
      ok(['block', v.peerAddr6, '--iface', v.host]);
      sendUdp(v.netns, v.peerAddr6, v.hostAddr6, 47012, 12);
      await settle();
      assert.equal(rx.count(), 3);
      assert.equal(hits(v.host, `${v.peerAddr6}/128`), 12);
    } finally {
      rx.close();
    }
  });

  test('TCP from a blocked source cannot connect; from another it can', () => {
    assert.equal(tcpConnects(v.netns, peer2, v.hostAddr, TCP_PORT), true);
    const before = hits(v.host, `${v.peerAddr}/32`);
    assert.equal(tcpConnects(v.netns, v.peerAddr, v.hostAddr, TCP_PORT), false);
    assert.ok(hits(v.host, `${v.peerAddr}/32`) > before, 'the SYNs were counted');
  });

  test('ICMP echo from a blocked source is dropped', { skip: toolSkip('ping', 'iputils-ping') }, () => {
    const before = hits(v.host, `${v.peerAddr}/32`);
    const out = sh('ip', ['netns', 'exec', v.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '-I', v.peerAddr, v.hostAddr], { allowFail: true });
    assert.doesNotMatch(out, / 0% packet loss/);
    assert.equal(hits(v.host, `${v.peerAddr}/32`), before + 3);
    const okPing = sh('ip', ['netns', 'exec', v.netns, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '-I', peer2, v.hostAddr]);
    assert.match(okPing, / 0% packet loss/);
  });

  test('a port rule drops only that destination port', async () => {
    const a = await udpReceiver(v.hostAddr, 47020);
    const b = await udpReceiver(v.hostAddr, 47021);
    try {
      ok(['port', '47020', '--proto', 'udp', '--iface', v.host]);
      sendUdp(v.netns, peer2, v.hostAddr, 47020, 5);
      sendUdp(v.netns, peer2, v.hostAddr, 47021, 5);
      await settle();
      assert.equal(a.count(), 0);
      assert.equal(b.count(), 5);
      assert.equal(hits(v.host, '47020/udp', 'dst'), 5);
      ok(['port', '47020', '--proto', 'udp', '--remove', '--iface', v.host]);
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
      ok(['block', peer2, '--iface', v.host]);
      await sender;
      await settle();
      const dropped = hits(v.host, `${peer2}/32`);
      assert.ok(dropped > 0, 'some packets were dropped after the rule');
      assert.ok(rx.count() > 0, 'some packets passed before the rule');
      assert.equal(rx.count() + dropped, 300);
      ok(['unblock', peer2, '--iface', v.host]);
    } finally {
      rx.close();
    }
  });

  test('state persists across processes and list shows every rule', () => {
    const list = JSON.parse(ok(['list', '--iface', v.host, '--json'])) as { rules: Array<{ rule: string; direction: string; interface: string }> };
    const rules = list.rules.filter((r) => r.interface === v.host).map((r) => r.rule).sort();
    assert.deepEqual(rules, [`${v.peerAddr}/32`, `${v.peerAddr6}/128`, prefix].sort());
  });

  test('bad input is refused with state untouched', () => {
    const before = ifStatus(v.host).rules;
    for (const [args, code] of [
      [['block', '10.0.0.300', '--iface', v.host], 2],
      [['block', '10.0.0.0/40', '--iface', v.host], 2],
      [['port', '70000', '--iface', v.host], 2],
      [['port', '80', '--proto', 'icmp', '--iface', v.host], 2],
      [['unblock', '192.0.2.99', '--iface', v.host], 1],
      [['block', '192.0.2.1', '--iface', 'nosuchif0'], 1],
      [['load', 'nosuchif0'], 1],
      [['unload', 'nosuchif0'], 1],
      [['frobnicate'], 2],
    ] as const) {
      const r = cli([...args]);
      assert.equal(r.status, code, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n')[0]?.startsWith('tsbpf'), true, r.stderr);
    }
    assert.deepEqual(ifStatus(v.host).rules, before);
  });

  test('unload --keep-rules keeps rules for the next load', () => {
    ok(['unload', v.host, '--keep-rules']);
    assert.doesNotMatch(sh('ip', ['link', 'show', v.host]), /prog\/xdp/);
    ok(['load', v.host, '--mode', 'generic']);
    const s = ifStatus(v.host);
    assert.equal(s.mode, 'generic');
    assert.ok(s.rules.some((r) => r.rule === `${v.peerAddr}/32`));
  });

  test('the allow-list policy drops everything but the listed sources', async () => {
    ok(['unload', v.host]);
    ok(['load', v.host, '--policy', 'allow', '--no-ssh-guard']);
    ok(['block', peer2, '--iface', v.host]);
    const rx = await udpReceiver(v.hostAddr, 47040);
    try {
      sendUdp(v.netns, peer2, v.hostAddr, 47040, 6);
      sendUdp(v.netns, v.peerAddr, v.hostAddr, 47040, 4);
      await settle();
      assert.equal(rx.count(), 6);
      const s = ifStatus(v.host);
      assert.equal(s.policy, 'allow');
      assert.equal(s.stats?.dropped, 4);
      assert.equal(hits(v.host, `${peer2}/32`), 6);
    } finally {
      rx.close();
    }
  });

  test('unload leaves nothing pinned or attached', () => {
    const ifindex = v.ifindex;
    ok(['unload', v.host]);
    assert.equal(existsSync(`${pins()}/${v.host}`), false);
    if (existsSync(pins())) assert.equal(readdirSync(pins()).includes(v.host), false);
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
    assert.equal(existsSync(`${pins()}/${v.host}`), false);
  });
});

describe('xdp-filter on several interfaces', { skip: !isRoot() && process.env.CI !== 'true' ? 'needs root (CAP_BPF, CAP_NET_ADMIN)' : false }, () => {
  let a: VethPair;
  let b: VethPair;
  // Rule commands without --iface act on every loaded filter: here only on this bpffs's.
  let bpffs: PrivateBpffs;
  const okP = (args: string[]): string => {
    const r = exec(bpffs.wrap, args);
    assert.equal(r.status, 0, `tsbpf xdp-filter ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    bpffs = await privateBpffs();
    a = createVethPair('xa');
    b = createVethPair('xb');
  });

  after(() => {
    bpffs?.close();
    a?.remove();
    b?.remove();
  });

  test('rules apply to every loaded interface unless --iface names one; unload is per interface', () => {
    okP(['load', a.host, '--mode', 'generic']);
    okP(['load', b.host, '--mode', 'native', '--policy', 'deny']);
    const both = okP(['block', '192.0.2.0/24']);
    assert.match(both, new RegExp(`on ${a.host}`));
    assert.match(both, new RegExp(`on ${b.host}`));
    okP(['block', '198.51.100.7', '--iface', b.host]);
    const rules = (JSON.parse(okP(['list', '--json'])) as { rules: Array<{ rule: string; interface: string }> }).rules;
    const on = (iface: string): string[] => rules.filter((r) => r.interface === iface).map((r) => r.rule).sort();
    assert.deepEqual(on(a.host), ['192.0.2.0/24']);
    assert.deepEqual(on(b.host), ['192.0.2.0/24', '198.51.100.7/32']);
    // Pinned filters only: run sessions of other test runs are machine-wide.
    const pinned = (): Array<{ name: string; mode: string; rules: unknown[] }> =>
      (JSON.parse(okP(['status', '--json'])) as { interfaces: Array<{ name: string; state: string; mode: string; rules: unknown[] }> }).interfaces.filter((i) => i.state !== 'run');
    assert.deepEqual(pinned().map((i) => [i.name, i.mode, i.rules.length]), [[a.host, 'generic', 1], [b.host, 'native', 2]]);
    okP(['unload', a.host]);
    assert.deepEqual(pinned().map((i) => i.name), [b.host], 'the other interface stays loaded');
    assert.doesNotMatch(sh('ip', ['link', 'show', a.host]), /xdp/);
    assert.match(sh('ip', ['link', 'show', b.host]), /xdp/);
  });

  test('stats --watch prints repeatedly until stopped', async () => {
    const [cmd, ...pre] = bpffs.wrap;
    const child = spawn(cmd!, [...pre, process.execPath, ...cliArgv(['xdp-filter', 'stats', '--watch', '200ms', '--iface', b.host, '--json'])], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await until('three samples', () => out.split('\n').length > 3);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', r)));
    assert.equal(code, 0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { interfaces: Array<{ interface: string; total: number }> });
    assert.ok(lines.length >= 3, `expected several samples, got ${lines.length}`);
    assert.equal(lines[0]?.interfaces[0]?.interface, b.host);
  });
});


const NEEDS_ROOT = { skip: !isRoot() && process.env.CI !== 'true' ? 'needs root (CAP_BPF, CAP_NET_ADMIN)' : false };

/** Permanent neighbour entries both ways, so no ARP or neighbour discovery adds packets. */
function staticNeighbours(v: VethPair, extraPeerAddrs: string[] = []): void {
  const hostMac = sh('cat', [`/sys/class/net/${v.host}/address`]).trim();
  const peerMac = sh('ip', ['netns', 'exec', v.netns, 'cat', `/sys/class/net/${v.peer}/address`]).trim();
  for (const a of extraPeerAddrs) sh('ip', ['netns', 'exec', v.netns, 'ip', 'addr', 'add', `${a}/24`, 'dev', v.peer]);
  for (const a of [v.peerAddr, ...extraPeerAddrs]) sh('ip', ['neigh', 'replace', a, 'lladdr', peerMac, 'dev', v.host, 'nud', 'permanent']);
  sh('ip', ['netns', 'exec', v.netns, 'ip', 'neigh', 'replace', v.hostAddr, 'lladdr', hostMac, 'dev', v.peer, 'nud', 'permanent']);
}

function peerMac(v: VethPair): string {
  return sh('ip', ['netns', 'exec', v.netns, 'cat', `/sys/class/net/${v.peer}/address`]).trim();
}

/** How many of `count` datagrams from `src` reach the host (sent, then counted). */
async function delivered(v: VethPair, src: string, port: number, count: number, srcPort = 0): Promise<number> {
  const rx = await udpReceiver(v.hostAddr, port);
  try {
    sendUdp(v.netns, src, v.hostAddr, port, count, srcPort);
    await settle();
    return rx.count();
  } finally {
    rx.close();
  }
}

/** `tsbpf xdp-filter args` in this file's bpffs, behind another wrapper or with a given environment. */
function cliVia(wrapper: string[], args: string[], env?: NodeJS.ProcessEnv): CliResult {
  return exec([...inBpffs(), ...wrapper], args, env === undefined ? {} : { env });
}
describe('xdp-filter: rules as users write them', NEEDS_ROOT, () => {
  let v: VethPair;
  let base: string;
  let peer2: string;

  before(() => {
    v = createVethPair('xr');
    base = v.peerAddr.split('.').slice(0, 3).join('.');
    peer2 = `${base}.3`;
    staticNeighbours(v, [peer2]);
    ok(['load', v.host, '--mode', 'native']);
  });

  after(() => {
    cli(['unload', v.host]);
    v?.remove();
  });

  test('an address inside a blocked prefix is its own rule, kept when the prefix goes (row 2)', async () => {
    ok(['block', `${base}.0/24`, '--iface', v.host]);
    const r = ok(['block', v.peerAddr, '--iface', v.host]);
    assert.match(r, new RegExp(`^blocked ${v.peerAddr.replace(/\./g, '\\.')}/32 on ${v.host}$`, 'm'));
    assert.deepEqual(ifStatus(v.host).rules.map((x) => x.rule), [`${base}.0/24`, `${v.peerAddr}/32`]);
    ok(['unblock', `${base}.0/24`, '--iface', v.host]);
    assert.equal(await delivered(v, v.peerAddr, 47101, 7), 0, 'the address blocked on its own stays blocked');
    assert.equal(hits(v.host, `${v.peerAddr}/32`), 7);
    assert.equal(await delivered(v, peer2, 47101, 5), 5, 'the rest of the prefix passes again');
    const absent = cli(['unblock', `${base}.9`, '--iface', v.host]);
    assert.equal(absent.status, 1, 'removing a rule never added is an error');
    assert.match(absent.stderr, /no rule/);
    ok(['unblock', v.peerAddr, '--iface', v.host]);
  });

  test('a v4-mapped IPv6 address is an IPv4 rule that IPv4 packets match (row 9)', async () => {
    const r = ok(['block', `::ffff:${v.peerAddr}`, '--iface', v.host]);
    assert.match(r, new RegExp(`blocked ${v.peerAddr.replace(/\./g, '\\.')}/32 on`));
    assert.equal(await delivered(v, v.peerAddr, 47102, 6), 0);
    assert.equal(hits(v.host, `${v.peerAddr}/32`), 6);
    ok(['unblock', `${v.peerAddr}/32`, '--iface', v.host]);
    assert.equal(await delivered(v, v.peerAddr, 47102, 2), 2);
  });

  test('port --remove without --proto removes the protocol that is there (row 20)', async () => {
    ok(['port', '47103', '--proto', 'udp', '--iface', v.host]);
    assert.equal(await delivered(v, peer2, 47103, 4), 0);
    const r = ok(['port', '47103', '--remove', '--iface', v.host]);
    assert.match(r, /unblocked port 47103\/udp on/);
    assert.doesNotMatch(r, /47103\/tcp/);
    assert.equal(await delivered(v, peer2, 47103, 4), 4);
    const none = cli(['port', '47103', '--remove', '--iface', v.host]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no rule port 47103\/tcp or port 47103\/udp/);
  });

  test('source-port rules drop by the sender\'s port only', async () => {
    ok(['port', '47110', '--src', '--proto', 'udp', '--iface', v.host]);
    assert.equal(await delivered(v, peer2, 47104, 3, 47110), 0);
    assert.equal(await delivered(v, peer2, 47110, 3, 47111), 3, 'a destination port of that number passes');
    assert.equal(hits(v.host, '47110/udp', 'src'), 3);
    ok(['port', '47110', '--src', '--proto', 'udp', '--remove', '--iface', v.host]);
  });

  test('MAC rules drop every frame of that station', async () => {
    const mac = peerMac(v);
    ok(['ether', mac.toUpperCase(), '--iface', v.host]);
    try {
      assert.equal(await delivered(v, peer2, 47105, 5), 0);
      // The peer's IPv6 link-local chatter (MLD, router solicitations) comes from that MAC too.
      assert.ok(hits(v.host, mac) >= 5);
      const bad = cli(['ether', '02:00:00:00:00', '--iface', v.host]);
      assert.equal(bad.status, 2);
    } finally {
      ok(['ether', mac, '--remove', '--iface', v.host]);
    }
    assert.equal(await delivered(v, peer2, 47105, 2), 2);
  });

  test('rules are listed sorted by interface, direction and rule (row 22)', () => {
    for (const p of ['53/udp', '18080/tcp', '9999/udp', '53/tcp']) {
      const [port, proto] = p.split('/');
      ok(['port', port!, '--proto', proto!, '--iface', v.host]);
    }
    ok(['block', 'fd00::1', '198.51.100.9', '192.0.2.0/24', '--iface', v.host]);
    ok(['block', '203.0.113.1', '--dst', '--iface', v.host]);
    const rules = (JSON.parse(ok(['list', '--iface', v.host, '--json'])) as { rules: Array<{ rule: string; direction: string }> }).rules;
    assert.deepEqual(
      rules.map((r) => `${r.direction} ${r.rule}`),
      ['src 192.0.2.0/24', 'src 198.51.100.9/32', 'src fd00::1/128', 'dst 203.0.113.1/32', 'dst 53/tcp', 'dst 53/udp', 'dst 9999/udp', 'dst 18080/tcp'],
    );
    ok(['unblock', 'fd00::1', '198.51.100.9', '192.0.2.0/24', '--iface', v.host]);
    ok(['unblock', '203.0.113.1', '--dst', '--iface', v.host]);
    ok(['port', '53', '9999', '18080', '--remove', '--iface', v.host]);
  });

  test('batches are applied all or nothing, from arguments and from a file', () => {
    const out = ok(['block', '192.0.2.1', '192.0.2.2', '192.0.2.3', '--iface', v.host]);
    assert.equal(out.trim().split('\n').length, 3);
    const bad = cli(['block', '192.0.2.4', 'nonsense', '--iface', v.host]);
    assert.equal(bad.status, 2);
    const dir = mkdtempSync(join(tmpdir(), 'xdpf-'));
    try {
      writeFileSync(join(dir, 'bad'), '# comment\n192.0.2.5\n192.0.2.300\n');
      const r = cli(['block', '-f', join(dir, 'bad'), '--iface', v.host]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /bad:3: invalid IP address/);
      const notFile = cli(['block', '-f', dir, '--iface', v.host]);
      assert.equal(notFile.status, 1);
      assert.match(notFile.stderr, /cannot read the rule file .*: is a directory \[EISDIR\]/);
      const listed = (): string[] => ifStatus(v.host).rules.map((x) => x.rule);
      assert.deepEqual(listed(), ['192.0.2.1/32', '192.0.2.2/32', '192.0.2.3/32'], 'nothing of a refused batch is added');
      const many = Array.from({ length: 1000 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
      writeFileSync(join(dir, 'many'), `${many.join('\n')}\n203.0.113.9 dst\n`);
      ok(['block', '-f', join(dir, 'many'), '--iface', v.host]);
      assert.equal(ifStatus(v.host).rules.length, 1004);
      ok(['unblock', '-f', join(dir, 'many'), '192.0.2.1', '192.0.2.2', '192.0.2.3', '--iface', v.host]);
      assert.deepEqual(listed(), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('lockout guard: everything, the SSH peer and its port are refused unless forced', async () => {
    const all = cli(['block', '0.0.0.0/0', '--iface', v.host]);
    assert.equal(all.status, 1);
    assert.match(all.stderr, /matches every IPv4 packet.*--force/);
    const ssh = { SSH_CONNECTION: `${v.peerAddr} 50022 ${v.hostAddr} 2222` };
    const peer = cliVia([], ['block', `${base}.0/24`, '--iface', v.host], ssh);
    assert.equal(peer.status, 1);
    assert.match(peer.stderr, new RegExp(`covers ${v.peerAddr.replace(/\./g, '\\.')}, the peer of this SSH session`));
    const port = cliVia([], ['port', '2222', '--iface', v.host], ssh);
    assert.equal(port.status, 1);
    assert.match(port.stderr, /port of this SSH session/);
    assert.deepEqual(ifStatus(v.host).rules, []);
    assert.equal(await delivered(v, v.peerAddr, 47106, 3), 3);
    const forced = cliVia([], ['block', v.peerAddr, '--iface', v.host, '--force'], ssh);
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal(await delivered(v, v.peerAddr, 47106, 3), 0);
    ok(['unblock', v.peerAddr, '--iface', v.host]);
  });

  test('stats --watch takes a spaced value, refuses what a timer cannot hold, and prints rates (rows 7, 21)', async () => {
    for (const [args, re] of [
      [['stats', '--iface', v.host, '--watch', '3000000'], /too long/],
      [['stats', '--iface', v.host, '--watch', '0.001'], /too short/],
      [['stats', '--iface', v.host, '--watch=-5'], /must be positive/],
      [['run', v.host, '--interval', '3000000'], /too long/],
    ] as const) {
      const r = cli([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    const hour = spawnXf(['stats', '--watch', '1h', '--iface', v.host, '--json']);
    const first = await firstLine(hour);
    hour.kill('SIGINT');
    assert.equal(await exitCode(hour), 0);
    assert.equal((JSON.parse(first) as { interfaces: Array<{ interface: string }> }).interfaces[0]?.interface, v.host);

    const watch = spawnXf(['stats', '--watch', '200ms', '--iface', v.host]);
    let out = '';
    watch.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const sender = sendUdpPaced(v.netns, peer2, v.hostAddr, 47107, 40, 20);
    await sender;
    while (!/\d\d:\d\d:\d\d \S+: total .*pps/.test(out)) await new Promise((r) => setTimeout(r, 100));
    watch.kill('SIGINT');
    assert.equal(await exitCode(watch), 0);
    assert.match(out, new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${v.host}: total +[\\d.]+ k?pps +[\\d.]+ [kM]?bit/s +passed`, 'm'));
  });
});

function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before a line: ${buf}`)));
  });
}

function exitCode(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
}

/** Deletes a veth pair and makes it again under the same names: a restarted container or VPN. */
function recreate(v: VethPair): void {
  sh('ip', ['link', 'del', v.host]);
  sh('ip', ['link', 'add', v.host, 'type', 'veth', 'peer', 'name', v.peer, 'netns', v.netns]);
  sh('ip', ['addr', 'add', `${v.hostAddr}/24`, 'dev', v.host]);
  sh('ip', ['link', 'set', v.host, 'up']);
  sh('ip', ['netns', 'exec', v.netns, 'ip', 'addr', 'add', `${v.peerAddr}/24`, 'dev', v.peer]);
  sh('ip', ['netns', 'exec', v.netns, 'ip', 'link', 'set', v.peer, 'up']);
  staticNeighbours(v);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the sequences it removes
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('xdp-filter: loading, unloading and what status says', NEEDS_ROOT, () => {
  const pairs: VethPair[] = [];
  const pair = (prefix: string): VethPair => {
    const v = createVethPair(prefix);
    pairs.push(v);
    staticNeighbours(v);
    return v;
  };

  after(() => {
    for (const v of pairs) {
      cli(['unload', v.host, '--forget']);
      v.remove();
    }
  });

  test('a filter whose interface was deleted and recreated is reported, not silently off (row 3)', async () => {
    const v = pair('xs');
    ok(['load', v.host]);
    ok(['block', v.peerAddr, '--iface', v.host]);
    assert.equal(await delivered(v, v.peerAddr, 47201, 3), 0);
    recreate(v);
    assert.equal(ifStatus(v.host).state, 'removed');
    assert.match(ok(['status', '--iface', v.host]), /REMOVED.*unload/);
    for (const args of [['block', '192.0.2.1', '--iface', v.host], ['block', '192.0.2.1'], ['load', v.host]]) {
      const r = cli(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, new RegExp(`${v.host} was removed.*unload ${v.host}`));
    }
    ok(['unload', v.host, '--keep-rules']);
    ok(['load', v.host]);
    assert.equal(await delivered(v, v.peerAddr, 47201, 3), 0, 'the kept rule is in force again');
    ok(['unload', v.host]);
  });

  test('the SSH peer is found through the parent when sudo reset the environment (row 4)', async () => {
    const v = pair('xh');
    const peer2 = `${v.peerAddr.split('.').slice(0, 3).join('.')}.3`;
    staticNeighbours(v, [peer2]);
    const r = cliVia(['sh', '-c', 'env -u SSH_CONNECTION -u SSH_CLIENT "$@"; exit $?', 'sh'], ['load', v.host, '--policy', 'allow'], {
      SSH_CONNECTION: `${v.peerAddr} 50022 ${v.hostAddr} 22`,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`allowing the SSH peer ${v.peerAddr.replace(/\./g, '\\.')} \\(from the parent process \\d+\\)`));
    assert.equal(await delivered(v, v.peerAddr, 47202, 4), 4, 'the operator still gets through');
    assert.equal(await delivered(v, peer2, 47202, 4), 0, 'everyone else is dropped');
    ok(['unload', v.host]);
  });

  test('the SSH peer is found in utmp for the sudo user', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdpf-utmp-'));
    try {
      const rec = Buffer.alloc(384);
      rec.writeInt32LE(7, 0);
      rec.write('pts/99', 8);
      rec.write('alice', 44);
      rec.write('workstation', 76);
      Buffer.from([192, 0, 2, 55]).copy(rec, 348);
      const other = Buffer.from(rec);
      other.fill(0, 44, 76);
      other.write('bob', 44);
      Buffer.from([192, 0, 2, 66]).copy(other, 348);
      writeFileSync(join(dir, 'utmp'), Buffer.concat([rec, other]));
      const found = sshSession({ env: { SUDO_USER: 'alice' }, pid: 1, utmpPath: join(dir, 'utmp') });
      assert.deepEqual(found, { peers: ['192.0.2.55'], port: 22, source: 'utmp' });
      assert.equal(sshSession({ env: {}, pid: 1, utmpPath: join(dir, 'utmp') }), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an interface name with a dot is escaped in bpffs and shown as itself (row 5)', async () => {
    assert.equal(pinName('eth0.100'), 'eth0_100');
    const v = pair('x.');
    assert.ok(v.host.includes('.'));
    ok(['load', v.host]);
    assert.ok(existsSync(`${pins()}/${v.host.replace(/\./g, '_')}/link`));
    ok(['block', v.peerAddr, '--iface', v.host]);
    assert.equal(await delivered(v, v.peerAddr, 47203, 3), 0);
    assert.equal(ifStatus(v.host).rules[0]?.hits, 3);
    // The other name of that directory must not reach this filter.
    const twin = v.host.replace(/\./g, '_');
    sh('ip', ['link', 'add', twin, 'type', 'veth', 'peer', 'name', `${twin.slice(0, 13)}p`]);
    try {
      const r = cli(['load', twin]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`holds the filter of ${v.host.replace(/\./g, '\\.')}`));
    } finally {
      sh('ip', ['link', 'del', twin], { allowFail: true });
    }
    ok(['unload', v.host]);
    const run = cli(['run', v.host, '--pin', '--no-ssh-guard'], 'quit\n');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(ifStatus(v.host).state, 'attached');
    ok(['unload', v.host]);
    assert.equal(existsSync(`${pins()}/${v.host.replace(/\./g, '_')}`), false);
  });

  test('without root, status and unload say permission denied, not "not loaded" (row 8)', () => {
    const v = pair('xn');
    ok(['load', v.host]);
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    for (const args of [['status'], ['unload', v.host], ['list']]) {
      const r = cliVia(nobody, args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /permission denied: run as root/);
    }
    assert.equal(ifStatus(v.host).state, 'attached');
    ok(['unload', v.host]);
  });

  test('kept rules keep their policy; allow-policy wording says allowed (row 10)', async () => {
    const v = pair('xk');
    const peer2 = `${v.peerAddr.split('.').slice(0, 3).join('.')}.3`;
    staticNeighbours(v, [peer2]);
    ok(['load', v.host]);
    ok(['block', v.peerAddr, '--iface', v.host]);
    ok(['unload', v.host, '--keep-rules']);
    const inverted = cli(['load', v.host, '--policy', 'allow', '--no-ssh-guard']);
    assert.equal(inverted.status, 1);
    assert.match(inverted.stderr, /written for the deny policy/);
    assert.match(ok(['load', v.host]), /deny policy, 1 kept rule,/);
    assert.equal(await delivered(v, v.peerAddr, 47204, 3), 0);
    assert.equal(await delivered(v, peer2, 47204, 3), 3);
    ok(['unload', v.host]);
    const allow = cli(['load', v.host, '--policy', 'allow', '--no-ssh-guard']);
    assert.equal(allow.status, 0, allow.stderr);
    assert.match(ok(['block', peer2, '--iface', v.host]), new RegExp(`^allowed ${peer2.replace(/\./g, '\\.')}/32 on ${v.host}$`, 'm'));
    assert.equal(await delivered(v, peer2, 47204, 3), 3);
    assert.equal(await delivered(v, v.peerAddr, 47204, 3), 0);
    assert.match(ok(['unblock', peer2, '--iface', v.host]), /removed .* from the allow list/);
    ok(['unload', v.host]);
  });

  test('allow policy with no rules and no SSH session warns', () => {
    const v = pair('xw');
    const r = cliVia(['env', '-u', 'SSH_CONNECTION', '-u', 'SSH_CLIENT', '-u', 'SUDO_USER'], ['load', v.host, '--policy', 'allow']);
    assert.equal(r.status, 0, r.stderr);
    // A developer's own SSH session up the process tree is found instead, and admitted.
    assert.match(r.stderr, /warning: allow policy, no rules and no SSH session found|allowing the SSH peer/);
    ok(['unload', v.host]);
  });

  test('status of one interface ignores filters loaded on others (row 12c)', async () => {
    const mine = pair('xm');
    const theirs = pair('xt');
    ok(['load', theirs.host, '--policy', 'allow', '--no-ssh-guard']);
    ok(['block', '192.0.2.0/24', '198.51.100.1', '--iface', theirs.host]);
    await delivered(theirs, theirs.peerAddr, 47205, 5);
    ok(['load', mine.host]);
    ok(['block', mine.peerAddr, '--iface', mine.host]);
    await delivered(mine, mine.peerAddr, 47205, 3);
    const s = ifStatus(mine.host);
    assert.equal(s.policy, 'deny');
    assert.equal(s.stats?.dropped, 3);
    assert.deepEqual(s.rules.map((r) => r.rule), [`${mine.peerAddr}/32`]);
    const rules = (JSON.parse(ok(['list', '--iface', mine.host, '--json'])) as { rules: Array<{ interface: string }> }).rules;
    assert.deepEqual([...new Set(rules.map((r) => r.interface))], [mine.host]);
    // The whole status says which interface holds which rule.
    const text = ok(['status']);
    assert.match(text, new RegExp(`${theirs.host}: native mode, allow policy[\\s\\S]*198\\.51\\.100\\.1/32`));
    ok(['unload', theirs.host]);
    ok(['unload', mine.host]);
  });

  test('a run session is shown by status and named when load finds the interface busy (row 13)', async () => {
    const v = pair('xu');
    const session = spawnXf(['run', v.host, '--no-ssh-guard']);
    try {
      await until('the run session', () => JSON.parse(ok(['status', '--iface', v.host, '--json'])).interfaces.length === 1);
      session.stdin.write(`block ${v.peerAddr}\n`);
      await until('the rule', () => ifStatus(v.host).rules.length === 1);
      assert.equal(await delivered(v, v.peerAddr, 47206, 3), 0);
      const s = ifStatus(v.host);
      assert.equal(s.state, 'run');
      assert.deepEqual([s.mode, s.policy, s.stats?.dropped, s.rules[0]?.rule, s.rules[0]?.hits], ['native', 'deny', 3, `${v.peerAddr}/32`, 3]);
      assert.match(ok(['status', '--iface', v.host]), new RegExp(`attached by \`xdp-filter run\` \\(pid ${session.pid}; not pinned\\)`));
      const r = cli(['load', v.host]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`another XDP program is attached to ${v.host} \\(xdp_filter, prog id ${s.programId}, held by pid ${session.pid} \\(tsbpf xdp-filter run`));
    } finally {
      session.stdin?.end('quit\n');
      await exitCode(session);
    }
    assert.deepEqual(JSON.parse(ok(['status', '--iface', v.host, '--json'])).interfaces, []);
  });

  test('a device without native XDP falls back to generic, or says to use it (row 14)', () => {
    const br = uniqueName('xbr');
    sh('ip', ['link', 'add', br, 'type', 'bridge']);
    try {
      const r = cli(['load', br, '--mode', 'native']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`${br} does not support native XDP; use --mode generic`));
      assert.equal(existsSync(`${pins()}/${br}`), false);
      assert.match(ok(['load', br]), /generic mode: no native XDP on this device/);
      assert.equal(ifStatus(br).mode, 'generic');
      ok(['unload', br]);
    } finally {
      cli(['unload', br]);
      sh('ip', ['link', 'del', br], { allowFail: true });
    }
  });

  test('rules kept for a deleted interface are listed and can be forgotten (row 23)', () => {
    const v = pair('xf');
    ok(['load', v.host]);
    ok(['block', '192.0.2.7', '--iface', v.host]);
    ok(['unload', v.host, '--keep-rules']);
    sh('ip', ['link', 'del', v.host]);
    const s = ifStatus(v.host);
    assert.equal(s.state, 'kept');
    assert.deepEqual(s.rules.map((r) => r.rule), ['192.0.2.7/32']);
    const plain = cli(['unload', v.host]);
    assert.equal(plain.status, 1);
    assert.match(plain.stderr, /--forget/);
    assert.match(ok(['unload', v.host, '--forget']), /dropped the rules kept/);
    assert.equal(existsSync(`${pins()}/${v.host}`), false);
  });

  test('unload --all detaches every filter (in a bpffs of its own)', () => {
    const a = pair('xa');
    const b = pair('xb');
    const tsbpf = [process.execPath, ...cliArgv(['xdp-filter'])].join(' ');
    const script = [
      'mount -t bpf bpf /sys/fs/bpf',
      `${tsbpf} load ${a.host}`,
      `${tsbpf} load ${b.host} --mode generic`,
      `${tsbpf} unload --all`,
      `ip link show ${a.host} | grep -c prog/xdp || true`,
      `ip link show ${b.host} | grep -c prog/xdp || true`,
      // Run sessions elsewhere on the machine show in a global status: ask for these two only.
      `${tsbpf} status --iface ${a.host}`,
      `${tsbpf} status --iface ${b.host}`,
    ].join(' && ');
    const out = sh('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
    assert.match(out, new RegExp(`unloaded from ${a.host}\\n.*unloaded from ${b.host}\\n0\\n0\\nxdp-filter is not loaded on ${a.host}\\nxdp-filter is not loaded on ${b.host}\\n`), out);
  });
});

describe('xdp-filter: the command line and the prompt', NEEDS_ROOT, () => {
  let v: VethPair;

  before(() => {
    v = createVethPair('xc');
  });

  after(() => {
    cli(['unload', v.host]);
    v?.remove();
  });

  test('usage: no verb, prefixes, per-verb help, extra arguments, plurals (row 31)', () => {
    const none = cli([]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /Usage: tsbpf xdp-filter/);
    const ambiguous = cli(['st']);
    assert.equal(ambiguous.status, 2);
    assert.match(ambiguous.stderr, /'st' is ambiguous: stats, status/);
    assert.match(ok(['statu', '--iface', v.host]), /not loaded on/);
    const help = ok(['block', '--help']);
    assert.match(help, /block <ip\|cidr>/);
    assert.doesNotMatch(help, /unblock|port <port>/);
    const all = ok(['--help']);
    assert.match(all, /--interval DURATION/);
    assert.match(all, /--no-ssh-guard/);
    const extra = cli(['load', v.host, 'extra']);
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /unexpected argument 'extra'/);
    assert.match(formatStats({ interface: 'x', total: 1, passed: 1, dropped: 0, invalid: 0, bytesTotal: 60, bytesPassed: 60, bytesDropped: 0 }), /total +1 packet {2}/);
  });

  test('run from a pipe: no prompts, trailing words refused, failure in the exit code', () => {
    const r = cli(['run', v.host, '--no-ssh-guard'], 'block 192.0.2.1 foo\nlist extra\nblock 192.0.2.2\nlist\n');
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stdout, /xdp-filter>/);
    assert.match(r.stderr, /block: unexpected 'foo'/);
    assert.match(r.stderr, /list: unexpected 'extra'/);
    assert.match(r.stdout, /blocked 192\.0\.2\.2\/32/);
    assert.doesNotMatch(r.stdout, /192\.0\.2\.1\//);
    assert.match(r.stderr, /2 commands failed/);
  });

  test('run on a terminal: the stats block redraws the prompt and the typed line (row 11)', { skip: toolSkip('script', 'bsdutils') }, async () => {
    const command = [process.execPath, ...cliArgv(['xdp-filter', 'run', v.host, '--interval', '200ms', '--no-ssh-guard'])].join(' ');
    const [cmd, ...pre] = [...inBpffs(), 'script', '-qfec', command, '/dev/null'];
    // A terminal that can redraw: under TERM=dumb (as CI and `env -i` give) readline cannot.
    const child = spawn(cmd!, pre, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until('the prompt', () => stripAnsi(out).includes('xdp-filter> '));
      child.stdin.write('bloc');
      await until('the echo', () => stripAnsi(out).includes('xdp-filter> bloc'));
      const typedAt = stripAnsi(out).indexOf('xdp-filter> bloc');
      await until('a stats block and the prompt again', () => /invalid +\d+ packets?\s*\r?\n\r?xdp-filter> bloc/.test(stripAnsi(out).slice(typedAt)));
      child.stdin.write('k 192.0.2.77\r');
      await until('the answer', () => /blocked 192\.0\.2\.77\/32/.test(out));
      child.stdin.write('quit\r');
      await until('the exit', () => /detached from/.test(out));
    } finally {
      child.stdin.end();
      child.kill();
    }
  });
});
