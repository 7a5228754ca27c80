// How C names become TypeScript names in generated modules.

/**
 * Every word the TypeScript scanner treats as a keyword: JavaScript's reserved and strict-mode
 * reserved words and TypeScript's contextual keywords. A C name equal to one of them gets a
 * trailing `_` in every position, so one C name always has one TypeScript spelling.
 */
export const TS_KEYWORDS: ReadonlySet<string> = new Set([
  'abstract', 'accessor', 'any', 'as', 'asserts', 'assert', 'async', 'await', 'bigint', 'boolean',
  'break', 'case', 'catch', 'class', 'const', 'constructor', 'continue', 'debugger', 'declare',
  'default', 'defer', 'delete', 'do', 'else', 'enum', 'export', 'extends', 'false', 'finally', 'for',
  'from', 'function', 'get', 'global', 'if', 'implements', 'import', 'in', 'infer', 'instanceof',
  'interface', 'intrinsic', 'is', 'keyof', 'let', 'module', 'namespace', 'never', 'new', 'null',
  'number', 'object', 'of', 'out', 'override', 'package', 'private', 'protected', 'public',
  'readonly', 'require', 'return', 'satisfies', 'set', 'static', 'string', 'super', 'switch',
  'symbol', 'this', 'throw', 'true', 'try', 'type', 'typeof', 'undefined', 'unique', 'unknown',
  'using', 'var', 'void', 'while', 'with', 'yield',
]);

/**
 * Global names a generated module refers to or that users expect to keep their meaning there;
 * a generated type or constant never shadows them.
 */
export const RESERVED_GLOBALS: ReadonlySet<string> = new Set([
  'Array', 'ArrayBuffer', 'AsyncIterable', 'AsyncIterableIterator', 'AsyncIterator', 'BigInt',
  'BigInt64Array', 'BigUint64Array', 'Boolean', 'DataView', 'Date', 'Disposable', 'Error',
  'Float32Array', 'Float64Array', 'Function', 'Int16Array', 'Int32Array', 'Int8Array', 'Iterable',
  'IterableIterator', 'Iterator', 'JSON', 'Map', 'Math', 'Number', 'Object', 'Omit', 'Partial',
  'Pick', 'Promise', 'Readonly', 'Record', 'Required', 'Set', 'String', 'Symbol', 'TextDecoder',
  'TextEncoder', 'Uint16Array', 'Uint32Array', 'Uint8Array', 'URL', 'WeakMap', 'WeakSet',
]);

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * A C name as a TypeScript member name: characters outside identifiers (static locals are
 * named `func.var`) become `_`, and keywords and `__proto__` get a trailing `_`.
 */
export function memberName(cName: string): string {
  let s = cName.replace(/[^A-Za-z0-9_$]/g, '_');
  if (s === '' || /^[0-9]/.test(s)) s = `_${s}`;
  if (TS_KEYWORDS.has(s) || s === '__proto__') s += '_';
  return s;
}

/**
 * `exec_stream` → `ExecStream`, `xdp-drop` → `XdpDrop`, `task_struct` → `TaskStruct`: words
 * split at `_`, `-`, `.` and spaces, each capitalised, the rest of each word kept as written.
 * Leading underscores are dropped; a name starting with a digit gets a leading `_`.
 */
export function pascalCase(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  let s = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (s === '') s = '_';
  if (/^[0-9]/.test(s)) s = `_${s}`;
  return s;
}

/** `exec_stream` → `execStream`. */
export function camelCase(name: string): string {
  const p = pascalCase(name);
  return p[0]!.toLowerCase() + p.slice(1);
}

/**
 * Assigns unique names within one scope. Names taken first win; a later name that is already
 * taken gets `_` appended until it is free, so the outcome depends only on the order of calls,
 * which generators keep deterministic (declaration or type-id order).
 */
export class NameScope {
  readonly #taken = new Set<string>();

  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.#taken.add(r);
  }

  has(name: string): boolean {
    return this.#taken.has(name);
  }

  /** Takes `wanted`, or the first free `wanted_`, `wanted__`, ... */
  claim(wanted: string): string {
    let name = wanted;
    while (this.#taken.has(name)) name += '_';
    this.#taken.add(name);
    return name;
  }
}

/**
 * Member names for a list of C names in declaration order. Names that need no renaming are
 * placed first so a renamed keyword never displaces a C name spelled the same way: `type` and
 * `type_` in one struct become `type__` and `type_`.
 */
export function memberNames(cNames: readonly string[]): string[] {
  const scope = new NameScope();
  const out = new Array<string>(cNames.length);
  const later: number[] = [];
  for (let i = 0; i < cNames.length; i++) {
    const c = cNames[i]!;
    const m = memberName(c);
    if (m === c && !scope.has(m)) out[i] = scope.claim(m);
    else later.push(i);
  }
  for (const i of later) out[i] = scope.claim(memberName(cNames[i]!));
  return out;
}

/** A string as a TypeScript string literal (single-quoted, escaped). */
export function stringLiteral(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

/** A property key: the name itself when it is an identifier, else a string literal. */
export function propertyKey(name: string): string {
  return IDENT.test(name) ? name : stringLiteral(name);
}
