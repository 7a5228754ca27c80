// `tsbpf prog`: list, show and dump the programs loaded in the kernel, as bpftool prints them.
import { TsbpfError } from '../errors.js';
import { Program, type ProgramInfo } from '../program.js';
import { disassembleXlated } from '../program/xlated.js';
import { allIds } from '../sys/attrs.js';
import { Cmd } from '../sys/types.js';
import { OUTPUT_OPTIONS, parse, parseSelector, type ObjectSelector, formatTable, UsageError, writeJson, type Command, type CommandIO, defineCommand } from './framework/index.js';
import * as help from './help/prog.js';

/** A program as bpftool's JSON output has it. */
export interface ProgJson {
  id: number;
  type: string;
  name?: string;
  tag: string;
  gpl_compatible: boolean;
  run_time_ns?: number | bigint;
  run_cnt?: number | bigint;
  recursion_misses?: number | bigint;
  loaded_at: number;
  uid: number;
  bytes_xlated: number;
  jited: boolean;
  bytes_jited?: number;
  bytes_memlock?: number;
  map_ids: number[];
  btf_id?: number;
  verified_insns: number;
}

export function progJson(i: ProgramInfo): ProgJson {
  const stats = i.runTimeNs > 0n || i.runCount > 0n;
  return {
    id: i.id,
    type: i.typeName,
    ...(i.name ? { name: i.name } : {}),
    tag: i.tag,
    gpl_compatible: i.gplCompatible,
    ...(stats ? { run_time_ns: i.runTimeNs, run_cnt: i.runCount } : {}),
    ...(i.recursionMisses > 0n ? { recursion_misses: i.recursionMisses } : {}),
    loaded_at: Math.floor(i.loadedAt.getTime() / 1000),
    uid: i.createdByUid,
    bytes_xlated: i.xlatedSize,
    jited: i.jitedSize > 0,
    ...(i.jitedSize > 0 ? { bytes_jited: i.jitedSize } : {}),
    ...(i.memlock !== undefined ? { bytes_memlock: i.memlock } : {}),
    map_ids: i.mapIds,
    ...(i.btfId ? { btf_id: i.btfId } : {}),
    verified_insns: i.verifiedInstructions,
  };
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+0000');
}

/** The plain text of one program, in bpftool's layout. */
export function progText(i: ProgramInfo): string {
  const stats = i.runTimeNs > 0n || i.runCount > 0n;
  const head = [`${i.id}: ${i.typeName}`, ...(i.name ? [`name ${i.name}`] : []), `tag ${i.tag}`, ...(i.gplCompatible ? ['gpl'] : [])];
  if (stats) head.push(`run_time_ns ${i.runTimeNs} run_cnt ${i.runCount}`);
  if (i.recursionMisses > 0n) head.push(`recursion_misses ${i.recursionMisses}`);
  const sizes = [`xlated ${i.xlatedSize}B`, i.jitedSize > 0 ? `jited ${i.jitedSize}B` : 'not jited'];
  if (i.memlock !== undefined) sizes.push(`memlock ${i.memlock}B`);
  if (i.mapIds.length > 0) sizes.push(`map_ids ${i.mapIds.join(',')}`);
  const lines = [head.join('  '), `\tloaded_at ${timestamp(i.loadedAt)}  uid ${i.createdByUid}`, `\t${sizes.join('  ')}`];
  const extra = [...(i.btfId ? [`btf_id ${i.btfId}`] : []), `verified_insns ${i.verifiedInstructions}`];
  lines.push(`\t${extra.join('  ')}`);
  return `${lines.join('\n')}\n`;
}

const ENOENT_CODES = new Set(['ENOENT']);

/** Info of every loaded program; programs unloaded while we look are skipped. */
function allPrograms(): ProgramInfo[] {
  const out: ProgramInfo[] = [];
  for (const id of allIds(Cmd.PROG_GET_NEXT_ID)) {
    let prog: Program;
    try {
      prog = Program.fromId(id);
    } catch (err) {
      if (err instanceof TsbpfError && ENOENT_CODES.has(err.code)) continue;
      throw err;
    }
    try {
      out.push(prog.info());
    } finally {
      prog.close();
    }
  }
  return out;
}

function open(sel: ObjectSelector & { by: 'id' | 'pinned' }): Program {
  return sel.by === 'id' ? Program.fromId(sel.id) : Program.openPinned(sel.path);
}

function select(sel: ObjectSelector): ProgramInfo[] {
  if (sel.by === 'id' || sel.by === 'pinned') {
    const prog = open(sel);
    try {
      return [prog.info()];
    } finally {
      prog.close();
    }
  }
  return allPrograms().filter((i) => (sel.by === 'name' ? i.name === sel.name : i.tag === sel.tag));
}

function output(io: CommandIO, values: { json?: boolean | undefined; pretty?: boolean | undefined }, infos: ProgramInfo[], single: boolean): void {
  if (values.json || values.pretty) {
    const docs = infos.map(progJson);
    writeJson(io.stdout, single ? docs[0] : docs, values.pretty === true);
    return;
  }
  for (const i of infos) io.stdout.write(progText(i));
}

function table(io: CommandIO, infos: ProgramInfo[]): void {
  const rows = infos.map((i) => [String(i.id), i.typeName, i.name, i.tag, `${i.xlatedSize}`, `${i.jitedSize}`, i.mapIds.join(',')]);
  io.stdout.write(formatTable(['ID', 'TYPE', 'NAME', 'TAG', 'XLATED', 'JITED', 'MAPS'], rows));
}

async function list(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('prog list', argv, { ...OUTPUT_OPTIONS, table: { type: 'boolean', short: 't' } });
  if (positionals.length > 0) throw new UsageError(`prog list: unexpected argument '${positionals[0]}'`);
  const infos = allPrograms();
  if (values.table && !values.json && !values.pretty) table(io, infos);
  else output(io, values, infos, false);
  return 0;
}

async function show(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('prog show', argv, OUTPUT_OPTIONS);
  if (positionals.length === 0) return list(argv, io);
  const [sel, used] = parseSelector('prog show', positionals, ['id', 'pinned', 'name', 'tag']);
  if (positionals.length > used) throw new UsageError(`prog show: unexpected argument '${positionals[used]}'`);
  const infos = select(sel);
  if (infos.length === 0) throw new TsbpfError('ENOENT', `no program with ${sel.by} ${sel.by === 'name' ? sel.name : sel.by === 'tag' ? sel.tag : ''}`.trim());
  output(io, values, infos, sel.by === 'id' || sel.by === 'pinned');
  return 0;
}

async function dump(argv: string[], io: CommandIO): Promise<number> {
  // `prog dump <file.o> --program NAME`: an object file's program with its C source lines.
  const file = argv.find((a) => !a.startsWith('-'));
  if (file !== undefined && file !== 'xlated' && /\.o$/.test(file)) {
    const { command: object } = await import('./object.js');
    return object.run(['dump', ...argv], io);
  }
  const { values, positionals } = parse('prog dump', argv, OUTPUT_OPTIONS);
  const [kind, ...rest] = positionals;
  if (kind === undefined) throw new UsageError('prog dump: expected xlated');
  if (kind !== 'xlated') throw new UsageError(`prog dump: unknown kind '${kind}' (expected xlated)`);
  const [sel, used] = parseSelector('prog dump', rest);
  if (rest.length > used) throw new UsageError(`prog dump: unexpected argument '${rest[used]}'`);
  const prog = open(sel as ObjectSelector & { by: 'id' | 'pinned' });
  let lines;
  try {
    lines = disassembleXlated(prog.xlated());
  } finally {
    prog.close();
  }
  if (values.json || values.pretty) {
    writeJson(io.stdout, lines.map((l) => ({ slot: l.slot, code: l.code, disasm: l.text })), values.pretty === true);
    return 0;
  }
  const width = String(lines.at(-1)?.slot ?? 0).length;
  io.stdout.write(lines.map((l) => `${String(l.slot).padStart(Math.max(width, 4))}: ${l.text}\n`).join(''));
  return 0;
}

export const command: Command = defineCommand({
  name: 'prog',
  summary: 'list, show and dump the programs loaded in the kernel',
  help,
  verbs: { list, show, dump },
});
