// tracefs: where it is (mounting it when it is missing), tracepoint ids, and the dynamic
// kprobe_events/uprobe_events files for kernels without the perf PMUs.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { NotSupportedError } from '../errors.js';
import { TargetNotFoundError } from './errors.js';

const ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
let root: string | undefined;

/** The tracefs mount, mounting it at /sys/kernel/tracing when neither usual place has it. */
export function tracefsRoot(): string {
  if (root && existsSync(`${root}/events`)) return root;
  root = ROOTS.find((r) => existsSync(`${r}/events`));
  if (root) return root;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', ROOTS[0] as string], { stdio: 'pipe' });
  } catch (err) {
    const msg = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new NotSupportedError('tracefs', `not mounted, and mounting it at ${ROOTS[0]} failed${msg ? `: ${msg}` : ''}`);
  }
  root = ROOTS[0] as string;
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

export function removeProbeEvent(file: ProbeEventsFile, event: string): void {
  try {
    appendFileSync(`${tracefsRoot()}/${file}`, `-:${PROBE_GROUP}/${event}\n`);
  } catch {
    // Already gone (or still busy while a perf event holds it, which closing that fixes).
  }
}
