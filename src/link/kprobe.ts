// kprobes and kretprobes: the perf kprobe PMU where the kernel has it, else kprobe_events in
// tracefs; multi-kprobe links (fprobe); syscall entry points by their per-machine names.
import { readFileSync } from 'node:fs';
import { BpfError, InvalidArgumentError, NotSupportedError } from '../errors.js';
import { linkCreate } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { programFd, requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import { havePmu, kernelSymbolExists, pmuRetprobeBit, pmuType } from './kernel.js';
import { syscallPrefix } from '../sys/arch.js';
import { Link } from './link.js';
import { attachToPerfEvent } from './perf.js';
import { perfEventOpenRaw, PerfType } from '../sys/perf.js';
import { addProbeEvent, haveProbeEvents, probeEventName, removeProbeEvent, tracefsRoot } from './tracefs.js';
import { EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP, ESRCH } from '../sys/errno.js';

export interface KprobeOptions {
  program: AttachableProgram;
  /** The kernel function. */
  symbol: string;
  /** Bytes into the function (kprobes only). */
  offset?: number;
  /** A kretprobe: run when the function returns. */
  ret?: boolean;
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint;
  /** 'pmu' (the default when the kernel has the kprobe PMU) or 'tracefs' (kprobe_events). */
  mechanism?: 'pmu' | 'tracefs';
}

const SYMBOL = /^[A-Za-z_.][A-Za-z0-9_.$]*$/;

/** Throws NotSupportedError('kprobes') unless the kernel has the kprobe PMU or kprobe_events. */
export function requireKprobes(): void {
  if (havePmu('kprobe') || haveProbeEvents('kprobe_events')) return;
  throw new NotSupportedError('kprobes', 'no kprobe PMU (/sys/bus/event_source/devices/kprobe) and no kprobe_events in tracefs (CONFIG_KPROBES)');
}

/** Attaches a KPROBE program to a kernel function's entry (or return, with ret). */
export function attachKprobe(opts: KprobeOptions): Link {
  requireType(opts.ret ? 'kretprobe' : 'kprobe', opts.program, ProgramType.KPROBE);
  if (!SYMBOL.test(opts.symbol)) throw new InvalidArgumentError(`invalid kernel symbol '${opts.symbol}'`);
  const offset = opts.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError(`invalid kprobe offset ${offset}`);
  if (opts.ret && offset !== 0) throw new InvalidArgumentError('a kretprobe takes no offset');
  requireKprobes();
  const hook = opts.ret ? 'kretprobe' : 'kprobe';
  const target = `${opts.symbol}${offset ? `+0x${offset.toString(16)}` : ''}`;
  const type = pmuType('kprobe');
  const useTracefs = opts.mechanism === 'tracefs' || type === undefined;
  if (opts.mechanism === 'pmu' && type === undefined) throw new NotSupportedError('kprobes', 'no kprobe PMU (/sys/bus/event_source/devices/kprobe)');
  const notFound = (cause?: unknown): TargetNotFoundError => new TargetNotFoundError('kernel symbol', opts.symbol, 'not in /proc/kallsyms or not probeable', { cause });
  const cookie = opts.cookie !== undefined ? { cookie: opts.cookie } : {};
  const event: 'kprobe' | 'kretprobe' = opts.ret ? 'kretprobe' : 'kprobe';
  const describe = { describe: () => ({ kind: 'perf_event' as const, event, name: opts.symbol, offset }) };
  if (!useTracefs) {
    const config = opts.ret ? 1n << BigInt(pmuRetprobeBit('kprobe')) : 0n;
    const r = perfEventOpenRaw({ type, config, probeName: opts.symbol, config2: BigInt(offset) }, -1, 0);
    if (r < 0) {
      if (-r === ENOENT || (-r === EINVAL && !kernelSymbolExists(opts.symbol))) throw notFound(new BpfError('perf_event_open', -r, `${hook} ${target}`));
      throw new BpfError('perf_event_open', -r, `${hook} ${target}`);
    }
    return attachToPerfEvent(opts.program, new FD(r, `perf event ${hook} ${target}`), { hook, target, ...cookie, ...describe });
  }
  if (!haveProbeEvents('kprobe_events')) throw new NotSupportedError('kprobes', 'no kprobe PMU, and no kprobe_events in tracefs');
  const name = probeEventName(opts.symbol);
  const def = `${opts.ret ? 'r' : 'p'}:tsbpf/${name} ${target}`;
  const id = addProbeEvent('kprobe_events', def, name, () => notFound());
  const r = perfEventOpenRaw({ type: PerfType.TRACEPOINT, config: BigInt(id) }, -1, 0);
  if (r < 0) {
    removeProbeEvent('kprobe_events', name);
    throw new BpfError('perf_event_open', -r, `${hook} ${target}`);
  }
  return attachToPerfEvent(opts.program, new FD(r, `perf event ${hook} ${target}`), {
    hook,
    target,
    ...cookie,
    ...describe,
    cleanup: () => removeProbeEvent('kprobe_events', name),
  });
}

export interface KprobeMultiOptions {
  program: AttachableProgram;
  /** Kernel functions by name. */
  symbols?: readonly string[];
  /** A glob ('tcp_*') over the functions tracefs lists as probeable. */
  pattern?: string;
  /** Kernel addresses, instead of names. */
  addresses?: readonly bigint[];
  /** One cookie per function, in the same order. */
  cookies?: readonly bigint[];
  ret?: boolean;
}

const BPF_F_KPROBE_MULTI_RETURN = 1;

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** The probeable kernel functions matching a glob, from available_filter_functions. */
export function matchKernelFunctions(pattern: string): string[] {
  const re = globToRegExp(pattern);
  let text: string;
  try {
    text = readFileSync(`${tracefsRoot()}/available_filter_functions`, 'utf8');
  } catch (err) {
    throw new NotSupportedError('kprobes', `cannot list probeable functions: ${(err as Error).message}`);
  }
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const name = line.split(/\s/)[0];
    if (name && re.test(name)) out.add(name);
  }
  return [...out];
}

/** Attaches one KPROBE program to many kernel functions with a single multi-kprobe link. */
export function attachKprobeMulti(opts: KprobeMultiOptions): Link {
  requireType(opts.ret ? 'kretprobe_multi' : 'kprobe_multi', opts.program, ProgramType.KPROBE);
  const given = [opts.symbols !== undefined, opts.pattern !== undefined, opts.addresses !== undefined].filter(Boolean).length;
  if (given !== 1) throw new InvalidArgumentError('give exactly one of symbols, pattern or addresses');
  requireKprobes();
  const symbols = opts.pattern !== undefined ? matchKernelFunctions(opts.pattern) : opts.symbols;
  const count = symbols?.length ?? opts.addresses?.length ?? 0;
  const what = opts.pattern !== undefined ? `pattern ${opts.pattern}` : symbols ? symbols.slice(0, 3).join(',') + (count > 3 ? ',...' : '') : `${count} addresses`;
  if (count === 0) throw new TargetNotFoundError('kernel symbol', what, 'nothing matches');
  if (opts.cookies && opts.cookies.length !== count) throw new InvalidArgumentError(`${opts.cookies.length} cookies for ${count} functions`);
  const addrs = opts.addresses ? BigUint64Array.from(opts.addresses) : undefined;
  const cookies = opts.cookies ? BigUint64Array.from(opts.cookies) : undefined;
  const hook = opts.ret ? 'kretprobe_multi' : 'kprobe_multi';
  let fd: FD;
  try {
    fd = linkCreate(
      {
        progFd: programFd(opts.program),
        targetFd: 0,
        attachType: AttachType.TRACE_KPROBE_MULTI,
        tail: { kind: 'kprobe_multi', flags: opts.ret ? BPF_F_KPROBE_MULTI_RETURN : 0, count, symbols, addrs, cookies },
      },
      `${hook} ${what}`,
    );
  } catch (err) {
    if (err instanceof BpfError && (err.errno === EOPNOTSUPP || err.errno === ENOTSUPP)) {
      throw new NotSupportedError('kprobes', 'multi-kprobe links need CONFIG_FPROBE');
    }
    if (err instanceof BpfError && (err.errno === ENOENT || err.errno === ESRCH)) throw new TargetNotFoundError('kernel symbol', what, undefined, { cause: err });
    throw err;
  }
  return new Link({ hook, target: what, mechanism: 'bpf_link', program: opts.program, fd });
}

export interface KsyscallOptions {
  program: AttachableProgram;
  /** The syscall's name: 'openat', 'execve'. */
  syscall: string;
  ret?: boolean;
  cookie?: bigint;
}

/** The kernel function a syscall enters through on this machine. */
export function syscallSymbol(syscall: string): string {
  const prefixed = `${syscallPrefix() ?? 'sys_'}${syscall}`;
  if (kernelSymbolExists(prefixed)) return prefixed;
  // Kernels without syscall wrappers name the entry sys_<name>.
  return kernelSymbolExists(`sys_${syscall}`) ? `sys_${syscall}` : prefixed;
}

/** Attaches a KPROBE program to a syscall's entry (or return). */
export function attachKsyscall(opts: KsyscallOptions): Link {
  if (!/^[a-z0-9_]+$/.test(opts.syscall)) throw new InvalidArgumentError(`invalid syscall name '${opts.syscall}'`);
  requireType(opts.ret ? 'kretsyscall' : 'ksyscall', opts.program, ProgramType.KPROBE);
  requireKprobes();
  return attachKprobe({
    program: opts.program,
    symbol: syscallSymbol(opts.syscall),
    ...(opts.ret ? { ret: true } : {}),
    ...(opts.cookie !== undefined ? { cookie: opts.cookie } : {}),
  });
}
