// Which rules the kernel can enforce, and the map entries that make it do so. A rule with an
// action is enforced only if its whole condition is one the kernel decides by itself: the
// system call and an exact exec path, or the system call and a destination address and port.
// Anything richer is refused with the reason, never weakened into a broader match.
import { isIP } from 'node:net';
import { TsbpfError } from '../../index.js';
import type { Expr, Value } from './condition.js';
import type { Rule, RuleSet } from './loader.js';

export interface ExecKill {
  rule: string;
  path: string;
  signal: number;
}

export interface ConnectKill {
  rule: string;
  family: 2 | 10;
  /** Empty: any address. */
  addr: string;
  /** 0: any port. */
  port: number;
  signal: number;
}

/** Opens or execs refused with fanotify permission events (action: deny). */
export interface Deny {
  rule: string;
  kind: 'open' | 'exec';
  /** Exact files, and directories whose direct children are refused. */
  files: string[];
  dirs: string[];
  /** Only processes of these names (comm), or all but them when `negated`. */
  names?: { list: string[]; negated: boolean } | undefined;
  /** action: kill on opens: the opener is also sent this signal. */
  kill?: { signal: number; signalName: string } | undefined;
}

export interface EnforcementPlan {
  execKills: ExecKill[];
  connectKills: ConnectKill[];
  denies: Deny[];
  /** What guard says about each enforced rule when it loads it. */
  notes: string[];
}

/** A rule with an action that no kernel mechanism here can enforce exactly. */
export class EnforcementRefused extends TsbpfError {
  readonly rule: string;

  constructor(rule: string, reason: string) {
    super('ENOTSUP', `rule '${rule}': cannot be enforced in the kernel: ${reason}`);
    this.name = 'EnforcementRefused';
    this.rule = rule;
  }
}

const EXEC_FIELDS = new Set(['proc.exepath', 'proc.exe', 'evt.arg.filename', 'evt.arg.exe', 'evt.arg.pathname']);
const ADDR_FIELDS = new Set(['fd.sip', 'fd.rip', 'fd.snet', 'fd.rnet']);
const PORT_FIELDS = new Set(['fd.sport', 'fd.rport']);

/** The conjuncts of a condition, macros inlined; undefined where it is not a plain conjunction. */
function conjuncts(e: Expr, macros: ReadonlyMap<string, Expr>, seen: string[] = []): Expr[] {
  if (e.kind === 'and') return [...conjuncts(e.left, macros, seen), ...conjuncts(e.right, macros, seen)];
  if (e.kind === 'macro') {
    const m = macros.get(e.name);
    if (m === undefined || seen.includes(e.name)) return [e];
    return conjuncts(m, macros, [...seen, e.name]);
  }
  return [e];
}

function describe(e: Expr): string {
  switch (e.kind) {
    case 'cmp':
      return `${e.field.text} ${e.op}`;
    case 'exists':
      return `${e.field.text} exists`;
    case 'not':
      return `not (${describe(e.expr)})`;
    case 'macro':
      return e.name;
    default:
      return `an '${e.kind}'`;
  }
}

function values(v: Value, lists: ReadonlyMap<string, readonly string[]>): string[] {
  if (v.kind === 'str') return [v.value];
  if (v.kind === 'list') return v.items.flatMap((i) => (!i.quoted && lists.has(i.value) ? [...lists.get(i.value)!] : [i.value]));
  return [];
}

function planRule(rule: Rule, set: RuleSet, plan: EnforcementPlan): void {
  const action = rule.action;
  if (action === undefined) return;
  if (action.kind === 'deny' || (rule.evtTypes !== undefined && [...rule.evtTypes].every((t) => OPEN_TYPES.has(t)))) {
    planDeny(rule, set, plan, action.kind === 'kill' ? { signal: action.signal, signalName: action.signalName } : undefined);
    return;
  }
  const types = new Set<string>();
  const paths: string[] = [];
  const addrs: string[] = [];
  const ports: number[] = [];
  for (const c of conjuncts(rule.exprTree, set.macros)) {
    if (c.kind !== 'cmp' || (c.op !== '=' && c.op !== 'in') || c.field.transforms.length > 0 || c.value.kind === 'field') {
      throw new EnforcementRefused(rule.name, `'${describe(c)}' is not something the kernel decides (it checks the system call and an exact exec path, or a connect's address and port)`);
    }
    const name = c.field.arg === undefined ? c.field.name : `${c.field.name}[${c.field.arg}]`;
    const vs = values(c.value, set.lists);
    if (name === 'evt.type') vs.forEach((v) => types.add(v));
    else if (name === 'evt.dir') continue;
    else if (EXEC_FIELDS.has(name)) paths.push(...vs);
    else if (ADDR_FIELDS.has(name)) addrs.push(...vs);
    else if (PORT_FIELDS.has(name)) ports.push(...vs.map(Number));
    else throw new EnforcementRefused(rule.name, `'${describe(c)}': the kernel checks only evt.type, exec paths (${[...EXEC_FIELDS].join(', ')}), and connect addresses and ports (${[...ADDR_FIELDS, ...PORT_FIELDS].join(', ')})`);
  }
  const exec = [...types].every((t) => t === 'execve' || t === 'execveat');
  const connect = [...types].every((t) => t === 'connect');
  if (types.size === 0) throw new EnforcementRefused(rule.name, 'the condition must name its system call (evt.type = execve or evt.type = connect)');
  if (exec) {
    if (paths.length === 0 || addrs.length > 0 || ports.length > 0) throw new EnforcementRefused(rule.name, 'an exec rule is enforced by its exact path: compare proc.exepath (or evt.arg.filename) with = or in');
    for (const p of paths) {
      if (!p.startsWith('/')) throw new EnforcementRefused(rule.name, `exec path '${p}' is not absolute`);
      if (Buffer.byteLength(p) >= 256) throw new EnforcementRefused(rule.name, `exec path '${p}' is longer than 255 bytes`);
      plan.execKills.push({ rule: rule.name, path: p, signal: action.signal });
    }
    plan.notes.push(`rule '${rule.name}': exec of ${paths.join(', ')} is stopped with ${action.signalName} sent at sys_enter (the exec fails while copying its arguments; the path must be the one given to execve)`);
    return;
  }
  if (connect) {
    if (paths.length > 0 || (addrs.length === 0 && ports.length === 0)) throw new EnforcementRefused(rule.name, 'a connect rule is enforced by its destination: compare fd.sip/fd.snet and/or fd.sport with = or in');
    for (const p of ports) if (!Number.isInteger(p) || p < 0 || p > 65535) throw new EnforcementRefused(rule.name, `port '${p}' is not a port`);
    const targets = addrs.length === 0 ? [''] : addrs;
    for (const a of targets) {
      if (a.includes('/') && !/\/(32|128)$/.test(a)) throw new EnforcementRefused(rule.name, `'${a}': networks other than single addresses are not enforced (the kernel map is matched exactly)`);
      const ip = a.replace(/\/(32|128)$/, '');
      const v = ip === '' ? 0 : isIP(ip);
      if (ip !== '' && v === 0) throw new EnforcementRefused(rule.name, `'${a}' is not an IP address`);
      const families: Array<2 | 10> = v === 4 ? [2] : v === 6 ? [10] : [2, 10];
      for (const family of families) for (const port of ports.length === 0 ? [0] : ports) plan.connectKills.push({ rule: rule.name, family, addr: ip, port, signal: action.signal });
    }
    plan.notes.push(`rule '${rule.name}': connect to ${addrs.join(', ') || 'any address'}${ports.length > 0 ? ` port ${ports.join(', ')}` : ''} is refused (EPERM) by cgroup connect hooks on the cgroup v2 root and the caller sent ${action.signalName}`);
    return;
  }
  throw new EnforcementRefused(rule.name, `system call ${[...types].join(', ')}: the kernel enforces exec (execve, execveat) and connect only`);
}

const OPEN_TYPES = new Set(['open', 'openat', 'openat2', 'creat']);
const EXEC_TYPES = new Set(['execve', 'execveat']);

/**
 * action: deny, with fanotify permission events: an open of exact files or of a directory's
 * children, for every process or by process name; an exec of exact paths.
 */
function planDeny(rule: Rule, set: RuleSet, plan: EnforcementPlan, kill?: Deny['kill']): void {
  const types = new Set<string>();
  const deny: Deny = { rule: rule.name, kind: 'open', files: [], dirs: [], ...(kill === undefined ? {} : { kill }) };
  const execPaths: string[] = [];
  for (const c of conjuncts(rule.exprTree, set.macros)) {
    const negated = c.kind === 'not' && c.expr.kind === 'cmp';
    const cmp = negated ? (c as { expr: Expr }).expr : c;
    if (cmp.kind !== 'cmp' || (cmp.op !== '=' && cmp.op !== 'in') || cmp.field.transforms.length > 0 || cmp.value.kind === 'field' || cmp.field.arg !== undefined) {
      throw new EnforcementRefused(rule.name, `'${describe(c)}' is not something fanotify decides (it checks the system call, exact files or a directory's files, and the process name)`);
    }
    const vs = values(cmp.value, set.lists);
    const name = cmp.field.name;
    if (negated && name !== 'proc.name') throw new EnforcementRefused(rule.name, `'${describe(c)}': only proc.name may be negated`);
    if (name === 'evt.type') vs.forEach((v) => types.add(v));
    else if (name === 'evt.dir') continue;
    else if (name === 'fd.name') deny.files.push(...vs);
    else if (EXEC_FIELDS.has(name)) execPaths.push(...vs);
    else if (name === 'fd.directory') deny.dirs.push(...vs);
    else if (name === 'proc.name') {
      if (deny.names !== undefined) throw new EnforcementRefused(rule.name, 'proc.name may be compared once');
      deny.names = { list: vs, negated };
    } else throw new EnforcementRefused(rule.name, `'${describe(c)}': fanotify decides on evt.type, fd.name, fd.directory, proc.exepath and proc.name only`);
  }
  if (types.size === 0) throw new EnforcementRefused(rule.name, 'the condition must name its system calls (evt.type in (open, openat, openat2) or evt.type = execve)');
  const open = [...types].every((t) => OPEN_TYPES.has(t));
  const exec = [...types].every((t) => EXEC_TYPES.has(t));
  if (!open && !exec) throw new EnforcementRefused(rule.name, `system call ${[...types].join(', ')}: deny refuses opens and execs only`);
  deny.kind = open ? 'open' : 'exec';
  if (open && execPaths.length > 0) throw new EnforcementRefused(rule.name, 'an open is denied by fd.name or fd.directory, not by the program');
  if (exec) {
    if (deny.files.length > 0) throw new EnforcementRefused(rule.name, 'an exec is denied by proc.exepath (or evt.arg.filename)');
    deny.files = execPaths;
  }
  if (deny.files.length === 0 && deny.dirs.length === 0) throw new EnforcementRefused(rule.name, 'deny needs the files: fd.name (or proc.exepath for exec) or fd.directory, with = or in');
  if (exec && (deny.dirs.length > 0 || deny.names !== undefined)) throw new EnforcementRefused(rule.name, 'an exec is denied by its exact path only (proc.name at exec time is the old program)');
  for (const f of [...deny.files, ...deny.dirs]) if (!f.startsWith('/')) throw new EnforcementRefused(rule.name, `'${f}' is not an absolute path`);
  plan.denies.push(deny);
  const who = deny.names === undefined ? '' : ` by processes ${deny.names.negated ? 'not ' : ''}named ${deny.names.list.join(', ')}`;
  plan.notes.push(`rule '${rule.name}': ${deny.kind} of ${[...deny.files, ...deny.dirs.map((d) => `${d}/*`)].join(', ')}${who} is refused (EPERM) before it happens, with fanotify ${deny.kind === 'open' ? 'FAN_OPEN_PERM' : 'FAN_OPEN_EXEC_PERM'}${kill === undefined ? '' : `, and the opener sent ${kill.signalName}`}`);
}

/** The enforcement of every enabled rule with an action; EnforcementRefused at the first that cannot be. */
export function planEnforcement(set: RuleSet): EnforcementPlan {
  const plan: EnforcementPlan = { execKills: [], connectKills: [], denies: [], notes: [] };
  for (const rule of set.rules) if (rule.enabled) planRule(rule, set, plan);
  return plan;
}
