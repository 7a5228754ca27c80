// Finding the file a uprobe goes into (an absolute path, a library name through the dynamic
// linker's cache, or a program on PATH) and the file offset of a symbol in it.
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { arch } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { EM, ElfError, parseElf, PT, SHN, STT, type ElfFile, type ElfSymbol } from '../elf/index.js';
import { FileError, readRegularFile } from '../sys/readfile.js';
import { TargetNotFoundError } from './errors.js';

const CACHE_PATH = '/etc/ld.so.cache';
const NEW_MAGIC = 'glibc-ld.so.cache1.1';
const OLD_MAGIC = 'ld.so-1.7.0';
const NEW_HEADER = 48;
const NEW_ENTRY = 24;
const OLD_ENTRY = 12;

const LIBRARY_DIRS = ['/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib', '/usr/local/lib64'];

function multiarchDirs(): string[] {
  const triple = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', riscv64: 'riscv64-linux-gnu', s390x: 's390x-linux-gnu', ppc64: 'powerpc64le-linux-gnu' }[arch() as string];
  return triple ? [`/lib/${triple}`, `/usr/lib/${triple}`] : [];
}

function hostMachine(): number | undefined {
  return { x64: EM.X86_64, arm64: EM.AARCH64, riscv64: EM.RISCV }[arch() as string];
}

/** Whether the file is a 64-bit ELF for this machine (reads only its header). */
function isHostElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const h = Buffer.alloc(20);
    if (readSync(fd, h, 0, 20, 0) < 20) return false;
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false;
    const machine = h[5] === 1 ? h.readUInt16LE(18) : h.readUInt16BE(18);
    const want = hostMachine();
    return want === undefined || machine === want;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function cString(bytes: Buffer, at: number): string {
  const end = bytes.indexOf(0, at);
  return bytes.toString('utf8', at, end < 0 ? bytes.length : end);
}

/** (name, path) pairs of the dynamic linker's cache, in its order. */
export function readLdCache(path = CACHE_PATH): Array<[string, string]> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return [];
  }
  let base = 0;
  if (bytes.toString('latin1', 0, OLD_MAGIC.length) === OLD_MAGIC) {
    // The old format comes first: skip its entries to the new header, 8-byte aligned.
    const n = bytes.readUInt32LE(OLD_MAGIC.length + 1);
    base = (OLD_MAGIC.length + 1 + 4 + n * OLD_ENTRY + 7) & ~7;
  }
  if (bytes.toString('latin1', base, base + NEW_MAGIC.length) !== NEW_MAGIC) return [];
  const count = bytes.readUInt32LE(base + 20);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    const e = base + NEW_HEADER + i * NEW_ENTRY;
    if (e + NEW_ENTRY > bytes.length) break;
    const key = bytes.readUInt32LE(e + 4);
    const value = bytes.readUInt32LE(e + 8);
    if (base + key >= bytes.length || base + value >= bytes.length) continue;
    out.push([cString(bytes, base + key), cString(bytes, base + value)]);
  }
  return out;
}

function ldconfigEntries(): Array<[string, string]> {
  for (const cmd of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      const text = execFileSync(cmd, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const out: Array<[string, string]> = [];
      for (const line of text.split('\n')) {
        const m = /^\s+(\S+)\s.*=>\s+(\S+)$/.exec(line);
        if (m) out.push([m[1] as string, m[2] as string]);
      }
      return out;
    } catch {
      // Try the next location.
    }
  }
  return [];
}

/** The file names a library name may stand for: 'c' and 'libc' → libc.so*, 'libc.so.6' itself. */
function libraryMatcher(name: string): (file: string) => number {
  if (name.includes('.so')) return (f) => (f === name ? 2 : 0);
  const stem = name.startsWith('lib') ? name : `lib${name}`;
  return (f) => (f === `${stem}.so` ? 2 : f.startsWith(`${stem}.so.`) ? 1 : 0);
}

/** The path of a shared library by name, as the dynamic linker would find it. */
export function resolveLibrary(name: string): string {
  const score = libraryMatcher(name);
  const best = (entries: Array<[string, string]>): string | undefined => {
    let found: string | undefined;
    let top = 0;
    for (const [key, path] of entries) {
      const s = score(key);
      if (s > top && isHostElf(path)) {
        found = path;
        top = s;
        if (s === 2) break;
      }
    }
    return found;
  };
  const cached = best(readLdCache()) ?? best(ldconfigEntries());
  if (cached) return cached;
  for (const dir of [...multiarchDirs(), ...LIBRARY_DIRS]) {
    let files: string[];
    try {
      files = existsSync(dir) ? readdirSync(dir) : [];
    } catch {
      continue;
    }
    const hit = best(files.map((f) => [f, join(dir, f)]));
    if (hit) return hit;
  }
  throw new TargetNotFoundError('library', name, `not in ${CACHE_PATH}, ldconfig -p, or ${[...multiarchDirs(), ...LIBRARY_DIRS].join(', ')}`);
}

// The first executable ELF file of that name on PATH. Wrapper scripts (pyenv and asdf shims,
// for instance) hold no probes or symbols: a later ELF of the same name is what they run in the
// common case. With only scripts on PATH, the first script, for elfOf to say what it is.
function onPath(name: string): string | undefined {
  let script: string | undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (!statSync(p).isFile()) continue;
      if (isElf(p)) return p;
      script ??= p;
    } catch {
      // Not here.
    }
  }
  return script;
}

function isElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const h = Buffer.alloc(4);
    return readSync(fd, h, 0, 4, 0) === 4 && h.readUInt32BE(0) === 0x7f454c46;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The absolute path of a binary: a path as given (relative ones from the working directory),
 * a library name through the linker cache, or a program name through PATH.
 */
export function resolveBinary(pathOrName: string): string {
  if (isAbsolute(pathOrName) || pathOrName.startsWith('./') || pathOrName.startsWith('../')) {
    const p = resolve(pathOrName);
    if (!existsSync(p)) throw new TargetNotFoundError('file', p);
    return p;
  }
  if (pathOrName.includes('/')) throw new TargetNotFoundError('file', pathOrName, 'give an absolute path');
  if (!pathOrName.includes('.so') && !pathOrName.startsWith('lib')) {
    const p = onPath(pathOrName);
    if (p) return p;
  }
  return resolveLibrary(pathOrName);
}

const FUNCTION_TYPES = new Set<number>([STT.FUNC, STT.GNU_IFUNC]);

function findSymbol(elf: ElfFile, name: string): ElfSymbol | undefined {
  const match = (s: ElfSymbol): boolean =>
    (s.name === name || s.name.split('@')[0] === name) && s.sectionIndex !== SHN.UNDEF && FUNCTION_TYPES.has(s.type) && s.value !== 0n;
  return elf.symbols().find(match) ?? elf.dynamicSymbols().find(match);
}

/** The file offset of a virtual address, through the PT_LOAD segment that maps it. */
export function addressToOffset(elf: ElfFile, address: bigint): number | undefined {
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT.LOAD) continue;
    if (address >= ph.vaddr && address < ph.vaddr + BigInt(ph.memsz)) return Number(address - ph.vaddr) + ph.offset;
  }
  // Files without program headers: the section holding the address.
  for (const s of elf.sections) {
    if (s.addr !== 0n && address >= s.addr && address < s.addr + BigInt(s.size)) return Number(address - s.addr) + s.offset;
  }
  return undefined;
}

const parsed = new Map<string, { mtimeMs: number; elf: ElfFile }>();

/** Refuses a file without the ELF magic, saying what it is when it is a script. */
function notElf(path: string, bytes: Uint8Array): void {
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) return;
  if (bytes[0] === 0x23 && bytes[1] === 0x21) {
    const end = bytes.indexOf(0x0a);
    const line = Buffer.from(bytes.subarray(0, end < 0 ? Math.min(bytes.length, 128) : Math.min(end, 128))).toString('utf8');
    throw new FileError('ENOEXEC', path, `is a script (${line.trim()}), not an ELF binary; give the program it runs`);
  }
  throw new FileError('ENOEXEC', path, 'is not an ELF file');
}

/** The parsed ELF file at `path`, kept while the file is unchanged. */
export function elfOf(path: string): ElfFile {
  const st = statSync(path);
  const hit = parsed.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.elf;
  const bytes = readRegularFile(path);
  notElf(path, bytes);
  const elf = parseElf(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  parsed.set(path, { mtimeMs: st.mtimeMs, elf });
  return elf;
}

/** The file offset of a function symbol in an ELF file (from .symtab, else .dynsym). */
export function symbolOffset(path: string, symbol: string): number {
  let elf: ElfFile;
  try {
    elf = elfOf(path);
  } catch (err) {
    if (err instanceof ElfError) throw new TargetNotFoundError('symbol', `${symbol} in ${path}`, `not an ELF file: ${err.message}`, { cause: err });
    if (err instanceof FileError && err.code === 'ENOEXEC') throw new TargetNotFoundError('symbol', `${symbol} in ${path}`, err.reason, { cause: err });
    throw err;
  }
  const sym = findSymbol(elf, symbol);
  if (!sym) throw new TargetNotFoundError('symbol', `${symbol} in ${path}`);
  const off = addressToOffset(elf, sym.value);
  if (off === undefined) throw new TargetNotFoundError('symbol', `${symbol} in ${path}`, `address 0x${sym.value.toString(16)} is in no loadable segment`);
  return off;
}
