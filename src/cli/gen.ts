// `tsbpf gen`: compile BPF C and generate a typed TypeScript module for it (bpf2go for TypeScript).
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { CompileError } from '../codegen/errors.js';
import { DEFAULT_RUNTIME, EMBED_LIMIT, generateModule } from '../codegen/generate.js';
import { pascalCase } from '../codegen/names.js';
import { compileFile } from '../codegen/toolchain.js';
import { parse, printHelp } from './args.js';
import { UsageError, writeJson, type Command, type CommandIO } from './command.js';

const HELP = `Usage: tsbpf gen <name> <src.bpf.c> [options] [-- clang flags]

Compiles BPF C with clang and writes, into the output directory:
  <name>.bpf.o   the object (BTF kept, DWARF stripped)
  <name>.ts      a typed module: load<Name>(options) returning the loaded object with typed
                 maps, programs, globals (.data/.bss), config (.rodata) and buffer readers

clang runs with -target bpfel -O2 -g -D__TARGET_ARCH_<arch>, includes from the source's
directory, libbpf's headers and /usr/include/<multiarch>. A source that includes "vmlinux.h"
uses the one given with --vmlinux, else one on the include path or beside the source, and only
otherwise one generated from the running kernel's BTF (/sys/kernel/btf/vmlinux, cached in
node_modules/.cache/tsbpf; said on stderr): the object then depends on the machine that built
it. Flags after -- go to clang (-I, -D, -W...).

Options:
  -o, --out <dir>       where to write (default: the source's directory)
  -t, --type <type>     also generate this struct, union, enum or typedef (repeatable);
                        TYPE:MAP also types the records of ring/perf buffer map MAP (a lone
                        --type binds to the object's only ring or perf buffer by itself)
      --vmlinux <file>  the vmlinux.h the source includes (commit one, for objects that
                        build the same on every machine)
      --runtime <spec>  the module generated code imports its support from, as written in
                        the import (default '${DEFAULT_RUNTIME}')
      --embed           embed the object in the module as base64 (default up to ${EMBED_LIMIT / 1024 / 1024} MiB)
      --no-embed        read <name>.bpf.o from beside the module at run time
  -j, --json            print what was written as JSON
  -h, --help            this help

Example:
  tsbpf gen exec_stream exec_stream.bpf.c --type event
  → exec_stream.bpf.o, exec_stream.ts exporting loadExecStream() and interface Event

See docs/gen.md for the generated API and the naming rules.
`;

/** Quotes an argument for the header's command line when the shell would need it. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_./:=@%+,-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

async function run(argv: string[], io: CommandIO): Promise<number> {
  const dashes = argv.indexOf('--');
  const own = dashes < 0 ? argv : argv.slice(0, dashes);
  const cflags = dashes < 0 ? [] : argv.slice(dashes + 1);
  const { values, positionals } = parse('gen', own, {
    out: { type: 'string', short: 'o' },
    type: { type: 'string', short: 't', multiple: true },
    runtime: { type: 'string' },
    vmlinux: { type: 'string' },
    embed: { type: 'boolean' },
    'no-embed': { type: 'boolean' },
    json: { type: 'boolean', short: 'j' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return printHelp(io, HELP);
  if (positionals.length !== 2) throw new UsageError(`gen: expected <name> <src.bpf.c>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [name, source] = positionals as [string, string];
  if (!NAME_RE.test(name)) throw new UsageError(`gen: name '${name}' must start with a letter or _ and hold only letters, digits, _ and -`);
  if (values.embed && values['no-embed']) throw new UsageError('gen: --embed and --no-embed contradict each other');
  if (!existsSync(source) || !statSync(source).isFile()) throw new UsageError(`gen: no such source file: ${source}`);
  const outDir = values.out ?? dirname(source);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`gen: --out ${outDir} is not a directory`);

  if (values.vmlinux !== undefined && (!existsSync(values.vmlinux) || !statSync(values.vmlinux).isFile())) throw new UsageError(`gen: --vmlinux ${values.vmlinux}: no such file`);
  const result = await generate({ name, source, outDir, types: values.type ?? [], runtime: values.runtime, vmlinux: values.vmlinux, embed: values.embed ? true : values['no-embed'] ? false : undefined, cflags, commandLine: ['tsbpf', 'gen', ...argv].map(shellQuote).join(' ') }, io);
  if (result === undefined) return 1;
  if (values.json) writeJson(io.stdout, { object: result.objectPath, module: result.modulePath, loader: `load${pascalCase(name)}`, bytes: result.objectBytes });
  else io.stdout.write(`wrote ${result.objectPath} (${result.objectBytes} bytes) and ${result.modulePath}\n`);
  return 0;
}

export interface GenRequest {
  readonly name: string;
  readonly source: string;
  readonly outDir: string;
  readonly types: readonly string[];
  readonly runtime?: string | undefined;
  /** The vmlinux.h to compile with (else one beside the source, else one from this kernel). */
  readonly vmlinux?: string | undefined;
  readonly embed?: boolean | undefined;
  readonly cflags: readonly string[];
  readonly commandLine: string;
}

export interface GenResult {
  readonly objectPath: string;
  readonly modulePath: string;
  readonly objectBytes: number;
}

/**
 * Compiles and generates, writing both files only when everything succeeded (to temporary
 * names first, renamed at the end). A source clang rejects prints clang's diagnostics to
 * stderr and returns undefined; other failures throw.
 */
export async function generate(req: GenRequest, io: CommandIO): Promise<GenResult | undefined> {
  let compiled;
  try {
    compiled = await compileFile(req.source, { cflags: req.cflags, ...(req.vmlinux !== undefined ? { vmlinuxHeader: req.vmlinux } : {}) });
  } catch (err) {
    if (err instanceof CompileError) {
      io.stderr.write(err.diagnostics === '' ? '' : `${err.diagnostics}\n`);
      io.stderr.write(`tsbpf gen: ${req.source}: compilation failed; nothing was written\n`);
      return undefined;
    }
    throw err;
  }
  if (compiled.generatedVmlinux !== undefined) {
    io.stderr.write(
      `tsbpf gen: vmlinux.h generated from this kernel's BTF (${compiled.generatedVmlinux.btf}); the object depends on this machine's kernel build: give --vmlinux FILE or put a vmlinux.h beside the source to build the same object everywhere\n`,
    );
  }
  if (compiled.warnings.trim() !== '') io.stderr.write(compiled.warnings.endsWith('\n') ? compiled.warnings : `${compiled.warnings}\n`);
  const objectFile = `${req.name}.bpf.o`;
  const text = generateModule({
    name: req.name,
    object: compiled.object,
    objectFile,
    types: req.types,
    runtime: req.runtime,
    commandLine: req.commandLine,
    embed: req.embed,
  });
  mkdirSync(req.outDir, { recursive: true });
  const objectPath = join(req.outDir, objectFile);
  const modulePath = join(req.outDir, `${req.name}.ts`);
  const tag = `${process.pid}.tmp`;
  const tmpObject = join(req.outDir, `.${basename(objectPath)}.${tag}`);
  const tmpModule = join(req.outDir, `.${basename(modulePath)}.${tag}`);
  try {
    writeFileSync(tmpObject, compiled.object);
    writeFileSync(tmpModule, text);
    renameSync(tmpObject, objectPath);
    renameSync(tmpModule, modulePath);
  } finally {
    rmSync(tmpObject, { force: true });
    rmSync(tmpModule, { force: true });
  }
  return { objectPath: relative(process.cwd(), objectPath) || objectPath, modulePath: relative(process.cwd(), modulePath) || modulePath, objectBytes: compiled.object.length };
}

export const command: Command = {
  name: 'gen',
  summary: 'compile BPF C and generate a typed TypeScript module for it',
  help: HELP,
  run,
};
