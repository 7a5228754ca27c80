// `tsbpf compile`: compile BPF C with the system clang the way `tsbpf gen` does, object only.
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CompileError } from '../codegen/errors.js';
import { compileFile } from '../codegen/toolchain.js';
import { parse, printHelp, UsageError, type Command, type CommandIO } from './framework/index.js';
import { HELP } from './help/compile.js';
import { requireOutputFile, writeOutputs } from './output.js';

async function run(argv: string[], io: CommandIO): Promise<number> {
  const dashes = argv.indexOf('--');
  const own = dashes < 0 ? argv : argv.slice(0, dashes);
  const cflags = dashes < 0 ? [] : argv.slice(dashes + 1);
  const { values, positionals } = parse('compile', own, {
    out: { type: 'string', short: 'o' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return printHelp(io, HELP);
  if (positionals.length !== 1) throw new UsageError(`compile: expected one <src.bpf.c>, got ${positionals.length}`);
  const source = positionals[0]!;
  if (values.out === undefined) throw new UsageError('compile: -o <out.o> is required');
  if (!existsSync(source) || !statSync(source).isFile()) throw new UsageError(`compile: no such source file: ${source}`);
  requireOutputFile('-o', values.out);
  let object: Uint8Array;
  try {
    const r = await compileFile(source, { cflags, cacheFrom: dirname(values.out) });
    if (r.warnings.trim() !== '') io.stderr.write(r.warnings.endsWith('\n') ? r.warnings : `${r.warnings}\n`);
    object = r.object;
  } catch (err) {
    if (!(err instanceof CompileError)) throw err;
    if (err.diagnostics !== '') io.stderr.write(`${err.diagnostics}\n`);
    io.stderr.write(`tsbpf compile: ${source}: compilation failed; nothing was written\n`);
    return 1;
  }
  writeOutputs([{ path: values.out, data: object }]);
  return 0;
}

export const command: Command = {
  name: 'compile',
  summary: 'compile BPF C to an object with BTF (clang, as tsbpf gen does)',
  help: HELP,
  run,
};
