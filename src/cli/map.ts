// `tsbpf map`: list, show, dump, update, delete and pin the kernel's BPF maps.
import { readFileSync } from 'node:fs';
import { BpfError, InvalidArgumentError, NotSupportedError, TsbpfError } from '../errors.js';
import { BpfMap } from '../map.js';
import { Program } from '../program.js';
import { isKeyless } from '../map/kinds.js';
import { mapTypeName } from '../program/names.js';
import { allIds, getFdById } from '../sys/attrs.js';
import { mapInfo, type MapInfo } from '../sys/info.js';
import { Cmd, MapType, UpdateFlags } from '../sys/types.js';
import { defineCommand, formatTable, jsonReplacer, OUTPUT_OPTIONS, parse, plural, UsageError, writeJson, type Command, type CommandIO, type Verb } from './framework/index.js';
import { mapCodecs } from './map-btf.js';
import * as help from './help/map.js';

interface Flags {
  json: boolean;
  pretty: boolean;
  /** dump: bytes in hex even when the map's BTF could decode them. */
  hex: boolean;
  positionals: string[];
}

const MAP_OPTIONS = { ...OUTPUT_OPTIONS, hex: { type: 'boolean' } } as const;

/** A verb that takes the options every map verb takes, then its own positional grammar. */
function withFlags(verb: string, fn: (f: Flags, io: CommandIO) => number): Verb {
  return (argv, io) => {
    const { values, positionals } = parse(`map ${verb}`, argv, MAP_OPTIONS);
    return fn({ json: Boolean(values.json || values.pretty), pretty: Boolean(values.pretty), hex: Boolean(values.hex), positionals }, io);
  };
}

/** Takes a MAP reference off the front of `args`: `12`, `id 12`, `/path`, `pinned /path`. */
function takeMapRef(args: string[]): { kind: 'id'; id: number } | { kind: 'pinned'; path: string } {
  const first = args.shift();
  if (first === undefined) throw new UsageError('missing MAP (an id or a pinned path)');
  if (first === 'id' || first === 'pinned') {
    const v = args.shift();
    if (v === undefined) throw new UsageError(`missing value after "${first}"`);
    if (first === 'pinned') return { kind: 'pinned', path: v };
    return { kind: 'id', id: parseId(v) };
  }
  if (/^\d+$/.test(first)) return { kind: 'id', id: parseId(first) };
  return { kind: 'pinned', path: first };
}

function parseId(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) <= 0 || Number(s) > 0xffffffff) throw new UsageError(`invalid map id "${s}"`);
  return Number(s);
}

function openMap(ref: ReturnType<typeof takeMapRef>): BpfMap {
  return ref.kind === 'id' ? BpfMap.fromId(ref.id) : BpfMap.openPinned(ref.path);
}

function hex(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (const b of bytes) out.push(b.toString(16).padStart(2, '0'));
  return out;
}

function jsonBytes(bytes: Uint8Array): string[] {
  return hex(bytes).map((h) => `0x${h}`);
}

/**
 * BYTES as documented in the help: one token per byte (`0x0a` or `10`), or after `hex`,
 * prefix-less hex digits, several bytes per token allowed.
 */
export function parseBytes(tokens: string[], what: string): Uint8Array {
  const out: number[] = [];
  if (tokens[0] === 'hex') {
    const digits = tokens.slice(1).join('');
    if (tokens.length < 2 || !/^([0-9a-fA-F]{2})+$/.test(digits)) {
      throw new UsageError(`${what}: after "hex", give an even number of hex digits (e.g. "${what} hex 01 00 00 00"), got "${tokens.slice(1).join(' ')}"`);
    }
    for (let i = 0; i < digits.length; i += 2) out.push(parseInt(digits.slice(i, i + 2), 16));
    return Uint8Array.from(out);
  }
  for (const t of tokens) {
    let v: number;
    if (/^0x[0-9a-fA-F]{1,2}$/.test(t)) v = parseInt(t.slice(2), 16);
    else if (/^\d{1,3}$/.test(t)) v = Number(t);
    else throw new UsageError(`${what}: "${t}" is not a byte (write 0x0a or 10, or use "${what} hex 0a...")`);
    if (v > 255) throw new UsageError(`${what}: ${t} does not fit in a byte`);
    out.push(v);
  }
  return Uint8Array.from(out);
}

const FLAG_WORDS: Record<string, UpdateFlags> = { any: UpdateFlags.ANY, noexist: UpdateFlags.NOEXIST, exist: UpdateFlags.EXIST };

/** Splits `key BYTES... [value BYTES...] [flag]`. */
function parseElement(args: string[], wantValue: boolean): { key: string[]; value: string[]; flags: UpdateFlags } {
  if (args[0] !== 'key') throw new UsageError(`expected "key BYTES..."${wantValue ? ' value BYTES...' : ''}, got "${args.join(' ')}"`);
  const valueAt = args.indexOf('value');
  if (wantValue && valueAt < 0) throw new UsageError('missing "value BYTES..."');
  if (!wantValue && valueAt >= 0) throw new UsageError('unexpected "value" (delete takes only a key)');
  const key = args.slice(1, wantValue ? valueAt : undefined);
  let value = wantValue ? args.slice(valueAt + 1) : [];
  let flags = UpdateFlags.ANY;
  const last = value[value.length - 1];
  if (last !== undefined && last in FLAG_WORDS) {
    flags = FLAG_WORDS[last] as UpdateFlags;
    value = value.slice(0, -1);
  }
  if (key.length === 0) throw new UsageError('missing key bytes');
  if (wantValue && value.length === 0) throw new UsageError('missing value bytes');
  return { key, value, flags };
}

interface FdInfo {
  frozen?: boolean;
  memlock?: number;
}

function fdInfo(fd: number): FdInfo {
  try {
    const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const out: FdInfo = {};
    const memlock = /^memlock:\s*(\d+)/m.exec(text);
    const frozen = /^frozen:\s*(\d+)/m.exec(text);
    if (memlock) out.memlock = Number(memlock[1]);
    if (frozen) out.frozen = frozen[1] === '1';
    return out;
  } catch {
    return {};
  }
}

interface MapRecord {
  id: number;
  type: string;
  name: string;
  flags: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  btfId?: number;
  mapExtra?: bigint;
  frozen?: boolean;
  memlock?: number;
}

function record(info: MapInfo, fd: number): MapRecord {
  const r: MapRecord = {
    id: info.id,
    type: mapTypeName(info.type, 'uapi').toLowerCase(),
    name: info.name,
    flags: info.mapFlags,
    keySize: info.keySize,
    valueSize: info.valueSize,
    maxEntries: info.maxEntries,
  };
  if (info.btfId) r.btfId = info.btfId;
  if (info.mapExtra) r.mapExtra = info.mapExtra;
  return { ...r, ...fdInfo(fd) };
}

function showText(r: MapRecord): string {
  let s = `${r.id}: ${r.type}  ${r.name ? `name ${r.name}  ` : ''}flags 0x${r.flags.toString(16)}\n`;
  s += `\tkey ${r.keySize}B  value ${r.valueSize}B  max_entries ${r.maxEntries}`;
  if (r.memlock !== undefined) s += `  memlock ${r.memlock}B`;
  if (r.btfId) s += `\n\tbtf_id ${r.btfId}`;
  if (r.mapExtra) s += `\n\tmap_extra 0x${r.mapExtra.toString(16)}`;
  if (r.frozen) s += '\n\tfrozen';
  return `${s}\n`;
}

function list(f: Flags, io: CommandIO): number {
  if (f.positionals.length > 0) throw new UsageError(`list takes no arguments, got "${f.positionals.join(' ')}"`);
  const records: MapRecord[] = [];
  for (const id of allIds(Cmd.MAP_GET_NEXT_ID)) {
    let fd;
    try {
      fd = getFdById(Cmd.MAP_GET_FD_BY_ID, id);
    } catch (err) {
      if (err instanceof BpfError && err.code === 'ENOENT') continue; // gone since listed
      throw err;
    }
    try {
      records.push(record(mapInfo(fd.value), fd.value));
    } finally {
      fd.close();
    }
  }
  if (f.json) {
    writeJson(io.stdout, records, f.pretty);
    return 0;
  }
  const rows = records.map((r) => [String(r.id), r.type, r.name, `0x${r.flags.toString(16)}`, String(r.keySize), String(r.valueSize), String(r.maxEntries)]);
  io.stdout.write(formatTable(['ID', 'TYPE', 'NAME', 'FLAGS', 'KEY', 'VALUE', 'MAX_ENTRIES'], rows));
  return 0;
}

function show(f: Flags, io: CommandIO): number {
  const args = [...f.positionals];
  const ref = takeMapRef(args);
  if (args.length > 0) throw new UsageError(`unexpected "${args.join(' ')}"`);
  using map = openMap(ref);
  const r = record(map.info(), map.fd);
  if (f.json) writeJson(io.stdout, r, f.pretty);
  else io.stdout.write(showText(r));
  return 0;
}

interface DumpEntry {
  key: string[];
  value?: string[] | null;
  values?: { cpu: number; value: string[] }[];
  /** Key and value(s) decoded through the map's BTF, as bpftool adds them. */
  formatted?: { key: unknown; value?: unknown; values?: { cpu: number; value: unknown }[] };
}

/** One decoded key or value in a line of text: JSON, with 64-bit numbers exact. */
function decodedText(v: unknown): string {
  return JSON.stringify(v, jsonReplacer);
}

function dump(f: Flags, io: CommandIO): number {
  const args = [...f.positionals];
  const ref = takeMapRef(args);
  if (args.length > 0) throw new UsageError(`unexpected "${args.join(' ')}"`);
  using map = openMap(ref);
  if (isKeyless(map.type)) throw new InvalidArgumentError(`${map} has no keys to dump (queues, stacks, bloom filters, ring buffers and arenas are read by other means)`);
  const entries: DumpEntry[] = [];
  let text = '';
  let unreadable = false;
  const codecs = f.hex ? undefined : mapCodecs(map.info());
  const keyOf = (key: Uint8Array): unknown => (codecs?.key !== undefined ? codecs.key.decodeAt(key, 0) : undefined);
  const keyText = (key: Uint8Array): string => (codecs?.key !== undefined ? decodedText(keyOf(key)) : hex(key).join(' '));
  for (const key of map.keys()) {
    let value: Uint8Array | Uint8Array[] | undefined;
    try {
      value = map.lookup(key) as Uint8Array | Uint8Array[] | undefined;
    } catch (err) {
      if (!(err instanceof NotSupportedError)) throw err;
      unreadable = true;
      entries.push({ key: jsonBytes(key), value: null });
      text += `key: ${keyText(key)}  value: <not readable from user space>\n`;
      continue;
    }
    if (value === undefined) continue; // deleted meanwhile, or an empty fd-array slot
    if (Array.isArray(value)) {
      const decoded = codecs === undefined ? undefined : value.map((v) => codecs.value.decodeAt(v, 0));
      entries.push({
        key: jsonBytes(key),
        values: value.map((v, cpu) => ({ cpu, value: jsonBytes(v) })),
        ...(decoded !== undefined ? { formatted: { key: keyOf(key) ?? jsonBytes(key), values: decoded.map((v, cpu) => ({ cpu, value: v })) } } : {}),
      });
      text += `key:\n${keyText(key)}\n`;
      value.forEach((v, cpu) => {
        text += `value (CPU ${String(cpu).padStart(2, '0')}): ${decoded !== undefined ? decodedText(decoded[cpu]) : hex(v).join(' ')}\n`;
      });
    } else {
      const decoded = codecs?.value.decodeAt(value, 0);
      entries.push({ key: jsonBytes(key), value: jsonBytes(value), ...(codecs !== undefined ? { formatted: { key: keyOf(key) ?? jsonBytes(key), value: decoded } } : {}) });
      text += `key: ${keyText(key)}  value: ${codecs !== undefined ? decodedText(decoded) : hex(value).join(' ')}\n`;
    }
  }
  if (f.json) {
    writeJson(io.stdout, entries, f.pretty);
  } else {
    io.stdout.write(`${text}Found ${plural(entries.length, 'element')}\n`);
  }
  if (unreadable && !f.json) io.stderr.write(`note: ${mapTypeName(map.type, 'uapi')} values cannot be read from user space\n`);
  return 0;
}

function sized(bytes: Uint8Array, size: number, what: string, map: BpfMap): Uint8Array {
  if (bytes.length !== size) throw new UsageError(`${what} has ${bytes.length} byte${bytes.length === 1 ? '' : 's'} but ${map} takes ${size}`);
  return bytes;
}

/** `value id N` or `value pinned PATH`: the element is a kernel object, not bytes. */
function objectRef(tokens: string[]): { kind: 'id'; id: number } | { kind: 'pinned'; path: string } | undefined {
  if (tokens[0] !== 'id' && tokens[0] !== 'pinned') return undefined;
  if (tokens.length !== 2) throw new UsageError(`expected "value ${tokens[0]} ${tokens[0] === 'id' ? 'ID' : 'PATH'}", got "value ${tokens.join(' ')}"`);
  const v = tokens[1] as string;
  if (tokens[0] === 'pinned') return { kind: 'pinned', path: v };
  if (!/^\d+$/.test(v) || Number(v) <= 0 || Number(v) > 0xffffffff) throw new UsageError(`invalid id "${v}"`);
  return { kind: 'id', id: Number(v) };
}

/** Opens what a prog array or map of maps element refers to; the caller closes it. */
function openElementObject(map: BpfMap, ref: NonNullable<ReturnType<typeof objectRef>>): { fd: number; close(): void } {
  if (map.type === MapType.PROG_ARRAY) {
    const prog = ref.kind === 'id' ? Program.fromId(ref.id) : Program.openPinned(ref.path);
    return { fd: prog.fd, close: () => prog.close() };
  }
  if (map.type === MapType.ARRAY_OF_MAPS || map.type === MapType.HASH_OF_MAPS) {
    const inner = ref.kind === 'id' ? BpfMap.fromId(ref.id) : BpfMap.openPinned(ref.path);
    return { fd: inner.fd, close: () => inner.close() };
  }
  throw new UsageError(`${map} holds bytes: "value id" and "value pinned" are for prog arrays and maps of maps`);
}

function update(f: Flags, io: CommandIO): number {
  const args = [...f.positionals];
  const ref = takeMapRef(args);
  const el = parseElement(args, true);
  const key = parseBytes(el.key, 'key');
  const object = objectRef(el.value);
  const value = object === undefined ? parseBytes(el.value, 'value') : undefined;
  using map = openMap(ref);
  sized(key, map.keySize, 'key', map);
  if (object !== undefined) {
    // The kernel takes the object's fd as the value and keeps its own reference.
    const target = openElementObject(map, object);
    try {
      const fdValue = new Uint8Array(4);
      new DataView(fdValue.buffer).setUint32(0, target.fd, true);
      map.update(key, sized(fdValue, map.valueSize, 'value', map), el.flags);
    } finally {
      target.close();
    }
  } else {
    const bytes = sized(value!, map.valueSize, 'value', map);
    if (map.perCpu) (map as unknown as BpfMap<Uint8Array, Uint8Array[]>).update(key, Array.from({ length: map.cpus }, () => bytes), el.flags);
    else map.update(key, bytes, el.flags);
  }
  if (f.json) writeJson(io.stdout, { updated: true }, f.pretty);
  return 0;
}

function remove(f: Flags, io: CommandIO): number {
  const args = [...f.positionals];
  const ref = takeMapRef(args);
  const el = parseElement(args, false);
  const key = parseBytes(el.key, 'key');
  using map = openMap(ref);
  sized(key, map.keySize, 'key', map);
  if (!map.delete(key)) throw new TsbpfError('ENOENT', `${map} has no element with key ${hex(key).join(' ')}`);
  if (f.json) writeJson(io.stdout, { deleted: true }, f.pretty);
  return 0;
}

function pin(f: Flags, io: CommandIO): number {
  const args = [...f.positionals];
  const ref = takeMapRef(args);
  const path = args.shift();
  if (path === undefined) throw new UsageError('missing PATH to pin at');
  if (args.length > 0) throw new UsageError(`unexpected "${args.join(' ')}"`);
  using map = openMap(ref);
  map.pin(path);
  if (f.json) writeJson(io.stdout, { id: map.id, pinned: map.pinnedPath }, f.pretty);
  return 0;
}

export const command: Command = defineCommand({
  name: 'map',
  summary: 'list, show, dump, update, delete and pin BPF maps',
  help,
  verbs: { list: withFlags('list', list), show: withFlags('show', show), dump: withFlags('dump', dump), update: withFlags('update', update), delete: withFlags('delete', remove), pin: withFlags('pin', pin) },
});
