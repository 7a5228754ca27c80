// Shared helpers for kernel tests: privilege checks, unique names, fd counting, netns setup.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type TestContext, type TestOptions, test } from 'node:test';
import { findClang, findStrip } from '../../src/codegen/toolchain.js';
import { TsbpfError } from '../../src/errors.js';
import type { ProbeResult } from '../../src/features/probe.js';
import { allIds, getFdById } from '../../src/sys/attrs.js';
import { linkInfo } from '../../src/sys/linkinfo.js';
import { Cmd } from '../../src/sys/types.js';

/** True when this process may use bpf(2) fully (root). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Skips a kernel test that cannot run without root, with the reason — except under CI=true,
 * where the missing privilege is a failure: CI must run every kernel test.
 */
export function requireRoot(t: TestContext): boolean {
  if (isRoot()) return true;
  if (process.env.CI === 'true') throw new Error('kernel tests must run as root under CI');
  t.skip('needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)');
  return false;
}

type TestBody = (t: TestContext) => unknown;

/**
 * A kernel test: node:test's `test` (or `it`, the same function) whose body runs only as root;
 * without root it is skipped with the reason, or under CI=true fails (see requireRoot).
 */
export function kernelTest(name: string, fn: TestBody): Promise<void>;
export function kernelTest(name: string, options: TestOptions, fn: TestBody): Promise<void>;
export function kernelTest(name: string, a: TestOptions | TestBody, b?: TestBody): Promise<void> {
  const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b as TestBody];
  return test(name, options, async (t) => {
    if (!requireRoot(t)) return;
    await fn(t);
  });
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Asserts that `fn` throws (or, when it returns a promise, rejects with) an error of class `type`
 * (any tsbpf error by default) whose `.code` is `code`, an errno name such as 'EEXIST'.
 */
export function assertErrno(fn: () => Promise<unknown>, code: string, type?: ErrorClass): Promise<void>;
export function assertErrno(fn: () => unknown, code: string, type?: ErrorClass): void;
export function assertErrno(fn: () => unknown, code: string, type: ErrorClass = TsbpfError): Promise<void> | void {
  const check = (err: unknown): true => {
    if (err instanceof type && (err as { code?: unknown }).code === code) return true;
    const got = err instanceof Error ? `${err.name} ${String((err as { code?: unknown }).code)}: ${err.message}` : String(err);
    throw new assert.AssertionError({ message: `expected ${type.name} with code ${code}, got ${got}`, actual: err, expected: code, operator: 'assertErrno' });
  };
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    check(err);
    return;
  }
  if (result instanceof Promise) return assert.rejects(result, check);
  assert.fail(`expected ${type.name} with code ${code}, nothing was thrown`);
}

/** Directories searched for commands: PATH, and the sbin directories a user's PATH may lack. */
function searchPath(): string[] {
  return [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter((d) => d !== '');
}

/** True when `name` is an executable command here. */
export function haveCommand(name: string): boolean {
  return searchPath().some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The reason a test needing `command` (from the Debian package `pkg`) skips, or false when it
 * runs: the command is here, or CI=true, where `npm test`'s setup step installs it and its
 * absence must be a failure. For `{ skip: toolSkip(...) }` on a describe or an it.
 */
export function toolSkip(command: string, pkg: string): string | false {
  if (haveCommand(command) || process.env.CI === 'true') return false;
  return `needs ${command} (apt-get install ${pkg}; npm test installs it when run as root on Debian or Ubuntu)`;
}

/** Skips a test that needs `command`, naming it and its package; under CI=true a failure. */
export function requireCommand(t: TestContext, command: string, pkg: string): boolean {
  if (haveCommand(command)) return true;
  if (process.env.CI === 'true') throw new Error(`${command} is not installed (apt-get install ${pkg}); npm test's setup step installs it as root`);
  t.skip(toolSkip(command, pkg) as string);
  return false;
}

/** True when clang, llvm-strip and libbpf's headers are here, to build BPF C. */
export function haveBpfToolchain(): boolean {
  try {
    findClang();
    findStrip();
    return existsSync('/usr/include/bpf/bpf_helpers.h');
  } catch {
    return false;
  }
}

/** Skips a test that builds BPF C without clang, llvm-strip or libbpf-dev; under CI=true a failure. */
export function requireBpfToolchain(t: TestContext): boolean {
  if (haveBpfToolchain()) return true;
  const why = 'needs clang, llvm-strip and libbpf headers (apt-get install clang-19 llvm-19 libbpf-dev; npm test installs them when run as root on Debian or Ubuntu)';
  if (process.env.CI === 'true') throw new Error(why);
  t.skip(why);
  return false;
}

/**
 * Skips — even under CI=true — a test of a feature the running kernel refuses to everyone, as
 * tsbpf's probes (which ask as libbpf and bpftool do) found it: ARENA maps here, for one. A
 * feature the probe could not decide on is tried by the test itself.
 */
export function requireKernelFeature(t: TestContext, what: string, probe: ProbeResult): boolean {
  if (probe.supported !== false) return true;
  t.skip(`this kernel refuses ${what} to everyone${probe.detail ? ` (${probe.detail})` : ''}`);
  return false;
}

/** Skips because this kernel lacks a feature; never for lack of privileges. */
export function skipUnsupported(t: TestContext, feature: string): void {
  t.skip(`this kernel has no ${feature}`);
}

/** Where the cgroup v2 hierarchy is mounted, if it is. */
export function cgroup2Root(): string | undefined {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, dir, fstype] = line.split(' ');
    if (fstype === 'cgroup2' && dir) return dir;
  }
  return undefined;
}

/**
 * The cgroup v2 mount a cgroup test works under. Without one the test is skipped with the
 * reason, except under CI=true, where `npm test`'s setup step mounts one: there it is a failure.
 */
export function requireCgroup2(t: TestContext): string | undefined {
  const root = cgroup2Root();
  if (root !== undefined) return root;
  if (process.env.CI === 'true') throw new Error("no cgroup v2 hierarchy is mounted under CI (npm test's setup step mounts one as root)");
  t.skip('no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)');
  return undefined;
}

let counter = 0;
/** A name unique to this process and call, at most `max` characters (interface names: 15). */
export function uniqueName(prefix: string, max = 15): string {
  const id = `${process.pid.toString(36)}${(counter++).toString(36)}`;
  return `${prefix.slice(0, Math.max(1, max - id.length))}${id}`.slice(0, max);
}

/**
 * A bpffs directory of the test's own for the LIBBPF_PIN_BY_NAME maps of what it loads (the
 * `pinPath` of a load), removed with its pins when the test ends. Without one, such maps are
 * pinned at /sys/fs/bpf itself, as libbpf does, and outlive the test.
 */
export function testPinDir(t: TestContext): string {
  const dir = join('/sys/fs/bpf', uniqueName('tsbpftest', 40));
  mkdirSync(dir);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The ids of the bpf_links whose program is one of `progIds`: the links a test made, where
 * counting every link of the machine would count those of other processes too.
 */
export function linksOfPrograms(progIds: readonly number[]): number[] {
  const out: number[] = [];
  for (const id of allIds(Cmd.LINK_GET_NEXT_ID)) {
    let fd;
    try {
      fd = getFdById(Cmd.LINK_GET_FD_BY_ID, id);
    } catch {
      continue; // Gone since it was listed.
    }
    try {
      if (progIds.includes(linkInfo(fd.value).progId)) out.push(id);
    } finally {
      fd.close();
    }
  }
  return out;
}

/** The ids named by `field` (`link_id`, `prog_id`) in the fdinfo of this process's open fds. */
function heldIds(field: 'link_id' | 'prog_id'): Set<number> {
  const out = new Set<number>();
  const pattern = new RegExp(`^${field}:\\s*(\\d+)$`, 'm');
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // Closed since it was listed.
    }
    const m = pattern.exec(text);
    if (m?.[1] !== undefined) out.add(Number(m[1]));
  }
  return out;
}

/**
 * The links made since `before` that are this process's: held by one of its fds, or running one
 * of the programs it holds. Links another process makes meanwhile (a second test run on the same
 * machine) are not this test's leak.
 */
export function ownNewLinks(before: ReadonlySet<number>): number[] {
  const added = allIds(Cmd.LINK_GET_NEXT_ID).filter((id) => !before.has(id));
  if (added.length === 0) return [];
  const held = heldIds('link_id');
  const ofOurPrograms = new Set(linksOfPrograms([...heldIds('prog_id')]));
  return added.filter((id) => held.has(id) || ofOurPrograms.has(id));
}

/**
 * `count()` once it reaches 0, or its value after `ms`. The kernel frees some closed links (those
 * of uprobes, of sleepable programs) only after an RCU grace period, so their ids can outlive
 * close() for a moment: a leak is a link still there after that.
 */
export function settledCount(count: () => number, ms = 3000): number {
  const until = Date.now() + ms;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let n = count();
  while (n !== 0 && Date.now() < until) {
    Atomics.wait(nap, 0, 0, 20);
    n = count();
  }
  return n;
}

/** The number of open file descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Runs a command, throwing with its stderr on failure. */
export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

export interface VethPair {
  /** The namespace holding the peer end. */
  netns: string;
  /** The interface in this (root) namespace. */
  host: string;
  /** The interface inside `netns`. */
  peer: string;
  hostAddr: string;
  peerAddr: string;
  hostAddr6: string;
  peerAddr6: string;
  ifindex: number;
  /** Removes the namespace and the pair. */
  remove(): void;
}

let subnet = 0;

/**
 * A 10.N.S.0/24 no interface of this namespace has an address in: the first after this
 * process's own start. A run killed before its clean-up leaves its pair behind, and a second
 * pair in the same /24 would take its packets.
 */
function freeSubnet(): [number, number] {
  const used = new Set(sh('ip', ['-4', '-o', 'addr', 'show']).match(/ 10\.\d+\.\d+\./g)?.map((a) => a.trim()) ?? []);
  const first = (process.pid % 200) + 1;
  for (let i = 0; i < 200 * 250; i++) {
    const n = ((first - 1 + Math.floor(i / 250)) % 200) + 1;
    const s = (subnet + i) % 250;
    if (!used.has(`10.${n}.${s}.`)) {
      subnet = s + 1;
      return [n, s];
    }
  }
  throw new Error('no free 10.N.S.0/24 for a veth pair');
}

/**
 * A veth pair between the root namespace and a new namespace, with IPv4 and IPv6 addresses
 * in a subnet no other interface here uses.
 */
export function createVethPair(prefix = 'tb'): VethPair {
  const netns = uniqueName(`${prefix}ns`, 30);
  const host = uniqueName(`${prefix}h`);
  const peer = uniqueName(`${prefix}p`);
  const [n, s] = freeSubnet();
  const hostAddr = `10.${n}.${s}.1`;
  const peerAddr = `10.${n}.${s}.2`;
  const hostAddr6 = `fd00:${n.toString(16)}:${(s + 1).toString(16)}::1`;
  const peerAddr6 = `fd00:${n.toString(16)}:${(s + 1).toString(16)}::2`;
  const remove = (): void => {
    sh('ip', ['netns', 'del', netns], { allowFail: true });
    sh('ip', ['link', 'del', host], { allowFail: true });
  };
  try {
    sh('ip', ['netns', 'add', netns]);
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', netns]);
    sh('ip', ['addr', 'add', `${hostAddr}/24`, 'dev', host]);
    sh('ip', ['-6', 'addr', 'add', `${hostAddr6}/64`, 'dev', host, 'nodad']);
    sh('ip', ['link', 'set', host, 'up']);
    sh('ip', ['netns', 'exec', netns, 'ip', 'addr', 'add', `${peerAddr}/24`, 'dev', peer]);
    sh('ip', ['netns', 'exec', netns, 'ip', '-6', 'addr', 'add', `${peerAddr6}/64`, 'dev', peer, 'nodad']);
    sh('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', peer, 'up']);
    sh('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    remove();
    throw err;
  }
  const ifindex = Number(sh('cat', [`/sys/class/net/${host}/ifindex`]).trim());
  return { netns, host, peer, hostAddr, peerAddr, hostAddr6, peerAddr6, ifindex, remove };
}

/**
 * Runs `binary args...`, a program that waits for a line on stdin before doing its work, so
 * that `whileWaiting` can attach probes to its pid first; resolves with its output and what
 * `whileWaiting` returned once it exits with 0 (within 10 s).
 */
export async function runWaitingChild<T>(binary: string, args: readonly string[], whileWaiting?: (pid: number) => T): Promise<{ out: string; attached: T | undefined }> {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let attached: T | undefined;
  try {
    attached = whileWaiting?.(child.pid as number);
  } finally {
    child.stdin.end('go\n');
  }
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 10000)))]);
  clearTimeout(timer);
  assert.equal(code, 0, `${binary} ran to the end`);
  return { out, attached };
}
