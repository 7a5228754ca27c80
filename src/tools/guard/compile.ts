// Conditions compiled to predicates: macros inlined, lists expanded, every field resolved and
// every value checked against its field's type once, so evaluation does no parsing.
import { isIP } from 'node:net';
import type { Expr, FieldRef, Value } from './condition.js';
import { RuleSyntaxError } from './errors.js';
import { type EvalContext, type FieldValue, readField, resolveField, type ResolvedField } from './fields.js';

export type Predicate = (ctx: EvalContext) => boolean;
type Getter = (ctx: EvalContext) => FieldValue[];

export interface CompileEnv {
  /** Parsed macro conditions by name. */
  macros: ReadonlyMap<string, Expr>;
  /** Lists by name, already expanded. */
  lists: ReadonlyMap<string, readonly string[]>;
}

/** The fields a condition reads, with how each is compared (for enforcement and base_syscalls). */
export interface Comparison {
  field: string;
  op: string;
  values: string[];
  negated: boolean;
}

/** How far up the ancestors a field without an index looks. */
const ANCESTOR_DEPTH = 16;

function transform(name: string, v: FieldValue): FieldValue {
  if (v === undefined) return v;
  const s = String(v);
  switch (name) {
    case 'tolower':
      return s.toLowerCase();
    case 'toupper':
      return s.toUpperCase();
    case 'b64':
      return Buffer.from(s, 'base64').toString('utf8');
    case 'basename':
      return s.slice(s.lastIndexOf('/') + 1);
    case 'len':
      return s.length;
    default:
      return v;
  }
}

function getter(ref: FieldRef): { get: Getter; field: ResolvedField } {
  const r = resolveField(ref.name, ref.arg);
  if (typeof r === 'string') throw new RuleSyntaxError(r, ref.pos);
  const multi = r.def.arg === 'optional-index' && r.arg === undefined;
  const transforms = ref.transforms;
  const apply = (v: FieldValue): FieldValue => transforms.reduce((x, t) => transform(t, x), v);
  if (multi) {
    // proc.aname without an index: every ancestor's value.
    const get: Getter = (ctx) => {
      const out: FieldValue[] = [];
      for (let i = 1; i <= ANCESTOR_DEPTH; i++) {
        const v = readField(ctx, { def: r.def, arg: String(i) });
        if (v === undefined && ctx.ancestor(i) === undefined) break;
        out.push(apply(v));
      }
      return out;
    };
    return { get, field: r };
  }
  const all = r.def.all;
  if (all !== undefined) return { get: (ctx) => all(ctx).map(apply), field: r };
  if (transforms.length === 0) return { get: (ctx) => [readField(ctx, r)], field: r };
  return { get: (ctx) => [apply(readField(ctx, r))], field: r };
}

function globRegex(glob: string, flags: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, flags);
}

interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  bits: number;
}

function ipBytes(ip: string): Uint8Array | undefined {
  const v = isIP(ip);
  if (v === 4) return Uint8Array.from(ip.split('.').map(Number));
  if (v !== 6) return undefined;
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parse = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(':'));
  const h = parse(head);
  const t = parse(tail);
  const expand = (g: string[]): number[] =>
    g.flatMap((x) => (x.includes('.') ? (() => { const b = x.split('.').map(Number); return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!]; })() : [parseInt(x, 16)]));
  const hv = expand(h);
  const tv = expand(t);
  const groups = [...hv, ...Array(8 - hv.length - tv.length).fill(0), ...tv];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

function parseCidr(text: string): Cidr | undefined {
  const [addr, len] = text.split('/');
  const bytes = ipBytes(addr ?? '');
  if (bytes === undefined) return undefined;
  const family = bytes.length === 4 ? 4 : 6;
  const bits = len === undefined ? bytes.length * 8 : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) return undefined;
  return { family, bytes, bits };
}

function inCidr(ip: string, c: Cidr): boolean {
  let b = ipBytes(ip);
  if (b === undefined) return false;
  // An IPv4-mapped IPv6 address is matched as IPv4.
  if (b.length === 16 && c.family === 4 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) b = b.slice(12);
  if (b.length !== c.bytes.length) return false;
  for (let i = 0; i < c.bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((b[byte]! & mask) !== (c.bytes[byte]! & mask)) return false;
  }
  return true;
}

function listItems(v: Value, env: CompileEnv): string[] {
  if (v.kind === 'str') return [v.value];
  if (v.kind === 'field') throw new RuleSyntaxError('a field cannot be a list', v.pos);
  return v.items.flatMap((it) => (!it.quoted && env.lists.has(it.value) ? [...env.lists.get(it.value)!] : [it.value]));
}

/** A test of one field value against the compiled right-hand side. */
type Test = (v: FieldValue, ctx: EvalContext) => boolean;

function numberOf(text: string, field: string, pos: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new RuleSyntaxError(`'${text}' is not a number, as ${field} needs`, pos);
  return n;
}

function compileTest(ref: FieldRef, field: ResolvedField, op: string, value: Value, env: CompileEnv): Test {
  const type = field.def.type;
  const numeric = (type === 'number' || type === 'port') && ref.transforms.every((t) => t === 'len');
  if (value.kind === 'field') {
    const other = getter(value.ref);
    const cmp = (a: FieldValue, b: FieldValue): boolean => {
      if (a === undefined || b === undefined) return false;
      if (op === '=') return String(a) === String(b);
      if (op === '!=') return String(a) !== String(b);
      if (op === '<' || op === '<=' || op === '>' || op === '>=') return compareNum(op, Number(a), Number(b));
      if (op === 'startswith') return String(a).startsWith(String(b));
      if (op === 'endswith') return String(a).endsWith(String(b));
      if (op === 'contains') return String(a).includes(String(b));
      throw new RuleSyntaxError(`operator ${op} cannot compare with another field`, value.pos);
    };
    return (v, ctx) => other.get(ctx).some((o) => cmp(v, o));
  }
  const items = listItems(value, env);
  const single = items[0] ?? '';
  const isNet = type === 'ipaddr' || type === 'ipnet';
  switch (op) {
    case '=':
    case '!=': {
      let eq: Test;
      if (numeric) {
        const n = numberOf(single, ref.text, value.pos);
        eq = (v) => Number(v) === n;
      } else if (type === 'bool') {
        if (single !== 'true' && single !== 'false') throw new RuleSyntaxError(`'${single}' is not true or false, as ${ref.text} needs`, value.pos);
        const want = single === 'true';
        eq = (v) => v === want;
      } else if (isNet) {
        const c = parseCidr(single);
        if (c === undefined) throw new RuleSyntaxError(`'${single}' is not an IP address or CIDR, as ${ref.text} needs`, value.pos);
        eq = (v) => inCidr(String(v), c);
      } else eq = (v) => String(v) === single;
      return op === '=' ? eq : (v, ctx) => !eq(v, ctx);
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const n = numberOf(single, ref.text, value.pos);
      return (v) => compareNum(op, Number(v), n);
    }
    case 'contains':
      return (v) => String(v).includes(single);
    case 'icontains': {
      const lower = single.toLowerCase();
      return (v) => String(v).toLowerCase().includes(lower);
    }
    case 'bcontains':
    case 'bstartswith': {
      const bytes = Buffer.from(single, 'hex').toString('latin1');
      return op === 'bcontains' ? (v) => String(v).includes(bytes) : (v) => String(v).startsWith(bytes);
    }
    case 'startswith':
      return (v) => String(v).startsWith(single);
    case 'endswith':
      return (v) => String(v).endsWith(single);
    case 'glob':
    case 'iglob': {
      const re = globRegex(single, op === 'iglob' ? 'is' : 's');
      return (v) => re.test(String(v));
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${single})$`, 's');
      } catch (err) {
        throw new RuleSyntaxError(`bad regular expression '${single}': ${(err as Error).message}`, value.pos);
      }
      return (v) => re.test(String(v));
    }
    case 'in':
    case 'intersects': {
      if (numeric) {
        const set = new Set(items.map((i) => numberOf(i, ref.text, value.pos)));
        return (v) => set.has(Number(v));
      }
      if (isNet) {
        const cidrs = items.map((i) => {
          const c = parseCidr(i);
          if (c === undefined) throw new RuleSyntaxError(`'${i}' is not an IP address or CIDR, as ${ref.text} needs`, value.pos);
          return c;
        });
        return (v) => cidrs.some((c) => inCidr(String(v), c));
      }
      const set = new Set(items);
      return (v) => set.has(String(v));
    }
    case 'pmatch': {
      const prefixes = items.map((p) => p.replace(/\/+$/, ''));
      return (v) => {
        const s = String(v);
        return prefixes.some((p) => s === p || s.startsWith(`${p}/`) || p === '');
      };
    }
    default:
      throw new RuleSyntaxError(`unknown operator ${op}`, value.pos);
  }
}

function compareNum(op: string, a: number, b: number): boolean {
  if (Number.isNaN(a)) return false;
  if (op === '<') return a < b;
  if (op === '<=') return a <= b;
  if (op === '>') return a > b;
  return a >= b;
}

/**
 * The predicate of a condition; RuleSyntaxError (at an offset of the condition, or naming the
 * macro it came from) for unknown fields, macros, bad values.
 */
export function compileCondition(expr: Expr, env: CompileEnv, seen: readonly string[] = [], comparisons?: Comparison[], negated = false): Predicate {
  switch (expr.kind) {
    case 'and': {
      const l = compileCondition(expr.left, env, seen, comparisons, negated);
      const r = compileCondition(expr.right, env, seen, comparisons, negated);
      return (c) => l(c) && r(c);
    }
    case 'or': {
      const l = compileCondition(expr.left, env, seen, comparisons, negated);
      const r = compileCondition(expr.right, env, seen, comparisons, negated);
      return (c) => l(c) || r(c);
    }
    case 'not': {
      const e = compileCondition(expr.expr, env, seen, comparisons, !negated);
      return (c) => !e(c);
    }
    case 'macro': {
      const m = env.macros.get(expr.name);
      if (m === undefined) throw new RuleSyntaxError(`undefined macro '${expr.name}'`, expr.pos);
      if (seen.includes(expr.name)) throw new RuleSyntaxError(`macro '${expr.name}' refers to itself (${[...seen, expr.name].join(' -> ')})`, expr.pos);
      try {
        return compileCondition(m, env, [...seen, expr.name], comparisons, negated);
      } catch (err) {
        // An error inside a macro is reported where the rule uses it, naming the macro.
        if (err instanceof RuleSyntaxError && !err.message.startsWith('in macro')) throw new RuleSyntaxError(`in macro '${expr.name}': ${err.message}`, expr.pos);
        throw err;
      }
    }
    case 'exists': {
      const { get } = getter(expr.field);
      comparisons?.push({ field: expr.field.text, op: 'exists', values: [], negated });
      return (c) => get(c).some((v) => v !== undefined);
    }
    case 'cmp': {
      const { get, field } = getter(expr.field);
      const test = compileTest(expr.field, field, expr.op, expr.value, env);
      if (comparisons !== undefined && expr.value.kind !== 'field') comparisons.push({ field: expr.field.text, op: expr.op, values: listItems(expr.value, env), negated });
      return (c) => {
        const vs = get(c);
        for (const v of vs) if (v !== undefined && test(v, c)) return true;
        return false;
      };
    }
  }
}
