#!/usr/bin/env node
// `npm run build:bpf`: compiles the BPF C of the test corpus (test/bpf/**.bpf.c) and of the tools
// (src/tools/<tool>/*.bpf.c) into .bpf.o files next to their sources, with BTF and without DWARF.
//
// vmlinux.h is generated into build/bpf/ from the running kernel's BTF (or --btf PATH) with
// tsbpf's own C formatter (from dist/, or from src/ when run under tsx), else (or with --bpftool)
// with bpftool. It is never committed. Exits non-zero when any source fails to compile.
//
//   node scripts/build-bpf.mjs [--btf PATH] [--bpftool] [--only SUBSTRING] [--keep-dwarf] [--verbose]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build', 'bpf');

function parseArgs(argv) {
  const opts = { btf: '/sys/kernel/btf/vmlinux', only: undefined, keepDwarf: false, verbose: false, bpftool: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--btf') opts.btf = argv[++i];
    else if (a === '--only') opts.only = argv[++i];
    else if (a === '--keep-dwarf') opts.keepDwarf = true;
    else if (a === '--bpftool') opts.bpftool = true;
    else if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node scripts/build-bpf.mjs [--btf PATH] [--bpftool] [--only SUBSTRING] [--keep-dwarf] [--verbose]\n');
      process.exit(0);
    } else {
      process.stderr.write(`build-bpf: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return opts;
}

/** The first of the candidate commands that runs. */
function findTool(envName, candidates) {
  const fromEnv = process.env[envName];
  for (const c of fromEnv ? [fromEnv] : candidates) {
    const r = spawnSync(c, ['--version'], { stdio: 'ignore' });
    if (r.status === 0) return c;
  }
  return undefined;
}

function multiarchInclude() {
  try {
    const triple = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
    if (existsSync(`/usr/include/${triple}`)) return `/usr/include/${triple}`;
  } catch {
    // No gcc: fall through to the common Debian path.
  }
  return existsSync('/usr/include/x86_64-linux-gnu') ? '/usr/include/x86_64-linux-gnu' : undefined;
}

/**
 * tsbpf's BTF module: the compiled one in dist/, or the TypeScript source when this script runs
 * under tsx (`npx tsx scripts/build-bpf.mjs`). Undefined when neither can be imported.
 */
async function tsbpfBtf() {
  const candidates = [join(root, 'dist', 'src', 'btf', 'index.js'), join(root, 'src', 'btf', 'index.ts')];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      const mod = await import(pathToFileURL(path).href);
      if (typeof mod.formatC === 'function' && typeof mod.readKernelBtf === 'function') return mod;
    } catch {
      // Not importable here (TypeScript without tsx): try the next.
    }
  }
  return undefined;
}

/** vmlinux.h from tsbpf's C formatter, else from bpftool. */
async function generateVmlinuxH(btfPath, out, useBpftool) {
  const btf = useBpftool ? undefined : await tsbpfBtf();
  if (btf !== undefined) {
    writeFileSync(out, btf.formatC(btf.readKernelBtf(btfPath)));
    return 'tsbpf formatC';
  }
  const bpftool = findTool('BPFTOOL', ['bpftool']);
  if (!bpftool) throw new Error('cannot generate vmlinux.h: build tsbpf (npm run build), run under tsx, or install bpftool');
  const text = execFileSync(bpftool, ['btf', 'dump', 'file', btfPath, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  writeFileSync(out, text);
  return 'bpftool';
}

function sources() {
  const out = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.bpf.c')) out.push(p);
    }
  };
  walk(join(root, 'test', 'bpf'));
  const tools = join(root, 'src', 'tools');
  if (existsSync(tools)) for (const t of readdirSync(tools).sort()) walk(join(tools, t));
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const clang = findTool('CLANG', ['clang-19', 'clang']);
  const strip = findTool('LLVM_STRIP', ['llvm-strip-19', 'llvm-strip', '/usr/lib/llvm-19/bin/llvm-strip']);
  if (!clang) throw new Error('clang not found (set CLANG=...)');
  if (!strip && !opts.keepDwarf) throw new Error('llvm-strip not found (set LLVM_STRIP=...)');
  mkdirSync(buildDir, { recursive: true });
  const vmlinuxH = join(buildDir, 'vmlinux.h');
  const how = await generateVmlinuxH(opts.btf, vmlinuxH, opts.bpftool);
  process.stdout.write(`vmlinux.h from ${opts.btf} (${how})\n`);

  const arch = multiarchInclude();
  const failures = [];
  let built = 0;
  for (const src of sources()) {
    if (opts.only && !relative(root, src).includes(opts.only)) continue;
    const dir = dirname(src);
    const out = src.replace(/\.c$/, '.o');
    const tmp = `${out}.tmp`;
    // Compiling from the source's directory with its bare name, and mapping that directory
    // away, keeps build paths out of the object: line info names the file as `maps.bpf.c`.
    const args = ['-target', 'bpf', '-O2', '-g', '-D__TARGET_ARCH_x86', '-Wall', '-Wno-unused-function', `-fdebug-prefix-map=${dir}=`, `-I${relative(dir, buildDir)}`];
    if (arch) args.push(`-I${arch}`);
    args.push('-c', basename(src), '-o', tmp);
    const r = spawnSync(clang, args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) {
      failures.push(relative(root, src));
      process.stderr.write(`FAIL ${relative(root, src)}\n${r.stderr}`);
      continue;
    }
    if (opts.verbose && r.stderr) process.stderr.write(r.stderr);
    if (!opts.keepDwarf) {
      const s = spawnSync(strip, ['-g', tmp], { encoding: 'utf8' });
      if (s.status !== 0) {
        failures.push(relative(root, src));
        process.stderr.write(`FAIL strip ${relative(root, tmp)}\n${s.stderr}`);
        continue;
      }
    }
    renameSync(tmp, out);
    built++;
    process.stdout.write(`  ${relative(root, out)}\n`);
  }
  process.stdout.write(`${built} object(s) built, ${failures.length} failed\n`);
  if (failures.length > 0) process.exit(1);
}

main().catch((err) => {
  process.stderr.write(`build-bpf: ${err.message}\n`);
  process.exit(1);
});
