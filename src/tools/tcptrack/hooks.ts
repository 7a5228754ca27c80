// Which of tcptrack's programs this kernel runs, and loading and attaching them.
//
// The socket state changes come from tp_btf (BTF-typed, cheapest) or, where the kernel lacks
// BTF tracing, the raw tracepoint of the same event. The accept syscall tracepoints name the
// task that accepts an inbound connection; fexit on tcp_v{4,6}_connect sees connects that fail
// before any state change. Each is used where it loads and attaches; what is not used is
// removed from the spec before load, and the rodata says which of the optional ones run.
import { existsSync } from 'node:fs';
import { type Collection, haveFentry, type Link, probeFentry, tracepointId, TsbpfError } from '../../index.js';
import { toolFile } from '../common/assets.js';
import { loadTcptrack, type Tcptrack, type TcptrackConfig, type TcptrackPrograms } from './tcptrack_bpf.js';

/**
 * The compiled object, beside its source (shipped with the package's src/): the generated
 * module's own path is beside the compiled module, where tsc does not copy it.
 */
export const OBJECT_PATH = toolFile('tcptrack', 'tcptrack.bpf.o');

type ProgramName = keyof TcptrackPrograms;

/**
 * The ring buffer's size: about 32,000 records (128 bytes with their header), a second of a
 * busy host's connections and closes, for when the reader does not get a CPU for a while.
 */
export const RING_BYTES = 4 * 1024 * 1024;

/** Slots of the socket table (sock_slots), as SOCK_SLOTS in tcptrack.bpf.c. */
export const SOCKET_SLOTS = 32768;

/** The hooks tcptrack can use, each with the program that runs there. */
export const HOOKS = {
  stateBtf: { program: 'tcptrack_state_btf', section: 'tp_btf/inet_sock_set_state' },
  stateRaw: { program: 'tcptrack_state_raw', section: 'raw_tp/inet_sock_set_state' },
  accept4: { program: 'tcptrack_accept4_exit', section: 'tracepoint/syscalls/sys_exit_accept4' },
  accept: { program: 'tcptrack_accept_exit', section: 'tracepoint/syscalls/sys_exit_accept' },
  connect4: { program: 'tcptrack_v4_connect_exit', section: 'fexit/tcp_v4_connect' },
  connect6: { program: 'tcptrack_v6_connect_exit', section: 'fexit/tcp_v6_connect' },
} as const satisfies Record<string, { program: ProgramName; section: string }>;

export type HookName = keyof typeof HOOKS;

/** Hooks in use and, for those left out, why. */
export interface HookPlan {
  /** In use, in attach order. */
  readonly use: HookName[];
  /** Left out, with the reason. */
  readonly skipped: Array<{ hook: HookName; reason: string }>;
}

/** What the kernel offers, asked once per plan; tests replace it. */
export interface HookProbes {
  tpBtf(): string | undefined;
  tracepoint(group: string, name: string): string | undefined;
  fexit(): string | undefined;
}

/** Each probe returns undefined when the hook can be used, else why not. */
export const kernelProbes: HookProbes = {
  tpBtf() {
    // Whether tp_btf loads is only known by loading it: a failure falls back to raw_tp then.
    return existsSync('/sys/kernel/btf/vmlinux') ? undefined : 'the kernel has no BTF (/sys/kernel/btf/vmlinux)';
  },
  tracepoint(group, name) {
    try {
      tracepointId(group, name);
      return undefined;
    } catch (err) {
      return `no tracepoint ${group}/${name}${err instanceof Error ? ` (${err.message})` : ''}`;
    }
  },
  fexit() {
    return haveFentry() ? undefined : fexitUnavailable(probeFentry().detail);
  },
};

/**
 * Why the connect exits are not used, from the fentry probe's detail. tcptrack has checked its
 * privileges before it plans, so an EPERM here is the kernel refusing the program type to
 * everyone (fentry/fexit attach through ftrace trampolines, which the kernel does not allow),
 * not a missing capability: the message says so, and what is missed without them.
 */
export function fexitUnavailable(detail: string | undefined): string {
  const missed = 'connects that fail before their SYN (no route, no local port) are not reported';
  if (detail !== undefined && /\bEPERM\b/.test(detail)) {
    return `fentry/fexit need ftrace (BPF trampolines), which this kernel does not allow: it refuses to load them even with CAP_BPF and CAP_SYS_ADMIN (EPERM here is the kernel's answer to the program type, not a missing privilege); ${missed}`;
  }
  return `fentry/fexit are not supported${detail ? ` (${detail})` : ''}; ${missed}`;
}

/** The hooks to try first: the best of each kind the probes allow, accept hooks only for `accept`. */
export function planHooks(probes: HookProbes = kernelProbes, wants: { accept: boolean } = { accept: true }): HookPlan {
  const use: HookName[] = [];
  const skipped: HookPlan['skipped'] = [];
  const btf = probes.tpBtf();
  if (btf === undefined) use.push('stateBtf');
  else {
    skipped.push({ hook: 'stateBtf', reason: btf });
    use.push('stateRaw');
  }
  for (const [hook, name] of [
    ['accept4', 'sys_exit_accept4'],
    ['accept', 'sys_exit_accept'],
  ] as const) {
    const why = wants.accept ? probes.tracepoint('syscalls', name) : 'inbound connections not asked for (--accept)';
    if (why === undefined) use.push(hook);
    else skipped.push({ hook, reason: why });
  }
  const fexit = probes.fexit();
  for (const hook of ['connect4', 'connect6'] as const) {
    if (fexit === undefined) use.push(hook);
    else skipped.push({ hook, reason: fexit });
  }
  return { use, skipped };
}

/** The plan without `hook`, and its replacement where it has one (raw_tp for tp_btf). */
export function withoutHook(plan: HookPlan, hook: HookName, reason: string): HookPlan {
  const use = plan.use.filter((h) => h !== hook);
  // The two connect exits and the two accept exits go together.
  const partner: Partial<Record<HookName, HookName>> = { connect4: 'connect6', connect6: 'connect4' };
  const also = partner[hook];
  const skipped = [...plan.skipped, { hook, reason }];
  if (also !== undefined && use.includes(also)) {
    use.splice(use.indexOf(also), 1);
    skipped.push({ hook: also, reason: `goes with ${HOOKS[hook].section}` });
  }
  if (hook === 'stateBtf') use.unshift('stateRaw');
  return { use, skipped };
}

/** A loaded and attached tracker: close() detaches and frees everything, once. */
export interface Tracker {
  readonly collection: Collection;
  readonly links: Link[];
  readonly plan: HookPlan;
  close(): void;
}

/** A load or attach failure that the named hook caused. */
export class HookError extends TsbpfError {
  readonly hook: HookName;
  constructor(hook: HookName, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(cause instanceof TsbpfError ? cause.code : 'EINVAL', `${HOOKS[hook].section}: ${message}`, { cause });
    this.hook = hook;
  }
}

/** Filters and switches for the object's rodata, without those the plan decides. */
export type TrackerConfig = Omit<TcptrackConfig, 'accept_syscalls' | 'connect_exit' | 'sock_slot_mask'>;


function hookOfProgram(plan: HookPlan, program: string | undefined): HookName | undefined {
  return plan.use.find((h) => HOOKS[h].program === program);
}

export interface TrackerOptions {
  /** The compiled object (default OBJECT_PATH). */
  objectPath?: string;
  /** The ring buffer's size in bytes, a power of two of pages (default RING_BYTES). */
  ringBytes?: number;
  /**
   * Slots of the socket table, a power of two (default SOCKET_SLOTS). Sockets whose slot is
   * taken go to the hash table behind it: 1 sends all but one there.
   */
  socketSlots?: number;
}

/**
 * Loads the plan's programs (only those: the others never reach the kernel) with `config` and
 * attaches them; on failure nothing stays behind.
 */
export async function openTracker(plan: HookPlan, config: TrackerConfig, options: TrackerOptions = {}): Promise<Tracker> {
  const slots = options.socketSlots ?? SOCKET_SLOTS;
  if (!Number.isInteger(slots) || slots < 1 || slots > SOCKET_SLOTS || (slots & (slots - 1)) !== 0) {
    throw new RangeError(`socketSlots: a power of two from 1 to ${SOCKET_SLOTS}, got ${slots}`);
  }
  const full: TcptrackConfig = {
    ...config,
    accept_syscalls: plan.use.includes('accept4') || plan.use.includes('accept') ? 1 : 0,
    connect_exit: plan.use.includes('connect4') ? 1 : 0,
    sock_slot_mask: slots - 1,
  };
  let tcptrack: Tcptrack;
  try {
    tcptrack = await loadTcptrack({
      object: options.objectPath ?? OBJECT_PATH,
      config: full,
      programs: plan.use.map((h) => HOOKS[h].program),
      maxEntries: { events: options.ringBytes ?? RING_BYTES, sock_slots: slots },
    });
  } catch (err) {
    const hook = hookOfProgram(plan, (err as { program?: string }).program);
    throw hook !== undefined && hook !== 'stateRaw' ? new HookError(hook, err) : err;
  }
  const links: Link[] = [];
  for (const hook of plan.use) {
    const program = tcptrack.programs[HOOKS[hook].program] as TcptrackPrograms[ProgramName] | undefined;
    try {
      if (program === undefined) throw new TsbpfError('ENOENT', `program ${HOOKS[hook].program} was not loaded`);
      // The link closes with the object.
      links.push(program.attach());
    } catch (err) {
      tcptrack.close();
      throw hook === 'stateRaw' ? err : new HookError(hook, err);
    }
  }
  return {
    collection: tcptrack.collection,
    links,
    plan,
    close: () => tcptrack.close(),
  };
}

/**
 * openTracker, leaving out a hook that fails to load or attach (tp_btf falls back to raw_tp)
 * until only the state tracepoint is left; a failure there is the caller's.
 */
export async function openTrackerWithFallback(plan: HookPlan, config: TrackerConfig, options: TrackerOptions = {}): Promise<Tracker> {
  let current = plan;
  let retries = 0;
  for (;;) {
    try {
      return await openTracker(current, config, options);
    } catch (err) {
      const cause = err instanceof HookError ? err.cause : err;
      // The verifier gives up with EAGAIN when a signal arrives (a profiler's SIGPROF): that
      // says nothing about the hook, so the same plan is tried again.
      if (codeOf(cause) === 'EAGAIN' && retries++ < MAX_RETRIES) continue;
      if (!(err instanceof HookError) || codeOf(cause) === 'EPERM' || codeOf(cause) === 'EACCES') throw cause;
      current = withoutHook(current, err.hook, firstLine(err.message));
    }
  }
}

const MAX_RETRIES = 5;

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/** "tp_btf/inet_sock_set_state, tracepoint/syscalls/sys_exit_accept4, ..." */
export function describePlan(plan: HookPlan): string[] {
  const lines = [`hooks: ${plan.use.map((h) => HOOKS[h].section).join(', ')}`];
  // Hooks left out for one reason share a line.
  const byReason = new Map<string, string[]>();
  for (const s of plan.skipped) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), HOOKS[s.hook].section]);
  for (const [reason, sections] of byReason) lines.push(`not used: ${sections.join(', ')}: ${reason}`);
  return lines;
}
