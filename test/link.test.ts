// Kernel tests of src/link: every hook this kernel has, each asserting that the program ran on a
// real event (packets through a veth pair between namespaces, a child that execs or connects,
// calls into a binary built here), plus the Link life cycle, bad input and clean-up.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo } from 'node:net';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext } from 'node:test';
import { Assembler, BPF_DW, BPF_W, R0, R1, R2, R3, R4, R5, R6, R7, R10 } from '../src/asm/index.js';
import { findMember, readKernelBtf, type Btf } from '../src/btf/index.js';
import { command as linkCommand } from '../src/cli/link.js';
import { BpfError, ClosedError, NotSupportedError } from '../src/errors.js';
import {
  attachCgroup,
  attachIter,
  attachKprobe,
  attachKprobeMulti,
  attachKsyscall,
  attachNetfilter,
  attachPerfEvent,
  attachRawTracepoint,
  attachSkLookup,
  attachSkMsg,
  attachSocketFilter,
  attachTc,
  attachTcx,
  attachTracepoint,
  attachTracing,
  attachUprobe,
  attachXdp,
  Link,
  LinkOperationError,
  MissingTargetError,
  ProgramTypeError,
  readAllIter,
  resolveLibrary,
  symbolOffset,
  TargetNotFoundError,
  xdpState,
} from '../src/link/index.js';
import { attachBySection } from '../src/link/section.js';
import { Program } from '../src/program.js';
import { allIds, ElemOp, mapCreate, mapFreeze, progQuery } from '../src/sys/attrs.js';
import type { FD } from '../src/sys/fd.js';
import { native } from '../src/sys/native.js';
import { packageRoot } from '../src/sys/package.js';
import { AttachType, Cmd, MapFlags, MapType, ProgramType } from '../src/sys/types.js';
import { assertErrno, createVethPair, isRoot, kernelTest, openFds, ownNewLinks, requireCgroup2, runWaitingChild, settledCount, sh, toolSkip, uniqueName, type VethPair } from './helpers/kernel.js';
import { type InProcessRun, runCliInProcess } from './helpers/cli.js';

// ---------------------------------------------------------------------------------------------
// Maps and programs

const elem = new ElemOp();
const STATS_VALUE = 16;

/** An array of `entries` slots of { count: u64, last: u64 }. */
function statsMap(entries = 1): FD {
  return mapCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: STATS_VALUE, maxEntries: entries, mapName: 'lnk_stats' });
}

function readStats(map: FD, slot = 0): { count: bigint; last: bigint } {
  const key = new Uint32Array([slot]);
  const value = new BigUint64Array(2);
  const r = elem.run(Cmd.MAP_LOOKUP_ELEM, map.value, native.addressOf(key), native.addressOf(value), 0);
  assert.equal(r, 0, 'lookup of a stats slot');
  return { count: value[0] ?? 0n, last: value[1] ?? 0n };
}

/** A hash of tgid → 1 that programs fill with the processes that triggered them. */
function pidMap(): FD {
  return mapCreate({ mapType: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8192, mapName: 'lnk_pids' });
}

function hasPid(map: FD, pid: number): boolean {
  const key = new Uint32Array([pid]);
  const value = new BigUint64Array(1);
  return elem.run(Cmd.MAP_LOOKUP_ELEM, map.value, native.addressOf(key), native.addressOf(value), 0) === 0;
}

interface LoadOpts {
  name?: string;
  expectedAttachType?: AttachType;
  attachBtfId?: number;
}

function load(type: ProgramType, b: Assembler, opts: LoadOpts = {}): Program {
  return Program.load({
    type,
    instructions: b.assemble(),
    license: 'GPL',
    name: opts.name ?? 'lnk_test',
    ...(opts.expectedAttachType !== undefined ? { expectedAttachType: opts.expectedAttachType } : {}),
    ...(opts.attachBtfId !== undefined ? { attachBtfId: opts.attachBtfId } : {}),
  });
}

/**
 * slot 0: count += 1; optionally last = *(u64 *)(ctx + lastFromCtx); then return `ret`.
 * Every hook's context starts in r1.
 */
function statsProgram(type: ProgramType, map: FD, ret: number, opts: LoadOpts & { lastFromCtx?: number } = {}): Program {
  const b = new Assembler()
    .mov64Reg(R6, R1)
    .st(BPF_W, R10, -4, 0)
    .mov64Reg(R2, R10)
    .add64Imm(R2, -4)
    .ldMapFd(R1, map.value)
    .call('map_lookup_elem')
    .jeqImm(R0, 0, 'out')
    .mov64Imm(R1, 1)
    .atomicAdd(BPF_DW, R0, R1, 0);
  if (opts.lastFromCtx !== undefined) b.ldx(BPF_DW, R1, R6, opts.lastFromCtx).stx(BPF_DW, R0, R1, 8);
  b.label('out').mov64Imm(R0, ret).exit();
  return load(type, b, opts);
}

/** Records the current tgid in a pid map; returns 0. */
function pidProgram(type: ProgramType, map: FD, opts: LoadOpts = {}): Program {
  const b = new Assembler()
    .call('get_current_pid_tgid')
    .rsh64Imm(R0, 32)
    .stx(BPF_W, R10, R0, -4)
    .st(BPF_DW, R10, -16, 1)
    .ldMapFd(R1, map.value)
    .mov64Reg(R2, R10)
    .add64Imm(R2, -4)
    .mov64Reg(R3, R10)
    .add64Imm(R3, -16)
    .mov64Imm(R4, 0)
    .call('map_update_elem')
    .mov64Imm(R0, 0)
    .exit();
  return load(type, b, opts);
}

function returnProgram(type: ProgramType, ret: number, opts: LoadOpts = {}): Program {
  return load(type, new Assembler().mov64Imm(R0, ret).exit(), opts);
}

// ---------------------------------------------------------------------------------------------
// Waiting, traffic, clean-up checks

async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** Sends `count` UDP datagrams from inside a network namespace. */
function sendUdpFromNetns(netns: string, addr: string, port: number, count: number, payload = 'tsbpf'): void {
  const script = `const s=require('dgram').createSocket('${addr.includes(':') ? 'udp6' : 'udp4'}');let n=0;const next=()=>{if(n++===${count})return s.close();s.send(${JSON.stringify(payload)},${port},${JSON.stringify(addr)},()=>setTimeout(next,10))};next();`;
  execFileSync('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { timeout: 15000, stdio: 'pipe' });
}

/** A UDP receiver on addr:port in this namespace, counting datagrams. */
async function udpReceiver(addr: string, port: number): Promise<{ received: () => number; close: () => void }> {
  const sock = createSocket(addr.includes(':') ? 'udp6' : 'udp4');
  let n = 0;
  sock.on('message', () => n++);
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, addr, () => resolve());
  });
  return { received: () => n, close: () => sock.close() };
}

let portBase = 20000 + (process.pid % 20000);
function freshPort(): number {
  portBase = portBase >= 60000 ? 20000 : portBase + 1;
  return portBase;
}

function linkIds(): Set<number> {
  return new Set(allIds(Cmd.LINK_GET_NEXT_ID));
}

/** Asserts that no link made since `before` remains. */
function assertNoNewLinks(before: Set<number>): void {
  let left: number[] = [];
  settledCount(() => (left = ownNewLinks(before)).length);
  assert.deepEqual(left, [], `links left behind: ${left.join(', ')}`);
}

function ipLinkShow(dev: string): string {
  return sh('ip', ['link', 'show', 'dev', dev]);
}


/** A new cgroup under the v2 root; remove() waits for it to empty and deletes it. */
function makeCgroup(t: TestContext): { path: string; remove: () => Promise<void> } | undefined {
  const root = requireCgroup2(t);
  if (root === undefined) return undefined;
  const path = join(root, uniqueName('tsbpf-lnk-', 40));
  mkdirSync(path);
  return {
    path,
    remove: async () => {
      await waitFor(() => readFileSync(join(path, 'cgroup.procs'), 'utf8').trim() === '', 3000);
      rmdirSync(path);
    },
  };
}

/** Runs a node script in a child that first moves itself into the cgroup; resolves with its exit. */
function runInCgroup(cgroup: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const prelude = `require('fs').writeFileSync(${JSON.stringify(join(cgroup, 'cgroup.procs'))}, String(process.pid));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', prelude + script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let kernelBtf: Btf | undefined;
function btf(): Btf {
  kernelBtf ??= readKernelBtf();
  return kernelBtf;
}

function btfId(name: string, kind: 'FUNC' | 'TYPEDEF' | 'STRUCT'): number {
  return btf().typeByName(name, kind).id;
}

// ---------------------------------------------------------------------------------------------

const root = isRoot();
let baselineLinks = new Set<number>();
let baselineFds = 0;

before(() => {
  if (!root) return;
  baselineLinks = linkIds();
  baselineFds = openFds();
});

after(() => {
  if (!root) return;
  assertNoNewLinks(baselineLinks);
  // Every Link, Program and map of the tests is closed by now: nothing leaks.
  assert.ok(openFds() <= baselineFds + 2, `file descriptors leaked: ${openFds()} open, ${baselineFds} before`);
});

describe('XDP', () => {
  let veth: VethPair | undefined;
  before(() => {
    if (root) veth = createVethPair('lx');
  });
  after(() => veth?.remove());

  for (const mode of ['driver', 'generic'] as const) {
    kernelTest(`bpf_link in ${mode} mode counts packets, update() swaps in a drop program`, async () => {
      if (!veth) return;
      const links = linkIds();
      const map = statsMap(2);
      const pass = statsProgram(ProgramType.XDP, map, 2, { name: 'xdp_pass' });
      const drop = statsProgram(ProgramType.XDP, map, 1, { name: 'xdp_drop' });
      const port = freshPort();
      const rx = await udpReceiver(veth.hostAddr, port);
      let link: Link | undefined;
      try {
        link = attachXdp({ program: pass, interface: veth.host, mode });
        assert.equal(link.mechanism, 'bpf_link');
        const info = link.info();
        assert.equal(info.typeName, 'xdp');
        assert.deepEqual(info.details, { kind: 'xdp', ifindex: veth.ifindex, interface: veth.host, mode });
        assert.equal(info.progId, pass.id);
        assert.match(ipLinkShow(veth.host), mode === 'driver' ? /xdp(drv)? / : /xdpgeneric/);
        assert.equal(xdpState(veth.host)[mode === 'driver' ? 'driverProgId' : 'genericProgId'], pass.id);

        sendUdpFromNetns(veth.netns, veth.hostAddr, port, 3);
        assert.ok(await waitFor(() => rx.received() >= 3), `3 datagrams passed (got ${rx.received()})`);
        const passed = readStats(map).count;
        assert.ok(passed >= 3n, `XDP saw the packets (count ${passed})`);

        link.update(drop, { expected: pass });
        assert.equal(link.info().progId, drop.id);
        const before = rx.received();
        sendUdpFromNetns(veth.netns, veth.hostAddr, port, 3);
        assert.ok(await waitFor(() => readStats(map).count >= passed + 3n), 'the drop program saw the packets');
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(rx.received(), before, 'no datagram got through the drop program');
      } finally {
        link?.close();
        rx.close();
        pass.close();
        drop.close();
        map.close();
      }
      assert.doesNotMatch(ipLinkShow(veth.host), /xdp/, 'no XDP left on the interface');
      assertNoNewLinks(links);
    });
  }

  kernelTest('the same interface twice without replace is EBUSY naming the interface', () => {
    if (!veth) return;
    const prog = returnProgram(ProgramType.XDP, 2, { name: 'xdp_twice' });
    const first = attachXdp({ program: prog, interface: veth.ifindex, mode: 'generic' });
    try {
      assert.throws(
        () => attachXdp({ program: prog, interface: veth!.host, mode: 'generic' }),
        (err: unknown) => err instanceof BpfError && err.code === 'EBUSY' && err.message.includes(veth!.host),
      );
      assert.throws(
        () => attachXdp({ program: prog, interface: veth!.host, mode: 'generic', mechanism: 'netlink' }),
        (err: unknown) => err instanceof BpfError && (err.code === 'EBUSY' || err.code === 'EEXIST') && err.message.includes(veth!.host),
      );
    } finally {
      first.close();
      prog.close();
    }
    assert.equal(xdpState(veth.host).attached, 'none');
  });

  kernelTest('netlink: attach, replace, update and detach only our own program', async () => {
    if (!veth) return;
    const map = statsMap(2);
    const a = statsProgram(ProgramType.XDP, map, 2, { name: 'xdp_nl_a' });
    const b = returnProgram(ProgramType.XDP, 2, { name: 'xdp_nl_b' });
    const c = returnProgram(ProgramType.XDP, 2, { name: 'xdp_nl_c' });
    const port = freshPort();
    const rx = await udpReceiver(veth.hostAddr, port);
    const links: Link[] = [];
    try {
      const la = attachXdp({ program: a, interface: veth.host, mechanism: 'netlink', mode: 'driver' });
      links.push(la);
      assert.equal(la.mechanism, 'netlink');
      assert.equal(la.id, 0);
      assert.deepEqual(la.info().details, { kind: 'xdp', ifindex: veth.ifindex, interface: veth.host, mode: 'driver' });
      assert.equal(la.info().progId, a.id);
      assert.throws(() => la.pin('/sys/fs/bpf/never'), LinkOperationError);
      sendUdpFromNetns(veth.netns, veth.hostAddr, port, 3);
      assert.ok(await waitFor(() => readStats(map).count >= 3n), 'the netlink-attached program ran');

      // update() swaps atomically, expecting our program.
      la.update(b);
      assert.equal(xdpState(veth.host).driverProgId, b.id);
      // replace: a second attachment that takes over only from b.
      const lc = attachXdp({ program: c, interface: veth.host, mode: 'driver', replace: b });
      links.push(lc);
      assert.equal(xdpState(veth.host).driverProgId, c.id);
      // la no longer owns the hook: closing it leaves c in place.
      la.close();
      assert.equal(xdpState(veth.host).driverProgId, c.id);
      lc.close();
      assert.equal(xdpState(veth.host).attached, 'none');
      assert.doesNotMatch(ipLinkShow(veth.host), /xdp/);
    } finally {
      for (const l of links) l.close();
      rx.close();
      for (const p of [a, b, c]) p.close();
      map.close();
    }
  });

  kernelTest('pin, openPinned, fromId, detach and close', (t) => {
    if (!veth) return;
    if (!existsSync('/sys/fs/bpf')) return t.skip('bpffs is not mounted');
    const links = linkIds();
    const prog = returnProgram(ProgramType.XDP, 2, { name: 'xdp_pin' });
    const pin = join('/sys/fs/bpf', uniqueName('tsbpf_lnk_', 40));
    const link = attachXdp({ program: prog, interface: veth.host, mode: 'generic' });
    try {
      link.pin(pin);
      assert.equal(link.pinnedPath, pin);
      const id = link.id;
      assert.ok(id > 0);
      link.close();
      // The pin keeps it attached after close.
      assert.equal(xdpState(veth.host).genericProgId, prog.id);

      const byId = Link.fromId(id);
      assert.equal(byId.hook, 'xdp');
      assert.equal(byId.info().details.kind, 'xdp');
      byId.close();

      const pinned = Link.openPinned(pin);
      assert.equal(pinned.id, id);
      assert.equal(pinned.pinnedPath, pin);
      pinned.detach();
      assert.equal(pinned.detached, true);
      assert.equal(xdpState(veth.host).attached, 'none', 'LINK_DETACH removed the program');
      assert.equal(pinned.info().id, id, 'the detached link is still there');
      pinned.unpin();
      assert.equal(existsSync(pin), false);
      pinned.close();
      pinned.close();
      assert.throws(() => pinned.detach(), ClosedError);
      assert.throws(() => pinned.info(), ClosedError);
      assert.throws(() => Link.fromId(id), TargetNotFoundError);
    } finally {
      link.close();
      rmSync(pin, { force: true });
      prog.close();
    }
    assertNoNewLinks(links);
  });
});

describe('TCX and legacy tc', () => {
  let veth: VethPair | undefined;
  before(() => {
    if (root) veth = createVethPair('lt');
  });
  after(() => veth?.remove());

  kernelTest('TCX ingress counts packets; anchors order programs; a drop program drops', async () => {
    if (!veth) return;
    const links = linkIds();
    const map = statsMap(2);
    const count = statsProgram(ProgramType.SCHED_CLS, map, -1, { name: 'tcx_count' });
    const first = returnProgram(ProgramType.SCHED_CLS, -1, { name: 'tcx_first' });
    const drop = returnProgram(ProgramType.SCHED_CLS, 2, { name: 'tcx_drop' });
    const port = freshPort();
    const rx = await udpReceiver(veth.hostAddr, port);
    const made: Link[] = [];
    try {
      const lc = attachTcx({ program: count, interface: veth.host, direction: 'ingress' });
      made.push(lc);
      const info = lc.info();
      assert.equal(info.typeName, 'tcx');
      assert.deepEqual(info.details, { kind: 'tcx', ifindex: veth.ifindex, interface: veth.host, attachType: AttachType.TCX_INGRESS, direction: 'ingress' });
      sendUdpFromNetns(veth.netns, veth.hostAddr, port, 3);
      assert.ok(await waitFor(() => rx.received() >= 3), 'datagrams passed TCX');
      assert.ok(readStats(map).count >= 3n, 'the TCX program ran');

      made.push(attachTcx({ program: first, interface: veth.ifindex, direction: 'ingress', anchor: { first: true } }));
      const ids = new Uint32Array(8);
      const q = progQuery({ targetFd: veth.ifindex, attachType: AttachType.TCX_INGRESS, progIds: ids });
      assert.deepEqual([...ids.subarray(0, q.count)], [first.id, count.id], 'first runs before count');

      made.push(attachTcx({ program: drop, interface: veth.host, direction: 'ingress', anchor: { after: lc }, expectedRevision: q.revision }));
      const q2 = progQuery({ targetFd: veth.ifindex, attachType: AttachType.TCX_INGRESS, progIds: ids });
      assert.deepEqual([...ids.subarray(0, q2.count)], [first.id, count.id, drop.id]);
      const before = rx.received();
      const seen = readStats(map).count;
      sendUdpFromNetns(veth.netns, veth.hostAddr, port, 3);
      assert.ok(await waitFor(() => readStats(map).count >= seen + 3n), 'count ran before the drop');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(rx.received(), before, 'TC_ACT_SHOT dropped the datagrams');
      assertErrno(() => attachTcx({ program: drop, interface: veth!.host, direction: 'ingress', expectedRevision: q.revision }), 'ESTALE', BpfError);
    } finally {
      for (const l of made) l.close();
      rx.close();
      for (const p of [count, first, drop]) p.close();
      map.close();
    }
    assertNoNewLinks(links);
    const ids = new Uint32Array(8);
    assert.equal(progQuery({ targetFd: veth.ifindex, attachType: AttachType.TCX_INGRESS, progIds: ids }).count, 0);
  });

  kernelTest('legacy tc: clsact + cls_bpf direct-action through netlink, removed on close', async () => {
    if (!veth) return;
    const map = statsMap(2);
    const count = statsProgram(ProgramType.SCHED_CLS, map, 0, { name: 'tc_count' });
    const drop = statsProgram(ProgramType.SCHED_CLS, map, 2, { name: 'tc_drop' });
    const port = freshPort();
    const rx = await udpReceiver(veth.hostAddr, port);
    let link: Link | undefined;
    try {
      link = attachTc({ program: count, interface: veth.host, direction: 'ingress' });
      assert.equal(link.mechanism, 'netlink');
      const d = link.info().details;
      assert.equal(d.kind, 'tc');
      assert.ok(d.kind === 'tc' && d.priority > 0 && d.handle > 0, 'the kernel chose a priority and handle');
      assert.match(sh('tc', ['qdisc', 'show', 'dev', veth.host]), /clsact/);
      assert.match(sh('tc', ['filter', 'show', 'dev', veth.host, 'ingress']), /bpf .*direct-action/);
      sendUdpFromNetns(veth.netns, veth.hostAddr, port, 3);
      assert.ok(await waitFor(() => rx.received() >= 3), 'TC_ACT_OK let the datagrams through');
      const seen = readStats(map).count;
      assert.ok(seen >= 3n, 'the filter ran');

      link.update(drop);
      assert.equal(link.info().progId, drop.id);
      const before = rx.received();
      sendUdpFromNetns(veth.netns, veth.hostAddr, port, 3);
      assert.ok(await waitFor(() => readStats(map).count >= seen + 3n));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(rx.received(), before, 'TC_ACT_SHOT dropped them');
      link.close();
      assert.doesNotMatch(sh('tc', ['filter', 'show', 'dev', veth.host, 'ingress']), /bpf/, 'the filter is gone');
      assert.doesNotMatch(sh('tc', ['qdisc', 'show', 'dev', veth.host]), /clsact/, 'the qdisc it created is gone');
    } finally {
      link?.close();
      rx.close();
      count.close();
      drop.close();
      map.close();
    }
  });
});

describe('cgroup', () => {
  kernelTest('connect4 as a link and through PROG_ATTACH: counts, and a deny program refuses', async (t) => {
    const cg = makeCgroup(t);
    if (!cg) return;
    const links = linkIds();
    const map = statsMap(1);
    const allow = statsProgram(ProgramType.CGROUP_SOCK_ADDR, map, 1, { name: 'cg_allow', expectedAttachType: AttachType.CGROUP_INET4_CONNECT });
    const deny = returnProgram(ProgramType.CGROUP_SOCK_ADDR, 0, { name: 'cg_deny', expectedAttachType: AttachType.CGROUP_INET4_CONNECT });
    const connect = `const s=require('dgram').createSocket('udp4');s.connect(9,'127.0.0.1',(e)=>{console.log(e?e.code:'ok');s.close()});s.on('error',(e)=>{console.log(e.code);process.exit(0)});`;
    try {
      const ino = statSync(cg.path, { bigint: true }).ino;
      const configs = [{ mechanism: 'link' }, { mechanism: 'attach' }, { flags: 'override' }] as const;
      for (const config of configs) {
        const before = readStats(map).count;
        const link = attachCgroup({ program: allow, cgroup: cg.path, attachType: AttachType.CGROUP_INET4_CONNECT, ...config });
        try {
          assert.equal(link.mechanism, 'mechanism' in config && config.mechanism === 'link' ? 'bpf_link' : 'prog_attach');
          const d = link.info().details;
          assert.ok(d.kind === 'cgroup' && d.attachType === AttachType.CGROUP_INET4_CONNECT && d.path === cg.path && d.cgroupId === ino, JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
          const r = await runInCgroup(cg.path, connect);
          assert.equal(r.stdout.trim(), 'ok', r.stderr);
          assert.ok(readStats(map).count > before, `connect4 ran (${JSON.stringify(config)})`);
        } finally {
          link.close();
        }
      }
      assert.throws(
        () => attachCgroup({ program: allow, cgroup: cg!.path, attachType: AttachType.CGROUP_INET4_CONNECT, flags: 'override', mechanism: 'link' }),
        /always multi/,
      );
      const link = attachCgroup({ program: deny, cgroup: cg.path, attachType: AttachType.CGROUP_INET4_CONNECT });
      try {
        const r = await runInCgroup(cg.path, connect);
        assert.equal(r.stdout.trim(), 'EPERM', 'the deny program refused the connect');
      } finally {
        link.close();
      }
      const r = await runInCgroup(cg.path, connect);
      assert.equal(r.stdout.trim(), 'ok', 'nothing denies after close');
    } finally {
      allow.close();
      deny.close();
      map.close();
      await cg.remove();
    }
    assertNoNewLinks(links);
  });

  kernelTest('skb egress counts the packets a process in the cgroup sends', async (t) => {
    const cg = makeCgroup(t);
    if (!cg) return;
    const map = statsMap(1);
    const prog = statsProgram(ProgramType.CGROUP_SKB, map, 1, { name: 'cg_egress' });
    const link = attachCgroup({ program: prog, cgroup: cg.path, attachType: AttachType.CGROUP_INET_EGRESS });
    try {
      const r = await runInCgroup(
        cg.path,
        `const s=require('dgram').createSocket('udp4');let n=0;const next=()=>{if(n++===5)return s.close();s.send('x',9,'127.0.0.1',next)};next();`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(readStats(map).count >= 5n, `egress saw the datagrams (${readStats(map).count})`);
    } finally {
      link.close();
      prog.close();
      map.close();
      await cg.remove();
    }
  });
});

describe('tracing hooks', () => {
  /** Spawns `true` and returns its pid once it has exited. */
  function execChild(): number {
    const r = spawnSync('/bin/true');
    assert.equal(r.status, 0);
    return r.pid as number;
  }

  kernelTest('tracepoint sched/sched_process_exec sees a child exec', async () => {
    const map = pidMap();
    const prog = pidProgram(ProgramType.TRACEPOINT, map, { name: 'tp_exec' });
    const link = attachTracepoint({ program: prog, group: 'sched', name: 'sched_process_exec' });
    try {
      const d = link.info().details;
      assert.equal(d.kind, 'perf_event');
      assert.ok(d.kind === 'perf_event' && d.event === 'tracepoint' && d.name?.includes('sched_process_exec'));
      const pid = execChild();
      assert.ok(await waitFor(() => hasPid(map, pid)), `the program saw pid ${pid} exec`);
    } finally {
      link.close();
      prog.close();
      map.close();
    }
  });

  kernelTest('tp_btf sched_process_exec (BTF-typed tracepoint) sees a child exec', async () => {
    const map = pidMap();
    const prog = pidProgram(ProgramType.TRACING, map, {
      name: 'tpbtf_exec',
      expectedAttachType: AttachType.TRACE_RAW_TP,
      attachBtfId: btfId('btf_trace_sched_process_exec', 'TYPEDEF'),
    });
    const link = attachTracing({ program: prog });
    try {
      assert.equal(link.hook, 'tracing');
      // BPF_RAW_TRACEPOINT_OPEN makes a raw_tracepoint link for tp_btf programs.
      assert.ok(['raw_tracepoint', 'tracing'].includes(link.info().typeName));
      const pid = execChild();
      assert.ok(await waitFor(() => hasPid(map, pid)), `the program saw pid ${pid} exec`);
    } finally {
      link.close();
      prog.close();
      map.close();
    }
  });

  kernelTest('raw_tp sched_process_exec sees a child exec', async () => {
    const map = pidMap();
    const prog = pidProgram(ProgramType.RAW_TRACEPOINT, map, { name: 'rawtp_exec' });
    const link = attachRawTracepoint({ program: prog, name: 'sched_process_exec' });
    try {
      assert.deepEqual(link.info().details, { kind: 'raw_tracepoint', tracepoint: 'sched_process_exec', cookie: 0n });
      const pid = execChild();
      assert.ok(await waitFor(() => hasPid(map, pid)), `the program saw pid ${pid} exec`);
    } finally {
      link.close();
      prog.close();
      map.close();
    }
  });

  kernelTest('fentry on do_sys_openat2 counts opens where the kernel has ftrace trampolines', async (t) => {
    const map = statsMap(1);
    let prog: Program;
    try {
      prog = statsProgram(ProgramType.TRACING, map, 0, {
        name: 'fentry_open',
        expectedAttachType: AttachType.TRACE_FENTRY,
        attachBtfId: btfId('do_sys_openat2', 'FUNC'),
      });
    } catch (err) {
      map.close();
      // Without ftrace direct calls (or under lockdown) the kernel refuses fentry programs at load.
      if (err instanceof BpfError && ['EPERM', 'ENOTSUPP', 'EOPNOTSUPP', 'ESRCH'].includes(err.code)) {
        return t.skip(`this kernel has no ftrace trampolines for fentry (BPF_PROG_LOAD: ${err.code})`);
      }
      throw err;
    }
    try {
      let link: Link;
      try {
        link = attachTracing({ program: prog });
      } catch (err) {
        if (err instanceof NotSupportedError && err.feature.startsWith('fentry/fexit')) return t.skip(`this kernel has no ftrace: ${err.message}`);
        throw err;
      }
      try {
        closeSync(openSync('/dev/null', 'r'));
        assert.ok(await waitFor(() => readStats(map).count > 0n), 'fentry ran on open');
      } finally {
        link.close();
      }
    } finally {
      prog.close();
      map.close();
    }
  });

  kernelTest('kprobes: NotSupportedError naming kprobes where the kernel has none, else a counted syscall', async (t) => {
    const map = statsMap(1);
    const prog = statsProgram(ProgramType.KPROBE, map, 0, { name: 'kprobe_open' });
    try {
      const haveKprobes = existsSync('/sys/bus/event_source/devices/kprobe') || existsSync('/sys/kernel/tracing/kprobe_events');
      if (!haveKprobes) {
        const isKprobes = (err: unknown): boolean => err instanceof NotSupportedError && err.feature === 'kprobes' && err.code === 'ENOTSUP';
        assert.throws(() => attachKprobe({ program: prog, symbol: 'do_sys_openat2' }), isKprobes);
        assert.throws(() => attachKprobe({ program: prog, symbol: 'do_sys_openat2', ret: true }), isKprobes);
        assert.throws(() => attachKsyscall({ program: prog, syscall: 'openat' }), isKprobes);
        assert.throws(() => attachKprobeMulti({ program: prog, symbols: ['do_sys_openat2'] }), isKprobes);
        assert.throws(() => attachBySection(prog, 'kprobe/do_sys_openat2'), isKprobes);
        return t.skip('this kernel has no kprobes');
      }
      const link = attachKsyscall({ program: prog, syscall: 'openat' });
      try {
        assert.equal(link.info().details.kind, 'perf_event');
        closeSync(openSync('/dev/null', 'r'));
        assert.ok(await waitFor(() => readStats(map).count > 0n), 'the kprobe ran on openat');
      } finally {
        link.close();
      }
    } finally {
      prog.close();
      map.close();
    }
  });
});

describe('uprobes', { skip: toolSkip('cc', 'gcc') }, () => {
  let dir = '';
  let binary = '';
  before(() => {
    if (!root) return;
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-uprobe-'));
    binary = join(dir, 'target');
    execFileSync('cc', ['-O1', '-g', '-o', binary, join(packageRoot(), 'test', 'fixtures', 'uprobe', 'target.c')], { stdio: 'pipe' });
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // pt_regs offsets of the first argument and the return value.
  const REGS: Record<string, { arg0: number; ret: number }> = { x64: { arg0: 112, ret: 80 }, arm64: { arg0: 0, ret: 0 } };

  /** Runs the target with n calls; it waits for a line before calling, so probes can go on its pid. */
  async function runTarget(n: number, whileWaiting?: (pid: number) => Link[]): Promise<{ out: string; links: Link[] }> {
    const run = await runWaitingChild(binary, [String(n)], whileWaiting);
    return { out: run.out, links: run.attached ?? [] };
  }

  for (const mechanism of ['pmu', 'tracefs'] as const) {
    kernelTest(`uprobe + uretprobe (${mechanism}) count the calls and capture the argument and return value`, async (t) => {
      const regs = REGS[process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : ''];
      if (!regs) return t.skip(`pt_regs offsets are not known for ${process.arch}`);
      const entryMap = statsMap(1);
      const retMap = statsMap(1);
      const entry = statsProgram(ProgramType.KPROBE, entryMap, 0, { name: 'uprobe_in', lastFromCtx: regs.arg0 });
      const exit = statsProgram(ProgramType.KPROBE, retMap, 0, { name: 'uprobe_out', lastFromCtx: regs.ret });
      const n = 5;
      let links: Link[] = [];
      try {
        const run = await runTarget(n, (pid) => [
          attachUprobe({ program: entry, path: binary, symbol: 'tsbpf_probe_target', pid, mechanism }),
          attachUprobe({ program: exit, path: binary, symbol: 'tsbpf_probe_target', ret: true, pid, mechanism }),
        ]);
        links = run.links;
        const [inLink, outLink] = links as [Link, Link];
        const d = inLink.info().details;
        assert.ok(d.kind === 'perf_event' && d.event === 'uprobe' && d.name === binary && d.offset === symbolOffset(binary, 'tsbpf_probe_target'));
        assert.equal(outLink.info().details.kind, 'perf_event');
        assert.equal(readStats(entryMap).count, BigInt(n), 'every call hit the uprobe');
        assert.equal(readStats(entryMap).last, BigInt(n - 1), 'the last call had i = n-1');
        assert.equal(readStats(retMap).count, BigInt(n), 'every return hit the uretprobe');
        assert.equal(BigInt.asIntN(32, readStats(retMap).last), BigInt((n - 1) * 3 + 7), 'the return value was captured');
        // Another process's calls are not counted by probes limited to a pid.
        await runTarget(2);
        assert.equal(readStats(entryMap).count, BigInt(n));
      } finally {
        for (const l of links) l.close();
        entry.close();
        exit.close();
        entryMap.close();
        retMap.close();
      }
      if (mechanism === 'tracefs') {
        assert.doesNotMatch(readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8'), new RegExp(`tsbpf_${process.pid}_`), 'the probe events are removed');
      }
    });
  }

  kernelTest('libraries resolve through the linker cache; symbols through .dynsym', () => {
    const libc = resolveLibrary('c');
    assert.match(libc, /libc\.so\.6$/);
    assert.equal(resolveLibrary('libc.so.6'), libc);
    const off = symbolOffset(libc, 'getpid');
    assert.ok(off > 0);
    const prog = returnProgram(ProgramType.KPROBE, 0, { name: 'uprobe_libc' });
    try {
      const link = attachUprobe({ program: prog, path: 'libc.so.6', symbol: 'getpid' });
      const d = link.info().details;
      assert.ok(d.kind === 'perf_event' && d.offset === off);
      link.close();
    } finally {
      prog.close();
    }
  });
});

describe('sockets, namespaces, netfilter', () => {
  const AF_INET = 2;
  const SOCK_DGRAM = 2;
  const SOCK_CLOEXEC = 0o2000000;
  const MSG_DONTWAIT = 0x40;
  const EAGAIN = 11;

  function boundUdpSocket(): { fd: number; port: number } {
    const fd = native.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert.ok(fd >= 0, 'socket()');
    for (let i = 0; i < 50; i++) {
      const port = freshPort();
      const addr = new Uint8Array(16);
      const v = new DataView(addr.buffer);
      v.setUint16(0, AF_INET, true);
      v.setUint16(2, port, false);
      v.setUint32(4, 0x7f000001, false);
      if (native.bind(fd, addr) === 0) return { fd, port };
    }
    native.close(fd);
    throw new Error('no free UDP port');
  }

  async function recvOne(fd: number, ms = 500): Promise<string | undefined> {
    const buf = new Uint8Array(256);
    let got: string | undefined;
    await waitFor(() => {
      const n = native.recv(fd, buf, MSG_DONTWAIT);
      if (n >= 0) got = Buffer.from(buf.subarray(0, n)).toString();
      else assert.equal(n, -EAGAIN);
      return got !== undefined;
    }, ms);
    return got;
  }

  async function send(port: number, text: string): Promise<void> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => s.send(text, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    s.close();
  }

  kernelTest('socket filter truncates, then (updated) drops, then (closed) lets everything through', async () => {
    const sock = boundUdpSocket();
    // A UDP socket's filter sees the UDP header too: keep it (8 bytes) and 4 bytes of payload.
    const truncate = returnProgram(ProgramType.SOCKET_FILTER, 8 + 4, { name: 'sf_trunc' });
    const drop = returnProgram(ProgramType.SOCKET_FILTER, 0, { name: 'sf_drop' });
    try {
      const link = attachSocketFilter({ program: truncate, socket: sock.fd });
      assert.equal(link.mechanism, 'setsockopt');
      assert.deepEqual(link.info().details, { kind: 'socket_filter', socket: sock.fd });
      await send(sock.port, 'hello world');
      assert.equal(await recvOne(sock.fd), 'hell', 'the filter kept 4 bytes');
      link.update(drop);
      await send(sock.port, 'hello world');
      assert.equal(await recvOne(sock.fd, 200), undefined, 'the drop filter dropped it');
      link.close();
      await send(sock.port, 'hello world');
      assert.equal(await recvOne(sock.fd), 'hello world', 'no filter after close');
    } finally {
      native.close(sock.fd);
      truncate.close();
      drop.close();
    }
  });

  for (const mechanism of ['link', 'attach'] as const) {
    kernelTest(`sk_msg on a sockmap (${mechanism}) runs on each send of a socket in the map`, async () => {
      const links = linkIds();
      const sockmap = mapCreate({ mapType: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 2, mapName: 'lnk_sockmap' });
      const map = statsMap(1);
      const prog = statsProgram(ProgramType.SK_MSG, map, 1, { name: 'sk_msg_pass' });
      const server = createServer();
      let received = '';
      server.on('connection', (c) => c.on('data', (d: Buffer) => (received += d.toString())));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const client = connect(port, '127.0.0.1');
      let link: Link | undefined;
      try {
        await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
        link = attachSkMsg({ program: prog, map: sockmap, mechanism });
        assert.equal(link.mechanism, mechanism === 'link' ? 'bpf_link' : 'prog_attach');
        const d = link.info().details;
        assert.ok(d.kind === 'sockmap' && d.attachType === AttachType.SK_MSG_VERDICT);
        // The socket goes into the map by its fd.
        const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
        const key = new Uint32Array([0]);
        const value = new Uint32Array([fd]);
        assert.equal(elem.run(Cmd.MAP_UPDATE_ELEM, sockmap.value, native.addressOf(key), native.addressOf(value), 0), 0, 'socket added to the sockmap');
        client.write('hello');
        assert.ok(await waitFor(() => received === 'hello'), 'SK_PASS delivered the data');
        assert.ok(readStats(map).count >= 1n, 'the sk_msg program ran');
      } finally {
        link?.close();
        client.destroy();
        await new Promise((r) => server.close(r));
        prog.close();
        map.close();
        sockmap.close();
      }
      assertNoNewLinks(links);
    });
  }

  kernelTest('sk_lookup in a test netns runs on each lookup', async () => {
    const links = linkIds();
    const ns = uniqueName('tsbpf-lnk-ns-', 40);
    sh('ip', ['netns', 'add', ns]);
    const map = statsMap(1);
    const prog = statsProgram(ProgramType.SK_LOOKUP, map, 1, { name: 'sk_lookup', expectedAttachType: AttachType.SK_LOOKUP });
    try {
      sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      const link = attachSkLookup({ program: prog, netns: ns });
      try {
        const d = link.info().details;
        assert.ok(d.kind === 'netns' && d.attachType === AttachType.SK_LOOKUP);
        const port = freshPort();
        const script = `const d=require('dgram');const r=d.createSocket('udp4');r.on('message',()=>{r.close();process.exit(0)});r.bind(${port},'127.0.0.1',()=>{const s=d.createSocket('udp4');s.send('x',${port},'127.0.0.1',()=>s.close())});setTimeout(()=>process.exit(3),5000);`;
        execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { timeout: 10000, stdio: 'pipe' });
        assert.ok(readStats(map).count >= 1n, 'sk_lookup ran for the datagram');
      } finally {
        link.close();
      }
    } finally {
      prog.close();
      map.close();
      sh('ip', ['netns', 'del', ns], { allowFail: true });
    }
    assertNoNewLinks(links);
  });

  kernelTest('netfilter ipv4 output hook sees local packets', async () => {
    const map = statsMap(1);
    const prog = statsProgram(ProgramType.NETFILTER, map, 1, { name: 'nf_out', expectedAttachType: AttachType.NETFILTER });
    const link = attachNetfilter({ program: prog, pf: 'ipv4', hooknum: 'output', priority: 1234 });
    try {
      assert.deepEqual(link.info().details, { kind: 'netfilter', pf: 2, hooknum: 3, priority: 1234, flags: 0 });
      const sock = boundUdpSocket();
      try {
        await send(sock.port, 'nf');
        assert.equal(await recvOne(sock.fd), 'nf', 'NF_ACCEPT let it through');
      } finally {
        native.close(sock.fd);
      }
      assert.ok(readStats(map).count >= 1n, 'the netfilter program ran');
    } finally {
      link.close();
      prog.close();
      map.close();
    }
  });
});

describe('perf events and iterators', () => {
  kernelTest('perf_event: software cpu-clock sampling on every CPU, one Link', async () => {
    const links = linkIds();
    const map = statsMap(1);
    const prog = statsProgram(ProgramType.PERF_EVENT, map, 0, { name: 'perf_clock' });
    const link = attachPerfEvent({ program: prog, type: 'software', config: 'cpu-clock', samplePeriod: 100_000 });
    try {
      const cpus = readFileSync('/sys/devices/system/cpu/online', 'utf8');
      assert.ok(link.parts.length >= 1 || cpus.trim() === '0');
      const d = link.info().details;
      assert.equal(d.kind, 'perf_event');
      const end = Date.now() + 50;
      while (Date.now() < end) Math.sqrt(Math.random());
      assert.ok(await waitFor(() => readStats(map).count > 0n), 'the sampling program ran');
      assert.throws(() => link.pin('/sys/fs/bpf/never'), LinkOperationError);
      assert.throws(
        () => attachPerfEvent({ program: prog, type: 'software', config: 'cpu-clock', samplePeriod: 1, pid: 0x3ffffff0 }),
        (err: unknown) => err instanceof TargetNotFoundError && err.kind === 'process',
      );
    } finally {
      link.close();
      prog.close();
      map.close();
    }
    assertNoNewLinks(links);
  });

  kernelTest('task iterator output has this process', async () => {
    const fmt = mapCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, mapFlags: MapFlags.RDONLY_PROG, mapName: 'lnk_fmt' });
    const key = new Uint32Array([0]);
    const value = new Uint8Array([0x25, 0x64, 0x0a, 0]);
    assert.equal(elem.run(Cmd.MAP_UPDATE_ELEM, fmt.value, native.addressOf(key), native.addressOf(value), 0), 0);
    mapFreeze(fmt.value);
    const tgid = findMember(btf(), btfId('task_struct', 'STRUCT'), 'tgid');
    assert.ok(tgid);
    const b = new Assembler()
      .ldx(BPF_DW, R6, R1, 0)
      .ldx(BPF_DW, R7, R1, 8)
      .jeqImm(R7, 0, 'out')
      .ldx(BPF_W, R1, R7, tgid.bitOffset / 8)
      .stx(BPF_DW, R10, R1, -8)
      .ldx(BPF_DW, R1, R6, 0)
      .ldMapValue(R2, fmt.value, 0)
      .mov64Imm(R3, 4)
      .mov64Reg(R4, R10)
      .add64Imm(R4, -8)
      .mov64Imm(R5, 8)
      .call('seq_printf')
      .label('out')
      .mov64Imm(R0, 0)
      .exit();
    const prog = load(ProgramType.TRACING, b, { name: 'iter_task', expectedAttachType: AttachType.TRACE_ITER, attachBtfId: btfId('bpf_iter_task', 'FUNC') });
    const link = attachIter({ program: prog });
    try {
      const d = link.info().details;
      assert.ok(d.kind === 'iter' && d.target === 'task');
      const out = await readAllIter(link);
      const pids = new Set(out.split('\n').filter(Boolean).map(Number));
      assert.ok(pids.has(process.pid), `the iterator listed pid ${process.pid}`);
      assert.ok(pids.size > 2, 'and others');
      // Limited to one process through bpf_iter_link_info: only its pid is listed.
      const own = attachIter({ program: prog, task: { pid: process.pid } });
      try {
        const o = own.info().details;
        assert.ok(o.kind === 'iter' && o.pid === process.pid, `the link says pid ${process.pid}`);
        assert.deepEqual(new Set((await readAllIter(own)).split('\n').filter(Boolean).map(Number)), new Set([process.pid]));
      } finally {
        own.close();
      }
    } finally {
      link.close();
      prog.close();
      fmt.close();
    }
  });
});

describe('bad input', () => {
  kernelTest('unknown interface, cgroup, pid, symbol, tracepoint are typed errors naming the target', () => {
    const xdp = returnProgram(ProgramType.XDP, 2, { name: 'bad_xdp' });
    const skb = returnProgram(ProgramType.CGROUP_SKB, 1, { name: 'bad_skb' });
    const kp = returnProgram(ProgramType.KPROBE, 0, { name: 'bad_kp' });
    const tp = returnProgram(ProgramType.TRACEPOINT, 0, { name: 'bad_tp' });
    const raw = returnProgram(ProgramType.RAW_TRACEPOINT, 0, { name: 'bad_raw' });
    const notFound = (kind: string, target: string) => (err: unknown) =>
      err instanceof TargetNotFoundError && err.kind === kind && err.message.includes(target) && err.code === 'ENOENT';
    try {
      assert.throws(() => attachXdp({ program: xdp, interface: 'tsbpf-nope0' }), notFound('interface', 'tsbpf-nope0'));
      assert.throws(() => attachXdp({ program: xdp, interface: 999999 }), notFound('interface', '999999'));
      assert.throws(() => attachTcx({ program: strayProgram(ProgramType.SCHED_CLS), interface: 'tsbpf-nope0', direction: 'ingress' }), notFound('interface', 'tsbpf-nope0'));
      assert.throws(
        () => attachCgroup({ program: skb, cgroup: '/sys/fs/cgroup/tsbpf-no-such-cgroup', attachType: AttachType.CGROUP_INET_EGRESS }),
        notFound('cgroup', '/sys/fs/cgroup/tsbpf-no-such-cgroup'),
      );
      assert.throws(() => attachCgroup({ program: skb, cgroup: '/tmp', attachType: AttachType.CGROUP_INET_EGRESS }), notFound('cgroup', '/tmp'));
      assert.throws(() => attachUprobe({ program: kp, path: '/bin/sh', offset: 0, pid: 0x3ffffff0 }), notFound('process', String(0x3ffffff0)));
      assert.throws(() => attachUprobe({ program: kp, path: '/bin/sh', symbol: 'tsbpf_no_such_symbol' }), notFound('symbol', 'tsbpf_no_such_symbol'));
      assert.throws(() => attachUprobe({ program: kp, path: '/tsbpf/no/such/file', symbol: 'main' }), notFound('file', '/tsbpf/no/such/file'));
      assert.throws(() => attachUprobe({ program: kp, path: 'libtsbpfnosuch.so.1', symbol: 'f' }), notFound('library', 'libtsbpfnosuch.so.1'));
      assert.throws(() => attachTracepoint({ program: tp, group: 'sched', name: 'tsbpf_no_such_event' }), notFound('tracepoint', 'sched/tsbpf_no_such_event'));
      assert.throws(() => attachTracepoint({ program: tp, group: '..', name: 'x' }), notFound('tracepoint', '../x'));
      assert.throws(() => attachRawTracepoint({ program: raw, name: 'tsbpf_no_such_tp' }), notFound('raw tracepoint', 'tsbpf_no_such_tp'));
      assert.throws(() => attachSkLookup({ program: strayProgram(ProgramType.SK_LOOKUP, AttachType.SK_LOOKUP), netns: 'tsbpf-no-such-ns' }), notFound('network namespace', '/run/netns/tsbpf-no-such-ns'));
      assert.throws(() => attachSocketFilter({ program: strayProgram(ProgramType.SOCKET_FILTER), socket: 0x7ffff }), notFound('socket', 'fd 524287'));
    } finally {
      for (const p of [xdp, skb, kp, tp, raw]) p.close();
      closeStray();
    }
  });

  kernelTest('a program of the wrong type is a ProgramTypeError naming the hook', () => {
    const sf = returnProgram(ProgramType.SOCKET_FILTER, 0, { name: 'wrong_type' });
    const isTypeError = (hook: string) => (err: unknown) =>
      err instanceof ProgramTypeError && err.hook === hook && err.code === 'EINVAL' && err.message.includes('socket_filter') && err.message.includes('wrong_type');
    try {
      assert.throws(() => attachXdp({ program: sf, interface: 'lo' }), isTypeError('XDP'));
      assert.throws(() => attachTcx({ program: sf, interface: 'lo', direction: 'egress' }), isTypeError('TCX'));
      assert.throws(() => attachTracepoint({ program: sf, group: 'sched', name: 'sched_process_exec' }), isTypeError('tracepoint'));
      assert.throws(() => attachUprobe({ program: sf, path: '/bin/sh', offset: 0 }), isTypeError('uprobe'));
      assert.throws(() => attachCgroup({ program: sf, cgroup: '/sys/fs/cgroup', attachType: AttachType.CGROUP_INET4_CONNECT }), isTypeError('cgroup cgroup_inet4_connect'));
      assert.throws(() => attachPerfEvent({ program: sf, type: 'software', config: 'cpu-clock', samplePeriod: 1 }), isTypeError('perf_event'));
    } finally {
      sf.close();
    }
  });

  kernelTest('sections: a missing target is a MissingTargetError naming it', () => {
    const xdp = returnProgram(ProgramType.XDP, 2, { name: 'sec_xdp' });
    const skb = returnProgram(ProgramType.CGROUP_SKB, 1, { name: 'sec_skb' });
    try {
      assert.throws(() => attachBySection(xdp, 'xdp'), (err: unknown) => err instanceof MissingTargetError && err.missing === 'interface');
      assert.throws(() => attachBySection(skb, 'cgroup_skb/egress'), (err: unknown) => err instanceof MissingTargetError && err.missing === 'cgroup');
      assert.throws(() => attachBySection(xdp, 'perf_event'), (err: unknown) => err instanceof MissingTargetError && err.missing === 'perfEvent');
      const link = attachBySection(xdp, 'xdp', { interface: 'lo', xdpMode: 'generic' });
      try {
        assert.equal(link.hook, 'xdp');
        assert.equal(xdpState('lo').genericProgId, xdp.id);
      } finally {
        link.close();
      }
      assert.equal(xdpState('lo').attached, 'none');
    } finally {
      xdp.close();
      skb.close();
    }
  });

  kernelTest('attachBySection: tracepoint and raw_tp sections attach and run', async () => {
    const map = pidMap();
    const tp = pidProgram(ProgramType.TRACEPOINT, map, { name: 'sec_tp' });
    const raw = pidProgram(ProgramType.RAW_TRACEPOINT, map, { name: 'sec_raw' });
    const links = [attachBySection(tp, 'tp/sched/sched_process_exec'), attachBySection(raw, 'raw_tp/sched_process_exec')];
    try {
      assert.deepEqual(
        links.map((l) => l.hook),
        ['tracepoint', 'raw_tracepoint'],
      );
      const r = spawnSync('/bin/true');
      assert.ok(await waitFor(() => hasPid(map, r.pid as number)));
    } finally {
      for (const l of links) l.close();
      tp.close();
      raw.close();
      map.close();
    }
  });
});

const stray: Program[] = [];
function strayProgram(type: ProgramType, expectedAttachType?: AttachType): Program {
  const p = returnProgram(type, type === ProgramType.SK_LOOKUP ? 1 : 0, { name: 'bad_target', ...(expectedAttachType !== undefined ? { expectedAttachType } : {}) });
  stray.push(p);
  return p;
}
function closeStray(): void {
  for (const p of stray.splice(0)) p.close();
}

describe('tsbpf link', () => {
  const runLink = (...argv: string[]): Promise<InProcessRun> => runCliInProcess(argv, { command: linkCommand });

  kernelTest('list, show (by id and by pin) and detach', async (t) => {
    if (!existsSync('/sys/fs/bpf')) return t.skip('bpffs is not mounted');
    const map = statsMap(1);
    const prog = statsProgram(ProgramType.NETFILTER, map, 1, { name: 'cli_nf', expectedAttachType: AttachType.NETFILTER });
    const link = attachNetfilter({ program: prog, pf: 'ipv4', hooknum: 'output', priority: 4321 });
    const pin = join('/sys/fs/bpf', uniqueName('tsbpf_cli_', 40));
    try {
      const id = link.id;
      let r = await runLink('list', '--json');
      assert.equal(r.code, 0);
      const all = JSON.parse(r.stdout) as Array<{ id: number }>;
      assert.deepEqual(
        all.find((l) => l.id === id),
        { id, type: 'netfilter', prog_id: prog.id, pf: 2, hooknum: 3, priority: 4321, flags: 0 },
      );

      r = await runLink('show', String(id));
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `${id}: netfilter  prog ${prog.id}\n\tpf 2 hook 3 priority 4321\n`);

      link.pin(pin);
      r = await runLink('show', 'pinned', pin, '--json');
      assert.equal(r.code, 0);
      assert.equal((JSON.parse(r.stdout) as { id: number }).id, id);

      r = await runLink('detach', String(id));
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`detached link ${id} \\(netfilter`));
      const seen = readStats(map).count;
      const s = createSocket('udp4');
      await new Promise<void>((resolve) => s.send('x', 9, '127.0.0.1', () => resolve()));
      s.close();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(readStats(map).count, seen, 'the detached program no longer runs');

      await assert.rejects(runLink('bogus'), /unknown verb/);
      await assert.rejects(runLink('show', 'nonsense'), /expected an id/);
      await assert.rejects(runLink('show', '4294967295'), (err: unknown) => err instanceof TargetNotFoundError);
    } finally {
      link.unpin();
      rmSync(pin, { force: true });
      link.close();
      prog.close();
      map.close();
    }
  });
});
