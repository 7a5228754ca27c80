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
}

/** Socket creation refused (a zero signal: refused only). */
export interface SocketDeny {
  rule: string;
  family: number;
  /** 0: any type. */
  type: number;
  signal: number;
}

export interface EnforcementPlan {
  execKills: ExecKill[];
  /** Also refuses datagrams sent to the address (sendmsg hooks). A zero signal: refused only. */
  connectKills: ConnectKill[];
  bindKills: ConnectKill[];
  socketDenies: SocketDeny[];
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

const NET_TYPES = new Set(['connect', 'bind', 'socket']);
const FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 };
const SOCK_TYPES: Record<string, number> = { SOCK_STREAM: 1, SOCK_DGRAM: 2, SOCK_RAW: 3, SOCK_SEQPACKET: 5 };

function numberOf(v: string, names: Record<string, number>, rule: string, what: string): number {
  const n = names[v.toUpperCase()] ?? (/^\d+$/.test(v) ? Number(v) : undefined);
  if (n === undefined) throw new EnforcementRefused(rule, `'${v}' is not ${what} (${Object.keys(names).join(', ')} or a number)`);
  return n;
}

function planRule(rule: Rule, set: RuleSet, plan: EnforcementPlan): void {
  const action = rule.action;
  if (action === undefined) return;
  const types = new Set<string>();
  const paths: string[] = [];
  const addrs: string[] = [];
  const ports: number[] = [];
  const domains: string[] = [];
  const sockTypes: string[] = [];
  const conj = conjuncts(rule.exprTree, set.macros);
  for (const c of conj) if (c.kind === 'cmp' && c.field.name === 'evt.type' && c.value.kind !== 'field') values(c.value, set.lists).forEach((v) => types.add(v));
  const net = types.size > 0 && [...types].every((t) => NET_TYPES.has(t));
  if (action.kind === 'deny' && !net) {
    planDeny(rule, set, plan);
    return;
  }
  for (const c of conj) {
    if (c.kind !== 'cmp' || (c.op !== '=' && c.op !== 'in') || c.field.transforms.length > 0 || c.value.kind === 'field') {
      throw new EnforcementRefused(rule.name, `'${describe(c)}' is not something the kernel decides (it checks the system call and an exact exec path, a connect's or bind's address and port, or a socket's family and type)`);
    }
    const name = c.field.arg === undefined ? c.field.name : `${c.field.name}[${c.field.arg}]`;
    const vs = values(c.value, set.lists);
    if (name === 'evt.type' || name === 'evt.dir') continue;
    if (EXEC_FIELDS.has(name)) paths.push(...vs);
    else if (ADDR_FIELDS.has(name) || name === 'fd.lip') addrs.push(...vs);
    else if (PORT_FIELDS.has(name) || name === 'fd.lport') ports.push(...vs.map(Number));
    else if (name === 'evt.arg.domain') domains.push(...vs);
    else if (name === 'evt.arg.type') sockTypes.push(...vs);
    else throw new EnforcementRefused(rule.name, `'${describe(c)}': the kernel checks only evt.type, exec paths (${[...EXEC_FIELDS].join(', ')}), addresses and ports (${[...ADDR_FIELDS, ...PORT_FIELDS].join(', ')}), and a socket's evt.arg.domain and evt.arg.type`);
  }
  if (types.size === 0) throw new EnforcementRefused(rule.name, 'the condition must name its system call (evt.type = execve, connect, bind or socket)');
  const signal = action.kind === 'kill' ? action.signal : 0;
  const how = action.kind === 'kill' ? ` and the caller sent ${action.signalName} at sys_enter` : '; the caller lives';
  const exec = [...types].every((t) => t === 'execve' || t === 'execveat');
  if (exec && action.kind === 'kill') {
    if (paths.length === 0 || addrs.length > 0 || ports.length > 0 || domains.length > 0) throw new EnforcementRefused(rule.name, 'an exec rule is enforced by its exact path: compare proc.exepath (or evt.arg.filename) with = or in');
    for (const p of paths) {
      if (!p.startsWith('/')) throw new EnforcementRefused(rule.name, `exec path '${p}' is not absolute`);
      if (Buffer.byteLength(p) >= 256) throw new EnforcementRefused(rule.name, `exec path '${p}' is longer than 255 bytes`);
      plan.execKills.push({ rule: rule.name, path: p, signal: action.signal });
    }
    plan.notes.push(`rule '${rule.name}': exec of ${paths.join(', ')} is stopped with ${action.signalName} sent at sys_enter (the exec fails while copying its arguments; the path must be the one given to execve)`);
    return;
  }
  if (!net || types.size !== 1) throw new EnforcementRefused(rule.name, `system call ${[...types].join(', ')}: the kernel enforces exec (execve, execveat), connect, bind and socket, one kind per rule`);
  if (paths.length > 0) throw new EnforcementRefused(rule.name, 'a network rule cannot name a program path');
  const kind = [...types][0]!;
  if (kind === 'socket') {
    if (domains.length === 0 || addrs.length > 0 || ports.length > 0) throw new EnforcementRefused(rule.name, 'a socket rule is enforced by evt.arg.domain (and evt.arg.type) with = or in');
    const fams = domains.map((d) => numberOf(d, FAMILIES, rule.name, 'an address family'));
    const kinds = sockTypes.length === 0 ? [0] : sockTypes.map((t) => numberOf(t, SOCK_TYPES, rule.name, 'a socket type'));
    // cgroup/sock_create runs for inet sockets only: other families can be killed, not refused.
    const inet = fams.every((f) => f === 2 || f === 10);
    if (!inet && action.kind === 'deny') throw new EnforcementRefused(rule.name, `socket family ${domains.join(', ')}: the cgroup sock_create hook sees only AF_INET and AF_INET6 sockets; use action: kill, which stops the caller at sys_enter`);
    for (const family of fams) for (const type of kinds) plan.socketDenies.push({ rule: rule.name, family, type, signal });
    const what = `socket(${domains.join('|')}${sockTypes.length > 0 ? `, ${sockTypes.join('|')}` : ''})`;
    plan.notes.push(
      inet
        ? `rule '${rule.name}': ${what} is refused (EPERM) by a cgroup sock_create hook on the cgroup v2 root${how}`
        : `rule '${rule.name}': ${what} is stopped with ${action.kind === 'kill' ? action.signalName : ''} sent at sys_enter: the socket is made before the signal lands, but the caller never returns to use it (no cgroup hook sees this family)`,
    );
    return;
  }
  if (domains.length > 0 || sockTypes.length > 0) throw new EnforcementRefused(rule.name, `a ${kind} rule is enforced by address and port, not by socket family`);
  if (addrs.length === 0 && ports.length === 0) throw new EnforcementRefused(rule.name, `a ${kind} rule is enforced by its address: compare fd.sip/fd.snet and/or fd.sport with = or in`);
  for (const p of ports) if (!Number.isInteger(p) || p < 0 || p > 65535) throw new EnforcementRefused(rule.name, `port '${p}' is not a port`);
  const list = kind === 'bind' ? plan.bindKills : plan.connectKills;
  for (const a of addrs.length === 0 ? [''] : addrs) {
    if (a.includes('/') && !/\/(32|128)$/.test(a)) throw new EnforcementRefused(rule.name, `'${a}': networks other than single addresses are not enforced (the kernel map is matched exactly)`);
    const ip = a.replace(/\/(32|128)$/, '');
    const v = ip === '' ? 0 : isIP(ip);
    if (ip !== '' && v === 0) throw new EnforcementRefused(rule.name, `'${a}' is not an IP address`);
    const families: Array<2 | 10> = v === 4 ? [2] : v === 6 ? [10] : [2, 10];
    for (const family of families) for (const port of ports.length === 0 ? [0] : ports) list.push({ rule: rule.name, family, addr: ip, port, signal });
  }
  const hooks = kind === 'bind' ? 'bind4/6' : 'connect4/6 and sendmsg4/6';
  plan.notes.push(`rule '${rule.name}': ${kind} to ${addrs.join(', ') || 'any address'}${ports.length > 0 ? ` port ${ports.join(', ')}` : ''} is refused (EPERM) by cgroup ${hooks} hooks on the cgroup v2 root${how}`);
}

const OPEN_TYPES = new Set(['open', 'openat', 'openat2', 'creat']);
const EXEC_TYPES = new Set(['execve', 'execveat']);

/**
 * action: deny, with fanotify permission events: an open of exact files or of a directory's
 * children, for every process or by process name; an exec of exact paths.
 */
function planDeny(rule: Rule, set: RuleSet, plan: EnforcementPlan): void {
  const types = new Set<string>();
  const deny: Deny = { rule: rule.name, kind: 'open', files: [], dirs: [] };
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
  plan.notes.push(`rule '${rule.name}': ${deny.kind} of ${[...deny.files, ...deny.dirs.map((d) => `${d}/*`)].join(', ')}${who} is refused (EPERM) before it happens, with fanotify ${deny.kind === 'open' ? 'FAN_OPEN_PERM' : 'FAN_OPEN_EXEC_PERM'}`);
}

/** The enforcement of every enabled rule with an action; EnforcementRefused at the first that cannot be. */
export function planEnforcement(set: RuleSet): EnforcementPlan {
  const plan: EnforcementPlan = { execKills: [], connectKills: [], bindKills: [], socketDenies: [], denies: [], notes: [] };
  for (const rule of set.rules) if (rule.enabled) planRule(rule, set, plan);
  return plan;
}
