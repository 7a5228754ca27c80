// BPF_PROG_LOAD with the verifier log fetched only when it is needed, sized as the kernel asks.
import { progLoadRaw, type ProgLoadAttr } from '../sys/attrs.js';
import { ENOSPC } from '../sys/errno.js';

/** The kernel refuses log buffers under 128 bytes (bpf_vlog_init). */
export const MIN_LOG_SIZE = 128;
/** The kernel's ceiling for log_size (UINT_MAX >> 2). */
export const MAX_LOG_SIZE = 0xffffffff >>> 2;
/** The first buffer when a failed load is retried for its log. */
export const DEFAULT_LOG_SIZE = 64 * 1024;
// Without log_true_size (kernels before 6.4) the buffer doubles blindly; stop there.
const MAX_BLIND_LOG_SIZE = 16 * 1024 * 1024;

export interface LoadOutcome {
  /** The program fd, or -errno. */
  result: number;
  /** The verifier log, when one was requested or the load failed; '' if the kernel wrote none. */
  log?: string;
  /** True when the log still did not fit at the largest buffer tried. */
  logTruncated?: boolean;
}

export interface LogOptions {
  /** A log level to load with from the start (1 = verbose on failure, 2 = every instruction, 4 = stats). */
  logLevel?: number;
  /** The first log buffer size; it grows when the log does not fit. */
  logSize?: number;
}

/**
 * Loads without a log when none is asked for, since logging slows verification; on failure
 * loads again with a log (level 1 unless another was asked for) and grows the buffer until the
 * whole log fits: to log_true_size when the kernel reports it, else by doubling.
 */
export function loadWithLog(attr: ProgLoadAttr, opts: LogOptions = {}): LoadOutcome {
  const level = opts.logLevel ?? 0;
  if (level === 0) {
    const first = progLoadRaw({ ...attr, logLevel: 0, logBuf: undefined });
    if (first.result >= 0) return { result: first.result };
  }
  return loadLogged(attr, level === 0 ? 1 : level, opts.logSize);
}

function loadLogged(attr: ProgLoadAttr, level: number, initialSize: number | undefined): LoadOutcome {
  let size = clampSize(initialSize ?? DEFAULT_LOG_SIZE);
  for (;;) {
    const buf = new Uint8Array(new ArrayBuffer(size));
    const r = progLoadRaw({ ...attr, logLevel: level, logBuf: buf });
    const log = decodeLog(buf);
    if (r.result !== -ENOSPC) return { result: r.result, log };
    const next = nextSize(size, r.logTrueSize);
    if (next === undefined) return { result: r.result, log, logTruncated: r.logTrueSize === 0 || r.logTrueSize > size };
    size = next;
  }
}

// The size to retry with after ENOSPC, or undefined when growing cannot help.
function nextSize(size: number, trueSize: number): number | undefined {
  if (trueSize > 0) {
    // The kernel said how much it needed; ENOSPC with a log that fit is about something else.
    if (trueSize <= size || size >= MAX_LOG_SIZE) return undefined;
    return clampSize(trueSize);
  }
  if (size >= MAX_BLIND_LOG_SIZE) return undefined;
  return Math.min(size * 2, MAX_BLIND_LOG_SIZE);
}

function clampSize(n: number): number {
  return Math.min(Math.max(Math.ceil(n), MIN_LOG_SIZE), MAX_LOG_SIZE);
}

function decodeLog(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end));
}
