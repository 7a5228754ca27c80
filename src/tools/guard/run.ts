// `tsbpf guard`'s loop: a session, alerts to the outputs, lost events reported as an alert at
// most once a second, the counts at the end.
import { hostname } from 'node:os';
import type { CommandIO } from '../../cli/framework/index.js';
import { enableStats } from '../../index.js';
import type { Alert } from './engine.js';
import { type AlertSink, fileSink, httpSink, programSink, streamSink } from './outputs.js';
import type { RuleSet } from './loader.js';
import { severity, type Priority } from './priority.js';
import { GuardSession, type SessionStats } from './session.js';

export interface GuardRunOptions {
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
    for (const s of sinks) await s.close();
  }
}
