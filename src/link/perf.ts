// perf_event_open and attaching a program to a perf event: a BPF_PERF_EVENT bpf_link where the
// kernel has one (5.15+), else PERF_EVENT_IOC_SET_BPF; then the event is enabled.
import { BpfError } from '../errors.js';
import { EINVAL } from '../sys/errno.js';
import { linkCreate } from '../sys/attrs.js';
import type { FD } from '../sys/fd.js';
import { PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, perfIoctl } from '../sys/perf.js';
import { AttachType } from '../sys/types.js';
import { programFd, programId, type AttachableProgram } from './attachable.js';
import { kernelAtLeast } from './kernel.js';
import { Link } from './link.js';
import type { LinkDetails } from './info.js';

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
            tail: { kind: 'perf_event', cookie: opts.cookie ?? 0n },
          },
          opts.target,
        );
        perfLinks = true;
      } catch (err) {
        // Kernels before 5.15 refuse BPF_PERF_EVENT links with EINVAL; others meant it.
        if (!(err instanceof BpfError && err.errno === EINVAL && !kernelAtLeast(5, 15) && opts.cookie === undefined)) throw err;
        perfLinks = false;
      }
    }
    if (!link) perfIoctl(perf.value, PERF_EVENT_IOC_SET_BPF, progFd, 'PERF_EVENT_IOC_SET_BPF', opts.target);
    perfIoctl(perf.value, PERF_EVENT_IOC_ENABLE, 0, 'PERF_EVENT_IOC_ENABLE', opts.target);
    const base = { hook: opts.hook, target: opts.target, program, holds, ...(opts.describe ? { describe: opts.describe } : {}) };
    if (link) return new Link({ ...base, mechanism: 'bpf_link', fd: link });
    return new Link({
      ...base,
      mechanism: 'perf_event',
      progId: programId(program),
      detach: () => perfIoctl(perf.value, PERF_EVENT_IOC_DISABLE, 0, 'PERF_EVENT_IOC_DISABLE', opts.target),
    });
  } catch (err) {
    closeAll();
    throw err;
  }
}
