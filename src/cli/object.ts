// `tsbpf object`: inspect a BPF object file, load it, run one of its programs, disassemble one,
// attach all of its programs and watch what they report.
import { join } from 'node:path';
import { disassembleLines, BPF_LD_IMM64, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, isFunctionCall, isFunctionReference, isKfuncCall } from '../asm/index.js';
import { coreReloKindName } from '../btf/ext.js';
import type { Btf } from '../btf/btf.js';
import type { BtfKind, BtfType } from '../btf/types.js';
import { btfCodec, typeLabel, type BtfCodec, type BtfValue } from '../btfcodec.js';
import { describeTarget, planAttach, type AttachTarget, type CollectionLinks } from '../collection/attach.js';
import { readMapContents } from '../collection/contents.js';
import { InvalidArgumentError, TsbpfError, VerifierError } from '../errors.js';
import type { SectionTargets } from '../link/section.js';
import { CollectionSpec, type Collection } from '../collection.js';
import { ProgramVerifierError, formatSource, type ProgramSpec } from '../object/index.js';
import { attachTypeName, mapTypeName, programTypeName } from '../program/names.js';
import { PACKET_TYPES } from '../program.js';
import { PerfReader } from '../perf/index.js';
import { RingBufReader } from '../ringbuf/index.js';
import { parseDuration } from '../tools/common/duration.js';
import { FileError, readRegularFile } from '../sys/readfile.js';
import { ensureBpffs, makeBpffsDir } from '../map/bpffs.js';
import { MapType } from '../sys/types.js';
import { pinName } from '../map/pinname.js';
import { OUTPUT_OPTIONS, parse, printHelp } from './args.js';
import { checkPinDirFree, unloadPinDir } from './object-pins.js';
import { checkIntegerSetting, integerRange } from './settings.js';
import { formatTable, jsonReplacer, plural, UsageError, writeJson, type Command, type CommandIO } from './command.js';
import { HELP, INSPECT_HELP, LOAD_HELP, RUN_HELP, DUMP_HELP, ATTACH_HELP, UNLOAD_HELP } from './help/object.js';
import { applyMapSizes, applyProgramTypes } from './spec-options.js';

const OUTPUT = {
  json: { type: 'boolean', short: 'j' },
  pretty: { type: 'boolean', short: 'p' },
  help: { type: 'boolean', short: 'h' },
} as const;

const LOAD_OPTIONS = {
  ...OUTPUT,
  set: { type: 'string', multiple: true },
  'kernel-btf': { type: 'string' },
  map: { type: 'string', multiple: true },
  type: { type: 'string', multiple: true },
} as const;

function file(verb: string, positionals: string[]): string {
  const [f, extra] = positionals;
  if (f === undefined) throw new UsageError(`object ${verb}: expected an object FILE`);
  if (extra !== undefined) throw new UsageError(`object ${verb}: unexpected argument '${extra}'`);
  return f;
}

/** `NAME=VALUE` settings applied to the spec's variables. */
export function applySettings(spec: CollectionSpec, settings: readonly string[]): void {
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${s}: expected NAME=VALUE`);
    const name = s.slice(0, eq);
    const v = spec.variables[name];
    if (v === undefined) throw new UsageError(`--set ${name}: the object has no global variable ${name}`);
    const text = s.slice(eq + 1);
    const value = parseValue(text);
    checkIntegerSetting(name, text, value, integerRange(spec.btf, v.type));
    try {
      v.set(value);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(`--set ${name}: ${err.message.replace(`variable ${name}: `, '')}`);
      throw err;
    }
  }
}

/** Integers (also hex and beyond 2^53), booleans, JSON arrays and objects, or else a string. */
export function parseValue(text: string): unknown {
  if (/^-?(0[xX][0-9a-fA-F]+|\d+)$/.test(text)) {
    const neg = text.startsWith('-');
    const v = BigInt(neg ? text.slice(1) : text);
    return neg ? -v : v;
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text.startsWith('[') || text.startsWith('{') || text.startsWith('"')) {
    try {
      return JSON.parse(text, (_k, v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v));
    } catch {
      return text;
    }
  }
  return text;
}

function flagsText(flags: number): string {
  return flags === 0 ? '0' : `0x${flags.toString(16)}`;
}

function btfName(t: BtfType | undefined, spec: CollectionSpec): string | undefined {
  if (t === undefined || spec.btf === undefined) return undefined;
  return typeLabel(spec.btf, t.id);
}

function coreCount(p: ProgramSpec): number {
  let n = 0;
  for (const i of p.instructions) if (i.core !== undefined) n++;
  return n;
}

function inspectDoc(spec: CollectionSpec): Record<string, unknown> {
  return {
    license: spec.license,
    programs: Object.values(spec.programs).map((p) => ({
      name: p.name,
      section: p.sectionName,
      type: programTypeName(p.type),
      ...(p.expectedAttachType !== undefined ? { attachType: attachTypeName(p.expectedAttachType) } : {}),
      ...(p.attachTo !== undefined ? { attachTo: p.attachTo } : {}),
      sleepable: p.sleepable,
      instructions: p.instructions.length,
      coreRelocations: coreCount(p),
      ...(p.problem !== undefined ? { problem: p.problem.message } : {}),
    })),
    maps: Object.values(spec.maps).map((m) => ({
      name: m.name,
      type: mapTypeName(m.type),
      keySize: m.keySize,
      ...(btfName(m.keyType, spec) !== undefined ? { keyType: btfName(m.keyType, spec) } : {}),
      valueSize: m.valueSize,
      ...(btfName(m.valueType, spec) !== undefined ? { valueType: btfName(m.valueType, spec) } : {}),
      maxEntries: m.maxEntries,
      flags: m.flags,
      ...(m.pinning !== 'none' ? { pinning: m.pinning } : {}),
      ...(m.mapExtra !== 0n ? { mapExtra: m.mapExtra } : {}),
      ...(m.innerMap !== undefined ? { innerMap: mapTypeName(m.innerMap.type) } : {}),
      ...(m.values.length > 0 && m.internal === undefined
        ? { values: m.values.map((e) => ({ key: e.key, value: e.value instanceof Uint8Array ? e.value : e.value })) }
        : {}),
      ...(m.problem !== undefined ? { problem: m.problem.message } : {}),
    })),
    variables: Object.values(spec.variables).map((v) => ({
      name: v.name,
      section: v.section,
      offset: v.offset,
      size: v.size,
      ...(v.type !== undefined && spec.btf !== undefined ? { type: typeLabel(spec.btf, v.type.id) } : {}),
      constant: v.constant,
      value: safeValue(() => v.value),
    })),
    externs: Object.values(spec.externs).map((e) => ({ name: e.name, kind: e.kind, weak: e.weak })),
    coreRelocations: Object.values(spec.programs).reduce((n, p) => n + coreCount(p), 0),
  };
}

function safeValue(get: () => BtfValue): BtfValue | null {
  try {
    return get();
  } catch {
    return null;
  }
}

function valueText(v: unknown): string {
  const s = JSON.stringify(v, jsonReplacer);
  return s === undefined ? 'null' : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function inspectText(spec: CollectionSpec, name: string): string {
  const out: string[] = [];
  out.push(`${name}: ${plural(Object.keys(spec.programs).length, 'program')}, ${plural(Object.keys(spec.maps).length, 'map')}, license ${JSON.stringify(spec.license)}`);
  out.push('');
  out.push('Programs:');
  out.push(
    formatTable(
      ['NAME', 'SECTION', 'TYPE', 'ATTACH', 'INSNS', 'CO-RE'],
      Object.values(spec.programs).map((p) => [
        p.name,
        p.sectionName,
        programTypeName(p.type),
        p.expectedAttachType !== undefined ? attachTypeName(p.expectedAttachType) : '-',
        String(p.instructions.length),
        String(coreCount(p)),
      ]),
    ).trimEnd(),
  );
  out.push('');
  out.push('Maps:');
  out.push(
    formatTable(
      ['NAME', 'TYPE', 'KEY', 'VALUE', 'MAX', 'FLAGS'],
      Object.values(spec.maps).map((m) => [
        m.name,
        mapTypeName(m.type),
        `${m.keySize}${btfName(m.keyType, spec) ? ` (${btfName(m.keyType, spec)})` : ''}`,
        `${m.valueSize}${btfName(m.valueType, spec) ? ` (${btfName(m.valueType, spec)})` : ''}`,
        String(m.maxEntries),
        `${flagsText(m.flags)}${m.pinning !== 'none' ? ' pinned' : ''}`,
      ]),
    ).trimEnd(),
  );
  const vars = Object.values(spec.variables);
  if (vars.length > 0) {
    out.push('');
    out.push('Global variables:');
    out.push(
      formatTable(
        ['NAME', 'SECTION', 'TYPE', 'VALUE'],
        vars.map((v) => [v.name, v.section, v.type !== undefined && spec.btf !== undefined ? typeLabel(spec.btf, v.type.id) : `${v.size} bytes`, valueText(safeValue(() => v.value))]),
      ).trimEnd(),
    );
  }
  const externs = Object.values(spec.externs);
  if (externs.length > 0) {
    out.push('');
    out.push('Externs:');
    out.push(formatTable(['NAME', 'KIND', 'WEAK'], externs.map((e) => [e.name, e.kind, e.weak ? 'weak' : ''])).trimEnd());
  }
  const core = Object.values(spec.programs).reduce((n, p) => n + coreCount(p), 0);
  out.push('');
  out.push(`CO-RE relocations: ${core}`);
  const problems = [
    ...Object.values(spec.programs).flatMap((p) => (p.problem !== undefined ? [`program ${p.name}: ${p.problem.message}`] : [])),
    ...Object.values(spec.maps).flatMap((m) => (m.problem !== undefined ? [`map ${m.name}: ${m.problem.message}`] : [])),
  ];
  if (problems.length > 0) {
    out.push('');
    out.push('Cannot load as they are (loading the object fails with these):');
    for (const p of problems) out.push(`  ${p}`);
  }
  return `${out.join('\n')}\n`;
}

async function inspect(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object inspect', argv, OUTPUT);
  if (values.help) return printHelp(io, INSPECT_HELP);
  const f = file('inspect', positionals);
  const spec = CollectionSpec.fromFile(f);
  if (values.json || values.pretty) writeJson(io.stdout, inspectDoc(spec), values.pretty === true);
  else io.stdout.write(inspectText(spec, f));
  return 0;
}

/** One line for stderr: what failed and where in the source, then the verifier's explanation. */
function reportFailure(io: CommandIO, err: unknown, verb: string): void {
  if (err instanceof VerifierError) {
    const reason = err.reason.filter((l) => !l.startsWith('; ')).slice(-1)[0] ?? err.message.split('\n')[0];
    const where = err.source !== undefined ? ` at ${formatSource(err.source)}` : '';
    const core = err instanceof ProgramVerifierError && err.core !== undefined ? `CO-RE relocation failed: ${err.core.local} (${coreReloKindName(err.core.kind)}) does not exist in the kernel's BTF; ` : '';
    const code = reason.includes(`[${err.code}]`) ? '' : ` [${err.code}]`;
    io.stderr.write(`tsbpf object ${verb}: program ${err.program} rejected by the verifier: ${core}${reason}${where}${code}\n`);
    for (const line of err.reason) io.stderr.write(`  ${line}\n`);
    return;
  }
  const message = err instanceof Error ? err.message.split('\n').join('; ') : String(err);
  io.stderr.write(`tsbpf object ${verb}: ${message}${err instanceof TsbpfError && !message.includes(`[${err.code}]`) ? ` [${err.code}]` : ''}\n`);
}

function errorText(err: unknown): string {
  if (err instanceof VerifierError) {
    const reason = err.reason.filter((l) => !l.startsWith('; ')).slice(-1)[0] ?? err.message;
    return err.source !== undefined ? `${reason} at ${formatSource(err.source)}` : reason;
  }
  return err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
}

/** Which programs load on their own, for reporting after a failed load of the whole object. */
function programStatuses(spec: CollectionSpec, kernelBtf: string | undefined): { name: string; error?: string }[] {
  const out: { name: string; error?: string }[] = [];
  for (const name of Object.keys(spec.programs)) {
    const alone = spec.copy();
    for (const other of Object.keys(alone.programs)) if (other !== name) delete alone.programs[other];
    try {
      alone.load(kernelBtf !== undefined ? { kernelBtf } : {}).close();
      out.push({ name });
    } catch (err) {
      out.push({ name, error: errorText(err) });
    }
  }
  return out;
}

async function load(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object load', argv, { ...LOAD_OPTIONS, pin: { type: 'string' } });
  if (values.help) return printHelp(io, LOAD_HELP);
  const f = file('load', positionals);
  const spec = CollectionSpec.fromFile(f);
  applySettings(spec, values.set ?? []);
  applyMapSizes(spec, values.map ?? []);
  applyProgramTypes(spec, values.type ?? []);
  const kernelBtf = values['kernel-btf'];
  const json = values.json === true || values.pretty === true;
  // The pin directory's filesystem, then its pins, are checked before anything is loaded or created.
  if (values.pin !== undefined) {
    ensureBpffs(values.pin);
    checkPinDirFree(values.pin, Object.keys(spec.programs), Object.keys(spec.maps).filter((m) => spec.maps[m]!.pinning !== 'byName'), pinName);
  }
  let c: Collection;
  try {
    c = spec.load({ ...(kernelBtf !== undefined ? { kernelBtf } : {}), ...(values.pin !== undefined ? { pinPath: values.pin } : {}) });
  } catch (err) {
    if (json) {
      const statuses = programStatuses(spec, kernelBtf);
      writeJson(
        io.stdout,
        {
          programs: statuses.map((s) => ({
            name: s.name,
            section: spec.programs[s.name]!.sectionName,
            type: programTypeName(spec.programs[s.name]!.type),
            loaded: false,
            ...(s.error !== undefined ? { error: s.error } : {}),
          })),
          maps: [],
        },
        values.pretty === true,
      );
    }
    reportFailure(io, err, 'load');
    return 1;
  }
  try {
    if (values.pin !== undefined) {
      makeBpffsDir(join(values.pin, 'maps'));
      for (const [name, p] of Object.entries(c.programs)) p.pin(join(values.pin, pinName(name)));
      for (const [name, m] of Object.entries(c.maps)) if (m.pinnedPath === undefined) m.pin(join(values.pin, 'maps', pinName(name)));
    }
    const doc = {
      programs: Object.entries(c.programs).map(([name, p]) => ({ name, section: spec.programs[name]!.sectionName, type: programTypeName(p.type), loaded: true, id: p.id })),
      maps: Object.entries(c.maps).map(([name, m]) => ({ name, type: mapTypeName(m.type), id: m.id })),
    };
    if (json) writeJson(io.stdout, doc, values.pretty === true);
    else {
      io.stdout.write(`${f}: loaded ${plural(doc.programs.length, 'program')} and ${plural(doc.maps.length, 'map')}${values.pin !== undefined ? `, pinned under ${values.pin}` : ''}\n`);
      io.stdout.write(formatTable(['PROGRAM', 'SECTION', 'TYPE', 'ID'], doc.programs.map((p) => [p.name, p.section, p.type, String(p.id)])));
      io.stdout.write(formatTable(['MAP', 'TYPE', 'ID'], doc.maps.map((m) => [m.name, m.type, String(m.id)])));
    }
  } finally {
    c.close();
  }
  return 0;
}

function readInput(path: string | undefined, what: string): Uint8Array | undefined {
  if (path === undefined) return undefined;
  try {
    return new Uint8Array(readRegularFile(path));
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    throw new TsbpfError(err.code, `cannot read the ${what} file ${path}: ${err.reason}`, { cause: err });
  }
}

const ETH_HLEN = 14;

function hexDump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, '0')).join(' ');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${row}`);
  }
  return lines.join('\n');
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object run', argv, {
    ...LOAD_OPTIONS,
    program: { type: 'string' },
    data: { type: 'string' },
    ctx: { type: 'string' },
    repeat: { type: 'string' },
  });
  if (values.help) return printHelp(io, RUN_HELP);
  const f = file('run', positionals);
  const name = values.program;
  if (name === undefined) throw new UsageError('object run: --program NAME is required');
  const repeat = values.repeat === undefined ? undefined : Number(values.repeat);
  if (repeat !== undefined && (!Number.isInteger(repeat) || repeat < 1 || repeat > 0xffffffff)) {
    throw new UsageError(`object run: --repeat '${values.repeat}': expected a number 1-4294967295`);
  }
  const spec = CollectionSpec.fromFile(f);
  if (spec.programs[name] === undefined) throw new UsageError(`object run: ${f} has no program ${name} (it has ${Object.keys(spec.programs).join(', ')})`);
  applySettings(spec, values.set ?? []);
  applyMapSizes(spec, values.map ?? []);
  applyProgramTypes(spec, values.type ?? []);
  const data = readInput(values.data, 'data');
  const ctx = readInput(values.ctx, 'context');
  const kernelBtf = values['kernel-btf'];
  let c: Collection;
  try {
    c = spec.load(kernelBtf !== undefined ? { kernelBtf } : {});
  } catch (err) {
    reportFailure(io, err, 'run');
    return 1;
  }
  try {
    const prog = c.programs[name]!;
    // Packet programs cannot run on nothing: give them an all-zero minimum-size Ethernet frame.
    const input = data ?? (ctx === undefined && PACKET_TYPES.has(prog.type) ? new Uint8Array(64) : undefined);
    // The kernel refuses (EINVAL) packet data that cannot hold an Ethernet header.
    if (data !== undefined && PACKET_TYPES.has(prog.type) && data.length < ETH_HLEN) {
      throw new UsageError(`object run: --data ${values.data}: the packet is ${plural(data.length, 'byte')}, shorter than the ${ETH_HLEN}-byte Ethernet header that ${programTypeName(prog.type)} programs need`);
    }
    const r = prog.testRun({ ...(input ? { data: input } : {}), ...(ctx ? { ctx } : {}), ...(repeat !== undefined ? { repeat } : {}) });
    if (values.json || values.pretty) {
      writeJson(io.stdout, { program: name, retval: r.retval, durationNs: r.durationNs, ...(r.dataOut ? { dataOut: r.dataOut } : {}) }, values.pretty === true);
    } else {
      io.stdout.write(`${name}: retval ${r.retval} (0x${(r.retval >>> 0).toString(16)}), duration ${r.durationNs} ns\n`);
      if (r.dataOut && r.dataOut.length > 0) io.stdout.write(`data out (${plural(r.dataOut.length, 'byte')}):\n${hexDump(r.dataOut)}\n`);
    }
  } finally {
    c.close();
  }
  return 0;
}

/** The comment naming what an instruction refers to, as llvm-objdump -r shows relocations. */
function referenceNote(p: ProgramSpec, i: number): string | undefined {
  const insn = p.instructions[i]!;
  const notes: string[] = [];
  if (insn.reference !== undefined) {
    if (insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_MAP_FD) notes.push(`map ${insn.reference}`);
    else if (insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_MAP_VALUE) notes.push(`${insn.reference}+${insn.imm2 ?? 0}`);
    else if (insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_BTF_ID) notes.push(`ksym ${insn.reference}`);
    else if (isKfuncCall(insn)) notes.push(`kfunc ${insn.reference}`);
    else if (isFunctionCall(insn) || isFunctionReference(insn)) notes.push(`<${insn.reference}>`);
    else notes.push(insn.reference);
  }
  if (insn.core !== undefined) notes.push(`CO-RE ${coreReloKindName(insn.core.kind)} [${insn.core.typeId}] ${insn.core.accessString}`);
  return notes.length > 0 ? notes.join(', ') : undefined;
}

/** Disassembly with source lines interleaved, in `llvm-objdump -S` layout. */
export function dumpProgram(p: ProgramSpec): string {
  const out: string[] = [];
  let last: string | undefined;
  for (const line of disassembleLines(p.instructions)) {
    const insn = line.instruction;
    if (insn.symbol !== undefined) {
      if (out.length > 0) out.push('');
      out.push(`${(line.slot * 8).toString(16).padStart(16, '0')} <${insn.symbol}>:`);
    }
    const src = insn.source;
    if (src?.text !== undefined) {
      const key = `${src.file}:${src.line}`;
      if (key !== last) {
        out.push(`; ${src.text}`);
        last = key;
      }
    }
    const note = referenceNote(p, line.index);
    out.push(`${String(line.slot).padStart(8)}:\t${line.text}${note !== undefined ? `\t; ${note}` : ''}`);
  }
  return `${out.join('\n')}\n`;
}

async function dump(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object dump', argv, { ...OUTPUT, program: { type: 'string' } });
  if (values.help) return printHelp(io, DUMP_HELP);
  const f = file('dump', positionals);
  const name = values.program;
  if (name === undefined) throw new UsageError('object dump: --program NAME is required');
  const spec = CollectionSpec.fromFile(f);
  const p = spec.programs[name];
  if (p === undefined) throw new UsageError(`object dump: ${f} has no program ${name} (it has ${Object.keys(spec.programs).join(', ')})`);
  if (values.json || values.pretty) {
    const lines = disassembleLines(p.instructions).map((l) => ({
      slot: l.slot,
      ...(l.instruction.symbol !== undefined ? { symbol: l.instruction.symbol } : {}),
      disasm: l.text,
      ...(l.instruction.source?.line !== undefined ? { source: { file: l.instruction.source.file, line: l.instruction.source.line, text: l.instruction.source.text } } : {}),
      ...(referenceNote(p, l.index) !== undefined ? { reference: referenceNote(p, l.index) } : {}),
    }));
    writeJson(io.stdout, { program: name, section: p.sectionName, instructions: lines }, values.pretty === true);
    return 0;
  }
  io.stdout.write(`${f}:\tfile format elf64-bpf\n\nDisassembly of section ${p.sectionName}:\n\n`);
  io.stdout.write(dumpProgram(p));
  return 0;
}

/** Targets the command line gives, and the option that gives each. */
const CLI_TARGETS: Partial<Record<AttachTarget, string>> = { interface: '--iface NAME', cgroup: '--cgroup PATH', netns: '--netns NETNS' };

/** --for: a positive duration a timer can hold, as a usage error when it is not. */
function forDuration(text: string): number {
  try {
    return parseDuration(text, { name: '--for' });
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(`object attach: ${err.message}`);
    throw err;
  }
}

function attachTargets(values: { iface?: string; cgroup?: string; pid?: string; netns?: string }): SectionTargets {
  const t: SectionTargets = {};
  if (values.iface !== undefined) t.interface = /^\d+$/.test(values.iface) ? Number(values.iface) : values.iface;
  if (values.cgroup !== undefined) t.cgroup = values.cgroup;
  if (values.netns !== undefined) t.netns = values.netns;
  if (values.pid !== undefined) {
    const pid = Number(values.pid);
    if (!/^\d+$/.test(values.pid) || !Number.isSafeInteger(pid) || pid <= 0) throw new UsageError(`object attach: invalid --pid '${values.pid}'`);
    t.pid = pid;
  }
  return t;
}

const RECORD_KINDS: readonly BtfKind[] = ['STRUCT', 'UNION', 'TYPEDEF', 'ENUM', 'ENUM64', 'INT', 'ARRAY'];

/** The BTF type `struct event`, `union u` or a bare name (struct, union or typedef first) names. */
function recordType(btf: Btf, text: string): number | undefined {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(text.trim());
  const name = m?.[2] ?? text.trim();
  const kinds: readonly BtfKind[] = m === null ? RECORD_KINDS : m[1] === 'enum' ? ['ENUM', 'ENUM64'] : [m[1]!.toUpperCase() as BtfKind];
  for (const kind of kinds) {
    const t = btf.typesByName(name, kind)[0];
    if (t !== undefined) return t.id;
  }
  return undefined;
}

interface EventSource {
  readonly map: string;
  readonly type: MapType.RINGBUF | MapType.PERF_EVENT_ARRAY;
  readonly codec: BtfCodec | undefined;
}

/** `MAP[:TYPE]` checked against the object: a ring buffer or perf event array, and a type its BTF has. */
function eventSource(spec: CollectionSpec, file: string, arg: string): EventSource {
  const colon = arg.indexOf(':');
  const map = colon < 0 ? arg : arg.slice(0, colon);
  const typeName = colon < 0 ? undefined : arg.slice(colon + 1);
  if (map === '' || typeName === '') throw new UsageError(`object attach: --events ${arg}: expected MAP or MAP:TYPE`);
  const ms = spec.maps[map];
  if (ms === undefined) {
    throw new TsbpfError('ENOENT', `--events ${arg}: ${file} has no map ${map} (its maps: ${Object.keys(spec.maps).join(', ') || 'none'})`);
  }
  if (ms.type !== MapType.RINGBUF && ms.type !== MapType.PERF_EVENT_ARRAY) {
    throw new InvalidArgumentError(`--events ${arg}: map ${map} is a ${mapTypeName(ms.type)} map; --events takes a ringbuf or perf_event_array map`);
  }
  if (typeName === undefined) return { map, type: ms.type, codec: undefined };
  const id = spec.btf === undefined ? undefined : recordType(spec.btf, typeName);
  if (id === undefined) throw new TsbpfError('ENOENT', `--events ${arg}: ${file} has no type ${typeName} in its BTF`);
  return { map, type: ms.type, codec: btfCodec(spec.btf!, id) };
}

/** One record: decoded when it is long enough for its type, else its bytes. */
function decodeRecord(codec: BtfCodec | undefined, data: Uint8Array, offset: number, length: number): BtfValue {
  if (codec !== undefined && length >= codec.size) {
    try {
      return codec.decodeAt(data, offset);
    } catch {
      // An undecodable record is still shown, as bytes.
    }
  }
  return data.slice(offset, offset + length);
}

function valueLine(v: unknown): string {
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : JSON.stringify(v, jsonReplacer);
}

interface Watcher {
  /** Prints what is buffered now. */
  drain(): void;
  stop(): void;
  close(): void;
}

function watchEvents(c: Collection, source: EventSource, io: CommandIO, json: boolean): Watcher {
  const { map, codec } = source;
  if (source.type === MapType.RINGBUF) {
    const reader = new RingBufReader(c.maps[map]!);
    const print = (data: Uint8Array, offset: number, length: number): void => {
      const record = decodeRecord(codec, data, offset, length);
      if (json) writeJson(io.stdout, { map, record });
      else io.stdout.write(`${map}: ${valueLine(record)}\n`);
    };
    reader.startRaw(print);
    return { drain: () => reader.drainRaw(print), stop: () => reader.stop(), close: () => reader.close() };
  }
  const reader = new PerfReader(c.maps[map]!, {
    onLost: (lost, cpu) => {
      if (json) writeJson(io.stdout, { map, cpu, lost });
      else io.stderr.write(`${map}: the kernel dropped ${lost} sample${lost === 1 ? '' : 's'} on CPU ${cpu}\n`);
    },
  });
  const print = (data: Uint8Array, offset: number, length: number, cpu: number): void => {
    const record = decodeRecord(codec, data, offset, length);
    if (json) writeJson(io.stdout, { map, cpu, record });
    else io.stdout.write(`${map} cpu ${cpu}: ${valueLine(record)}\n`);
  };
  reader.startRaw(print);
  return { drain: () => reader.drainRaw(print), stop: () => reader.stop(), close: () => reader.close() };
}

/**
 * Resolves `stopped` on SIGINT or SIGTERM, from now on, or `ms` after run(); until then the
 * process stays alive.
 */
function untilStopped(): { stopped: Promise<void>; run(ms: number | undefined): void; dispose(): void } {
  let end: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    end = resolve;
  });
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
  let timer: NodeJS.Timeout | undefined;
  return {
    stopped,
    // Signal handlers do not keep the event loop alive; a timer does.
    run: (ms) => {
      timer = ms !== undefined ? setTimeout(end, ms) : setInterval(() => undefined, 2 ** 31 - 1);
    },
    dispose: () => {
      clearTimeout(timer);
      clearInterval(timer);
      process.off('SIGINT', end);
      process.off('SIGTERM', end);
    },
  };
}

function dumpMaps(c: Collection, io: CommandIO, json: boolean): void {
  const { maps, unreadable } = readMapContents(c.maps);
  for (const [name, reason] of Object.entries(unreadable)) io.stderr.write(`tsbpf object attach: map ${name} left out of the dump: ${reason}\n`);
  if (json) {
    writeJson(io.stdout, { maps });
    return;
  }
  for (const [name, elements] of Object.entries(maps)) {
    io.stdout.write(`${name} (${mapTypeName(c.maps[name]!.type)}, ${elements.length} element${elements.length === 1 ? '' : 's'})${elements.length > 0 ? ':' : ''}\n`);
    for (const e of elements) io.stdout.write(`  ${valueLine(e.key)}: ${valueLine(e.value)}\n`);
  }
}

/** Resolves once everything written to `out` so far has been handed to the system. */
function flush(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => out.write('', () => resolve()));
}

async function attach(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object attach', argv, {
    json: { type: 'boolean', short: 'j' },
    help: { type: 'boolean', short: 'h' },
    set: { type: 'string', multiple: true },
    'kernel-btf': { type: 'string' },
    map: { type: 'string', multiple: true },
    type: { type: 'string', multiple: true },
    iface: { type: 'string' },
    cgroup: { type: 'string' },
    pid: { type: 'string' },
    netns: { type: 'string' },
    for: { type: 'string' },
    events: { type: 'string', multiple: true },
    'dump-maps': { type: 'boolean' },
    'no-dump-maps': { type: 'boolean' },
  });
  if (values.help) return printHelp(io, ATTACH_HELP);
  const f = file('attach', positionals);
  if (values['dump-maps'] === true && values['no-dump-maps'] === true) throw new UsageError('object attach: give --dump-maps or --no-dump-maps, not both');
  const duration = values.for !== undefined ? forDuration(values.for) : undefined;
  const targets = attachTargets(values);
  const json = values.json === true;
  const spec = CollectionSpec.fromFile(f);
  applySettings(spec, values.set ?? []);
  applyMapSizes(spec, values.map ?? []);
  applyProgramTypes(spec, values.type ?? []);
  const sources = (values.events ?? []).map((e) => eventSource(spec, f, e));
  const sections: Record<string, string> = {};
  for (const [name, p] of Object.entries(spec.programs)) sections[name] = p.sectionName;
  const steps = planAttach(sections, targets);
  for (const s of steps) {
    const option = s.skip?.missing !== undefined ? CLI_TARGETS[s.skip.missing] : undefined;
    if (option !== undefined) throw new InvalidArgumentError(`program ${s.program} (section ${s.section}) attaches to ${describeTarget(s.skip!.missing!)}: give ${option}`);
  }
  const kernelBtf = values['kernel-btf'];
  let c: Collection;
  try {
    c = spec.load(kernelBtf !== undefined ? { kernelBtf } : {});
  } catch (err) {
    reportFailure(io, err, 'attach');
    return 1;
  }
  const watchers: Watcher[] = [];
  let links: CollectionLinks | undefined;
  const until = untilStopped();
  try {
    for (const source of sources) watchers.push(watchEvents(c, source, io, json));
    links = c.attach(targets);
    for (const s of links.skipped) {
      const why = s.missing !== undefined ? `it attaches to ${describeTarget(s.missing)}, which the command line cannot give` : s.reason;
      io.stderr.write(`skipped ${s.program} (${s.section}): ${why}\n`);
    }
    const attached = Object.entries(links.links);
    for (const [name, link] of attached) io.stderr.write(`${name}: ${link}\n`);
    io.stderr.write(`attached ${attached.length} program${attached.length === 1 ? '' : 's'}\n`);
    until.run(duration);
    await until.stopped;
    links.close();
    for (const w of watchers) {
      w.stop();
      w.drain();
    }
    if (values['no-dump-maps'] !== true) dumpMaps(c, io, json);
  } finally {
    until.dispose();
    try {
      links?.close();
    } finally {
      for (const w of watchers) w.close();
      c.close();
    }
  }
  await flush(io.stdout);
  return 0;
}

async function unload(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object unload', argv, OUTPUT_OPTIONS);
  if (values.help) return printHelp(io, UNLOAD_HELP);
  if (positionals.length !== 1) throw new UsageError(`object unload: expected the DIR of \`object load --pin DIR\`${positionals.length > 1 ? `; got '${positionals[1]}' too` : ''}`);
  const dir = positionals[0]!;
  const { pins } = unloadPinDir(dir);
  if (values.json || values.pretty) writeJson(io.stdout, { directory: dir, removed: pins }, values.pretty === true);
  else io.stdout.write(`${dir}: removed ${plural(pins.length, 'pin')} and the directory\n`);
  return 0;
}

const VERBS: Record<string, (argv: string[], io: CommandIO) => Promise<number>> = { inspect, load, run, dump, attach, unload };

export const command: Command = {
  name: 'object',
  summary: 'inspect, load, run and disassemble BPF object files',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const [verb, ...rest] = argv;
    if (verb === undefined) throw new UsageError('object: expected a verb (inspect, load, run, dump, attach, unload)');
    if (verb === '--help' || verb === '-h' || verb === 'help') return printHelp(io, HELP);
    const matches = Object.keys(VERBS).filter((v) => v.startsWith(verb));
    const name = verb in VERBS ? verb : matches.length === 1 ? matches[0] : undefined;
    const fn = name === undefined ? undefined : VERBS[name];
    if (fn === undefined) throw new UsageError(`object: unknown verb '${verb}'`);
    return fn(rest, io);
  },
};
