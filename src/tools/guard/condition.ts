// Falco's condition language: a tokenizer and a recursive-descent parser to a typed tree.
// Positions are offsets into the condition's text, turned into file:line:column by the loader.
import { RuleSyntaxError } from './errors.js';

export type CmpOp =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'contains'
  | 'icontains'
  | 'bcontains'
  | 'startswith'
  | 'bstartswith'
  | 'endswith'
  | 'glob'
  | 'iglob'
  | 'in'
  | 'intersects'
  | 'pmatch'
  | 'regex';

const BINARY_OPS = new Set<string>(['=', '==', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'in', 'intersects', 'pmatch', 'regex']);
const LIST_OPS = new Set<string>(['in', 'intersects', 'pmatch']);
export const TRANSFORMERS = new Set(['tolower', 'toupper', 'b64', 'basename', 'len']);

export interface FieldRef {
  /** The field's name without its argument: "proc.aname", "evt.arg". */
  name: string;
  /** The bracketed or dotted argument: "2" of proc.aname[2], "name" of evt.arg.name. */
  arg?: string;
  /** Transformers applied, innermost first. */
  transforms: string[];
  pos: number;
  /** The text as written, for messages. */
  text: string;
}

export type Value = { kind: 'str'; value: string; pos: number } | { kind: 'list'; items: Array<{ value: string; quoted: boolean; pos: number }>; pos: number } | { kind: 'field'; ref: FieldRef; pos: number };

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; field: FieldRef; op: CmpOp; value: Value }
  | { kind: 'exists'; field: FieldRef }
  | { kind: 'macro'; name: string; pos: number };

interface Token {
  kind: 'word' | 'str' | 'op' | '(' | ')' | ',' | 'end';
  text: string;
  pos: number;
}

const SYMBOLS = ['==', '!=', '<=', '>=', '=', '<', '>'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ kind: c, text: c, pos: i });
      i++;
      continue;
    }
    const sym = SYMBOLS.find((s) => src.startsWith(s, i));
    if (sym !== undefined) {
      out.push({ kind: 'op', text: sym, pos: i });
      i += sym.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const n = src[j + 1]!;
          text += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
        } else text += src[j++];
      }
      if (j >= src.length) throw new RuleSyntaxError('unterminated string', i);
      out.push({ kind: 'str', text, pos: i });
      i = j + 1;
      continue;
    }
    let j = i;
    // A word runs to whitespace or punctuation; brackets are part of it (proc.aname[2]).
    let depth = 0;
    while (j < src.length) {
      const d = src[j]!;
      if (d === '[') depth++;
      else if (d === ']') depth--;
      else if (depth <= 0 && (/\s/.test(d) || d === '(' || d === ')' || d === ',' || d === '=' || d === '<' || d === '>' || (d === '!' && src[j + 1] === '='))) break;
      j++;
    }
    out.push({ kind: 'word', text: src.slice(i, j), pos: i });
    i = j;
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

const FIELD_RE = /^([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)(?:\[([^\]]*)\])?$/;

/** Whether `text` looks like a field name (it has a dot: "proc.name"), as Falco tells fields from macros. */
export function looksLikeField(text: string): boolean {
  return FIELD_RE.test(text) && text.includes('.');
}

class Parser {
  readonly #t: Token[];
  #i = 0;

  constructor(src: string) {
    this.#t = tokenize(src);
  }

  get #peek(): Token {
    return this.#t[this.#i]!;
  }

  /** The next token's kind, read anew at each call (a getter would be narrowed by TypeScript). */
  #peekKind(): Token['kind'] {
    return this.#t[this.#i]!.kind;
  }

  #next(): Token {
    return this.#t[this.#i++]!;
  }

  #isWord(text: string): boolean {
    return this.#peekKind() === 'word' && this.#peek.text === text;
  }

  parse(): Expr {
    if (this.#peekKind() === 'end') throw new RuleSyntaxError('empty condition', 0);
    const e = this.#or();
    if (this.#peekKind() !== 'end') throw new RuleSyntaxError(`unexpected '${this.#peek.text}'`, this.#peek.pos);
    return e;
  }

  #or(): Expr {
    let left = this.#and();
    while (this.#isWord('or')) {
      this.#next();
      left = { kind: 'or', left, right: this.#and() };
    }
    return left;
  }

  #and(): Expr {
    let left = this.#not();
    while (this.#isWord('and')) {
      this.#next();
      left = { kind: 'and', left, right: this.#not() };
    }
    return left;
  }

  #not(): Expr {
    if (this.#isWord('not')) {
      this.#next();
      return { kind: 'not', expr: this.#not() };
    }
    return this.#primary();
  }

  #primary(): Expr {
    const t = this.#peek;
    if (t.kind === '(') {
      this.#next();
      const e = this.#or();
      if (this.#peekKind() !== ')') throw new RuleSyntaxError(`expected ')' but found ${this.#describe(this.#peek)}`, this.#peek.pos);
      this.#next();
      return e;
    }
    if (t.kind !== 'word') throw new RuleSyntaxError(`expected a field, a macro or '(' but found ${this.#describe(t)}`, t.pos);
    const after = this.#t[this.#i + 1]!;
    const transformed = TRANSFORMERS.has(t.text) && after.kind === '(';
    if (!transformed && !looksLikeField(t.text)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(t.text)) throw new RuleSyntaxError(`'${t.text}' is neither a field nor a macro name`, t.pos);
      this.#next();
      return { kind: 'macro', name: t.text, pos: t.pos };
    }
    const field = this.#field();
    const op = this.#peek;
    if (op.kind === 'word' && op.text === 'exists') {
      this.#next();
      return { kind: 'exists', field };
    }
    if (!((op.kind === 'op' || op.kind === 'word') && BINARY_OPS.has(op.text))) throw new RuleSyntaxError(`expected an operator after ${field.text} but found ${this.#describe(op)}`, op.pos);
    this.#next();
    const cmp = (op.text === '==' ? '=' : op.text) as CmpOp;
    return { kind: 'cmp', field, op: cmp, value: LIST_OPS.has(cmp) ? this.#list() : this.#value() };
  }

  #field(): FieldRef {
    const t = this.#next();
    if (TRANSFORMERS.has(t.text) && this.#peekKind() === '(') {
      this.#next();
      const inner = this.#field();
      if (this.#peekKind() !== ')') throw new RuleSyntaxError(`expected ')' after ${inner.text}`, this.#peek.pos);
      this.#next();
      return { ...inner, transforms: [...inner.transforms, t.text], pos: t.pos, text: `${t.text}(${inner.text})` };
    }
    const m = FIELD_RE.exec(t.text);
    if (m === null) throw new RuleSyntaxError(`'${t.text}' is not a field`, t.pos);
    return { name: m[1]!, ...(m[2] !== undefined ? { arg: m[2] } : {}), transforms: [], pos: t.pos, text: t.text };
  }

  #value(): Value {
    const t = this.#peek;
    if (t.kind === 'str') {
      this.#next();
      return { kind: 'str', value: t.text, pos: t.pos };
    }
    // A bare symbol is a value too: evt.dir = <.
    if (t.kind === 'op') {
      this.#next();
      return { kind: 'str', value: t.text, pos: t.pos };
    }
    if (t.kind === 'word') {
      this.#next();
      // val(field) compares with another field of the same event.
      if (t.text === 'val' && this.#peekKind() === '(') {
        this.#next();
        const ref = this.#field();
        if (this.#peekKind() !== ')') throw new RuleSyntaxError(`expected ')' after ${ref.text}`, this.#peek.pos);
        this.#next();
        return { kind: 'field', ref, pos: t.pos };
      }
      return { kind: 'str', value: t.text, pos: t.pos };
    }
    if (t.kind === '(') return this.#list();
    throw new RuleSyntaxError(`expected a value but found ${this.#describe(t)}`, t.pos);
  }

  #list(): Value {
    const open = this.#peek;
    if (open.kind !== '(') throw new RuleSyntaxError(`expected '(' and a list but found ${this.#describe(open)}`, open.pos);
    this.#next();
    const items: Array<{ value: string; quoted: boolean; pos: number }> = [];
    while (this.#peekKind() !== ')') {
      const t = this.#next();
      if (t.kind !== 'word' && t.kind !== 'str') throw new RuleSyntaxError(`expected a list item but found ${this.#describe(t)}`, t.pos);
      items.push({ value: t.text, quoted: t.kind === 'str', pos: t.pos });
      if (this.#peekKind() === ',') this.#next();
      else if (this.#peekKind() !== ')') throw new RuleSyntaxError(`expected ',' or ')' in a list but found ${this.#describe(this.#peek)}`, this.#peek.pos);
    }
    this.#next();
    return { kind: 'list', items, pos: open.pos };
  }

  #describe(t: Token): string {
    return t.kind === 'end' ? 'the end of the condition' : `'${t.text}'`;
  }
}

/** The tree of a condition; RuleSyntaxError (with the offset) on a syntax error. */
export function parseCondition(src: string): Expr {
  return new Parser(src).parse();
}

/** Every field an output string names with %field, with its offset. */
export function outputFields(output: string): Array<{ text: string; pos: number }> {
  const out: Array<{ text: string; pos: number }> = [];
  const re = /%([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*(?:\[[^\]\s]*\])?)/g;
  for (let m = re.exec(output); m !== null; m = re.exec(output)) out.push({ text: m[1]!, pos: m.index });
  return out;
}
