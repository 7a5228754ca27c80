// perf_event_open and attaching a program to a perf event: a BPF_PERF_EVENT bpf_link where the
// kernel has one (5.15+), else PERF_EVENT_IOC_SET_BPF; then the event is enabled.
import { BpfError } from '../errors.js';
import { linkCreate } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';
import { native } from '../sys/native.js';
import { AttachType } from '../sys/types.js';
import { programFd, programId, type AttachableProgram } from './attachable.js';
import { kernelAtLeast } from './kernel.js';
import { Link } from './link.js';
import type { LinkDetails } from './info.js';

/** perf_event_attr.type */
export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

const PERF_ATTR_SIZE = 128;
const PERF_FLAG_FD_CLOEXEC = 1 << 3;
const FLAG_DISABLED = 1n << 0n;
const FLAG_FREQ = 1n << 10n;

export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;

export interface PerfEventAttr {
  type: number;
  config?: bigint;
  /** kprobe_func / uprobe_path pointer, or bp_addr. */
  config1?: bigint;
  /** probe offset, or bp_len. */
  config2?: bigint;
  samplePeriod?: bigint;
  sampleFreq?: bigint;
  wakeupEvents?: number;
}

/** The perf_event_attr bytes; buffers behind config1 must stay alive until the open. */
export function encodePerfEventAttr(a: PerfEventAttr): Uint8Array {
  const bytes = new Uint8Array(new ArrayBuffer(PERF_ATTR_SIZE));
  const v = new DataView(bytes.buffer);
  let flags = FLAG_DISABLED;
  v.setUint32(0, a.type, true);
  v.setUint32(4, PERF_ATTR_SIZE, true);
  v.setBigUint64(8, a.config ?? 0n, true);
  if (a.sampleFreq !== undefined) {
    v.setBigUint64(16, a.sampleFreq, true);
    flags |= FLAG_FREQ;
  } else {
    v.setBigUint64(16, a.samplePeriod ?? 1n, true);
  }
  v.setBigUint64(40, flags, true);
  v.setUint32(48, a.wakeupEvents ?? 1, true);
  v.setBigUint64(56, a.config1 ?? 0n, true);
  v.setBigUint64(64, a.config2 ?? 0n, true);
  return bytes;
}

/** perf_event_open, returning -errno rather than throwing so callers can name the target. */
export function perfEventOpenRaw(attr: PerfEventAttr, pid: number, cpu: number): number {
  return native.perfEventOpen(encodePerfEventAttr(attr), pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

export function perfEventOpen(attr: PerfEventAttr, pid: number, cpu: number, context: string): FD {
  const r = perfEventOpenRaw(attr, pid, cpu);
  if (r < 0) throw new BpfError('perf_event_open', -r, context);
  return new FD(r, `perf event ${context}`);
}

function ioctl(fd: number, request: number, arg: number, what: string, context: string): void {
  const r = native.ioctl(fd, request, arg);
  if (r < 0) throw new BpfError(what, -r, context);
}

let perfLinks: boolean | undefined;

export interface PerfAttachOptions {
  hook: string;
  target: string;
  cookie?: bigint;
  /** Facts the kernel's link info lacks, or all of them for ioctl attachments. */
  describe?: () => LinkDetails;
  /** Runs after the perf event is closed (removing a tracefs probe event). */
  cleanup?: () => void;
}

/**
 * Attaches the program to an open perf event and enables it. The Link owns `perf` from here on,
 * also when this fails.
 */
export function attachToPerfEvent(program: AttachableProgram, perf: FD, opts: PerfAttachOptions): Link {
  const holds: Array<{ close(): void }> = [perf];
  if (opts.cleanup) holds.push({ close: opts.cleanup });
  let link: FD | undefined;
  const closeAll = (): void => {
    link?.close();
    for (const h of holds) h.close();
  };
  try {
    const progFd = programFd(program);
    if (perfLinks !== false) {
      try {
        link = linkCreate(
          {
            progFd,
            targetFd: perf.value,
            attachType: AttachType.PERF_EVENT,
            extra: (a) => a.u64(16, opts.cookie ?? 0n),
          },
          opts.target,
        );
        perfLinks = true;
      } catch (err) {
        // Kernels before 5.15 refuse BPF_PERF_EVENT links with EINVAL; others meant it.
        if (!(err instanceof BpfError && err.errno === 22 && !kernelAtLeast(5, 15) && opts.cookie === undefined)) throw err;
        perfLinks = false;
      }
    }
    if (!link) ioctl(perf.value, PERF_EVENT_IOC_SET_BPF, progFd, 'PERF_EVENT_IOC_SET_BPF', opts.target);
    ioctl(perf.value, PERF_EVENT_IOC_ENABLE, 0, 'PERF_EVENT_IOC_ENABLE', opts.target);
    const base = { hook: opts.hook, target: opts.target, program, holds, ...(opts.describe ? { describe: opts.describe } : {}) };
    if (link) return new Link({ ...base, mechanism: 'bpf_link', fd: link });
    return new Link({
      ...base,
      mechanism: 'perf_event',
      progId: programId(program),
      detach: () => ioctl(perf.value, PERF_EVENT_IOC_DISABLE, 0, 'PERF_EVENT_IOC_DISABLE', opts.target),
    });
  } catch (err) {
    closeAll();
    throw err;
  }
}
