import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BtfLayout } from './query.js';
import type { BtfComposite, BtfEnum, BtfEnum64, BtfType } from './types.js';

export interface FormatCOptions {
  /** Include-guard macro. Default `__VMLINUX_H__`. */
  readonly guard?: string;
  /**
   * Wrap the types in `#pragma clang attribute push(preserve_access_index)`
   * so every struct/union access is CO-RE relocatable. Default true.
   */
  readonly preserveAccessIndex?: boolean;
  /** Pointer size used for layout; default 8. */
  readonly pointerSize?: number;
}

/** Compiler built-ins that must not be redefined even though BTF describes them. */
const BUILTIN_TYPEDEFS = new Set(['__builtin_va_list']);

/** Guard against corrupt graphs whose anonymous types or qualifiers refer to themselves. */
const MAX_NESTING = 512;

const NONE = 0;
const IN_PROGRESS = 1;
const DONE = 2;

/**
 * A C header declaring every struct, union, enum and typedef of `btf` (and
 * its base, for split BTF), like `bpftool btf dump format c`: types are
 * emitted after what they embed by value, with forward declarations where
 * only a pointer is needed; layouts are reproduced exactly with
 * `__attribute__((packed))` and unnamed bitfield padding where natural
 * alignment would not give the recorded offsets and sizes. Names that occur
 * more than once get a `___N` suffix, which CO-RE ignores.
 */
export function formatC(btf: Btf, options: FormatCOptions = {}): string {
  return new CFormatter(btf, options).format();
}

class CFormatter {
  readonly #btf: Btf;
  readonly #options: FormatCOptions;
  readonly #layout: BtfLayout;
  readonly #out: string[] = [];
  readonly #state: Uint8Array;
  readonly #declared: Uint8Array;
  readonly #enumInlined: Uint8Array;
  readonly #names: (string | undefined)[];
  readonly #enumerators = new Map<number, string[]>();
  #depth = 0;
  #budget = 0;

  constructor(btf: Btf, options: FormatCOptions) {
    this.#btf = btf;
    this.#options = options;
    this.#layout = new BtfLayout(btf, { pointerSize: options.pointerSize });
    const n = btf.nextTypeId;
    this.#state = new Uint8Array(n);
    this.#declared = new Uint8Array(n);
    this.#enumInlined = new Uint8Array(n);
    this.#names = new Array<string | undefined>(n);
  }

  format(): string {
    const btf = this.#btf;
    this.#assignNames();
    // Anonymous types are expanded at every use; a corrupt graph could make that exponential.
    let entries = 0;
    for (let id = 1; id < btf.nextTypeId; id++) {
      const t = btf.type(id);
      entries += 'members' in t ? t.members.length : 'params' in t ? t.params.length : 1;
    }
    this.#budget = 64 * (entries + btf.nextTypeId) + 1_000_000;
    for (let id = 1; id < btf.nextTypeId; id++) {
      const t = btf.type(id);
      switch (t.kind) {
        case 'STRUCT':
        case 'UNION':
          if (t.name !== '') this.#define(t);
          break;
        case 'ENUM':
        case 'ENUM64':
          if (t.name !== '') this.#defineEnum(t);
          break;
        case 'TYPEDEF':
          this.#defineTypedef(id);
          break;
        case 'FWD':
          this.#declare(t);
          break;
        default:
          break;
      }
    }
    for (let id = 1; id < btf.nextTypeId; id++) {
      const t = btf.type(id);
      if ((t.kind === 'ENUM' || t.kind === 'ENUM64') && t.name === '' && this.#enumInlined[id] === 0) {
        this.#enumInlined[id] = 1;
        this.#write(`${this.#enumBody(t, 0)};`);
      }
    }
    const guard = this.#options.guard ?? '__VMLINUX_H__';
    const pai = this.#options.preserveAccessIndex ?? true;
    const head = [`#ifndef ${guard}`, `#define ${guard}`, ''];
    const tail: string[] = [];
    if (pai) {
      head.push(
        '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX',
        '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)',
        '#endif',
        '',
      );
      tail.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX', '#pragma clang attribute pop', '#endif', '');
    }
    tail.push(`#endif /* ${guard} */`, '');
    return `${head.join('\n')}\n${this.#out.join('')}${tail.join('\n')}`;
  }

  #write(text: string): void {
    this.#out.push(text, '\n\n');
  }

  /** Gives every tag and typedef/enumerator identifier a unique C name, in id order. */
  #assignNames(): void {
    const btf = this.#btf;
    const tags = new Map<string, string>();
    const idents = new Map<string, string>();
    const claim = (used: Map<string, string>, name: string, owner: string): string => {
      if (!used.has(name)) {
        used.set(name, owner);
        return name;
      }
      for (let n = 2; ; n++) {
        const candidate = `${name}___${n}`;
        if (!used.has(candidate)) {
          used.set(candidate, owner);
          return candidate;
        }
      }
    };
    const fwds: number[] = [];
    for (let id = 1; id < btf.nextTypeId; id++) {
      const t = btf.type(id);
      switch (t.kind) {
        case 'STRUCT':
        case 'UNION':
          if (t.name !== '') this.#names[id] = claim(tags, t.name, t.kind === 'STRUCT' ? 'struct' : 'union');
          break;
        case 'ENUM':
        case 'ENUM64':
          if (t.name !== '') this.#names[id] = claim(tags, t.name, 'enum');
          this.#enumerators.set(
            id,
            t.values.map((e) => claim(idents, e.name, 'enumerator')),
          );
          break;
        case 'TYPEDEF':
          this.#names[id] = BUILTIN_TYPEDEFS.has(t.name) ? t.name : claim(idents, t.name, 'typedef');
          break;
        case 'FWD':
          fwds.push(id);
          break;
        default:
          break;
      }
    }
    for (const id of fwds) {
      const t = btf.type(id);
      if (t.kind !== 'FWD') continue;
      const owner = tags.get(t.name);
      this.#names[id] = owner === t.fwdKind ? t.name : claim(tags, t.name, t.fwdKind);
    }
  }

  #enter(id: number): void {
    if (--this.#budget < 0) {
      throw new BtfError('ELOOP', 'anonymous types expand too many times to format', { typeId: id });
    }
    if (++this.#depth > MAX_NESTING) {
      throw new BtfError('ELOOP', `types nest deeper than ${MAX_NESTING} levels`, { typeId: id });
    }
  }

  #leave(): void {
    this.#depth--;
  }

  /** Emits what a use of `id` needs first: complete types when `complete`, else declarations. */
  #visit(id: number, complete: boolean): void {
    this.#enter(id);
    const t = this.#btf.type(id);
    switch (t.kind) {
      case 'PTR':
        this.#visit(t.type, false);
        break;
      case 'ARRAY':
        this.#visit(t.type, true);
        break;
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
        this.#visit(t.type, complete);
        break;
      case 'FUNC_PROTO':
        this.#visit(t.returnType, false);
        for (const p of t.params) this.#visit(p.type, false);
        break;
      case 'TYPEDEF':
        this.#defineTypedef(id);
        if (complete) this.#visit(t.type, true);
        break;
      case 'STRUCT':
      case 'UNION':
        if (t.name === '') {
          for (const m of t.members) this.#visit(m.type, true);
        } else if (complete) {
          this.#define(t);
        } else {
          this.#declare(t);
        }
        break;
      case 'ENUM':
      case 'ENUM64':
        if (t.name !== '') this.#defineEnum(t);
        break;
      case 'FWD':
        this.#declare(t);
        break;
      default:
        break;
    }
    this.#leave();
  }

  #declare(t: BtfComposite | Extract<BtfType, { kind: 'FWD' }>): void {
    if (this.#declared[t.id] === 1 || this.#state[t.id] === DONE) return;
    this.#declared[t.id] = 1;
    const keyword = t.kind === 'FWD' ? t.fwdKind : t.kind === 'STRUCT' ? 'struct' : 'union';
    this.#write(`${keyword} ${this.#name(t.id)};`);
  }

  #define(t: BtfComposite): void {
    const state = this.#state[t.id];
    if (state === DONE) return;
    if (state === IN_PROGRESS) {
      this.#declare(t);
      return;
    }
    this.#state[t.id] = IN_PROGRESS;
    for (const m of t.members) this.#visit(m.type, true);
    this.#write(`${this.#compositeBody(t, 0)};`);
    this.#state[t.id] = DONE;
  }

  #defineEnum(t: BtfEnum | BtfEnum64): void {
    if (this.#state[t.id] === DONE) return;
    this.#state[t.id] = DONE;
    this.#write(`${this.#enumBody(t, 0)};`);
  }

  #defineTypedef(id: number): void {
    if (this.#state[id] !== NONE) return;
    const t = this.#btf.type(id);
    if (t.kind !== 'TYPEDEF') return;
    this.#state[id] = IN_PROGRESS;
    if (!BUILTIN_TYPEDEFS.has(t.name)) {
      this.#visit(t.type, false);
      this.#write(`typedef ${this.#decl(t.type, this.#name(id), 0)};`);
    }
    this.#state[id] = DONE;
  }

  #name(id: number): string {
    const name = this.#names[id];
    if (name === undefined) throw new BtfError('EINVAL', 'type has no C name', { typeId: id });
    return name;
  }

  /** The C declaration of something of type `id` whose declarator is `inner` (a name, `*name`, `name[3]`...). */
  #decl(id: number, inner: string, indent: number): string {
    this.#enter(id);
    try {
      return this.#declOf(this.#btf.type(id), inner, indent);
    } finally {
      this.#leave();
    }
  }

  #declOf(t: BtfType, inner: string, indent: number): string {
    switch (t.kind) {
      case 'VOID':
        return join('void', inner);
      case 'INT':
        return join(t.name !== '' ? t.name : intTypeName(t.size, t.encoding === 'SIGNED'), inner);
      case 'FLOAT':
        return join(t.name !== '' ? t.name : t.size === 4 ? 'float' : t.size === 8 ? 'double' : 'long double', inner);
      case 'PTR':
        return this.#decl(t.type, `*${inner}`, indent);
      case 'ARRAY':
        return this.#decl(t.type, `${wrap(inner)}[${t.nelems}]`, indent);
      case 'FUNC_PROTO': {
        const params = t.params.map((p, i) =>
          p.type === 0 && i === t.params.length - 1 && i > 0 ? '...' : this.#decl(p.type, '', indent),
        );
        return this.#decl(t.returnType, `${wrap(inner)}(${params.length === 0 ? 'void' : params.join(', ')})`, indent);
      }
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT': {
        const qualifier = t.kind.toLowerCase();
        const target = this.#btf.type(t.type);
        if (target.kind === 'PTR') return this.#decl(t.type, join(qualifier, inner), indent);
        if (target.kind === 'FUNC_PROTO' || t.kind === 'RESTRICT') return this.#decl(t.type, inner, indent);
        // A qualified array is an array of qualified elements; C rejects the qualifier twice.
        if (target.kind === 'ARRAY' && this.#elementQualified(target.type, t.kind)) {
          return this.#decl(t.type, inner, indent);
        }
        return `${qualifier} ${this.#decl(t.type, inner, indent)}`;
      }
      case 'TYPE_TAG': {
        const attribute = t.attribute
          ? `__attribute__((${t.name}))`
          : `__attribute__((btf_type_tag(${JSON.stringify(t.name)})))`;
        return this.#decl(t.type, join(attribute, inner), indent);
      }
      case 'TYPEDEF':
        return join(this.#name(t.id), inner);
      case 'STRUCT':
      case 'UNION':
        if (t.name !== '') return join(`${t.kind === 'STRUCT' ? 'struct' : 'union'} ${this.#name(t.id)}`, inner);
        return join(this.#compositeBody(t, indent), inner);
      case 'ENUM':
      case 'ENUM64':
        if (t.name !== '') return join(`enum ${this.#name(t.id)}`, inner);
        if (this.#enumInlined[t.id] === 1) return join(intTypeName(t.size, t.signed), inner);
        this.#enumInlined[t.id] = 1;
        return join(this.#enumBody(t, indent), inner);
      case 'FWD':
        return join(`${t.fwdKind} ${this.#name(t.id)}`, inner);
      case 'FUNC':
      case 'VAR':
      case 'DATASEC':
      case 'DECL_TAG':
        throw new BtfError('EINVAL', `${t.kind} cannot be used as a C type`, { typeId: t.id });
    }
  }

  #elementQualified(id: number, qualifier: 'CONST' | 'VOLATILE'): boolean {
    let t = this.#btf.type(id);
    for (let depth = 0; depth < MAX_NESTING; depth++) {
      if (t.kind === qualifier) return true;
      if (t.kind !== 'ARRAY' && t.kind !== 'CONST' && t.kind !== 'VOLATILE' && t.kind !== 'TYPE_TAG') return false;
      t = this.#btf.type(t.type);
    }
    return false;
  }

  #compositeBody(t: BtfComposite, indent: number): string {
    const keyword = t.kind === 'STRUCT' ? 'struct' : 'union';
    const head = t.name !== '' ? `${keyword} ${this.#name(t.id)}` : keyword;
    const layout = this.#layout;
    const packed = layout.isPacked(t);
    const pad = '\t'.repeat(indent + 1);
    const lines: string[] = [];
    let cur = 0;
    for (const m of t.members) {
      const width = m.bitfieldSize;
      if (t.kind === 'STRUCT') {
        let natural: number;
        if (width !== 0) {
          const unit = layout.sizeOf(m.type) * 8;
          const straddles = unit > 0 && Math.floor(cur / unit) !== Math.floor((cur + width - 1) / unit);
          natural = packed || !straddles ? cur : roundUp(cur, unit);
        } else {
          natural = roundUp(cur, (packed ? 1 : layout.alignOf(m.type)) * 8);
        }
        if (m.bitOffset > natural) padding(lines, cur, m.bitOffset, pad);
      }
      const declaration = this.#decl(m.type, m.name, indent + 1);
      lines.push(`${pad}${declaration}${width !== 0 ? `: ${width}` : ''};\n`);
      cur = Math.max(cur, m.bitOffset + (width !== 0 ? width : layout.sizeOf(m.type) * 8));
    }
    if (t.kind === 'STRUCT' && t.members.length > 0) {
      const align = packed ? 1 : layout.alignOf(t.id);
      if (t.size * 8 > roundUp(cur, align * 8)) padding(lines, cur, t.size * 8, pad);
    }
    const body = lines.length === 0 ? '{}' : `{\n${lines.join('')}${'\t'.repeat(indent)}}`;
    return `${head} ${body}${packed ? ' __attribute__((packed))' : ''}`;
  }

  #enumBody(t: BtfEnum | BtfEnum64, indent: number): string {
    const head = t.name !== '' ? `enum ${this.#name(t.id)}` : 'enum';
    const names = this.#enumerators.get(t.id) ?? t.values.map((e) => e.name);
    const pad = '\t'.repeat(indent + 1);
    const lines = t.values.map((e, i) => `${pad}${names[i]} = ${enumLiteral(t, e.value)},\n`);
    const mode = ENUM_MODES[t.size];
    const attribute = naturalEnumSize(t) !== t.size && mode !== undefined ? ` __attribute__((mode(${mode})))` : '';
    if (lines.length === 0) return `${head} {}${attribute}`;
    return `${head} {\n${lines.join('')}${'\t'.repeat(indent)}}${attribute}`;
  }
}

const ENUM_MODES: Record<number, string> = { 1: 'QI', 2: 'HI', 4: 'SI', 8: 'DI' };

function naturalEnumSize(t: BtfEnum | BtfEnum64): number {
  let min = 0n;
  let max = 0n;
  for (const e of t.values) {
    const v = BigInt(e.value);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min >= -0x80000000n && max <= 0x7fffffffn) return 4;
  if (min >= 0n && max <= 0xffffffffn) return 4;
  return 8;
}

function enumLiteral(t: BtfEnum | BtfEnum64, value: number | bigint): string {
  if (t.kind === 'ENUM') return String(value);
  if (!t.signed) return `${value}ULL`;
  if (value === -0x8000000000000000n) return '(-9223372036854775807LL - 1)';
  return `${value}LL`;
}

function intTypeName(size: number, signed: boolean): string {
  const base = size === 1 ? 'char' : size === 2 ? 'short' : size === 8 ? 'long long' : size === 16 ? '__int128' : 'int';
  return signed ? (size === 1 ? 'signed char' : base) : `unsigned ${base}`;
}

function join(base: string, inner: string): string {
  return inner === '' ? base : `${base} ${inner}`;
}

/** Array and function suffixes bind tighter than `*`, so a pointer declarator needs parentheses. */
function wrap(inner: string): string {
  return inner.startsWith('*') || inner.startsWith('__attribute__') ? `(${inner})` : inner;
}

function roundUp(value: number, multiple: number): number {
  return multiple <= 1 ? value : Math.ceil(value / multiple) * multiple;
}

/** Beyond this many bits of padding, a char array is emitted instead of a run of unnamed bitfields. */
const ARRAY_PADDING_BITS = 1 << 20;

/** Unnamed bitfields from bit `from` to `to`, each within one naturally aligned unit of its type. */
function padding(lines: string[], from: number, to: number, pad: string): void {
  while (from < to) {
    if (from % 8 === 0 && to - from >= ARRAY_PADDING_BITS) {
      const bytes = Math.floor((to - from) / 8);
      lines.push(`${pad}char __pad_${from / 8}[${bytes}];\n`);
      from += bytes * 8;
      continue;
    }
    const gap = to - from;
    let bits: number;
    if (from % 8 !== 0) {
      bits = Math.min(gap, 8 - (from % 8));
    } else {
      bits = [64, 32, 16, 8].find((u) => from % u === 0 && gap >= u) ?? Math.min(gap, 8);
    }
    const type = bits > 32 ? 'long' : bits > 16 ? 'int' : bits > 8 ? 'short' : 'char';
    lines.push(`${pad}${type}: ${bits};\n`);
    from += bits;
  }
}
