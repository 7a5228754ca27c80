// `tsbpf gen`'s core: a BPF object in, the text of a typed TypeScript module out.
import { createHash } from 'node:crypto';
import type { Btf } from '../btf/btf.js';
import { resolveType } from '../btf/query.js';
import { CollectionSpec } from '../object/spec.js';
import { MapType } from '../sys/types.js';
import { codecArrows, codecFunctions, enumText, HELPERS, interfaceText, readerName, tsType, writerName, type HelperUse } from './emit-codec.js';
import { cTypeString } from './ctype.js';
import { GenError } from './errors.js';
import { layoutSize, LayoutBuilder, type Decl, type Layout } from './layout.js';
import { camelCase, memberNames, NameScope, pascalCase, RESERVED_GLOBALS, stringLiteral } from './names.js';
import { objectInfo, type MapInfo, type ObjectInfo, type VariableInfo } from './spec-info.js';

/** Objects up to this size are embedded (base64) in the module by default. */
export const EMBED_LIMIT = 4 * 1024 * 1024;

/** The module that generated code imports its run-time support from, by default. */
export const DEFAULT_RUNTIME = 'tsbpf/gen';

export interface GenerateOptions {
  /** The identifier the module is named after: `exec_stream` gives `loadExecStream`. */
  readonly name: string;
  /** The compiled object. */
  readonly object: Uint8Array;
  /** The object's file name beside the module, e.g. `exec_stream.bpf.o`. */
  readonly objectFile: string;
  /**
   * Types to generate besides those maps and variables use: `event`, `struct event`, or
   * `event:events` to also type the records of the ring or perf buffer map `events`.
   */
  readonly types?: readonly string[];
  /** Where generated code imports its run-time support from. Default {@link DEFAULT_RUNTIME}. */
  readonly runtime?: string | undefined;
  /** The command line, recorded in the header. */
  readonly commandLine?: string;
  /** Embed the object (default: when it is at most {@link EMBED_LIMIT} bytes). */
  readonly embed?: boolean | undefined;
}

/** The kinds of typed map wrapper the runtime provides. */
type MapKind = 'keyed' | 'perCpu' | 'queue' | 'bloom' | 'ringbuf' | 'perf' | 'raw';

function mapKind(t: MapType): MapKind {
  switch (t) {
    case MapType.PERCPU_HASH:
    case MapType.PERCPU_ARRAY:
    case MapType.LRU_PERCPU_HASH:
    case MapType.PERCPU_CGROUP_STORAGE:
      return 'perCpu';
    case MapType.QUEUE:
    case MapType.STACK:
      return 'queue';
    case MapType.BLOOM_FILTER:
      return 'bloom';
    case MapType.RINGBUF:
      return 'ringbuf';
    case MapType.PERF_EVENT_ARRAY:
      return 'perf';
    case MapType.USER_RINGBUF:
    case MapType.STRUCT_OPS:
    case MapType.ARENA:
    case MapType.UNSPEC:
      return 'raw';
    default:
      return MapType[t] === undefined ? 'raw' : 'keyed';
  }
}

interface RootCodec {
  layout: Layout;
  /** The declaration whose exported codec this is; undefined for a shared scalar codec. */
  decl?: Decl;
  /** The codec constant's name. */
  name: string;
  /** The TypeScript type of its values. */
  type: string;
  /** Named with --type: exported for callers. */
  exported?: boolean;
}

interface MapPlan {
  info: MapInfo;
  prop: string;
  kind: MapKind;
  key?: RootCodec;
  value?: RootCodec;
  /** For ring and perf buffers: the record codec from a bound `--type`. */
  record?: RootCodec;
}

interface VarPlan {
  info: VariableInfo;
  prop: string;
  codec: RootCodec;
}

/** Generates the module text for an object. */
export function generateModule(opts: GenerateOptions): string {
  const info = objectInfo(CollectionSpec.fromBuffer(opts.object, { name: opts.objectFile }), opts.objectFile);
  return new ModuleWriter(opts, info).write();
}

const RUNTIME_TYPES = [
  'BloomFilterMap',
  'Codec',
  'Collection',
  'OffsetCodec',
  'GeneratedObject',
  'GeneratedProgram',
  'KeyedMap',
  'LoadOptions',
  'ObjectNames',
  'PerCpuMap',
  'PerfReader',
  'PerfReaderOptions',
  'QueueMap',
  'RawMap',
  'RingBufReader',
  'RingBufReaderOptions',
] as const;
const RUNTIME_VALUES = ['codec', 'loadObject', 'objectBytes', 'objectFile', 'setConstants', ...Object.values(HELPERS)] as const;

class ModuleWriter {
  readonly #opts: GenerateOptions;
  readonly #info: ObjectInfo;
  readonly #btf: Btf;
  readonly #builder: LayoutBuilder;
  readonly #types: NameScope;
  readonly #values: NameScope;
  readonly #helpers: HelperUse = new Set();
  readonly #runtimeTypes = new Set<string>();
  readonly #runtimeValues = new Set<string>();
  readonly #roots = new Map<string, RootCodec>();
  readonly #pending: { codec: RootCodec; hint: string }[] = [];
  readonly #pascal: string;

  constructor(opts: GenerateOptions, info: ObjectInfo) {
    this.#opts = opts;
    this.#info = info;
    this.#btf = info.btf;
    this.#builder = new LayoutBuilder(info.btf);
    this.#pascal = pascalCase(opts.name);
    const p = this.#pascal;
    // P is the loader's type parameter: the programs loaded.
    this.#types = new NameScope([...RESERVED_GLOBALS, ...RUNTIME_TYPES, 'P', p, `${p}Config`, `${p}Maps`, `${p}Programs`, `${p}Globals`, `${p}Readers`, `${p}LoadOptions`]);
    this.#values = new NameScope([...RESERVED_GLOBALS, ...RUNTIME_VALUES, `load${p}`, 'OBJECT', 'NAMES', 'v', 'o', 'x']);
  }

  write(): string {
    const maps = this.#planMaps();
    const constants = this.#planVars(this.#info.constants);
    const globals = this.#planVars(this.#info.globals);
    this.#planTypes(maps);
    const decls = this.#builder.decls();
    this.#nameDecls(decls);
    this.#nameRoots();

    const declText: string[] = [];
    const functions: string[] = [];
    for (const d of decls) {
      declText.push(d.kind === 'enum' ? enumText(d) : interfaceText(d));
      declText.push(`export const ${codecName(d)}: OffsetCodec<${typeRef(d)}> = codec(${d.kind === 'enum' ? d.size : d.body.size}, ${readerName(d)}, ${writerName(d)});`);
      functions.push(codecFunctions(d, this.#info.littleEndian, this.#helpers));
    }
    if (decls.length > 0) this.#use('type', 'OffsetCodec');
    if (decls.length > 0 || this.#roots.size > 0) this.#use('value', 'codec');
    const rootText = [...this.#roots.values()].filter((r) => r.decl === undefined).map((r) => this.#rootCodecText(r));

    const sections: string[] = [this.#header()];
    const body: string[] = [];
    if (declText.length > 0) body.push(`// Types\n\n${declText.join('\n\n')}`);
    body.push(this.#objectText(maps, constants, globals));
    if (functions.length > 0 || rootText.length > 0) body.push(`// Codecs: fixed offsets, ${this.#info.littleEndian ? 'little' : 'big'}-endian as the object was compiled.\n\n${[...rootText, ...functions].join('\n\n')}`);
    body.push(this.#objectBytesText());
    sections.push(this.#importText());
    sections.push(...body);
    return `${sections.join('\n\n')}\n`;
  }

  #use(kind: 'type' | 'value', name: string): string {
    (kind === 'type' ? this.#runtimeTypes : this.#runtimeValues).add(name);
    return name;
  }

  // --- planning -----------------------------------------------------------------------------

  #planMaps(): MapPlan[] {
    const props = memberNames(this.#info.maps.map((m) => m.name));
    return this.#info.maps.map((m, i) => {
      const kind = mapKind(m.type);
      const plan: MapPlan = { info: m, prop: props[i]!, kind };
      const ctx = pascalCase(m.name);
      if (kind === 'keyed' || kind === 'perCpu') {
        plan.key = this.#root(this.#keyOrValue(m.keyType, m.keySize, `${ctx}Key`), `${ctx}Key`);
        plan.value = this.#root(this.#keyOrValue(m.valueType, m.valueSize, `${ctx}Value`), `${ctx}Value`);
      } else if (kind === 'queue' || kind === 'bloom') {
        plan.value = this.#root(this.#keyOrValue(m.valueType, m.valueSize, `${ctx}Value`), `${ctx}Value`);
      }
      return plan;
    });
  }

  /**
   * A key or value layout from its BTF type, or from its size alone: 4 bytes are a u32 (an
   * index, or the fd/id in prog arrays and maps of maps), 8 bytes a u64, others raw bytes.
   */
  #keyOrValue(type: number | undefined, size: number, context: string): Layout {
    if (type !== undefined) return this.#builder.layoutOf(type, context);
    if (size === 4 || size === 8) return { kind: 'int', size, signed: false, bool: false, bigEndian: false };
    return { kind: 'bytes', size };
  }

  #planVars(vars: readonly VariableInfo[]): VarPlan[] {
    const props = memberNames(vars.map((v) => v.name));
    return vars.map((v, i) => ({ info: v, prop: props[i]!, codec: this.#root(this.#builder.layoutOf(v.type, v.name), pascalCase(v.name)) }));
  }

  #planTypes(maps: MapPlan[]): void {
    const buffers = maps.filter((m) => m.kind === 'ringbuf' || m.kind === 'perf');
    const plain: { type: string; codec: RootCodec }[] = [];
    for (const spec of this.#opts.types ?? []) {
      const colon = spec.lastIndexOf(':');
      const typeName = colon > 0 ? spec.slice(0, colon) : spec;
      const mapName = colon > 0 ? spec.slice(colon + 1) : undefined;
      const id = this.#findType(typeName);
      const codec = this.#root(this.#builder.layoutOf(id, typeName.replace(/^(struct|union|enum) /, '')), pascalCase(typeName));
      codec.exported = true;
      if (mapName === undefined) {
        plain.push({ type: typeName, codec });
        continue;
      }
      const target = maps.find((m) => m.info.name === mapName);
      if (target === undefined || (target.kind !== 'ringbuf' && target.kind !== 'perf')) {
        const names = buffers.map((b) => b.info.name);
        throw new GenError(`--type ${spec}: ${mapName} is not a ring or perf buffer map of ${this.#opts.objectFile}${names.length > 0 ? ` (those are: ${names.join(', ')})` : ' (it has none)'}`, 'ENOENT');
      }
      if (target.record !== undefined) throw new GenError(`--type ${spec}: map ${mapName} already has a record type`);
      target.record = codec;
    }
    // A buffer whose definition names its records' type (`__type(value, struct event)`).
    for (const b of buffers) {
      if (b.record !== undefined || b.info.valueType === undefined) continue;
      const t = resolveType(this.#btf, b.info.valueType);
      if (t.kind !== 'STRUCT' && t.kind !== 'UNION') continue;
      b.record = this.#root(this.#builder.layoutOf(b.info.valueType, t.name !== '' ? t.name : `${b.info.name}_record`), pascalCase(`${b.info.name}_record`));
      b.record.exported = true;
    }
    // One buffer and one plain type: they belong together.
    const unbound = buffers.filter((b) => b.record === undefined);
    if (buffers.length === 1 && unbound.length === 1 && plain.length === 1) unbound[0]!.record = plain[0]!.codec;
  }

  #findType(spec: string): number {
    const btf = this.#btf;
    const m = /^(struct|union|enum) (.+)$/.exec(spec);
    const name = m ? m[2]! : spec;
    const kinds = m ? (m[1] === 'struct' ? ['STRUCT'] : m[1] === 'union' ? ['UNION'] : ['ENUM', 'ENUM64']) : ['STRUCT', 'UNION', 'ENUM', 'ENUM64', 'TYPEDEF'];
    for (const kind of kinds) {
      const found = btf.typesByName(name, kind as 'STRUCT')[0];
      if (found !== undefined) return found.id;
    }
    const known = new Set<string>();
    for (const t of btf.types()) {
      if ((t.kind === 'STRUCT' || t.kind === 'UNION' || t.kind === 'ENUM' || t.kind === 'ENUM64') && t.name !== '') known.add(t.name);
    }
    const list = [...known].sort();
    const shown = list.length > 20 ? `${list.slice(0, 20).join(', ')}, ...` : list.join(', ');
    throw new GenError(
      `--type ${spec}: no struct, union, enum or typedef named '${name}' in the BTF of ${this.#opts.objectFile}; ` +
        `types used only inside functions get no BTF: name it from a global, e.g. \`const struct ${name} *unused_${name} __attribute__((unused));\`` +
        `${list.length > 0 ? `; the BTF has: ${shown}` : ''}`,
      'ENOENT',
    );
  }

  /** A codec for a top-level layout: the declaration's own, or a shared constant for others. */
  #root(layout: Layout, hint: string): RootCodec {
    if (layout.kind === 'named' || layout.kind === 'enum') {
      const key = `decl ${layout.decl.id}`;
      const existing = this.#roots.get(key);
      if (existing !== undefined) return existing;
      const r: RootCodec = { layout, decl: layout.decl, name: '', type: '' };
      this.#roots.set(key, r);
      return r;
    }
    const key = JSON.stringify(layout);
    const existing = this.#roots.get(key);
    if (existing !== undefined) return existing;
    const r: RootCodec = { name: '', layout, type: '' };
    this.#roots.set(key, r);
    this.#pending.push({ codec: r, hint });
    return r;
  }

  #nameDecls(decls: Decl[]): void {
    for (const d of decls) {
      let name = pascalCase(d.baseName);
      const taken = (n: string): boolean =>
        this.#types.has(n) || this.#values.has(`read${n}`) || this.#values.has(`write${n}`) || this.#values.has(`${camelCase(n)}Codec`) || (d.kind === 'enum' && this.#values.has(n));
      while (taken(name)) name += '_';
      d.name = this.#types.claim(name);
      this.#values.claim(`read${name}`);
      this.#values.claim(`write${name}`);
      this.#values.claim(`${camelCase(name)}Codec`);
      if (d.kind === 'enum') this.#values.claim(name);
    }
  }

  #nameRoots(): void {
    for (const r of this.#roots.values()) {
      if (r.decl !== undefined) {
        r.name = codecName(r.decl);
        r.type = typeRef(r.decl);
      }
    }
    for (const { codec, hint } of this.#pending) {
      codec.name = this.#values.claim(`${camelCase(scalarName(codec.layout) ?? hint)}Codec`);
      codec.type = tsType(codec.layout);
    }
  }

  // --- emission -----------------------------------------------------------------------------

  #header(): string {
    const lines = [`// Code generated by ${this.#opts.commandLine ?? `tsbpf gen ${this.#opts.name}`}; DO NOT EDIT.`];
    lines.push(`// Object: ${this.#opts.objectFile} (${this.#opts.object.length} bytes, sha256 ${createHash('sha256').update(this.#opts.object).digest('hex').slice(0, 16)}).`);
    lines.push('// Regenerate with the command above after changing the C source.');
    return lines.join('\n');
  }

  #importText(): string {
    const names = [...[...this.#runtimeTypes].map((n) => `type ${n}`), ...this.#runtimeValues, ...[...this.#helpers].map((h) => HELPERS[h])];
    names.sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, ''), 'en'));
    const runtime = this.#opts.runtime ?? DEFAULT_RUNTIME;
    const one = `import { ${names.join(', ')} } from ${stringLiteral(runtime)};`;
    if (one.length <= 120) return one;
    return `import {\n  ${names.join(',\n  ')},\n} from ${stringLiteral(runtime)};`;
  }

  #rootCodecText(r: RootCodec): string {
    const f = codecArrows(r.layout, this.#info.littleEndian, this.#helpers);
    return `${r.exported ? 'export ' : ''}const ${r.name} = codec<${r.type}>(${layoutSize(r.layout)}, ${f.read}, ${f.write});`;
  }

  #objectText(maps: MapPlan[], constants: VarPlan[], globals: VarPlan[]): string {
    const p = this.#pascal;
    const name = this.#opts.name;
    const programs = this.#info.programs;
    const progProps = memberNames(programs.map((x) => x.name));
    const out: string[] = [`// The object: ${maps.length} map${maps.length === 1 ? '' : 's'}, ${programs.length} program${programs.length === 1 ? '' : 's'}, ${constants.length} constant${constants.length === 1 ? '' : 's'}, ${globals.length} global${globals.length === 1 ? '' : 's'}.`];

    // Config
    const cfgMembers = constants.map((c) => `${doc(`${this.#cDecl(c.info)} in ${c.info.section}; compiled-in value ${this.#describeInitial(c)}`)}\n  ${c.prop}: ${c.codec.type};`);
    out.push(`/** Settings in .rodata (\`const volatile\`), fixed when the object is loaded. */\nexport interface ${p}Config {${cfgMembers.length > 0 ? `\n  ${cfgMembers.join('\n  ')}\n` : ''}}`);
    const selected = `P extends keyof ${p}Programs = keyof ${p}Programs`;
    out.push(`export type ${p}LoadOptions<${selected}> = ${this.#use('type', 'LoadOptions')}<${p}Config, keyof ${p}Maps, P>;`);

    // Maps
    const mapMembers = maps.map((m) => `${doc(this.#mapDoc(m))}\n  readonly ${m.prop}: ${this.#mapType(m)};`);
    out.push(`export interface ${p}Maps {${mapMembers.length > 0 ? `\n  ${mapMembers.join('\n  ')}\n` : ''}}`);

    // Programs
    if (programs.length > 0) this.#use('type', 'GeneratedProgram');
    const progMembers = programs.map((x, i) => `/** SEC(${stringLiteral(x.section).replace(/^'|'$/g, '"')}) */\n  readonly ${progProps[i]}: GeneratedProgram;`);
    out.push(`export interface ${p}Programs {${progMembers.length > 0 ? `\n  ${progMembers.join('\n  ')}\n` : ''}}`);

    // Globals
    const globalMembers = globals.map((g) => `${doc(`${this.#cDecl(g.info)} in ${g.info.section}`)}\n  ${g.prop}: ${g.codec.type};`);
    out.push(`/** Variables in .data and .bss, read and written live in the kernel's copy. */\nexport interface ${p}Globals {${globalMembers.length > 0 ? `\n  ${globalMembers.join('\n  ')}\n` : ''}}`);

    // Readers
    const buffers = maps.filter((m) => m.kind === 'ringbuf' || m.kind === 'perf');
    const readerMembers = buffers.map((m) => {
      const ring = m.kind === 'ringbuf';
      const reader = this.#use('type', ring ? 'RingBufReader' : 'PerfReader');
      const options = this.#use('type', ring ? 'RingBufReaderOptions' : 'PerfReaderOptions');
      if (m.record !== undefined) {
        return `/** Records of ${m.info.name} decoded as ${m.record.type}. */\n  ${m.prop}(options?: Omit<${options}<${m.record.type}>, 'codec'>): ${reader}<${m.record.type}>;`;
      }
      return `/** Records of ${m.info.name}: raw bytes, or decoded by \`options.codec\` (name a type with \`--type TYPE:${m.info.name}\` to type them here). */\n  ${m.prop}<T = Uint8Array>(options?: ${options}<T>): ${reader}<T>;`;
    });
    out.push(`/** Readers of the ring and perf buffers; each call opens a reader that close() also closes. */\nexport interface ${p}Readers {${readerMembers.length > 0 ? `\n  ${readerMembers.join('\n  ')}\n` : ''}}`);

    this.#use('type', 'GeneratedObject');
    out.push(
      [
        `/** ${name} loaded into the kernel: close() (or \`using\`) releases everything it holds. */`,
        `export interface ${p}<${selected}> extends GeneratedObject {`,
        `  readonly maps: ${p}Maps;`,
        `  /** Every program, or those \`options.programs\` named. */`,
        `  readonly programs: Pick<${p}Programs, P>;`,
        `  readonly globals: ${p}Globals;`,
        `  readonly readers: ${p}Readers;`,
        `}`,
      ].join('\n'),
    );

    // Loader
    const loadLines: string[] = [];
    loadLines.push(`const o = await ${this.#use('value', 'loadObject')}(OBJECT, NAMES, options, (spec) => {`);
    if (constants.length > 0) {
      this.#use('value', 'setConstants');
      loadLines.push(`  setConstants<${p}Config>(spec, options.config, {`);
      for (const c of constants) loadLines.push(`    ${c.prop}: [${stringLiteral(c.info.section)}, ${stringLiteral(c.info.name)}, ${c.codec.name}],`);
      loadLines.push('  });');
    } else {
      loadLines.push(`  void spec;`);
    }
    loadLines.push('});');
    // The parts, built by o.build(), which closes everything if building fails.
    const locals: string[] = [];
    const parts: string[] = [];
    parts.push(`maps: {${maps.length > 0 ? '' : '},'}`);
    for (const m of maps) parts.push(`  ${m.prop}: ${this.#mapConstruct(m)},`);
    if (maps.length > 0) parts.push('},');
    parts.push(`programs: o.programs<${p}Programs, P>(),`);
    if (globals.length > 0) {
      for (const g of globals) locals.push(`const ${globalLocal(g)} = o.variable(${stringLiteral(g.info.section)}, ${stringLiteral(g.info.name)}, ${g.codec.name});`);
      parts.push('globals: {');
      for (const g of globals) {
        parts.push(`  get ${g.prop}(): ${g.codec.type} {`, `    return ${globalLocal(g)}.get();`, '  },');
        parts.push(`  set ${g.prop}(value: ${g.codec.type}) {`, `    ${globalLocal(g)}.set(value);`, '  },');
      }
      parts.push('},');
    } else {
      parts.push('globals: {},');
    }
    parts.push(`readers: {${buffers.length > 0 ? '' : '},'}`);
    for (const m of buffers) {
      const method = m.kind === 'ringbuf' ? 'ringBuf' : 'perfBuf';
      if (m.record !== undefined) parts.push(`  ${m.prop}: (opts) => o.${method}(${stringLiteral(m.info.name)}, ${m.record.name}, opts),`);
      else parts.push(`  ${m.prop}: (opts) => o.${method}(${stringLiteral(m.info.name)}, opts?.codec, opts),`);
    }
    if (buffers.length > 0) parts.push('},');
    const ret =
      locals.length === 0
        ? [`return o.build<${p}<P>>(() => ({`, ...parts.map((l) => `  ${l}`), '}));']
        : [`return o.build<${p}<P>>(() => {`, ...locals.map((l) => `  ${l}`), '  return {', ...parts.map((l) => `    ${l}`), '  };', '});'];
    const table = (props: readonly string[], names: readonly string[]): string =>
      props.length === 0 ? '{}' : `{\n${props.map((x, i) => `    ${x}: ${stringLiteral(names[i]!)},`).join('\n')}\n  }`;
    out.push(
      [
        `/** The object's own names of the maps and programs, by property. */`,
        `const NAMES: ${this.#use('type', 'ObjectNames')}<${p}Maps, ${p}Programs> = {`,
        `  maps: ${table(maps.map((m) => m.prop), maps.map((m) => m.info.name))},`,
        `  programs: ${table(progProps, programs.map((x) => x.name))},`,
        `};`,
      ].join('\n'),
    );
    out.push(
      [
        `/**`,
        ` * Loads ${name} into the kernel: \`config\` sets the .rodata constants first; \`programs\` loads`,
        ` * only those named; \`maxEntries\` sizes maps; \`object\` replaces the module's object;`,
        ` * \`pinPath\` shares maps pinned there; \`btfPath\` gives kernel BTF for CO-RE where`,
        ` * /sys/kernel/btf/vmlinux is missing.`,
        ` */`,
        `export async function load${p}<${selected}>(options: ${p}LoadOptions<P> = {}): Promise<${p}<P>> {`,
        `  ${[...loadLines, ...ret].join('\n  ')}`,
        `}`,
      ].join('\n'),
    );
    return out.join('\n\n');
  }

  #mapType(m: MapPlan): string {
    switch (m.kind) {
      case 'keyed':
        return `${this.#use('type', 'KeyedMap')}<${m.key!.type}, ${m.value!.type}>`;
      case 'perCpu':
        return `${this.#use('type', 'PerCpuMap')}<${m.key!.type}, ${m.value!.type}>`;
      case 'queue':
        return `${this.#use('type', 'QueueMap')}<${m.value!.type}>`;
      case 'bloom':
        return `${this.#use('type', 'BloomFilterMap')}<${m.value!.type}>`;
      default:
        return this.#use('type', 'RawMap');
    }
  }

  #mapConstruct(m: MapPlan): string {
    const n = stringLiteral(m.info.name);
    switch (m.kind) {
      case 'keyed':
        return `o.keyedMap(${n}, ${m.key!.name}, ${m.value!.name})`;
      case 'perCpu':
        return `o.perCpuMap(${n}, ${m.key!.name}, ${m.value!.name})`;
      case 'queue':
        return `o.queueMap(${n}, ${m.value!.name})`;
      case 'bloom':
        return `o.bloomFilterMap(${n}, ${m.value!.name})`;
      default:
        return `o.map(${n})`;
    }
  }

  #mapDoc(m: MapPlan): string {
    const type = MapType[m.info.type] ?? String(m.info.type);
    const entries = `, ${m.info.maxEntries} ${m.info.maxEntries === 1 ? 'entry' : 'entries'}`;
    switch (m.kind) {
      case 'keyed':
      case 'perCpu':
        return `BPF_MAP_TYPE_${type} ${m.info.name}: ${this.#cTypeName(m.info.keyType, m.info.keySize)} → ${holdsFds(m.info.type) && m.info.valueType === undefined ? `${m.info.type === MapType.PROG_ARRAY ? 'program' : 'map'} (an fd to set, an id when read)` : this.#cTypeName(m.info.valueType, m.info.valueSize)}${m.kind === 'perCpu' ? ' per CPU' : ''}${entries}`;
      case 'queue':
      case 'bloom':
        return `BPF_MAP_TYPE_${type} ${m.info.name} of ${this.#cTypeName(m.info.valueType, m.info.valueSize)}${entries}`;
      case 'ringbuf':
        return `BPF_MAP_TYPE_${type} ${m.info.name}, ${m.info.maxEntries} bytes: read with readers.${m.prop}()`;
      case 'perf':
        return `BPF_MAP_TYPE_${type} ${m.info.name}: read with readers.${m.prop}()`;
      default:
        return `BPF_MAP_TYPE_${type} ${m.info.name}${entries}`;
    }
  }

  #cTypeName(type: number | undefined, size: number): string {
    if (type === undefined) return `${size} bytes`;
    return cTypeString(this.#btf, type);
  }

  /** `__u32 counter`, `char comm[16]`: a variable as C declares it (array sizes after the name). */
  #cDecl(v: VariableInfo): string {
    let type = cTypeString(this.#btf, v.type).replace(/^const volatile |^volatile const /, '');
    let dims = '';
    for (let m = /^(.*)(\[\d+\])$/.exec(type); m !== null; m = /^(.*)(\[\d+\])$/.exec(type)) {
      dims = m[2]! + dims;
      type = m[1]!;
    }
    return `${type.endsWith(' *') ? type : `${type} `}${v.name}${dims}`;
  }

  #describeInitial(c: VarPlan): string {
    const l = c.codec.layout;
    const b = c.info.initial;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const le = this.#info.littleEndian;
    if (b.every((x) => x === 0)) return l.kind === 'chars' ? '""' : l.kind === 'int' && l.bool ? 'false' : l.kind === 'int' || l.kind === 'float' ? '0' : 'all zeros';
    if (l.kind === 'int' && l.size <= 8) {
      const e = l.bigEndian ? false : le;
      const v =
        l.size === 1 ? (l.signed ? dv.getInt8(0) : dv.getUint8(0))
        : l.size === 2 ? (l.signed ? dv.getInt16(0, e) : dv.getUint16(0, e))
        : l.size === 4 ? (l.signed ? dv.getInt32(0, e) : dv.getUint32(0, e))
        : l.signed ? dv.getBigInt64(0, e) : dv.getBigUint64(0, e);
      return l.bool ? String(v !== 0) : typeof v === 'bigint' ? `${v}n` : String(v);
    }
    if (l.kind === 'float') return String(l.size === 4 ? dv.getFloat32(0, le) : dv.getFloat64(0, le));
    if (l.kind === 'chars') {
      const end = b.indexOf(0);
      return JSON.stringify(new TextDecoder().decode(b.subarray(0, end < 0 ? b.length : end)));
    }
    if (l.kind === 'enum') {
      const n = l.decl.size === 8 ? dv.getBigUint64(0, le) : l.decl.size === 4 ? dv.getUint32(0, le) : l.decl.size === 2 ? dv.getUint16(0, le) : dv.getUint8(0);
      const m = l.decl.members.find((x) => BigInt(x.value) === BigInt.asUintN(l.decl.size * 8, BigInt(n)) || BigInt(x.value) === BigInt(n));
      return m !== undefined ? `'${m.name}'` : String(n);
    }
    return `0x${Buffer.from(b).toString('hex')}`;
  }

  #objectBytesText(): string {
    const embed = this.#opts.embed ?? this.#opts.object.length <= EMBED_LIMIT;
    const file = this.#opts.objectFile;
    if (!embed) {
      this.#use('value', 'objectFile');
      return `// The object is read from ${file} beside this module.\nconst OBJECT = objectFile(new URL(${stringLiteral(`./${file}`)}, import.meta.url));`;
    }
    this.#use('value', 'objectBytes');
    const b64 = Buffer.from(this.#opts.object).toString('base64');
    const lines: string[] = [];
    for (let i = 0; i < b64.length; i += 100) lines.push(b64.slice(i, i + 100));
    return `// ${file}, embedded so this module is self-contained (base64, ${this.#opts.object.length} bytes).\nconst OBJECT = objectBytes(${stringLiteral(file)}, \`\n${lines.join('\n')}\n\`);`;
  }
}

function holdsFds(t: MapType): boolean {
  return t === MapType.PROG_ARRAY || t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS;
}

function doc(text: string): string {
  return `/** ${text.replace(/\*\//g, '*\\/')} */`;
}

function globalLocal(g: VarPlan): string {
  return `var_${g.prop}`;
}

function codecName(d: Decl): string {
  return `${camelCase(d.name)}Codec`;
}

function typeRef(d: Decl): string {
  return d.kind === 'enum' ? `${d.name} | ${d.is64 ? 'bigint' : 'number'}` : d.name;
}

/** Short names for scalar codecs shared by maps and variables: `u32`, `s64`, `be16`, `chars16`. */
function scalarName(l: Layout): string | undefined {
  switch (l.kind) {
    case 'int':
      if (l.bool) return `bool${l.size * 8}`;
      return `${l.bigEndian ? 'be' : l.signed ? 's' : 'u'}${l.size * 8}`;
    case 'float':
      return `f${l.size * 8}`;
    case 'chars':
      return `chars${l.size}`;
    case 'bytes':
      return `bytes${l.size}`;
    case 'array': {
      const el = scalarName(l.element);
      return el === undefined ? undefined : `${el}x${l.count}`;
    }
    default:
      return undefined;
  }
}
