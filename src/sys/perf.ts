// struct perf_event_attr, perf_event_open(2) and the perf event ioctls
// (include/uapi/linux/perf_event.h). The one encoder of the struct.
import { BpfError } from '../errors.js';
import { FD } from './fd.js';
import { keepAlive, native } from './native.js';
import { cString } from './syscall.js';

/** sizeof(struct perf_event_attr) as of PERF_ATTR_SIZE_VER8 (config3, Linux 6.3). Older kernels take it while the bytes they do not know are zero. */
export const PERF_ATTR_SIZE = 136;

/** Offsets of the members of struct perf_event_attr this package writes (a test checks them against the kernel's BTF). */
export const PerfEventAttrOffsets = {
  type: 0,
  size: 4,
  config: 8,
  sample_period: 16,
  sample_type: 24,
  read_format: 32,
  /** The bitfield word: disabled, inherit, ... write_backward. */
  flags: 40,
  wakeup_events: 48,
  bp_type: 52,
  config1: 56,
  config2: 64,
  config3: 128,
} as const;

/** perf_event_attr.type */
export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

export const PERF_COUNT_SW_BPF_OUTPUT = 10;
export const PERF_SAMPLE_RAW = 1 << 10;

/** Bits of the flags word. */
export const PerfAttrFlags = {
  disabled: 1n << 0n,
  freq: 1n << 10n,
  watermark: 1n << 14n,
  writeBackward: 1n << 27n,
} as const;

export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

/** ioctls on a perf event fd: _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32), _IOW('$', 9, __u32). */
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;
export const PERF_EVENT_IOC_PAUSE_OUTPUT = 0x40042409;

/** struct perf_event_mmap_page: where the positions of the data area are. */
export const MMAP_DATA_HEAD = 1024;
export const MMAP_DATA_TAIL = 1032;
export const MMAP_DATA_OFFSET = 1040;
export const MMAP_DATA_SIZE = 1048;

/** perf_event_header.type of the records a BPF output ring holds. */
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;

export interface PerfEventAttr {
  type: number;
  config?: bigint;
  /** bp_addr, or a kprobe_func / uprobe_path pointer (give probeName for those). */
  config1?: bigint;
  /** The kprobe_func or uprobe_path string config1 points at while the event is opened. */
  probeName?: string;
  /** probe offset, or bp_len. */
  config2?: bigint;
  /** Default 1 (every event), unless sampleFreq is given. */
  samplePeriod?: bigint;
  sampleFreq?: bigint;
  sampleType?: number;
  /** Wake the reader after this many samples (wakeup_events). Default 1. */
  wakeupEvents?: number;
  /** Wake the reader when this many bytes are waiting instead (wakeup_watermark). */
  watermark?: number;
  /** Write the ring backwards (write_backward). */
  backward?: boolean;
}

/** The perf_event_attr bytes of an event opened disabled; buffers behind config1 must stay alive until the open. */
export function encodePerfEventAttr(a: PerfEventAttr): Uint8Array {
  const O = PerfEventAttrOffsets;
  const bytes = new Uint8Array(new ArrayBuffer(PERF_ATTR_SIZE));
  const v = new DataView(bytes.buffer);
  let flags = PerfAttrFlags.disabled;
  v.setUint32(O.type, a.type, true);
  v.setUint32(O.size, PERF_ATTR_SIZE, true);
  v.setBigUint64(O.config, a.config ?? 0n, true);
  if (a.sampleFreq !== undefined) {
    v.setBigUint64(O.sample_period, a.sampleFreq, true);
    flags |= PerfAttrFlags.freq;
  } else {
    v.setBigUint64(O.sample_period, a.samplePeriod ?? 1n, true);
  }
  v.setBigUint64(O.sample_type, BigInt(a.sampleType ?? 0), true);
  if (a.watermark !== undefined) flags |= PerfAttrFlags.watermark;
  if (a.backward === true) flags |= PerfAttrFlags.writeBackward;
  v.setBigUint64(O.flags, flags, true);
  v.setUint32(O.wakeup_events, a.watermark ?? a.wakeupEvents ?? 1, true);
  v.setBigUint64(O.config1, a.config1 ?? 0n, true);
  v.setBigUint64(O.config2, a.config2 ?? 0n, true);
  return bytes;
}

export interface BpfOutputAttrOptions {
  /** Wake the reader after this many samples (wakeup_events). Default 1. */
  wakeupEvents?: number;
  /** Wake the reader when this many bytes are waiting instead (wakeup_watermark). */
  watermark?: number;
  /** Write the ring backwards, overwriting the oldest records (write_backward). */
  backward?: boolean;
}

/** The attr of a PERF_COUNT_SW_BPF_OUTPUT event with raw samples, opened disabled. */
export function bpfOutputAttr(opts: BpfOutputAttrOptions = {}): Uint8Array {
  return encodePerfEventAttr({ type: PerfType.SOFTWARE, config: BigInt(PERF_COUNT_SW_BPF_OUTPUT), sampleType: PERF_SAMPLE_RAW, ...opts });
}

/** perf_event_open(2) of encoded attr bytes (or an attr to encode), returning the fd or -errno. */
export function perfEventOpenRaw(attr: Uint8Array | PerfEventAttr, pid: number, cpu: number, groupFd = -1, flags = PERF_FLAG_FD_CLOEXEC): number {
  if (attr instanceof Uint8Array) return native.perfEventOpen(attr, pid, cpu, groupFd, flags);
  const name = attr.probeName === undefined ? undefined : cString(attr.probeName);
  const bytes = encodePerfEventAttr(name ? { ...attr, config1: native.addressOf(name) } : attr);
  const r = native.perfEventOpen(bytes, pid, cpu, groupFd, flags);
  keepAlive(name);
  return r;
}

/** perf_event_open(2) owning the fd; `context` names the event in errors. */
export function perfEventOpen(attr: PerfEventAttr, pid: number, cpu: number, context: string): FD {
  const r = perfEventOpenRaw(attr, pid, cpu);
  if (r < 0) throw new BpfError('perf_event_open', -r, context);
  return new FD(r, `perf event ${context}`);
}

/** ioctl(2) on a perf event fd, throwing a BpfError named `what` (the request) with `context` on failure. */
export function perfIoctl(fd: number, request: number, arg: number, what: string, context: string): void {
  const r = native.ioctl(fd, request, arg);
  if (r < 0) throw new BpfError(what, -r, context);
}
