// Falco rule files: lists, macros and rules with append/override, exceptions, enabled,
// required_engine_version; compiled into predicates and output formats. Every error names
// the file, line and column, and the item it is in.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { type Expr, outputFields, parseCondition } from './condition.js';
import { compileCondition, type Comparison, type Predicate } from './compile.js';
import { RuleError, RuleSyntaxError } from './errors.js';
import { EvalContext, type FieldValue, readField, resolveField, type ResolvedField } from './fields.js';
import { parsePriority, type Priority } from './priority.js';

/** The engine version guard's rule language matches (Falco's numbering). */
export const ENGINE_VERSION = '0.50.0';
/** Falco's integer engine versions before semver; guard reads their rules too. */
const ENGINE_VERSION_INT = 50;

/** What enforcement a rule asks for (`action:`, guard's extension). */
export type RuleAction = { kind: 'kill'; signal: number; signalName: string } | { kind: 'deny' };

/** Where in a file an item or a value is. */
interface Where {
  file: string;
  line: number;
  column: number;
  /** The source text of the value and its offset in the file, to place errors inside it. */
  text?: string;
  offset?: number;
  /** The file's reader, which knows its lines. */
  reader?: FileReader;
}

interface RawList {
  name: string;
  items: string[];
  where: Where;
}

interface RawMacro {
  name: string;
  condition: string;
  where: Where;
  condWhere: Where[];
}

interface RawException {
  name: string;
  fields: string[] | string;
  comps: string[] | string | undefined;
  values: unknown[];
}

interface RawRule {
  name: string;
  desc: string;
  condition: string;
  output: string;
  priority: Priority;
  tags: string[];
  enabled: boolean;
  source: string;
  exceptions: RawException[];
  action: RuleAction | undefined;
  where: Where;
  condWhere: Where[];
  outputWhere: Where;
}

type OutputPart = string | { field: string; get: ResolvedField };

export interface Rule {
  name: string;
  desc: string;
  condition: string;
  output: string;
  priority: Priority;
  tags: string[];
  enabled: boolean;
  source: string;
  action: RuleAction | undefined;
  file: string;
  line: number;
  predicate: Predicate;
  /** Syscalls that can match: undefined for any. */
  evtTypes: Set<string> | undefined;
  /** What the condition compares, for enforcement planning. */
  comparisons: Comparison[];
  exprTree: Expr;
  /** %fields of the output, in order. */
  outputFieldNames: string[];
  format(ctx: EvalContext): { output: string; fields: Record<string, FieldValue | null> };
}

export interface RuleSet {
  rules: Rule[];
  lists: Map<string, string[]>;
  macros: Map<string, Expr>;
  files: string[];
  warnings: string[];
}

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGSTOP: 19, SIGINT: 2, SIGHUP: 1, SIGQUIT: 3, SIGABRT: 6, SIGUSR1: 10, SIGUSR2: 12 };

function fail(w: Where, item: string | undefined, reason: string): never {
  throw new RuleError(w.file, w.line, w.column, item, reason);
}

class FileReader {
  readonly file: string;
  readonly source: string;
  readonly #lc = new LineCounter();

  constructor(file: string, source: string) {
    this.file = file;
    this.source = source;
  }

  parse(): YAMLMap[] {
    const doc = parseDocument(this.source, { lineCounter: this.#lc, keepSourceTokens: false, uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const at = this.#lc.linePos(e.pos[0]);
      throw new RuleError(this.file, at.line, at.col, undefined, `YAML: ${e.message.split('\n')[0]}`);
    }
    if (doc.contents === null) return [];
    if (!isSeq(doc.contents)) fail(this.where(doc.contents), undefined, 'a rules file is a list of rule, macro and list items');
    return doc.contents.items.map((item) => {
      if (!isMap(item)) fail(this.where(item as Node), undefined, 'each item is a map with a rule, macro, list or required_engine_version key');
      return item;
    });
  }

  where(node: Node | null | undefined): Where {
    const offset = node?.range?.[0] ?? 0;
    const at = this.#lc.linePos(offset);
    return { file: this.file, line: at.line, column: at.col, offset, reader: this };
  }

  /** The place of offset `pos` of a condition that came from `node`. */
  placeIn(where: Where, text: string, pos: number): Where {
    if (where.offset === undefined) return where;
    // Folded scalars change their text's layout: find the token the error is at in the source.
    const token = text.slice(pos).match(/^\S{1,40}/)?.[0];
    const end = this.source.length;
    let found = -1;
    if (token !== undefined) {
      let from = where.offset;
      // The nth occurrence of the token in the text is the nth after the node's start.
      const nth = text.slice(0, pos).split(token).length - 1;
      for (let i = 0; i <= nth && from < end; i++) {
        found = this.source.indexOf(token, from);
        if (found < 0) break;
        from = found + token.length;
      }
    }
    const at = this.#lc.linePos(found >= 0 ? found : where.offset);
    return { ...where, line: at.line, column: at.col };
  }
}

function str(map: YAMLMap, key: string, r: FileReader, item: string): string | undefined {
  const v = map.get(key, true) as Node | undefined;
  if (v === undefined || v === null) return undefined;
  if (!isScalar(v)) fail(r.where(v), item, `'${key}' must be a string`);
  if (v.value === null) return undefined;
  return String(v.value);
}

function strList(map: YAMLMap, key: string, r: FileReader, item: string): string[] | undefined {
  const v = map.get(key, true) as Node | undefined;
  if (v === undefined || v === null) return undefined;
  if (!isSeq(v)) fail(r.where(v), item, `'${key}' must be a list`);
  return v.items.map((x) => {
    if (!isScalar(x)) fail(r.where(x as Node), item, `'${key}' must be a list of strings`);
    return String(x.value);
  });
}

function bool(map: YAMLMap, key: string, r: FileReader, item: string): boolean | undefined {
  const v = map.get(key, true) as Node | undefined;
  if (v === undefined) return undefined;
  if (!isScalar(v) || typeof v.value !== 'boolean') fail(r.where(v), item, `'${key}' must be true or false`);
  return v.value;
}

function parseVersion(v: string): number[] {
  return v.split('.').map((x) => Number(x));
}

function versionAtLeast(have: number[], want: number[]): boolean {
  for (let i = 0; i < Math.max(have.length, want.length); i++) {
    const h = have[i] ?? 0;
    const w = want[i] ?? 0;
    if (h !== w) return h > w;
  }
  return true;
}

function parseAction(text: string, w: Where, item: string): RuleAction {
  const t = text.trim();
  if (t === 'deny') return { kind: 'deny' };
  if (t === 'kill') return { kind: 'kill', signal: 9, signalName: 'SIGKILL' };
  const name = t.toUpperCase().startsWith('SIG') ? t.toUpperCase() : `SIG${t.toUpperCase()}`;
  const signal = SIGNALS[name];
  if (signal === undefined) fail(w, item, `action '${text}': kill, deny or a signal name (${Object.keys(SIGNALS).join(', ')})`);
  return { kind: 'kill', signal, signalName: name };
}

const ITEM_KEYS = {
  rule: new Set(['rule', 'desc', 'condition', 'output', 'priority', 'tags', 'enabled', 'exceptions', 'source', 'append', 'override', 'action', 'warn_evttypes', 'skip-if-unknown-filter', 'capture', 'capture_duration']),
  macro: new Set(['macro', 'condition', 'append', 'override']),
  list: new Set(['list', 'items', 'append', 'override']),
};

type OverrideMode = 'append' | 'replace';

function overrides(map: YAMLMap, r: FileReader, item: string, allowed: readonly string[]): Map<string, OverrideMode> {
  const out = new Map<string, OverrideMode>();
  const o = map.get('override', true) as Node | undefined;
  if (o === undefined) return out;
  if (!isMap(o)) fail(r.where(o), item, "'override' must map keys to append or replace");
  for (const pair of o.items) {
    const key = String((pair.key as { value?: unknown }).value);
    const mode = String((pair.value as { value?: unknown } | null)?.value);
    if (!allowed.includes(key)) fail(r.where(pair.key as Node), item, `'override' of '${key}': only ${allowed.join(', ')} can be overridden`);
    if (mode !== 'append' && mode !== 'replace') fail(r.where(pair.value as Node), item, `'override' of '${key}' is '${mode}': append or replace`);
    if (key === 'enabled' && mode === 'append') fail(r.where(pair.value as Node), item, "'enabled' can only be replaced");
    out.set(key, mode);
  }
  return out;
}

/** Loads the rule files, in order (later files append to and override earlier ones). */
export class RuleLoader {
  readonly #lists = new Map<string, RawList>();
  readonly #macros = new Map<string, RawMacro>();
  readonly #rules = new Map<string, RawRule>();
  readonly #files: string[] = [];
  readonly warnings: string[] = [];

  addFile(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new RuleError(file, 0, 0, undefined, `cannot read: ${(err as Error).message}`);
    }
    this.addText(file, text);
  }

  addText(file: string, text: string): void {
    this.#files.push(file);
    const r = new FileReader(file, text);
    for (const map of r.parse()) this.#item(map, r);
  }

  #item(map: YAMLMap, r: FileReader): void {
    const w = r.where(map);
    if (map.has('required_engine_version')) {
      const v = String((map.get('required_engine_version', true) as { value?: unknown }).value);
      const ok = /^\d+$/.test(v) ? Number(v) <= ENGINE_VERSION_INT : versionAtLeast(parseVersion(ENGINE_VERSION), parseVersion(v));
      if (!ok) fail(w, undefined, `required_engine_version ${v} is newer than guard's ${ENGINE_VERSION}`);
      return;
    }
    if (map.has('required_plugin_versions')) {
      const v = map.get('required_plugin_versions', true) as Node;
      if (isSeq(v)) {
        for (const p of v.items) {
          const name = isMap(p) ? String(p.get('name')) : '';
          if (name !== 'container') this.warnings.push(`${w.file}:${w.line}: plugin '${name}' is not available: rules of its source are skipped`);
        }
      }
      return;
    }
    const kind = (['rule', 'macro', 'list'] as const).find((k) => map.has(k));
    if (kind === undefined) fail(w, undefined, 'unknown item: expected rule, macro, list, required_engine_version or required_plugin_versions');
    const name = str(map, kind, r, kind);
    if (name === undefined || name === '') fail(w, undefined, `${kind} without a name`);
    const item = `${kind} '${name}'`;
    for (const pair of map.items) {
      const key = String((pair.key as { value?: unknown }).value);
      if (!ITEM_KEYS[kind].has(key)) fail(r.where(pair.key as Node), item, `unknown key '${key}'`);
    }
    if (kind === 'list') this.#list(map, r, name, item, w);
    else if (kind === 'macro') this.#macro(map, r, name, item, w);
    else this.#rule(map, r, name, item, w);
  }

  #list(map: YAMLMap, r: FileReader, name: string, item: string, w: Where): void {
    const items = strList(map, 'items', r, item);
    const o = overrides(map, r, item, ['items']);
    const append = bool(map, 'append', r, item) === true || o.get('items') === 'append';
    const known = this.#lists.get(name);
    if (append || o.size > 0) {
      if (known === undefined) fail(w, item, `${append ? 'appends' : 'overrides'} a list that is not defined before`);
      if (items === undefined) fail(w, item, "'items' is missing");
      known.items = append ? [...known.items, ...items] : items;
      return;
    }
    if (items === undefined) fail(w, item, "'items' is missing");
    this.#lists.set(name, { name, items, where: w });
  }

  #macro(map: YAMLMap, r: FileReader, name: string, item: string, w: Where): void {
    const condition = str(map, 'condition', r, item);
    const condNode = map.get('condition', true) as Node | undefined;
    const o = overrides(map, r, item, ['condition']);
    const append = bool(map, 'append', r, item) === true || o.get('condition') === 'append';
    if (condition === undefined) fail(w, item, "'condition' is missing");
    const cw = { ...r.where(condNode), text: condition };
    const known = this.#macros.get(name);
    if (append || o.size > 0) {
      if (known === undefined) fail(w, item, `${append ? 'appends' : 'overrides'} a macro that is not defined before`);
      if (append) {
        known.condition = `${known.condition} ${condition}`;
        known.condWhere.push(cw);
      } else {
        known.condition = condition;
        known.condWhere = [cw];
      }
      return;
    }
    this.#macros.set(name, { name, condition, where: w, condWhere: [cw] });
  }

  #rule(map: YAMLMap, r: FileReader, name: string, item: string, w: Where): void {
    const o = overrides(map, r, item, ['desc', 'condition', 'output', 'priority', 'tags', 'exceptions', 'enabled', 'action']);
    const append = bool(map, 'append', r, item) === true;
    const known = this.#rules.get(name);
    const condition = str(map, 'condition', r, item);
    const condNode = map.get('condition', true) as Node | undefined;
    const exceptions = this.#exceptions(map, r, item);
    const enabled = bool(map, 'enabled', r, item);
    // An item with only `rule` and `enabled` turns an existing rule on or off.
    const onlyEnabled = map.items.length === 2 && enabled !== undefined;
    if (append || o.size > 0 || onlyEnabled) {
      if (known === undefined) fail(w, item, `${append ? 'appends to' : 'overrides'} a rule that is not defined before`);
      if (onlyEnabled || o.has('enabled')) known.enabled = enabled ?? known.enabled;
      const mode = (key: string): OverrideMode | undefined => (append ? 'append' : o.get(key));
      if (condition !== undefined) {
        const cw = { ...r.where(condNode), text: condition };
        if (mode('condition') === undefined) fail(w, item, "'condition' given but not named in 'override'");
        known.condition = mode('condition') === 'append' ? `${known.condition} ${condition}` : condition;
        known.condWhere = mode('condition') === 'append' ? [...known.condWhere, cw] : [cw];
      }
      const output = str(map, 'output', r, item);
      if (output !== undefined) {
        known.output = mode('output') === 'append' ? `${known.output} ${output}` : output;
        known.outputWhere = { ...r.where(map.get('output', true) as Node), text: output };
      }
      const desc = str(map, 'desc', r, item);
      if (desc !== undefined) known.desc = mode('desc') === 'append' ? `${known.desc} ${desc}` : desc;
      const priority = str(map, 'priority', r, item);
      if (priority !== undefined) known.priority = this.#priority(priority, r.where(map.get('priority', true) as Node), item);
      const tags = strList(map, 'tags', r, item);
      if (tags !== undefined) known.tags = mode('tags') === 'append' ? [...known.tags, ...tags] : tags;
      if (exceptions.length > 0) known.exceptions = mode('exceptions') === 'replace' ? exceptions : mergeExceptions(known.exceptions, exceptions);
      const action = str(map, 'action', r, item);
      if (action !== undefined) known.action = parseAction(action, r.where(map.get('action', true) as Node), item);
      return;
    }
    if (condition === undefined) fail(w, item, "'condition' is missing");
    const output = str(map, 'output', r, item);
    if (output === undefined) fail(w, item, "'output' is missing");
    const priority = str(map, 'priority', r, item);
    if (priority === undefined) fail(w, item, "'priority' is missing");
    const action = str(map, 'action', r, item);
    this.#rules.set(name, {
      name,
      desc: str(map, 'desc', r, item) ?? '',
      condition,
      output,
      priority: this.#priority(priority, r.where(map.get('priority', true) as Node), item),
      tags: strList(map, 'tags', r, item) ?? [],
      enabled: enabled ?? true,
      source: str(map, 'source', r, item) ?? 'syscall',
      exceptions,
      action: action === undefined ? undefined : parseAction(action, r.where(map.get('action', true) as Node), item),
      where: w,
      condWhere: [{ ...r.where(condNode), text: condition }],
      outputWhere: { ...r.where(map.get('output', true) as Node), text: output },
    });
  }

  #priority(text: string, w: Where, item: string): Priority {
    const p = parsePriority(text);
    if (p === undefined) fail(w, item, `unknown priority '${text}'`);
    return p;
  }

  #exceptions(map: YAMLMap, r: FileReader, item: string): RawException[] {
    const v = map.get('exceptions', true) as Node | undefined;
    if (v === undefined) return [];
    if (!isSeq(v)) fail(r.where(v), item, "'exceptions' must be a list");
    return v.items.map((e) => {
      if (!isMap(e)) fail(r.where(e as Node), item, 'an exception is a map with name, fields, comps and values');
      const js = e.toJSON() as { name?: unknown; fields?: unknown; comps?: unknown; values?: unknown };
      if (typeof js.name !== 'string') fail(r.where(e), item, 'an exception needs a name');
      const fields = js.fields;
      if (!(typeof fields === 'string' || (Array.isArray(fields) && fields.every((f) => typeof f === 'string')))) {
        if (fields !== undefined || js.values === undefined) fail(r.where(e), `${item} exception '${js.name}'`, "'fields' must be a field or a list of fields");
      }
      return { name: js.name, fields: (fields ?? []) as string[] | string, comps: js.comps as string[] | string | undefined, values: Array.isArray(js.values) ? js.values : [] };
    });
  }

  /** Compiles every enabled rule; RuleError at the first problem. */
  compile(): RuleSet {
    const lists = new Map<string, string[]>();
    const expand = (l: RawList, seen: string[]): string[] => {
      if (seen.includes(l.name)) fail(l.where, `list '${l.name}'`, `refers to itself (${[...seen, l.name].join(' -> ')})`);
      return l.items.flatMap((i) => {
        const inner = this.#lists.get(i);
        return inner === undefined ? [unquote(i)] : expand(inner, [...seen, l.name]);
      });
    };
    for (const l of this.#lists.values()) lists.set(l.name, expand(l, []));
    const macros = new Map<string, Expr>();
    for (const m of this.#macros.values()) macros.set(m.name, this.#parse(m.condition, m.condWhere, `macro '${m.name}'`));
    const env = { macros, lists };
    // Macros are checked even when no rule uses them, as Falco does.
    for (const m of this.#macros.values()) {
      try {
        compileCondition(macros.get(m.name)!, env, [m.name]);
      } catch (err) {
        if (err instanceof RuleSyntaxError) this.#fail(m.condWhere, err, `macro '${m.name}'`);
        throw err;
      }
    }
    const rules: Rule[] = [];
    for (const raw of this.#rules.values()) {
      const item = `rule '${raw.name}'`;
      if (raw.source !== 'syscall') {
        this.warnings.push(`${raw.where.file}:${raw.where.line}: ${item}: source '${raw.source}' is not guard's (syscall): skipped`);
        continue;
      }
      const conditionText = withExceptions(raw, lists);
      const tree = this.#parse(conditionText, raw.condWhere, item);
      const comparisons: Comparison[] = [];
      let predicate: Predicate;
      try {
        predicate = compileCondition(tree, env, [], comparisons);
      } catch (err) {
        if (err instanceof RuleSyntaxError) this.#fail(raw.condWhere, err, item);
        throw err;
      }
      rules.push({
        name: raw.name,
        desc: raw.desc,
        condition: conditionText,
        output: raw.output,
        priority: raw.priority,
        tags: raw.tags,
        enabled: raw.enabled,
        source: raw.source,
        action: raw.action,
        file: raw.where.file,
        line: raw.where.line,
        predicate,
        evtTypes: evtTypes(tree, env),
        comparisons,
        exprTree: tree,
        ...compileOutput(raw),
      });
    }
    return { rules, lists, macros, files: [...this.#files], warnings: this.warnings };
  }

  #parse(text: string, wheres: Where[], item: string): Expr {
    try {
      return parseCondition(text);
    } catch (err) {
      if (err instanceof RuleSyntaxError) this.#fail(wheres, err, item);
      throw err;
    }
  }

  #fail(wheres: Where[], err: RuleSyntaxError, item: string): never {
    // The part of an appended condition the offset falls in.
    let pos = err.pos;
    let where = wheres[0]!;
    for (const w of wheres) {
      const len = (w.text?.length ?? 0) + 1;
      where = w;
      if (pos < len || w === wheres[wheres.length - 1]) break;
      pos -= len;
    }
    const at = where.reader !== undefined && where.text !== undefined && pos <= where.text.length ? where.reader.placeIn(where, where.text, pos) : where;
    fail(at, item, err.message);
  }
}

/** A list item is condition text: '"10.0.0.0/8"' in YAML is the quoted string 10.0.0.0/8. */
function unquote(item: string): string {
  const m = /^"(.*)"$|^'(.*)'$/s.exec(item);
  if (m === null) return item;
  return m[1] !== undefined ? m[1].replace(/\\(.)/gs, '$1') : (m[2] ?? '');
}

function mergeExceptions(old: RawException[], added: RawException[]): RawException[] {
  const out = old.map((e) => ({ ...e, values: [...e.values] }));
  for (const a of added) {
    const same = out.find((e) => e.name === a.name);
    if (same !== undefined) same.values.push(...a.values);
    else out.push(a);
  }
  return out;
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function valueText(v: unknown, comp: string, lists: ReadonlyMap<string, readonly string[]>): string {
  if (Array.isArray(v)) return `(${v.map((x) => quote(String(x))).join(', ')})`;
  const s = String(v);
  if (['in', 'intersects', 'pmatch'].includes(comp)) return lists.has(s) ? `(${s})` : `(${quote(s)})`;
  return quote(s);
}

/** The rule's condition with its exceptions: `(cond) and not (e1 or e2 ...)`. */
function withExceptions(raw: RawRule, lists: ReadonlyMap<string, readonly string[]>): string {
  const terms: string[] = [];
  for (const e of raw.exceptions) {
    if (typeof e.fields === 'string') {
      const comp = typeof e.comps === 'string' ? e.comps : 'in';
      if (e.values.length > 0) terms.push(`${e.fields} ${comp} (${e.values.map((v) => (Array.isArray(v) ? v.map((x) => quote(String(x))).join(', ') : lists.has(String(v)) ? String(v) : quote(String(v)))).join(', ')})`);
      continue;
    }
    const comps = Array.isArray(e.comps) ? e.comps : e.fields.map(() => (typeof e.comps === 'string' ? e.comps : '='));
    for (const tuple of e.values) {
      const vals = Array.isArray(tuple) ? tuple : [tuple];
      terms.push(`(${e.fields.map((f, i) => `${f} ${comps[i] ?? '='} ${valueText(vals[i], comps[i] ?? '=', lists)}`).join(' and ')})`);
    }
  }
  return terms.length === 0 ? raw.condition : `(${raw.condition}) and not (${terms.join(' or ')})`;
}

function compileOutput(raw: RawRule): { outputFieldNames: string[]; format: Rule['format'] } {
  const parts: OutputPart[] = [];
  const names: string[] = [];
  let last = 0;
  for (const { text, pos } of outputFields(raw.output)) {
    // A sentence may end right after a field ("%fd.name."): the longest known prefix is the field.
    let name = text;
    let field: ResolvedField | string = 'unknown';
    for (;;) {
      const m = /^([^[]+)(?:\[([^\]]*)\])?$/.exec(name);
      field = resolveField(m?.[1] ?? name, m?.[2]);
      if (typeof field !== 'string' || !/[._]\w*$|\.$/.test(name)) break;
      const shorter = name.replace(/\.[^.]*$/, '');
      if (shorter === name) break;
      name = shorter;
    }
    if (typeof field === 'string') {
      const w = raw.outputWhere.reader?.placeIn(raw.outputWhere, raw.output, pos) ?? raw.outputWhere;
      fail(w, `rule '${raw.name}'`, `output: ${resolveField(text.replace(/\[.*$/, ''), /\[([^\]]*)\]/.exec(text)?.[1]) as string}`);
    }
    parts.push(raw.output.slice(last, pos));
    parts.push({ field: name, get: field });
    if (!names.includes(name)) names.push(name);
    last = pos + 1 + name.length;
  }
  parts.push(raw.output.slice(last));
  const format = (ctx: EvalContext): { output: string; fields: Record<string, FieldValue | null> } => {
    const fields: Record<string, FieldValue | null> = {};
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const v = readField(ctx, p.get);
        fields[p.field] = v ?? null;
        out += v === undefined || v === '' ? '<NA>' : String(v);
      }
    }
    return { output: out.trim(), fields };
  };
  return { outputFieldNames: names, format };
}

/** The evt.type values a condition can match; undefined when it can match any. */
function evtTypes(e: Expr, env: { macros: ReadonlyMap<string, Expr>; lists: ReadonlyMap<string, readonly string[]> }, seen: string[] = []): Set<string> | undefined {
  switch (e.kind) {
    case 'and': {
      const l = evtTypes(e.left, env, seen);
      const r = evtTypes(e.right, env, seen);
      if (l === undefined) return r;
      if (r === undefined) return l;
      return new Set([...l].filter((x) => r.has(x)));
    }
    case 'or': {
      const l = evtTypes(e.left, env, seen);
      const r = evtTypes(e.right, env, seen);
      return l === undefined || r === undefined ? undefined : new Set([...l, ...r]);
    }
    case 'not':
      return undefined;
    case 'macro': {
      const m = env.macros.get(e.name);
      return m === undefined || seen.includes(e.name) ? undefined : evtTypes(m, env, [...seen, e.name]);
    }
    case 'exists':
      return undefined;
    case 'cmp': {
      if (e.field.name !== 'evt.type' || e.field.transforms.length > 0 || e.value.kind === 'field') return undefined;
      if (e.op === '=') return new Set(e.value.kind === 'str' ? [e.value.value] : []);
      if (e.op === 'in') return new Set(e.value.kind === 'list' ? e.value.items.flatMap((i) => (!i.quoted && env.lists.has(i.value) ? [...env.lists.get(i.value)!] : [i.value])) : [e.value.value]);
      return undefined;
    }
  }
}

/** Loads and compiles rule files. */
export function loadRules(files: readonly string[]): RuleSet {
  const loader = new RuleLoader();
  for (const f of files) loader.addFile(f);
  return loader.compile();
}

export { EvalContext };
