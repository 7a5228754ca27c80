// Events in, alerts out: keeps the process table, evaluates the rules that can match each
// event's type, and formats alerts as Falco does (text line or JSON object).
import { hostname as osHostname } from 'node:os';
import { posix } from 'node:path';
import type { ProcessInfo, ProcessTable } from '../common/process-table.js';
import { FLAG_EXE_MEMFD, FLAG_KILLED, KIND_EXEC, KIND_EXIT, KIND_FORK, type GuardEvent } from './event.js';
import { EvalContext, isoTime, type FieldValue } from './fields.js';
import type { Rule, RuleSet } from './loader.js';
import { severity, type Priority } from './priority.js';

export interface Alert {
  time: string;
  rule: string;
  priority: Priority;
  output: string;
  output_fields: Record<string, FieldValue | null>;
  source: 'syscall';
  tags: string[];
  hostname: string;
  /** What guard did to the process, when the rule enforces ("killed with SIGKILL at sys_enter"). */
  enforcement?: string;
}

const host = osHostname();

/** Falco's line: "TIME: Priority output", with the rule name in front of the output. */
export function alertLine(a: Alert): string {
  return `${a.time} ${a.priority} ${a.rule}: ${a.output}${a.enforcement !== undefined ? ` (${a.enforcement})` : ''}`;
}

/** The offset from CLOCK_MONOTONIC (the kernel's timestamps) to the epoch, in nanoseconds. */
export function monotonicToEpochNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

const EPERM = 1;

export interface EngineOptions {
  /** Actions are enforced (alerts of refused calls say so). */
  enforcing?: boolean;
  /** Only alerts of this priority or more severe. */
  minPriority?: Priority;
}

export class GuardEngine {
  readonly table: ProcessTable;
  readonly rules: Rule[];
  readonly #byType = new Map<string, Rule[]>();
  readonly #anyType: Rule[] = [];
  readonly #bootEpochNs = monotonicToEpochNs();
  readonly #minSeverity: number;
  readonly #enforcing: boolean;
  /** Alerts per rule. */
  readonly hits = new Map<string, number>();
  events = 0;

  constructor(set: RuleSet, table: ProcessTable, options: EngineOptions = {}) {
    this.table = table;
    this.#enforcing = options.enforcing === true;
    this.#minSeverity = options.minPriority === undefined ? Number.POSITIVE_INFINITY : severity(options.minPriority);
    this.rules = set.rules.filter((r) => r.enabled && severity(r.priority) <= this.#minSeverity);
    for (const r of this.rules) {
      if (r.evtTypes === undefined) this.#anyType.push(r);
      else for (const t of r.evtTypes) this.#byType.set(t, [...(this.#byType.get(t) ?? []), r]);
    }
  }

  /** The process table's view of an event, then the alerts of the rules it matches. */
  handle(e: GuardEvent): Alert[] {
    this.events++;
    let procOverride: ProcessInfo | undefined;
    let stoppedExec = false;
    if (e.kind === KIND_FORK) this.table.fork({ ...update(e), ppid: e.aux });
    else if (e.kind === KIND_EXEC) {
      this.table.exec({ ...update(e), exepath: e.exePath ?? '', filename: e.filename ?? '', argv: e.argv ?? [], cwd: e.cwd ?? '', exeFromMemfd: (e.flags & FLAG_EXE_MEMFD) !== 0 });
    } else if (e.kind === KIND_EXIT) this.table.exit(e.pid);
    else if ((e.type === 'execve' || e.type === 'execveat') && (e.flags & FLAG_KILLED || e.ret === -EPERM)) {
      // An exec stopped by enforcement: the enforcing rules see the program it would have run.
      const before = this.table.get(e.pid);
      const path = e.str1 ?? '';
      stoppedExec = true;
      if (before !== undefined) procOverride = { ...before, exepath: path, exe: path, name: posix.basename(path).slice(0, 15), args: [] };
    }
    const candidates = this.#byType.get(e.type);
    if (candidates === undefined && this.#anyType.length === 0) return [];
    const ctx = new EvalContext(e, this.table, this.events, this.#bootEpochNs);
    const stoppedCtx = stoppedExec ? new EvalContext(e, this.table, this.events, this.#bootEpochNs, procOverride) : ctx;
    const alerts: Alert[] = [];
    for (const list of [candidates ?? [], this.#anyType]) {
      for (const rule of list) {
        // A killed exec never ran: every rule sees the program; a refused one only the rules that refuse.
        const c = e.flags & FLAG_KILLED || (stoppedExec && rule.action !== undefined) ? stoppedCtx : ctx;
        if (!rule.predicate(c)) continue;
        const { output, fields } = rule.format(c);
        this.hits.set(rule.name, (this.hits.get(rule.name) ?? 0) + 1);
        const alert: Alert = { time: isoTime(c.timeNs), rule: rule.name, priority: rule.priority, output, output_fields: fields, source: 'syscall', tags: rule.tags, hostname: host };
        if (e.flags & FLAG_KILLED && rule.action?.kind === 'kill') alert.enforcement = `killed with ${rule.action.signalName} at sys_enter`;
        else if (rule.action?.kind === 'deny' && e.ret === -EPERM && this.#enforcing) alert.enforcement = 'refused (EPERM) by fanotify before it happened';
        alerts.push(alert);
      }
    }
    return alerts;
  }
}

function update(e: GuardEvent) {
  return { pid: e.pid, ppid: e.ppid, name: e.comm, uid: e.uid, gid: e.gid, loginuid: e.loginuid, tty: e.tty, sid: e.sid, vpid: e.vpid, startNs: e.startNs, cgroupId: e.cgroupId };
}
