// TypeScript types and straight-line read/write functions for layouts.
import { GenError } from './errors.js';
import { layoutSize, MAX_TUPLE, type Bitfield, type Decl, type EnumDecl, type FieldItem, type Layout, type RecordBody, type RecordDecl, type RecordItem } from './layout.js';
import { propertyKey, stringLiteral } from './names.js';

/** Names of the run-time helpers generated code calls (exported by src/codegen/runtime.ts). */
export const HELPERS = {
  readChars: 'readChars',
  writeChars: 'writeChars',
  readBytes: 'readBytes',
  writeBytes: 'writeBytes',
  readInt128: 'readInt128',
  writeInt128: 'writeInt128',
  zero: 'zero',
  checkLength: 'checkLength',
} as const;

/** Helpers a piece of generated code used, so the module imports only those. */
export type HelperUse = Set<keyof typeof HELPERS>;

/** Names of a declaration's generated functions. */
export function readerName(d: Decl): string {
  return `read${d.name}`;
}
export function writerName(d: Decl): string {
  return `write${d.name}`;
}

function indent(text: string, by = '  '): string {
  return text.replace(/\n(?!\n)/g, `\n${by}`);
}

// ---------------------------------------------------------------------------------------------
// Types

/** The TypeScript type of a value with this layout. */
export function tsType(l: Layout): string {
  switch (l.kind) {
    case 'int':
      return l.bool ? 'boolean' : l.size <= 4 ? 'number' : 'bigint';
    case 'float':
      return 'number';
    case 'enum':
      return `${l.decl.name} | ${l.decl.is64 ? 'bigint' : 'number'}`;
    case 'chars':
      return 'string';
    case 'bytes':
      return 'Uint8Array';
    case 'array': {
      const el = tsType(l.element);
      if (l.count <= MAX_TUPLE) return `[${new Array<string>(l.count).fill(el).join(', ')}]`;
      return l.element.kind === 'enum' ? `(${el})[]` : `${el}[]`;
    }
    case 'named':
      return l.decl.name;
    case 'inline':
      return `{\n${indent(bodyMembers(l.body, false)).replace(/^/, '  ')}\n}`;
  }
}

/** The members of an interface or type literal for a record body, one per line. */
function bodyMembers(body: RecordBody, optional: boolean): string {
  const lines: string[] = [];
  const walk = (items: readonly RecordItem[], opt: boolean): void => {
    for (const it of items) {
      if (it.kind === 'field') {
        lines.push(`${propertyKey(it.name)}${opt ? '?' : ''}: ${tsType(it.layout)};`);
      } else {
        for (const alt of it.alternatives) walk(alt, true);
      }
    }
  };
  walk(body.items, optional);
  return lines.join('\n');
}

/** `export interface Name { ... }` for a struct or union. */
export function interfaceText(d: RecordDecl): string {
  const doc = `/** ${d.cName} (${d.body.size} bytes)${hasUnion(d.body.items) ? '. Overlapping members are optional: all are read, the first present one is written.' : ''} */`;
  const members = bodyMembers(d.body, false);
  return `${doc}\nexport interface ${d.name} {\n${members === '' ? '' : `  ${indent(members)}\n`}}`;
}

function hasUnion(items: readonly RecordItem[]): boolean {
  return items.some((i) => i.kind === 'union');
}

function enumLiteral(d: EnumDecl, v: number | bigint): string {
  if (d.is64) return `${v}n`;
  return String(v);
}

/** The const object of an enum's values and its string-literal union type. */
export function enumText(d: EnumDecl): string {
  const entries = d.members.map((m) => `  ${propertyKey(m.name) === '__proto__' ? "['__proto__']" : propertyKey(m.name)}: ${enumLiteral(d, m.value)},`);
  return [
    `/** ${d.cName}: the values by name. Values without a name read as their number. */`,
    `export const ${d.name} = {`,
    ...entries,
    `} as const;`,
    `export type ${d.name} = keyof typeof ${d.name};`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Codecs

interface Offset {
  /** An expression: `o`, or `o + i0 * 8` inside loops. */
  readonly base: string;
  readonly k: number;
}

function at(off: Offset, k: number): Offset {
  return { base: off.base, k: off.k + k };
}

function offText(off: Offset): string {
  return off.k === 0 ? off.base : `${off.base} + ${off.k}`;
}

class Fn {
  #n = 0;
  constructor(
    readonly le: boolean,
    readonly helpers: HelperUse,
  ) {}
  fresh(prefix: string): string {
    return `${prefix}${this.#n++}`;
  }
  use(h: keyof typeof HELPERS): string {
    this.helpers.add(h);
    return HELPERS[h];
  }
}

interface Read {
  readonly pre: string[];
  readonly expr: string;
}

function intAccessor(size: number, signed: boolean): string {
  switch (size) {
    case 1:
      return signed ? 'Int8' : 'Uint8';
    case 2:
      return signed ? 'Int16' : 'Uint16';
    case 4:
      return signed ? 'Int32' : 'Uint32';
    case 8:
      return signed ? 'BigInt64' : 'BigUint64';
    default:
      throw new GenError(`no DataView accessor for ${size}-byte integers`);
  }
}

function endianArg(size: number, le: boolean): string {
  return size === 1 ? '' : `, ${le}`;
}

function readLayout(l: Layout, off: Offset, f: Fn): Read {
  const o = offText(off);
  switch (l.kind) {
    case 'int': {
      const le = l.bigEndian ? false : f.le;
      if (l.size === 16) return { pre: [], expr: `${f.use('readInt128')}(v, ${o}, ${l.signed}, ${le})` };
      const get = `v.get${intAccessor(l.size, l.signed)}(${o}${endianArg(l.size, le)})`;
      return { pre: [], expr: l.bool ? `${get} !== ${l.size === 8 ? '0n' : '0'}` : get };
    }
    case 'float':
      return { pre: [], expr: `v.getFloat${l.size * 8}(${o}, ${f.le})` };
    case 'enum':
      return { pre: [], expr: `${readerName(l.decl)}(v, ${o})` };
    case 'chars':
      return { pre: [], expr: `${f.use('readChars')}(v, ${o}, ${l.size})` };
    case 'bytes':
      return { pre: [], expr: `${f.use('readBytes')}(v, ${o}, ${l.size})` };
    case 'named':
      return { pre: [], expr: `${readerName(l.decl)}(v, ${o})` };
    case 'inline':
      return readBody(l.body, off, f);
    case 'array': {
      if (l.count <= MAX_TUPLE) {
        const pre: string[] = [];
        const exprs: string[] = [];
        for (let i = 0; i < l.count; i++) {
          const r = readLayout(l.element, at(off, i * l.stride), f);
          pre.push(...r.pre);
          exprs.push(r.expr);
        }
        const oneLine = `[${exprs.join(', ')}]`;
        if (!oneLine.includes('\n') && oneLine.length <= 100) return { pre, expr: oneLine };
        return { pre, expr: `[\n  ${exprs.map((e) => indent(e)).join(',\n  ')},\n]` };
      }
      const a = f.fresh('a');
      const i = f.fresh('i');
      const el = readLayout(l.element, { base: `${o} + ${i} * ${l.stride}`, k: 0 }, f);
      const body = [...el.pre, `${a}[${i}] = ${el.expr};`];
      return {
        pre: [`const ${a} = new Array<${tsType(l.element)}>(${l.count});`, `for (let ${i} = 0; ${i} < ${l.count}; ${i}++) {\n  ${indent(body.join('\n'))}\n}`],
        expr: a,
      };
    }
  }
}

function readBitfield(b: Bitfield, off: Offset, recordSize: number, f: Fn): string {
  const w = bitWindow(b, recordSize, f.le);
  const o = offText(at(off, w.start));
  const mask = b.bits === 32 ? 0xffffffff : 2 ** b.bits - 1;
  if (w.size <= 4) {
    const raw = `v.get${intAccessor(w.size, false)}(${o}${endianArg(w.size, w.le)})`;
    let expr: string;
    if (b.signed) {
      const left = 32 - w.shift - b.bits;
      expr = left === 0 ? `${raw} >> ${32 - b.bits}` : `(${raw} << ${left}) >> ${32 - b.bits}`;
    } else if (b.bits === 32) {
      expr = `${raw}`;
    } else {
      expr = w.shift === 0 ? `${raw} & ${hex(mask)}` : `(${raw} >>> ${w.shift}) & ${hex(mask)}`;
    }
    return b.bool ? `(${expr}) !== 0` : expr;
  }
  const raw = `v.getBigUint64(${o}, ${w.le})`;
  const shifted = w.shift === 0 ? raw : `(${raw} >> ${w.shift}n)`;
  let expr = b.signed ? `BigInt.asIntN(${b.bits}, ${shifted})` : `BigInt.asUintN(${b.bits}, ${shifted})`;
  if (b.bits <= 32) expr = `Number(${expr})`;
  return b.bool ? `(${expr}) !== ${b.bits <= 32 ? '0' : '0n'}` : expr;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

interface Window {
  /** Byte offset of the window in the record. */
  readonly start: number;
  readonly size: 1 | 2 | 4 | 8;
  /** Right shift that brings the field to bit 0 of the window's value. */
  readonly shift: number;
  readonly le: boolean;
}

/**
 * The smallest aligned-size load (1, 2, 4 or 8 bytes) that covers a bitfield and stays inside
 * the record. Values that fit in 32 bits use 4-byte or smaller windows so reads stay numbers.
 */
function bitWindow(b: Bitfield, recordSize: number, le: boolean): Window {
  const first = Math.floor(b.bitOffset / 8);
  const end = Math.ceil((b.bitOffset + b.bits) / 8);
  const span = end - first;
  for (const size of [1, 2, 4, 8] as const) {
    if (size < span) continue;
    const start = Math.max(0, Math.min(first, recordSize - size));
    if (start + size < end || start > first) continue;
    const shift = le ? b.bitOffset - start * 8 : (start + size) * 8 - (b.bitOffset + b.bits);
    return { start, size, shift, le };
  }
  throw new GenError(`a bitfield of ${b.bits} bits at bit ${b.bitOffset} spans more than 8 bytes`);
}

function readBody(body: RecordBody, off: Offset, f: Fn): Read {
  const pre: string[] = [];
  const entries: string[] = [];
  const walk = (items: readonly RecordItem[]): void => {
    for (const it of items) {
      if (it.kind === 'union') {
        for (const alt of it.alternatives) walk(alt);
        continue;
      }
      let expr: string;
      if (it.bitfield !== undefined) {
        expr = readBitfield(it.bitfield, off, body.size, f);
      } else {
        const r = readLayout(it.layout, at(off, it.offset), f);
        pre.push(...r.pre);
        expr = r.expr;
      }
      entries.push(`${propertyKey(it.name)}: ${indent(expr)},`);
    }
  };
  walk(body.items);
  if (entries.length === 0) return { pre, expr: '{}' };
  return { pre, expr: `{\n  ${entries.join('\n  ')}\n}` };
}

function writeLayout(l: Layout, off: Offset, value: string, f: Fn, path: string): string[] {
  const o = offText(off);
  switch (l.kind) {
    case 'int': {
      const le = l.bigEndian ? false : f.le;
      if (l.size === 16) return [`${f.use('writeInt128')}(v, ${o}, ${value}, ${l.signed}, ${le});`];
      const v = l.bool ? `${value} ? ${l.size === 8 ? '1n : 0n' : '1 : 0'}` : value;
      return [`v.set${intAccessor(l.size, l.signed)}(${o}, ${v}${endianArg(l.size, le)});`];
    }
    case 'float':
      return [`v.setFloat${l.size * 8}(${o}, ${value}, ${f.le});`];
    case 'enum':
    case 'named':
      return [`${writerName(l.decl)}(v, ${o}, ${value});`];
    case 'chars':
      return [`${f.use('writeChars')}(v, ${o}, ${l.size}, ${value}, ${stringLiteral(path)});`];
    case 'bytes':
      return [`${f.use('writeBytes')}(v, ${o}, ${l.size}, ${value}, ${stringLiteral(path)});`];
    case 'inline': {
      const r = f.fresh('r');
      return [`const ${r} = ${value};`, ...writeBody(l.body, off, r, f, path)];
    }
    case 'array': {
      if (l.count <= MAX_TUPLE) {
        const out: string[] = [];
        for (let i = 0; i < l.count; i++) out.push(...writeLayout(l.element, at(off, i * l.stride), `${value}[${i}]`, f, `${path}[${i}]`));
        return out;
      }
      const a = f.fresh('a');
      const i = f.fresh('i');
      const el = writeLayout(l.element, { base: `${o} + ${i} * ${l.stride}`, k: 0 }, `${a}[${i}]!`, f, `${path}[]`);
      return [
        `const ${a} = ${value};`,
        `${f.use('checkLength')}(${a}, ${l.count}, ${stringLiteral(path)});`,
        `for (let ${i} = 0; ${i} < ${l.count}; ${i}++) {\n  ${indent(el.join('\n'))}\n}`,
      ];
    }
  }
}

function writeBitfield(b: Bitfield, off: Offset, recordSize: number, value: string, f: Fn): string[] {
  const w = bitWindow(b, recordSize, f.le);
  const o = offText(at(off, w.start));
  if (w.size <= 4) {
    const acc = intAccessor(w.size, false);
    const val = b.bool ? `(${value} ? 1 : 0)` : value;
    if (b.bits === 32) return [`v.set${acc}(${o}, ${val}${endianArg(w.size, w.le)});`];
    const mask = 2 ** b.bits - 1;
    const field = hex(mask * 2 ** w.shift);
    const shifted = w.shift === 0 ? `(${val} & ${hex(mask)})` : `((${val} & ${hex(mask)}) << ${w.shift})`;
    return [`v.set${acc}(${o}, (v.get${acc}(${o}${endianArg(w.size, w.le)}) & ~${field}) | ${shifted}${endianArg(w.size, w.le)});`];
  }
  const mask = (1n << BigInt(b.bits)) - 1n;
  const field = mask << BigInt(w.shift);
  const val = b.bool ? `(${value} ? 1n : 0n)` : b.bits <= 32 ? `BigInt(${value})` : value;
  const shifted = w.shift === 0 ? `(${val} & 0x${mask.toString(16)}n)` : `((${val} & 0x${mask.toString(16)}n) << ${w.shift}n)`;
  return [`v.setBigUint64(${o}, (v.getBigUint64(${o}, ${w.le}) & ~0x${field.toString(16)}n) | ${shifted}, ${w.le});`];
}

/** Byte ranges of a record not covered by whole fields or unions, in order. */
function gaps(items: readonly RecordItem[], size: number): [number, number][] {
  const covered: [number, number][] = [];
  for (const it of items) {
    if (it.kind === 'union') covered.push([it.offset, it.offset + it.size]);
    else if (it.bitfield === undefined) covered.push([it.offset, it.offset + layoutSize(it.layout)]);
  }
  covered.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  let pos = 0;
  for (const [s, e] of covered) {
    if (s > pos) out.push([pos, s]);
    pos = Math.max(pos, e);
  }
  if (size > pos) out.push([pos, size]);
  return out;
}

/** Stores that zero [start, end) of the record at `off`: the widest aligned stores, or one call. */
function zeroRange(off: Offset, start: number, end: number, f: Fn): string[] {
  if (end - start > 32) return [`${f.use('zero')}(v, ${offText(at(off, start))}, ${end - start});`];
  const out: string[] = [];
  let p = start;
  while (p < end) {
    const left = end - p;
    const size = left >= 4 && p % 4 === 0 ? 4 : left >= 2 && p % 2 === 0 ? 2 : 1;
    out.push(`v.setUint${size * 8}(${offText(at(off, p))}, 0);`);
    p += size;
  }
  return out;
}

function writeBody(body: RecordBody, off: Offset, x: string, f: Fn, path: string): string[] {
  const out: string[] = [];
  for (const [s, e] of gaps(body.items, body.size)) out.push(...zeroRange(off, s, e, f));
  out.push(...writeItems(body.items, body.size, off, x, f, path, false));
  return out;
}

function fieldsOf(items: readonly RecordItem[]): FieldItem[] {
  const out: FieldItem[] = [];
  for (const it of items) {
    if (it.kind === 'field') out.push(it);
    else for (const alt of it.alternatives) out.push(...fieldsOf(alt));
  }
  return out;
}

function writeItems(items: readonly RecordItem[], recordSize: number, off: Offset, x: string, f: Fn, path: string, optional: boolean): string[] {
  const out: string[] = [];
  for (const it of items) {
    if (it.kind === 'field') {
      const value = `${x}.${it.name}`;
      const where = path === '' ? it.name : `${path}.${it.name}`;
      const stmts = it.bitfield !== undefined ? writeBitfield(it.bitfield, off, recordSize, value, f) : writeLayout(it.layout, at(off, it.offset), value, f, where);
      if (optional) out.push(`if (${value} !== undefined) {\n  ${indent(stmts.join('\n'))}\n}`);
      else out.push(...stmts);
      continue;
    }
    out.push(...zeroRange(off, it.offset, it.offset + it.size, f));
    const branches: string[] = [];
    for (const alt of it.alternatives) {
      const present = fieldsOf(alt).map((fi) => `${x}.${fi.name} !== undefined`);
      const single = alt.length === 1 && alt[0]!.kind === 'field';
      const stmts = writeItems(alt, recordSize, off, x, f, path, !single);
      branches.push(`if (${present.join(' || ')}) {\n  ${indent(stmts.join('\n'))}\n}`);
    }
    out.push(branches.join(' else '));
  }
  return out;
}

/** The read and write functions of a declaration. */
export function codecFunctions(d: Decl, le: boolean, helpers: HelperUse): string {
  return d.kind === 'enum' ? enumFunctions(d, le) : recordFunctions(d, le, helpers);
}

function recordFunctions(d: RecordDecl, le: boolean, helpers: HelperUse): string {
  const rf = new Fn(le, helpers);
  const r = readBody(d.body, { base: 'o', k: 0 }, rf);
  const read = [...r.pre, `return ${r.expr};`].join('\n');
  const wf = new Fn(le, helpers);
  const write = writeBody(d.body, { base: 'o', k: 0 }, 'x', wf, '');
  const uses = (text: string, name: string): boolean => new RegExp(`\\b${name}\\b`).test(text);
  const writeText = write.join('\n');
  const readParams = uses(read, 'v') ? 'v: DataView, o: number' : '_v: DataView, _o: number';
  const writeParams = `${uses(writeText, 'v') ? 'v' : '_v'}: DataView, ${uses(writeText, 'o') ? 'o' : '_o'}: number, ${uses(writeText, 'x') ? 'x' : '_x'}: `;
  return [
    `function ${readerName(d)}(${readParams}): ${d.name} {\n  ${indent(read)}\n}`,
    `function ${writerName(d)}(${writeParams}${d.name}): void {\n  ${indent(write.join('\n'))}\n}`,
  ].join('\n\n');
}

function enumFunctions(d: EnumDecl, le: boolean): string {
  const acc = intAccessor(d.size, d.signed);
  const n = d.is64 ? 'bigint' : 'number';
  const seen = new Set<string>();
  const cases: string[] = [];
  for (const m of d.members) {
    const lit = enumLiteral(d, m.value);
    if (seen.has(lit)) continue;
    seen.add(lit);
    cases.push(`case ${lit}:\n    return ${stringLiteral(m.name)};`);
  }
  const value = `v.get${acc}(o${endianArg(d.size, le)})`;
  return [
    `function ${readerName(d)}(v: DataView, o: number): ${d.name} | ${n} {`,
    `  const n = ${value};`,
    `  switch (n) {`,
    ...cases.map((c) => `    ${c.replace(/\n/g, '\n  ')}`),
    `    default:`,
    `      return n;`,
    `  }`,
    `}`,
    '',
    `function ${writerName(d)}(v: DataView, o: number, x: ${d.name} | ${n}): void {`,
    `  v.set${acc}(o, typeof x === '${n}' ? x : ${d.name}[x]${endianArg(d.size, le)});`,
    `}`,
  ].join('\n');
}


/** Arrow functions reading and writing a layout that has no declaration (a `__u32` key). */
export function codecArrows(l: Layout, le: boolean, helpers: HelperUse): { read: string; write: string } {
  const r = readLayout(l, { base: 'o', k: 0 }, new Fn(le, helpers));
  const read = r.pre.length === 0 ? `(v, o) => ${r.expr}` : `(v, o) => {\n  ${indent([...r.pre, `return ${r.expr};`].join('\n'))}\n}`;
  const w = writeLayout(l, { base: 'o', k: 0 }, 'x', new Fn(le, helpers), 'value');
  const write = w.length === 1 && !w[0]!.includes('\n') ? `(v, o, x) => ${w[0]!.replace(/;$/, '')}` : `(v, o, x) => {\n  ${indent(w.join('\n'))}\n}`;
  return { read, write };
}
