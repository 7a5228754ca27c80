// A running guard: the BPF programs loaded with the system calls the rules need, the
// enforcement entries in the kernel's maps, the ring buffer read into the engine, and the
// counts of what was lost. close() detaches everything, once.
import { type Link, type PermissionWatcher, RingBufReader, TsbpfError } from '../../index.js';
import { findCgroup2Root } from '../common/cgroups.js';
import { ProcessTable } from '../common/process-table.js';
import { type EnforcementPlan, planEnforcement } from './enforce.js';
import { type Alert, GuardEngine } from './engine.js';
import { decodeEvent, type GuardEvent, KIND_EXIT } from './event.js';
import { watchDenies } from './fanotify.js';
import { type Guard as GuardObject, type GuardPrograms, loadGuard } from './guard_bpf.js';
import type { RuleSet } from './loader.js';
import type { Priority } from './priority.js';
import { pathFilter } from './prefilter.js';
import { SPEC_KILL_BIND, SPEC_KILL_CONNECT, SPEC_KILL_EXEC, SPEC_KILL_SOCKET, SPEC_PATH_FILTER, SYSCALLS, type SyscallInfo, specOf } from './syscalls.js';

export const RING_BYTES = 1 << 22;
type ProgramName = keyof GuardPrograms;
type HookName = Extract<ProgramName, `guard_${'connect' | 'sendmsg' | 'bind' | 'sock_create'}${string}`>;

const EXITED_REMEMBERED = 4096;
/** The bytes of a path the kernel's prefix filter looks at (struct path_key). */
const PREFIX_LEN = 64;

export interface SessionOptions {
  rules: RuleSet;
  /** Apply the rules' actions in the kernel (else alerts only). */
  enforce?: boolean;
  /** Plan and check the enforcement, but fill no kernel map. */
  dryRun?: boolean;
  /** Report file calls of every path, not only those the rules' path prefixes allow (default true: filter). */
  pathFilter?: boolean;
  minPriority?: Priority;
  /** Only this process's events (tests; --pid). */
  targetPid?: number;
  ringBytes?: number;
  /** The cgroup v2 directory the connect hooks attach to (default: the hierarchy's root). */
  cgroup?: string;
  onAlert?(alert: Alert, event: GuardEvent): void;
  onEvent?(event: GuardEvent): void;
  /** Events that could not be delivered: `kernel` since the last call. */
  onDrops?(kernel: number): void;
}

export interface SessionStats {
  events: number;
  alerts: number;
  /** Records the ring had no room for (exact, summed over CPUs). */
  kernelDrops: number;
  hits: Map<string, number>;
  syscalls: string[];
}

/** The system calls the rules can match, by name; every traced call when a rule matches any. */
export function neededSyscalls(rules: RuleSet, plan: EnforcementPlan | undefined): SyscallInfo[] {
  const want = new Set<string>();
  let all = false;
  for (const r of rules.rules) {
    if (!r.enabled) continue;
    if (r.evtTypes === undefined) all = true;
    else for (const t of r.evtTypes) want.add(t);
  }
  if (plan !== undefined && plan.execKills.length > 0) want.add('execve').add('execveat');
  if (plan !== undefined && plan.connectKills.length > 0) want.add('connect');
  if (plan !== undefined && plan.bindKills.length > 0) want.add('bind');
  if (plan !== undefined && plan.socketDenies.length > 0) want.add('socket');
  return SYSCALLS.filter((s) => all || want.has(s.name));
}

function cgroupRoot(): string {
  const root = findCgroup2Root();
  if (root === undefined) throw new TsbpfError('ENOENT', 'no cgroup v2 hierarchy mounted (needed for connect enforcement)');
  return root;
}

function ipBytes(addr: string, family: number): Uint8Array {
  const out = new Uint8Array(16);
  if (addr === '') return out;
  if (family === 2) {
    out.set(addr.split('.').map(Number));
    return out;
  }
  const [head = '', tail] = addr.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

export class GuardSession {
  readonly engine: GuardEngine;
  readonly plan: EnforcementPlan | undefined;
  readonly syscalls: string[];
  readonly #obj: GuardObject;
  readonly #reader: RingBufReader;
  readonly #links: Link[] = [];
  #fanotify: PermissionWatcher | undefined;
  readonly #options: SessionOptions;
  #alerts = 0;
  #dropsSeen = 0;
  #closed = false;
  /** Recent exits, for waitForExit called after guard read the exit. */
  readonly #exited = new Set<number>();
  readonly #exitWaiters = new Map<number, Array<(seen: boolean) => void>>();

  private constructor(obj: GuardObject, options: SessionOptions, plan: EnforcementPlan | undefined, syscalls: string[], table: ProcessTable) {
    this.#obj = obj;
    this.#options = options;
    this.plan = plan;
    this.syscalls = syscalls;
    this.engine = new GuardEngine(options.rules, table, { enforcing: plan !== undefined && options.dryRun !== true, ...(options.minPriority !== undefined ? { minPriority: options.minPriority } : {}) });
    this.#reader = new RingBufReader(obj.maps.events);
  }

  /** Loads, fills the maps, attaches, seeds the process table and starts reading. */
  static async open(options: SessionOptions): Promise<GuardSession> {
    const plan = options.enforce ? planEnforcement(options.rules) : undefined;
    const needed = neededSyscalls(options.rules, plan);
    const live = plan !== undefined && options.dryRun !== true ? plan : undefined;
    // Each cgroup hook is loaded only when a rule needs it.
    const hooks: HookName[] = [];
    if (live !== undefined && live.connectKills.length > 0) hooks.push('guard_connect4', 'guard_connect6', 'guard_sendmsg4', 'guard_sendmsg6');
    if (live !== undefined && live.bindKills.length > 0) hooks.push('guard_bind4', 'guard_bind6');
    if (live !== undefined && live.socketDenies.length > 0) hooks.push('guard_sock_create');
    const programs: ProgramName[] = ['guard_sys_enter', 'guard_sys_exit', 'guard_exec', 'guard_fork', 'guard_exit', ...hooks];
    const obj = await loadGuard({
      config: { self_tgid: process.pid, target_tgid: options.targetPid ?? 0 },
      programs: [...programs],
      maxEntries: { events: options.ringBytes ?? RING_BYTES },
    });
    let session: GuardSession | undefined;
    try {
      const filter = options.pathFilter === false ? undefined : pathFilter(options.rules, needed);
      for (const p of filter?.prefixes ?? []) {
        const bytes = Buffer.from(p).subarray(0, PREFIX_LEN);
        const data = new Uint8Array(PREFIX_LEN);
        data.set(bytes);
        obj.maps.path_prefixes.set({ prefixlen: bytes.length * 8, data }, 1);
      }
      for (const s of needed) {
        let bits = filter?.syscalls.includes(s) ? SPEC_PATH_FILTER : 0;
        if (live !== undefined && live.execKills.length > 0 && s.exec) bits |= SPEC_KILL_EXEC;
        if (live !== undefined && live.connectKills.length > 0 && s.name === 'connect') bits |= SPEC_KILL_CONNECT;
        if (live !== undefined && live.bindKills.length > 0 && s.name === 'bind') bits |= SPEC_KILL_BIND;
        if (live !== undefined && live.socketDenies.length > 0 && s.name === 'socket') bits |= SPEC_KILL_SOCKET;
        obj.maps.syscalls.set(s.nr, { ...specOf(s, bits), pad: 0 });
      }
      if (live !== undefined) {
        for (const k of live.execKills) obj.maps.kill_exec.set(k.path, k.signal);
        for (const k of live.connectKills) obj.maps.kill_connect.set({ addr: ipBytes(k.addr, k.family), port: k.port, family: k.family }, k.signal);
        for (const k of live.bindKills) obj.maps.kill_bind.set({ addr: ipBytes(k.addr, k.family), port: k.port, family: k.family }, k.signal);
        for (const k of live.socketDenies) obj.maps.deny_socket.set({ family: k.family, type_: k.type }, k.signal);
      }
      const table = new ProcessTable();
      table.seed();
      session = new GuardSession(obj, options, plan, needed.map((s) => s.name), table);
      const links = session.#links;
      for (const name of ['guard_exec', 'guard_fork', 'guard_exit', 'guard_sys_exit', 'guard_sys_enter'] as const) links.push(obj.programs[name].attach());
      if (plan !== undefined && plan.denies.length > 0 && !options.dryRun) session.#fanotify = watchDenies(plan.denies);
      if (hooks.length > 0) {
        const cgroup = options.cgroup ?? cgroupRoot();
        for (const h of hooks) links.push(obj.programs[h]!.attach({ cgroup }));
      }
      session.#start();
      return session;
    } catch (err) {
      if (session !== undefined) session.close();
      else obj.close();
      throw err;
    }
  }

  #start(): void {
    this.#reader.startRaw(this.#record);
  }

  readonly #record = (data: Uint8Array, offset: number, length: number): void => {
    const e = decodeEvent(data, offset, length);
    this.#options.onEvent?.(e);
    for (const a of this.engine.handle(e)) {
      this.#alerts++;
      this.#options.onAlert?.(a, e);
    }
    if (e.kind === KIND_EXIT) {
      this.#exited.add(e.pid);
      if (this.#exited.size > EXITED_REMEMBERED) this.#exited.delete(this.#exited.values().next().value!);
      const waiters = this.#exitWaiters.get(e.pid);
      if (waiters !== undefined) {
        this.#exitWaiters.delete(e.pid);
        for (const w of waiters) w(true);
      }
    }
  };

  /** Records lost in the kernel so far (the ring was full), summed over CPUs and kinds. */
  kernelDrops(): number {
    let total = 0;
    for (let i = 0; i < 3; i++) for (const v of this.#obj.maps.drops.get(i) ?? []) total += Number(v);
    return total;
  }

  /** Reports drops since the last call to onDrops; returns them. */
  checkDrops(): number {
    const now = this.kernelDrops();
    const fresh = now - this.#dropsSeen;
    this.#dropsSeen = now;
    if (fresh > 0) this.#options.onDrops?.(fresh);
    return fresh;
  }

  /** Resolves once the exit of process `pid` has been read (its earlier events were read before it). */
  waitForExit(pid: number, timeoutMs = 10000): Promise<boolean> {
    if (this.#exited.has(pid)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const list = this.#exitWaiters.get(pid) ?? [];
      list.push((seen) => {
        clearTimeout(timer);
        resolve(seen);
      });
      this.#exitWaiters.set(pid, list);
    });
  }

  /** Stops reading without detaching (the kernel then drops what does not fit: tests of the drop count). */
  pauseReading(): void {
    this.#reader.stop();
  }

  resumeReading(): void {
    this.#start();
  }

  /** Reads what is in the ring now. */
  drain(): number {
    return this.#reader.drainRaw(this.#record);
  }

  /** Runs and run time of each program, counted while statistics are enabled (enableStats). */
  programStats(): Array<{ name: string; runCount: bigint; runTimeNs: bigint }> {
    return Object.entries(this.#obj.programs).map(([name, p]) => {
      const info = (p as { program: { info(): { runCount: bigint; runTimeNs: bigint } } }).program.info();
      return { name, runCount: info.runCount, runTimeNs: info.runTimeNs };
    });
  }

  /** The ids of the loaded programs (to find their links in the kernel). */
  programIds(): number[] {
    return Object.values(this.#obj.programs).map((p) => (p as { program: { id: number } }).program.id);
  }

  stats(): SessionStats {
    return { events: this.engine.events, alerts: this.#alerts, kernelDrops: this.kernelDrops(), hits: new Map(this.engine.hits), syscalls: this.syscalls };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.close();
    this.#fanotify?.close();
    for (const l of this.#links) l.close();
    this.#obj.close();
    for (const [, ws] of this.#exitWaiters) for (const w of ws) w(false);
    this.#exitWaiters.clear();
  }
}

