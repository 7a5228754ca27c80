// uprobes and uretprobes: a function in an executable or library, by symbol or file offset,
// through the perf uprobe PMU or, without it, uprobe_events in tracefs.
import { existsSync } from 'node:fs';
import { BpfError, InvalidArgumentError, NotSupportedError } from '../errors.js';
import { FD } from '../sys/fd.js';
import { ProgramType } from '../sys/types.js';
import { requireType, type AttachableProgram } from './attachable.js';
import { resolveBinary, symbolOffset } from './binaries.js';
import { TargetNotFoundError } from './errors.js';
import { pmuRetprobeBit, pmuType } from './kernel.js';
import type { Link } from './link.js';
import { attachToPerfEvent } from './perf.js';
import { perfEventOpenRaw, PerfType } from '../sys/perf.js';
import { addProbeEvent, haveProbeEvents, probeEventName, removeProbeEvent } from './tracefs.js';
import { ENOENT, ESRCH } from '../sys/errno.js';

export interface UprobeOptions {
  program: AttachableProgram;
  /** An absolute path, or a library ('libc.so.6', 'c') or program name to look up. */
  path: string;
  /** The function; without it, offset is a file offset. */
  symbol?: string;
  /** Bytes past the symbol, or the file offset when there is no symbol. */
  offset?: number;
  /** A uretprobe: run when the function returns. */
  ret?: boolean;
  /** Only this process; every process that maps the file by default. */
  pid?: number;
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint;
  /** The file offset of a USDT semaphore the kernel should count up while attached. */
  refCtrOffset?: number;
  /** 'pmu' (the default when the kernel has the uprobe PMU) or 'tracefs' (uprobe_events). */
  mechanism?: 'pmu' | 'tracefs';
}

/** Attaches a KPROBE-type program to a user-space function. */
export function attachUprobe(opts: UprobeOptions): Link {
  const hook = opts.ret ? 'uretprobe' : 'uprobe';
  requireType(hook, opts.program, ProgramType.KPROBE);
  const extra = opts.offset ?? 0;
  if (!Number.isInteger(extra) || extra < 0) throw new InvalidArgumentError(`invalid uprobe offset ${extra}`);
  if (opts.symbol === undefined && opts.offset === undefined) throw new InvalidArgumentError('a uprobe needs a symbol or a file offset');
  const pid = opts.pid ?? -1;
  if (!Number.isInteger(pid) || pid < -1 || pid === 0) throw new InvalidArgumentError(`invalid pid ${pid}`);
  if (pid > 0 && !existsSync(`/proc/${pid}`)) throw new TargetNotFoundError('process', String(pid));
  const path = resolveBinary(opts.path);
  const offset = (opts.symbol !== undefined ? symbolOffset(path, opts.symbol) : 0) + extra;
  const at = opts.symbol !== undefined ? `${opts.symbol}${extra ? `+0x${extra.toString(16)}` : ''}` : `0x${offset.toString(16)}`;
  const target = `${path}:${at}${pid > 0 ? ` pid ${pid}` : ''}`;
  const ref = opts.refCtrOffset ?? 0;
  const cpu = pid > 0 ? -1 : 0;
  const fail = (errno: number): Error => {
    if (errno === ESRCH) return new TargetNotFoundError('process', String(pid));
    if (errno === ENOENT) return new TargetNotFoundError('file', path);
    return new BpfError('perf_event_open', errno, `${hook} ${target}`);
  };
  const common = {
    hook,
    target,
    ...(opts.cookie !== undefined ? { cookie: opts.cookie } : {}),
    describe: () => ({ kind: 'perf_event' as const, event: opts.ret ? ('uretprobe' as const) : ('uprobe' as const), name: path, offset }),
  };
  const type = pmuType('uprobe');
  if (opts.mechanism !== 'tracefs' && type !== undefined) {
    const config = (opts.ret ? 1n << BigInt(pmuRetprobeBit('uprobe')) : 0n) | (BigInt(ref) << 32n);
    const r = perfEventOpenRaw({ type, config, probeName: path, config2: BigInt(offset) }, pid, cpu);
    if (r < 0) throw fail(-r);
    return attachToPerfEvent(opts.program, new FD(r, `perf event ${hook} ${target}`), common);
  }
  if (opts.mechanism === 'pmu') throw new NotSupportedError('uprobes', 'no uprobe PMU (/sys/bus/event_source/devices/uprobe)');
  if (!haveProbeEvents('uprobe_events')) throw new NotSupportedError('uprobes', 'no uprobe PMU and no uprobe_events in tracefs (CONFIG_UPROBE_EVENTS)');
  if (/\s/.test(path)) throw new InvalidArgumentError(`uprobe_events cannot name a path with spaces: ${path}`);
  const name = probeEventName(opts.symbol ?? `off_${offset.toString(16)}`);
  const def = `${opts.ret ? 'r' : 'p'}:tsbpf/${name} ${path}:0x${offset.toString(16)}${ref ? `(0x${ref.toString(16)})` : ''}`;
  const id = addProbeEvent('uprobe_events', def, name, () => new BpfError('uprobe_events', 22, `${hook} ${target}`));
  const r = perfEventOpenRaw({ type: PerfType.TRACEPOINT, config: BigInt(id) }, pid, cpu);
  if (r < 0) {
    removeProbeEvent('uprobe_events', name);
    throw fail(-r);
  }
  return attachToPerfEvent(opts.program, new FD(r, `perf event ${hook} ${target}`), { ...common, cleanup: () => removeProbeEvent('uprobe_events', name) });
}
