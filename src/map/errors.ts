// Errors specific to maps, refining the shared ones in src/errors.ts.
import { BpfError, TsbpfError } from '../errors.js';

/** A path that should be on a BPF filesystem is not; the message says how to mount one. */
export class BpffsError extends TsbpfError {
  readonly path: string;
  constructor(path: string, detail: string) {
    super('ENOTBPFFS', `${path}: ${detail}; mount one with \`mount -t bpf bpf /sys/fs/bpf\` (or pin below an existing bpffs mount)`);
    this.path = path;
  }
}

/** A batch command failed part way; `done` elements were processed before the failure. */
export class BatchError extends BpfError {
  readonly done: number;
  constructor(command: string, errno: number, context: string, done: number) {
    super(command, errno, `${context}, after ${done} elements`);
    this.done = done;
  }
}

/**
 * A key walk gave up because the map kept changing under it: every time the key the walk
 * stands on is deleted, the kernel restarts from the first key.
 */
export class IterationAbortedError extends TsbpfError {
  constructor(what: string, steps: number) {
    super(
      'EAGAIN',
      `iteration of ${what} aborted after ${steps} steps: the map changed faster than it could be walked (BPF_MAP_GET_NEXT_KEY kept restarting); use lookupBatch() for hash maps`,
    );
  }
}

/**
 * BPF_MAP_CREATE refused an attribute: the kernel only says EINVAL, `fault` says which attribute
 * and why, from the kernel's rules for the map type.
 */
export class MapCreateError extends BpfError {
  readonly fault: string;
  constructor(errno: number, context: string, fault: string, options?: { cause?: unknown }) {
    super('BPF_MAP_CREATE', errno, context, options);
    this.fault = fault;
    this.message += `: ${fault}`;
  }
}
