// Narrowing in the kernel beyond the system call: the path prefixes a rule's condition
// confines a file call to. A call whose path starts with none of the prefixes of the rules
// that watch it can match none of them, so the kernel does not report it.
import type { Expr } from './condition.js';
import type { RuleSet } from './loader.js';
import type { SyscallInfo } from './syscalls.js';

const NAME_FIELDS = new Set(['fd.name', 'fs.path.name', 'evt.abspath']);
const DIR_FIELDS = new Set(['fd.directory']);
/** Calls with one path, the one fd.name is made of (two-path calls are never filtered). */
const FILTERABLE = new Set(['open', 'creat', 'openat', 'openat2', 'unlink', 'unlinkat', 'mkdir', 'mkdirat', 'rmdir', 'chmod', 'fchmodat']);

type Env = { macros: ReadonlyMap<string, Expr>; lists: ReadonlyMap<string, readonly string[]> };

function valuesOf(e: Extract<Expr, { kind: 'cmp' }>, env: Env): string[] | undefined {
  const v = e.value;
  if (v.kind === 'field') return undefined;
  if (v.kind === 'str') return [v.value];
  return v.items.flatMap((i) => (!i.quoted && env.lists.has(i.value) ? [...env.lists.get(i.value)!] : [i.value]));
}

/** Path prefixes one of which every match of `e` has in fd.name; undefined when unconfined. */
export function pathPrefixes(e: Expr, env: Env, seen: readonly string[] = []): string[] | undefined {
  switch (e.kind) {
    case 'and':
      return pathPrefixes(e.left, env, seen) ?? pathPrefixes(e.right, env, seen);
    case 'or': {
      const l = pathPrefixes(e.left, env, seen);
      const r = pathPrefixes(e.right, env, seen);
      return l === undefined || r === undefined ? undefined : [...l, ...r];
    }
    case 'macro': {
      const m = env.macros.get(e.name);
      return m === undefined || seen.includes(e.name) ? undefined : pathPrefixes(m, env, [...seen, e.name]);
    }
    case 'cmp': {
      if (e.field.transforms.length > 0 || e.field.arg !== undefined) return undefined;
      const isName = NAME_FIELDS.has(e.field.name);
      const isDir = DIR_FIELDS.has(e.field.name);
      if (!isName && !isDir) return undefined;
      const vs = valuesOf(e, env);
      if (vs === undefined || vs.some((v) => !v.startsWith('/'))) return undefined;
      switch (e.op) {
        case '=':
        case 'in':
          return isDir ? vs.map((v) => (v === '/' ? '/' : `${v}/`)) : vs;
        case 'pmatch':
        case 'startswith':
          return vs;
        case 'glob': {
          const fixed = vs.map((v) => v.slice(0, v.search(/[*?[]/) < 0 ? v.length : v.search(/[*?[]/)));
          return fixed.some((f) => f === '') ? undefined : fixed;
        }
        default:
          return undefined;
      }
    }
    default:
      return undefined;
  }
}

export interface PathFilter {
  /** The calls reported only for these prefixes. */
  syscalls: SyscallInfo[];
  prefixes: string[];
}

/** The calls every watching rule confines to path prefixes, and the union of those prefixes. */
export function pathFilter(set: RuleSet, traced: readonly SyscallInfo[]): PathFilter {
  const out: PathFilter = { syscalls: [], prefixes: [] };
  const all = new Set<string>();
  for (const s of traced) {
    if (!FILTERABLE.has(s.name)) continue;
    const watching = set.rules.filter((r) => r.enabled && (r.evtTypes === undefined || r.evtTypes.has(s.name)));
    const per = watching.map((r) => pathPrefixes(r.exprTree, set));
    if (watching.length === 0 || per.some((p) => p === undefined)) continue;
    out.syscalls.push(s);
    for (const p of per) for (const x of p!) all.add(x);
  }
  out.prefixes = [...all].sort();
  return out;
}

