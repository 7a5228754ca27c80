// `tsbpf gen`: compile BPF C and generate a typed TypeScript module for it (bpf2go for TypeScript).
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { CompileError } from '../codegen/errors.js';
import { generateModule } from '../codegen/generate.js';
import { pascalCase } from '../codegen/names.js';
import { compileFile } from '../codegen/toolchain.js';
import { parse, printHelp, plural, UsageError, writeJson, type Command, type CommandIO } from './framework/index.js';
import { HELP } from './help/gen.js';
import { requireOutputDir, writeOutputs } from './output.js';

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
  requireOutputDir(values.out === undefined ? 'the source directory' : '--out', outDir);

  if (values.vmlinux !== undefined && (!existsSync(values.vmlinux) || !statSync(values.vmlinux).isFile())) throw new UsageError(`gen: --vmlinux ${values.vmlinux}: no such file`);
  const result = await generate({ name, source, outDir, types: values.type ?? [], runtime: values.runtime, vmlinux: values.vmlinux, embed: values.embed ? true : values['no-embed'] ? false : undefined, cflags, commandLine: ['tsbpf', 'gen', ...argv].map(shellQuote).join(' ') }, io);
  if (result === undefined) return 1;
  if (values.json) writeJson(io.stdout, { object: result.objectPath, module: result.modulePath, loader: `load${pascalCase(name)}`, bytes: result.objectBytes });
  else io.stdout.write(`wrote ${result.objectPath} (${plural(result.objectBytes, 'byte')}) and ${result.modulePath}\n`);
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
  const objectPath = join(req.outDir, objectFile);
  const modulePath = join(req.outDir, `${req.name}_bpf.ts`);
  writeOutputs([
    { path: objectPath, data: compiled.object },
    { path: modulePath, data: text },
  ]);
  return { objectPath: relative(process.cwd(), objectPath) || objectPath, modulePath: relative(process.cwd(), modulePath) || modulePath, objectBytes: compiled.object.length };
}

export const command: Command = {
  name: 'gen',
  summary: 'compile BPF C and generate a typed TypeScript module for it',
  help: HELP,
  run,
};
