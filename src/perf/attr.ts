// struct perf_event_attr and perf_event_open(2) for the BPF output event (include/uapi/linux/perf_event.h).
import { BpfError } from '../errors.js';
import { native } from '../sys/native.js';

/** sizeof(struct perf_event_attr) as of PERF_ATTR_SIZE_VER8 (config3). */
export const PERF_ATTR_SIZE = 136;

export const PERF_TYPE_SOFTWARE = 1;
export const PERF_COUNT_SW_BPF_OUTPUT = 10;
export const PERF_SAMPLE_RAW = 1 << 10;

/** Bits of the flags word at offset 40. */
export const PerfAttrFlags = {
  disabled: 1n << 0n,
  watermark: 1n << 14n,
  writeBackward: 1n << 27n,
} as const;

export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

/** ioctls on a perf event fd: _IO('$', 0), _IO('$', 1), _IOW('$', 9, __u32). */
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_PAUSE_OUTPUT = 0x40042409;

/** struct perf_event_mmap_page: where the positions of the data area are. */
export const MMAP_DATA_HEAD = 1024;
export const MMAP_DATA_TAIL = 1032;
export const MMAP_DATA_OFFSET = 1040;
export const MMAP_DATA_SIZE = 1048;

/** perf_event_header.type of the records a BPF output ring holds. */
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;

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
  const bytes = new Uint8Array(new ArrayBuffer(PERF_ATTR_SIZE));
  const v = new DataView(bytes.buffer);
  v.setUint32(0, PERF_TYPE_SOFTWARE, true);
  v.setUint32(4, PERF_ATTR_SIZE, true);
  v.setBigUint64(8, BigInt(PERF_COUNT_SW_BPF_OUTPUT), true);
  v.setBigUint64(16, 1n, true);
  v.setBigUint64(24, BigInt(PERF_SAMPLE_RAW), true);
  let flags = PerfAttrFlags.disabled;
  if (opts.watermark !== undefined) flags |= PerfAttrFlags.watermark;
  if (opts.backward === true) flags |= PerfAttrFlags.writeBackward;
  v.setBigUint64(40, flags, true);
  v.setUint32(48, opts.watermark ?? opts.wakeupEvents ?? 1, true);
  return bytes;
}

/** perf_event_open(2) returning the fd or -errno. */
export function perfEventOpenRaw(attr: Uint8Array, pid: number, cpu: number, groupFd = -1, flags = PERF_FLAG_FD_CLOEXEC): number {
  return native.perfEventOpen(attr, pid, cpu, groupFd, flags);
}

/** ioctl(2) on a perf event fd, throwing on failure. */
export function perfIoctl(fd: number, request: number, arg: number, what: string): void {
  const r = native.ioctl(fd, request, arg);
  if (r < 0) throw new BpfError('perf event ioctl', -r, what);
}
