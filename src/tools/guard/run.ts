// `tsbpf guard`'s loop: a session, alerts to the outputs, lost events reported as an alert at
// most once a second, the counts at the end.
import { mkdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { CommandIO } from '../../cli/framework/index.js';
import { enableStats, TsbpfError } from '../../index.js';
import type { Alert } from './engine.js';
import { type AlertSink, fileSink, httpSink, programSink, streamSink } from './outputs.js';
import type { RuleSet } from './loader.js';
import { severity, type Priority } from './priority.js';
import { GuardSession, type SessionStats } from './session.js';

/** Where a running guard answers `tsbpf guard status`. */
export const DEFAULT_SOCKET = '/run/tsbpf/guard.sock';

export interface GuardStatus {
  pid: number;
  startedAt: string;
  rules: number;
  syscalls: string[];
  events: number;
  alerts: number;
  kernelDrops: number;
  hits: Record<string, number>;
  enforcement: string[];
}

export interface GuardRunOptions {
  /** The unix socket `tsbpf guard status` asks (default DEFAULT_SOCKET); '' for none. */
  socket?: string;
  rules: RuleSet;
  format: 'text' | 'json';
  enforce: boolean;
  dryRun: boolean;
  verbose: boolean;
  /** Count the BPF programs' runs and run time (kernel-wide while guard runs) and print them at the end. */
  stats?: boolean;
  minPriority?: Priority;
  durationMs?: number;
  pid?: number;
  file?: string;
  program?: string;
  http?: string;
}

const DROP_CHECK_MS = 1000;

interface StatusServer {
  close(): Promise<void>;
}

/** Answers every connection to `path` with the status as one JSON line; a stale socket is replaced. */
async function listenStatus(path: string, status: () => GuardStatus): Promise<StatusServer> {
  mkdirSync(dirname(path), { recursive: true });
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new TsbpfError('EADDRINUSE', `another guard answers on ${path} (use --socket PATH, or --socket '' for none)`);
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    conn.on('error', () => {});
    conn.end(`${JSON.stringify(status())}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        rmSync(path, { force: true });
      }),
  };
}

/** The status of the guard answering on `path`. */
export async function queryStatus(path: string): Promise<GuardStatus> {
  return new Promise((resolve, reject) => {
    let text = '';
    const conn = connect(path);
    conn.on('data', (d: Buffer) => (text += d.toString()));
    conn.on('end', () => {
      try {
        resolve(JSON.parse(text) as GuardStatus);
      } catch {
        reject(new TsbpfError('EPROTO', `${path}: not a guard status`));
      }
    });
    conn.on('error', (err: NodeJS.ErrnoException) => reject(new TsbpfError(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'ENOENT' : (err.code ?? 'EIO'), `no guard answers on ${path} (${err.code ?? err.message}): is \`tsbpf guard\` running?`)));
  });
}

/** Runs until `signal` aborts or the duration ends; resolves with the counts. */
export async function runGuard(o: GuardRunOptions, io: CommandIO, signal: AbortSignal): Promise<SessionStats> {
  const say = (line: string): void => void io.stderr.write(`tsbpf guard: ${line}\n`);
  const json = o.format === 'json';
  const sinks: AlertSink[] = [streamSink(io.stdout, json)];
  if (o.file !== undefined) sinks.push(fileSink(o.file, json));
  if (o.program !== undefined) sinks.push(programSink(o.program, json));
  if (o.http !== undefined) sinks.push(httpSink(o.http, say));
  const emit = (a: Alert): void => {
    for (const s of sinks) s.write(a);
  };
  const dropAlert = (n: number): void => {
    if (o.minPriority !== undefined && severity('Critical') > severity(o.minPriority)) return;
    emit({
      time: new Date().toISOString(),
      rule: 'Events dropped',
      priority: 'Critical',
      output: `${n} events dropped in the last second (the ring buffer was full)`,
      output_fields: { 'evt.count': n },
      source: 'syscall',
      tags: ['guard_internal'],
      hostname: hostname(),
    });
  };
  let statusServer: StatusServer | undefined;
  const closeStatus = async (): Promise<void> => statusServer?.close();
  // Statistics count while the handle is open, for every BPF program of the machine.
  const stats = o.stats ? enableStats() : undefined;
  const session = await GuardSession.open({
    rules: o.rules,
    enforce: o.enforce || o.dryRun,
    ...(o.minPriority !== undefined ? { minPriority: o.minPriority } : {}),
    ...(o.pid !== undefined ? { targetPid: o.pid } : {}),
    dryRun: o.dryRun,
    onAlert: (a) => {
      if (o.dryRun && a.enforcement === undefined) {
        const rule = o.rules.rules.find((r) => r.name === a.rule);
        if (rule?.action?.kind === 'kill') a.enforcement = `dry run: would have been stopped with ${rule.action.signalName}`;
      }
      emit(a);
    },
    onDrops: dropAlert,
  });
  try {
    if (o.verbose) {
      say(`${session.engine.rules.length} rules; tracing ${session.syscalls.join(', ') || 'no system calls'} and process exec, fork, exit`);
      for (const n of session.plan?.notes ?? []) say(`${o.dryRun ? 'dry run: ' : ''}${n}`);
    } else if (session.plan !== undefined) for (const n of session.plan.notes) if (n.includes('sys_enter')) say(n);
    const startedAt = new Date().toISOString();
    const status = (): GuardStatus => {
      const c = session.stats();
      return {
        pid: process.pid,
        startedAt,
        rules: session.engine.rules.length,
        syscalls: c.syscalls,
        events: c.events,
        alerts: c.alerts,
        kernelDrops: c.kernelDrops,
        hits: Object.fromEntries(c.hits),
        enforcement: session.plan?.notes ?? [],
      };
    };
    statusServer = o.socket === '' ? undefined : await listenStatus(o.socket ?? DEFAULT_SOCKET, status);
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        session.checkDrops();
        session.engine.table.sweep();
      }, DROP_CHECK_MS);
      const done = (): void => {
        clearInterval(timer);
        if (duration !== undefined) clearTimeout(duration);
        resolve();
      };
      const duration = o.durationMs !== undefined ? setTimeout(done, o.durationMs) : undefined;
      if (signal.aborted) done();
      else signal.addEventListener('abort', done, { once: true });
    });
    session.drain();
    session.checkDrops();
    const counts = session.stats();
    if (o.verbose) {
      say(`${counts.events} events, ${counts.alerts} alerts, ${counts.kernelDrops} dropped in the kernel`);
      for (const [rule, n] of counts.hits) say(`  ${n}\t${rule}`);
    }
    if (stats !== undefined) {
      for (const p of session.programStats()) {
        const avg = p.runCount > 0n ? Number(p.runTimeNs / p.runCount) : 0;
        say(`${p.name}: ${p.runCount} runs, ${(Number(p.runTimeNs) / 1e6).toFixed(1)} ms, ${avg} ns per run`);
      }
    }
    return counts;
  } finally {
    stats?.close();
    session.close();
    await closeStatus();
    for (const s of sinks) await s.close();
  }
}
