// USDT probes (statically defined tracepoints in user programs, as <sys/sdt.h> writes them):
// the probe sites read from the binary's .note.stapsdt notes, one uprobe per site with the
// probe's semaphore counted, and each site's argument locations written where the BPF side of
// <bpf/usdt.bpf.h> reads them (bpf_usdt_arg(), BPF_USDT()).
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import { ElfError, type ElfFile } from '../elf/index.js';
import { mapElemRaw } from '../sys/attrs.js';
import { mapInfo } from '../sys/info.js';
import { Cmd, MapType, ProgramType } from '../sys/types.js';
import { requireType, type AttachableProgram } from './attachable.js';
import { FileError } from '../sys/readfile.js';
import { addressToOffset, elfOf, resolveBinary } from './binaries.js';
import { TargetNotFoundError } from './errors.js';
import { Link } from './link.js';
import { mapFd, type MapLike } from './maps.js';
import { attachUprobe } from './uprobe.js';

/** One probe site: where a USDT probe is in a file, and where its arguments are. */
export interface UsdtSite {
  readonly provider: string;
  readonly name: string;
  /** The file offset of the probe's instruction, where the uprobe goes. */
  readonly offset: number;
  /** The file offset of the probe's semaphore; 0 when it has none. */
  readonly semaphoreOffset: number;
  /** The argument specification as the note has it: '-4@%eax 8@-8(%rbp)'. */
  readonly args: string;
}

/** Where one argument is and how to widen it to 64 bits. */
export type UsdtArg =
  | { readonly kind: 'const'; readonly size: number; readonly signed: boolean; readonly value: bigint }
  | { readonly kind: 'reg'; readonly size: number; readonly signed: boolean; readonly register: string }
  | { readonly kind: 'deref'; readonly size: number; readonly signed: boolean; readonly register: string; readonly offset: bigint };

export interface UsdtOptions {
  program: AttachableProgram;
  /** An absolute path, or a library or program name to look up (as for uprobes). */
  path: string;
  provider: string;
  name: string;
  /** Only this process; every process that maps the file by default. */
  pid?: number;
  /**
   * The value bpf_usdt_cookie() returns; without `specs`, the value bpf_get_attach_cookie()
   * returns (with `specs`, the BPF cookie is the site's slot in that map).
   */
  cookie?: bigint;
  /**
   * The `__bpf_usdt_specs` array map of the program's object, where bpf_usdt_arg() finds the
   * argument locations. Without it, bpf_usdt_arg() and bpf_usdt_cookie() find nothing.
   */
  specs?: MapLike;
}

/** The note type and owner name <sys/sdt.h> gives its notes. */
const NT_STAPSDT = 3;
const STAPSDT = 'stapsdt';

/** Every USDT probe site in an ELF file (all providers and names). */
export function usdtSites(path: string): UsdtSite[] {
  const file = resolveBinary(path);
  let elf: ElfFile;
  try {
    elf = elfOf(file);
  } catch (err) {
    if (err instanceof ElfError) throw new TargetNotFoundError('USDT probe', `in ${file}`, err.message, { cause: err });
    if (err instanceof FileError && err.code === 'ENOEXEC') throw new TargetNotFoundError('USDT probe', `in ${file}`, err.reason, { cause: err });
    throw err;
  }
  const notes = elf.section('.note.stapsdt');
  if (notes === undefined) return [];
  // The notes record addresses as linked; a prelinked file moved .stapsdt.base, and every
  // address with it.
  const baseSection = elf.section('.stapsdt.base');
  const data = elf.sectionData(notes);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = elf.littleEndian;
  const decoder = new TextDecoder();
  const sites: UsdtSite[] = [];
  const align4 = (n: number): number => (n + 3) & ~3;
  for (let at = 0; at + 12 <= data.length; ) {
    const nameSize = view.getUint32(at, le);
    const descSize = view.getUint32(at + 4, le);
    const type = view.getUint32(at + 8, le);
    const nameAt = at + 12;
    const descAt = nameAt + align4(nameSize);
    const next = descAt + align4(descSize);
    if (next > data.length) throw new TargetNotFoundError('file', file, 'its .note.stapsdt section is cut short');
    const owner = decoder.decode(data.subarray(nameAt, nameAt + Math.max(nameSize - 1, 0)));
    if (type === NT_STAPSDT && owner === STAPSDT && descSize >= 27) {
      let pc = view.getBigUint64(descAt, le);
      const base = view.getBigUint64(descAt + 8, le);
      let semaphore = view.getBigUint64(descAt + 16, le);
      if (baseSection !== undefined && base !== 0n) {
        pc += baseSection.addr - base;
        if (semaphore !== 0n) semaphore += baseSection.addr - base;
      }
      const strings = decoder.decode(data.subarray(descAt + 24, descAt + descSize)).split('\0');
      const offset = addressToOffset(elf, pc);
      const semaphoreOffset = semaphore === 0n ? 0 : addressToOffset(elf, semaphore);
      if (offset !== undefined && semaphoreOffset !== undefined) {
        sites.push({ provider: strings[0] ?? '', name: strings[1] ?? '', offset, semaphoreOffset, args: strings[2] ?? '' });
      }
    }
    at = next;
  }
  return sites;
}

// Offsets in x86-64's struct pt_regs, and every name an argument can give each register.
const X86_64_REGS: ReadonlyArray<[number, readonly string[]]> = [
  [0, ['r15', 'r15d', 'r15w', 'r15b']],
  [8, ['r14', 'r14d', 'r14w', 'r14b']],
  [16, ['r13', 'r13d', 'r13w', 'r13b']],
  [24, ['r12', 'r12d', 'r12w', 'r12b']],
  [32, ['rbp', 'ebp', 'bp', 'bpl']],
  [40, ['rbx', 'ebx', 'bx', 'bl', 'bh']],
  [48, ['r11', 'r11d', 'r11w', 'r11b']],
  [56, ['r10', 'r10d', 'r10w', 'r10b']],
  [64, ['r9', 'r9d', 'r9w', 'r9b']],
  [72, ['r8', 'r8d', 'r8w', 'r8b']],
  [80, ['rax', 'eax', 'ax', 'al', 'ah']],
  [88, ['rcx', 'ecx', 'cx', 'cl', 'ch']],
  [96, ['rdx', 'edx', 'dx', 'dl', 'dh']],
  [104, ['rsi', 'esi', 'si', 'sil']],
  [112, ['rdi', 'edi', 'di', 'dil']],
  [152, ['rsp', 'esp', 'sp', 'spl']],
];
const REGISTER_OFFSETS = new Map<string, number>(X86_64_REGS.flatMap(([off, names]) => names.map((n): [string, number] => [n, off])));

/** The pt_regs offset of an x86-64 register name ('eax', 'r8', ...). */
function registerOffset(register: string, spec: string): number {
  // A RIP-relative address counts from the instruction after the probe, not from its ip.
  if (register === 'rip' || register === 'eip' || register === 'ip') throw new NotSupportedError('USDT argument', `an address relative to %${register} in '${spec}'`, { by: 'tsbpf' });
  const off = REGISTER_OFFSETS.get(register);
  if (off === undefined) throw new NotSupportedError('USDT argument', `register %${register} in '${spec}'`, { by: 'tsbpf' });
  // The high-byte registers sit 8 bits up in their word: no bit shift here reads them.
  if (/^[abcd]h$/.test(register)) throw new NotSupportedError('USDT argument', `high-byte register %${register} in '${spec}'`, { by: 'tsbpf' });
  return off;
}

/** Parses one probe's argument specification ('-4@%eax 8@-8(%rbp) 4@$5'): x86-64 only. */
export function parseUsdtArgs(text: string): UsdtArg[] {
  const words = text.trim() === '' ? [] : text.trim().split(/\s+/);
  if (words.length > MAX_ARGS) throw new NotSupportedError('USDT probe', `${words.length} arguments (at most ${MAX_ARGS})`, { by: 'tsbpf' });
  return words.map((w) => {
    const m = /^(-?)(1|2|4|8)@(.+)$/.exec(w) ?? /^()()(.+)$/.exec(w);
    if (m === null) throw new InvalidArgumentError(`bad USDT argument '${w}'`);
    const signed = m[1] === '-';
    // Without a size prefix, an argument is a signed long.
    const size = m[2] === '' ? 8 : Number(m[2]);
    const loc = m[3]!;
    let r: RegExpExecArray | null;
    if ((r = /^\$(-?(?:0x[0-9a-f]+|\d+))$/i.exec(loc)) !== null) return { kind: 'const', size, signed: signed || m[2] === '', value: parseBig(r[1]!) };
    if ((r = /^%([a-z0-9]+)$/.exec(loc)) !== null) {
      registerOffset(r[1]!, w);
      return { kind: 'reg', size, signed: signed || m[2] === '', register: r[1]! };
    }
    if ((r = /^(-?(?:0x[0-9a-f]+|\d+))?\(%([a-z0-9]+)\)$/i.exec(loc)) !== null) {
      registerOffset(r[2]!, w);
      return { kind: 'deref', size, signed: signed || m[2] === '', register: r[2]!, offset: r[1] === undefined ? 0n : parseBig(r[1]) };
    }
    throw new NotSupportedError('USDT argument', `location '${loc}' in '${w}' (register, constant and register+offset are supported)`, { by: 'tsbpf' });
  });
}

function parseBig(s: string): bigint {
  return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
}

/** BPF_USDT_MAX_ARG_CNT and the size of struct __bpf_usdt_spec in <bpf/usdt.bpf.h>. */
const MAX_ARGS = 12;
const SPEC_SIZE = 208;
const ARG_TYPE = { const: 0, reg: 1, deref: 2 } as const;

/** The struct __bpf_usdt_spec bytes of one site: 12 argument slots, the cookie, the count. */
export function encodeUsdtSpec(args: readonly UsdtArg[], cookie: bigint): Uint8Array {
  const out = new Uint8Array(SPEC_SIZE);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => {
    const at = i * 16;
    const valOff = a.kind === 'const' ? a.value : a.kind === 'deref' ? a.offset : 0n;
    v.setBigUint64(at, BigInt.asUintN(64, valOff), true);
    v.setUint32(at + 8, ARG_TYPE[a.kind], true);
    v.setInt16(at + 12, a.kind === 'const' ? 0 : registerOffset(a.register, ''), true);
    out[at + 14] = a.signed ? 1 : 0;
    out[at + 15] = 64 - a.size * 8;
  });
  v.setBigUint64(192, BigInt.asUintN(64, cookie), true);
  v.setInt16(200, args.length, true);
  return out;
}

/** Spec ids in use per specs map (by fd): each attached site holds one. */
const usedIds = new Map<number, Set<number>>();

function takeId(fd: number, capacity: number, what: string): number {
  let used = usedIds.get(fd);
  if (used === undefined) usedIds.set(fd, (used = new Set()));
  for (let id = 0; id < capacity; id++) {
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
  throw new InvalidArgumentError(`${what}: all ${capacity} USDT spec slots of the specs map are in use`);
}

function releaseId(fd: number, id: number): void {
  const used = usedIds.get(fd);
  used?.delete(id);
  if (used?.size === 0) usedIds.delete(fd);
}

/** The value size and entry count of the specs map, from the kernel. */
function arrayShape(specs: MapLike): { fd: number; valueSize: number; maxEntries: number } {
  const fd = mapFd(specs);
  const info = mapInfo(fd);
  if (info.type !== MapType.ARRAY) throw new InvalidArgumentError(`the USDT specs map (fd ${fd}) is not an array map`);
  return { fd, valueSize: info.valueSize, maxEntries: info.maxEntries };
}

/**
 * Attaches a KPROBE-type program to every site of the USDT probe provider:name in a file. The
 * probe's semaphore, if it has one, counts the attachment, so code guarded by it runs. With
 * `specs`, each site's argument locations go into that map under an id the site's uprobe
 * carries as its BPF cookie, for bpf_usdt_arg(); the slots are freed when the link closes.
 */
export function attachUsdt(opts: UsdtOptions): Link {
  requireType('usdt', opts.program, ProgramType.KPROBE);
  if (!opts.provider || !opts.name) throw new InvalidArgumentError('a USDT probe needs a provider and a name');
  const file = resolveBinary(opts.path);
  const target = `${file}:${opts.provider}:${opts.name}${opts.pid !== undefined ? ` pid ${opts.pid}` : ''}`;
  const sites = usdtSites(file).filter((s) => s.provider === opts.provider && s.name === opts.name);
  if (sites.length === 0) throw new TargetNotFoundError('USDT probe', `${opts.provider}:${opts.name} in ${file}`);
  if (process.arch !== 'x64' && opts.specs !== undefined) throw new NotSupportedError('USDT arguments', `argument locations on ${process.arch}`, { by: 'tsbpf' });
  // Every site's arguments are understood before anything is attached.
  const specs = opts.specs !== undefined ? sites.map((s) => encodeUsdtSpec(parseUsdtArgs(s.args), opts.cookie ?? 0n)) : [];
  const shape = opts.specs !== undefined ? arrayShape(opts.specs) : undefined;
  if (shape !== undefined && shape.valueSize !== SPEC_SIZE) {
    throw new InvalidArgumentError(`the USDT specs map has ${shape.valueSize}-byte values, not struct __bpf_usdt_spec (${SPEC_SIZE} bytes)`);
  }
  const parts: Link[] = [];
  const ids: number[] = [];
  const release = (): void => {
    if (shape !== undefined) for (const id of ids.splice(0)) releaseId(shape.fd, id);
  };
  try {
    sites.forEach((site, i) => {
      let cookie = opts.cookie ?? 0n;
      if (shape !== undefined) {
        const id = takeId(shape.fd, shape.maxEntries, target);
        ids.push(id);
        writeSpec(shape.fd, id, specs[i]!, target);
        cookie = BigInt(id);
      }
      parts.push(
        attachUprobe({
          program: opts.program,
          path: file,
          offset: site.offset,
          cookie,
          ...(site.semaphoreOffset !== 0 ? { refCtrOffset: site.semaphoreOffset } : {}),
          ...(opts.pid !== undefined ? { pid: opts.pid } : {}),
        }),
      );
    });
  } catch (err) {
    for (const p of parts) p.close();
    release();
    throw err;
  }
  return new Link({ hook: 'usdt', target, mechanism: 'perf_event', program: opts.program, parts, holds: [...parts, { close: release }] });
}

function writeSpec(fd: number, id: number, spec: Uint8Array, target: string): void {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, id, true);
  const r = mapElemRaw(Cmd.MAP_UPDATE_ELEM, fd, key, spec);
  if (r < 0) throw new InvalidArgumentError(`${target}: cannot write USDT spec ${id} (errno ${-r})`);
}
