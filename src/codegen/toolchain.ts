// Compiling BPF C with the system's clang: finding the tools, the flags, vmlinux.h, diagnostics.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { formatC } from '../btf/format-c.js';
import { KERNEL_BTF_DIR } from '../btf/kernel.js';
import { parseBtf } from '../btf/parse.js';
import { CompileError, GenError } from './errors.js';

/** What to install on Debian and Ubuntu for everything compiling needs. */
export const INSTALL_HINT = 'apt-get install clang-19 llvm-19 libbpf-dev';

const CLANG_CANDIDATES = ['clang-19', 'clang'];
const STRIP_CANDIDATES = ['llvm-strip-19', 'llvm-strip'];
/** Where libbpf-dev puts bpf_helpers.h and friends (included as <bpf/...>). */
const LIBBPF_INCLUDE = '/usr/include';

export interface CompileOptions {
  /** Extra clang flags, after the defaults (e.g. `-DDEBUG`, `-Wall`). */
  readonly cflags?: readonly string[];
  /** Directories searched for includes before the defaults. */
  readonly includeDirs?: readonly string[];
  /**
   * Where a generated vmlinux.h is kept. Default: `node_modules/.cache/tsbpf` of the nearest
   * package above `cacheFrom`, else `.tsbpf` in `cacheFrom`.
   */
  readonly cacheDir?: string;
  /** The directory the cache is looked for from (default: the source's directory). */
  readonly cacheFrom?: string;
  /** The kernel BTF a generated vmlinux.h describes. Default /sys/kernel/btf/vmlinux. */
  readonly kernelBtf?: string;
  /**
   * The vmlinux.h a source including "vmlinux.h" gets, for objects that do not depend on the
   * kernel of the machine that builds them. Without it, one on the include path or beside the
   * source is used, and only otherwise one is generated from `kernelBtf`.
   */
  readonly vmlinuxHeader?: string;
  /** clang (default: the first of clang-19, clang on PATH, or $TSBPF_CLANG). */
  readonly clang?: string;
  /** llvm-strip (default: the first of llvm-strip-19, llvm-strip on PATH, or $TSBPF_STRIP). */
  readonly strip?: string;
  /** How diagnostics name the source, when it is a temporary file standing in for it. */
  readonly diagnosticName?: string;
}

export interface CompileResult {
  /** The object, with DWARF stripped and BTF kept. */
  readonly object: Uint8Array;
  /** The clang command line that compiled it (tool name, not path). */
  readonly command: readonly string[];
  /** Warnings clang printed. */
  readonly warnings: string;
  /**
   * Set when the source's vmlinux.h was generated from the running kernel's BTF (none was
   * given, on the include path or beside the source): the header used and the BTF it came from.
   */
  readonly generatedVmlinux?: { readonly header: string; readonly btf: string };
}

/** Finds an executable on PATH. */
export function findExecutable(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findTool(what: string, explicit: string | undefined, env: string, candidates: readonly string[]): string {
  const wanted = explicit ?? process.env[env];
  if (wanted !== undefined && wanted !== '') {
    const found = findExecutable(wanted);
    if (found === undefined) throw new GenError(`${what} '${wanted}' (from ${explicit !== undefined ? 'the options' : `$${env}`}) is not an executable`, 'ENOENT');
    return found;
  }
  for (const c of candidates) {
    const found = findExecutable(c);
    if (found !== undefined) return found;
  }
  throw new GenError(`${what} not found (tried ${candidates.join(', ')} on PATH): install it with \`${INSTALL_HINT}\`, or name it with $${env}`, 'ENOENT');
}

/** The clang to compile BPF C with. */
export function findClang(explicit?: string): string {
  return findTool('clang', explicit, 'TSBPF_CLANG', CLANG_CANDIDATES);
}

/** The llvm-strip that removes DWARF and keeps BTF. */
export function findStrip(explicit?: string): string {
  return findTool('llvm-strip', explicit, 'TSBPF_STRIP', STRIP_CANDIDATES);
}

/** `__TARGET_ARCH_<arch>` as libbpf's bpf_tracing.h spells the host architecture. */
export function targetArch(arch: string = process.arch): string {
  const table: Record<string, string> = {
    x64: 'x86',
    ia32: 'x86',
    arm64: 'arm64',
    arm: 'arm',
    s390x: 's390',
    ppc64: 'powerpc',
    riscv64: 'riscv',
    loong64: 'loongarch',
    mips: 'mips',
    mipsel: 'mips',
  };
  const a = table[arch];
  if (a === undefined) throw new GenError(`no BPF target architecture known for ${arch}`);
  return a;
}

/** The Debian multiarch include directory (`/usr/include/x86_64-linux-gnu`) for asm/ headers. */
export function multiarchInclude(arch: string = process.arch): string | undefined {
  const table: Record<string, string> = {
    x64: 'x86_64-linux-gnu',
    ia32: 'i386-linux-gnu',
    arm64: 'aarch64-linux-gnu',
    arm: 'arm-linux-gnueabihf',
    s390x: 's390x-linux-gnu',
    ppc64: 'powerpc64le-linux-gnu',
    riscv64: 'riscv64-linux-gnu',
    loong64: 'loongarch64-linux-gnu',
  };
  const t = table[arch];
  if (t === undefined) return undefined;
  const dir = `/usr/include/${t}`;
  return existsSync(dir) ? dir : undefined;
}

const INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*[<"]([^>"]+)[>"]/gm;

/** The headers a source includes, as written. */
export function includedHeaders(source: string): string[] {
  return [...source.matchAll(INCLUDE_RE)].map((m) => m[1]!);
}

/** The flags with relative include directories made absolute against `base` (the source's directory). */
function absoluteIncludes(flags: readonly string[], base: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if ((f === '-I' || f === '-isystem' || f === '-iquote') && flags[i + 1] !== undefined) out.push(f, resolve(base, flags[++i]!));
    else if (f.startsWith('-I') && f.length > 2) out.push(`-I${resolve(base, f.slice(2))}`);
    else out.push(f);
  }
  return out;
}

function includeDirsOf(flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (f === '-I' || f === '-isystem' || f === '-iquote') {
      if (flags[i + 1] !== undefined) out.push(flags[++i]!);
    } else if (f.startsWith('-I')) {
      out.push(f.slice(2));
    }
  }
  return out;
}

/** The cache directory for generated headers. */
export function cacheDirFor(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'tsbpf');
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'node_modules', '.cache', 'tsbpf');
    if (dirname(dir) === dir) break;
  }
  return join(resolve(from), '.tsbpf');
}

/**
 * A directory holding a vmlinux.h for the kernel BTF at `btfPath`, generated with the BTF C
 * formatter on first use and kept under `cacheDir`, keyed by the BTF's hash.
 */
export function vmlinuxHeaderDir(cacheDir: string, btfPath = join(KERNEL_BTF_DIR, 'vmlinux')): string {
  let raw: Uint8Array;
  try {
    raw = readFileSync(btfPath);
  } catch (err) {
    throw new GenError(`the source includes vmlinux.h, and none was found on the include path; generating one needs ${btfPath}, which cannot be read (${(err as Error).message}). Put a vmlinux.h (\`bpftool btf dump file /sys/kernel/btf/vmlinux format c\`) beside the source.`, 'ENOENT');
  }
  const key = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  const dir = join(cacheDir, `vmlinux-${key}`);
  const header = join(dir, 'vmlinux.h');
  if (existsSync(header)) return dir;
  mkdirSync(dir, { recursive: true });
  const text = formatC(parseBtf(raw, { section: btfPath }));
  const tmp = `${header}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, header);
  return dir;
}

function run(cmd: string, args: readonly string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    // PWD too: LLVM takes it for the working directory when it names the same directory.
    const env = cwd !== undefined ? { ...process.env, PWD: cwd } : process.env;
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) return resolvePromise({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      if (typeof e.code === 'number') return resolvePromise({ code: e.code, stdout, stderr });
      reject(new GenError(`${cmd}: ${e.message}`, typeof e.code === 'string' ? e.code : 'EIO', { cause: err }));
    });
  });
}

/**
 * Compiles a BPF C file the way `tsbpf gen` does: clang -target bpfel -O2 -g, the host's
 * __TARGET_ARCH_*, includes from the source's directory, libbpf and the multiarch directory (and
 * a generated vmlinux.h when the source needs one), then DWARF stripped with BTF kept.
 * A source clang rejects gives a CompileError with clang's diagnostics.
 */
export async function compileFile(sourcePath: string, options: CompileOptions = {}): Promise<CompileResult> {
  const clang = findClang(options.clang);
  const strip = findStrip(options.strip);
  let source: string;
  try {
    source = readFileSync(sourcePath, 'utf8');
  } catch (err) {
    throw new GenError(`cannot read ${sourcePath}: ${(err as Error).message}`, 'ENOENT', { cause: err });
  }
  const srcDir = dirname(resolve(sourcePath));
  const cflags = options.cflags ?? [];
  const userDirs = [...(options.includeDirs ?? []), ...includeDirsOf(cflags)];
  const searched = [...userDirs.map((d) => resolve(d)), srcDir];
  const headers = includedHeaders(source);

  if (headers.some((h) => h.startsWith('bpf/')) && !existsSync(join(LIBBPF_INCLUDE, 'bpf', 'bpf_helpers.h')) && !searched.some((d) => existsSync(join(d, 'bpf', 'bpf_helpers.h')))) {
    throw new GenError(`${sourcePath} includes libbpf's headers (<bpf/...>), which are not installed: install them with \`${INSTALL_HINT}\``, 'ENOENT');
  }
  const dirs = [...(options.includeDirs ?? []).map((d) => `-I${resolve(d)}`)];
  let vmlinux: string | undefined;
  let generatedVmlinux: CompileResult['generatedVmlinux'];
  if (headers.includes('vmlinux.h') && options.vmlinuxHeader !== undefined) {
    vmlinux = options.vmlinuxHeader;
    dirs.unshift('-Iinclude');
  } else if (headers.includes('vmlinux.h') && !searched.some((d) => existsSync(join(d, 'vmlinux.h')))) {
    const cacheDir = options.cacheDir ?? cacheDirFor(options.cacheFrom ?? srcDir);
    const btf = options.kernelBtf ?? join(KERNEL_BTF_DIR, 'vmlinux');
    vmlinux = join(vmlinuxHeaderDir(cacheDir, btf), 'vmlinux.h');
    generatedVmlinux = { header: vmlinux, btf };
    dirs.push('-Iinclude');
  }
  // Headers the copy does not have (in subdirectories, or above the source's directory) are
  // found where they are.
  dirs.push('-I.', `-I${srcDir}`, `-I${LIBBPF_INCLUDE}`);
  const multiarch = multiarchInclude();
  if (multiarch !== undefined) dirs.push(`-I${multiarch}`);

  // clang orders some BTF (forward declarations) by where its allocations land, which moves with
  // the length of the working directory's path. So clang runs on a copy of the source and the
  // headers beside it, in a directory whose path has the same length on every machine
  // (/tmp/tsbpf-cc-XXXXXX), mapped away in the object's line info: the same object wherever
  // the tree is checked out.
  const work = mkdtempSync(join(existsSync('/tmp') ? '/tmp' : tmpdir(), 'tsbpf-cc-'));
  try {
    copyFileSync(sourcePath, join(work, basename(sourcePath)));
    for (const f of readdirSync(srcDir, { withFileTypes: true })) {
      if (f.isFile() && f.name.endsWith('.h')) copyFileSync(join(srcDir, f.name), join(work, f.name));
    }
    if (vmlinux !== undefined) {
      mkdirSync(join(work, 'include'));
      try {
        copyFileSync(vmlinux, join(work, 'include', 'vmlinux.h'));
      } catch (err) {
        throw new GenError(`cannot read the vmlinux.h given (${vmlinux}): ${(err as Error).message}`, (err as NodeJS.ErrnoException).code ?? 'ENOENT', { cause: err });
      }
    }
    const args = [
      '-target',
      'bpfel',
      '-O2',
      '-g',
      `-D__TARGET_ARCH_${targetArch()}`,
      `-fdebug-prefix-map=${work}=.`,
      ...dirs,
      ...absoluteIncludes(cflags, srcDir),
      '-c',
      basename(sourcePath),
      '-o',
      'out.o',
    ];
    const out = join(work, 'out.o');
    const cc = await run(clang, args, work);
    // clang names the file as it was given (its base name); diagnostics show the caller's name for it.
    const shown = options.diagnosticName ?? sourcePath;
    const base = basename(sourcePath).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const rename = (text: string): string => text.replace(new RegExp(`(^|\\n|In file included from )${base}:`, 'g'), (_m, pre: string) => `${pre}${shown}:`);
    if (cc.code !== 0) throw new CompileError(options.diagnosticName ?? sourcePath, rename(cc.stderr));
    // clang succeeds without output when the input is no source it compiles (an object, say).
    if (!existsSync(out)) throw new CompileError(shown, `clang produced no object from ${shown}: is it C source?`);
    const st = await run(strip, ['-g', out]);
    if (st.code !== 0) throw new GenError(`llvm-strip -g ${sourcePath}: ${st.stderr.trim()}`, 'EIO');
    return {
      object: new Uint8Array(readFileSync(out)),
      command: ['clang', ...args.map((a) => (a === 'out.o' ? '<out>' : a.startsWith(`-fdebug-prefix-map=${work}=`) ? '-fdebug-prefix-map=<work>=.' : a))],
      warnings: rename(cc.stderr),
      ...(generatedVmlinux !== undefined ? { generatedVmlinux } : {}),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
