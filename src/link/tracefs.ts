// tracefs: where it is (mounting it when it is missing), tracepoint ids, and the dynamic
// kprobe_events/uprobe_events files for kernels without the perf PMUs.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { TsbpfError } from '../errors.js';
import { fsMagic, isRoot, mountFilesystem, TRACEFS_MAGIC } from '../sys/mounts.js';
import { TargetNotFoundError } from './errors.js';

/** Where tracefs is looked for, in libbpf's order; the first is where it is mounted if missing. */
export const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'] as const;
let root: string | undefined;

/** tracefs is not mounted and this process cannot mount it; the message says how. */
export class TracefsError extends TsbpfError {
  constructor(detail: string) {
    super('ENOTRACEFS', `tracefs is not mounted at ${TRACEFS_ROOTS[0]} or ${TRACEFS_ROOTS[1]}${detail}; mount it with \`mount -t tracefs nodev ${TRACEFS_ROOTS[0]}\``);
  }
}

/**
 * The tracefs mount. When neither usual place has one, root mounts it at /sys/kernel/tracing
 * (listeners of onFilesystemMounted hear of it); anyone else gets a TracefsError.
 */
export function tracefsRoot(): string {
  if (root && fsMagic(root) === TRACEFS_MAGIC) return root;
  root = TRACEFS_ROOTS.find((r) => fsMagic(r) === TRACEFS_MAGIC && existsSync(`${r}/events`));
  if (root) return root;
  const target = TRACEFS_ROOTS[0];
  if (!isRoot()) throw new TracefsError(', and mounting it needs root');
  if (!existsSync(target)) throw new TracefsError(` (this kernel has no ${target} to mount it on)`);
  try {
    mountFilesystem('tracefs', 'nodev', target);
  } catch (err) {
    throw new TracefsError(`, and ${(err as Error).message}`);
  }
  root = target;
  return root;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The id of a tracepoint event, as perf_event_open's config wants it. */
export function tracepointId(group: string, name: string): number {
  if (!NAME.test(group) || !NAME.test(name)) throw new TargetNotFoundError('tracepoint', `${group}/${name}`, 'invalid characters in the name');
  const path = `${tracefsRoot()}/events/${group}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TargetNotFoundError('tracepoint', `${group}/${name}`, `${path} does not exist`, { cause: err });
  }
  return Number(text.trim());
}

export type ProbeEventsFile = 'kprobe_events' | 'uprobe_events';

/** Whether tracefs (mounted if it was not) offers the dynamic events file. */
export function haveProbeEvents(file: ProbeEventsFile): boolean {
  try {
    return existsSync(`${tracefsRoot()}/${file}`);
  } catch {
    return false;
  }
}

let counter = 0;

/** A unique event name for this process: tsbpf_<pid>_<n>_<hint>. */
export function probeEventName(hint: string): string {
  const clean = hint.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 32);
  return `tsbpf_${process.pid}_${counter++}_${clean}`;
}

export const PROBE_GROUP = 'tsbpf';

/**
 * Adds a kprobe or uprobe event by writing its definition ("p:group/name target") and returns
 * its tracepoint id. The file is appended to: truncating it would remove every other probe.
 */
export function addProbeEvent(file: ProbeEventsFile, definition: string, event: string, what: () => Error): number {
  const dir = tracefsRoot();
  try {
    appendFileSync(`${dir}/${file}`, `${definition}\n`);
  } catch (err) {
    const e = what();
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
  try {
    return tracepointId(PROBE_GROUP, event);
  } catch (err) {
    removeProbeEvent(file, event);
    throw err;
  }
}

/** How long removing a probe event waits for the kernel to let go of it. */
const REMOVE_PATIENCE_MS = 2000;

/**
 * Deletes a probe event tsbpf added. The kernel refuses (EBUSY) while a perf event still uses it,
 * and it frees the perf event of a closed uprobe link only after an RCU grace period, so right
 * after close() the event is often still busy: retry for a while rather than leave it behind.
 * Any other failure means it is gone already.
 */
export function removeProbeEvent(file: ProbeEventsFile, event: string): void {
  const until = Date.now() + REMOVE_PATIENCE_MS;
  let nap: Int32Array | undefined;
  for (;;) {
    try {
      appendFileSync(`${tracefsRoot()}/${file}`, `-:${PROBE_GROUP}/${event}\n`);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() >= until) return;
    }
    nap ??= new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(nap, 0, 0, 10);
  }
}
