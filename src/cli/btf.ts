// `tsbpf btf dump`: the types of a BTF blob as bpftool prints them, or as a C header (vmlinux.h).
import { basename, dirname } from 'node:path';
import type { Btf } from '../btf/btf.js';
import { formatC } from '../btf/format-c.js';
import { formatRaw, formatRawJson } from '../btf/format-raw.js';
import { KERNEL_BTF_DIR, readKernelBtf, readModuleBtf } from '../btf/kernel.js';
import { parseBtf } from '../btf/parse.js';
import { readBtfFile } from '../core/targets.js';
import { TsbpfError } from '../errors.js';
import { FileError, readRegularFile } from '../sys/readfile.js';
import { parse, UsageError, type Command, type CommandIO, defineCommand } from './framework/index.js';
import * as help from './help/btf.js';

/** Reads the BTF named on the command line, resolving module BTF against vmlinux. */
export function readBtfArgument(path: string, base?: string): Btf {
  if (base !== undefined) return parseBtf(readRaw(path), { base: readBtfFile(base), section: path });
  if (dirname(path) === KERNEL_BTF_DIR) {
    const name = basename(path);
    return name === 'vmlinux' ? readKernelBtf() : readModuleBtf(name);
  }
  return readBtfFile(path);
}

function readRaw(path: string): Uint8Array {
  try {
    return readRegularFile(path);
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    throw new TsbpfError(err.code, `cannot read ${path}: ${err.reason}`, { cause: err });
  }
}

async function dump(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('btf dump', argv, {
    file: { type: 'string' },
    base: { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean', short: 'j' },
    help: { type: 'boolean', short: 'h' },
  });
  if (positionals.length > 0) throw new UsageError(`btf dump: unexpected argument '${positionals[0]}'`);
  const format = values.json ? 'json' : (values.format ?? 'raw');
  if (format !== 'raw' && format !== 'c' && format !== 'json') throw new UsageError(`btf dump: unknown format '${format}' (raw, c or json)`);
  const path = values.file ?? `${KERNEL_BTF_DIR}/vmlinux`;
  let btf: Btf;
  try {
    btf = readBtfArgument(path, values.base);
  } catch (err) {
    if (err instanceof TsbpfError) throw err;
    throw new TsbpfError('EBADBTF', `${path}: ${(err as Error).message}`);
  }
  const text = format === 'c' ? formatC(btf) : format === 'json' ? `${formatRawJson(btf)}\n` : formatRaw(btf);
  await write(io.stdout, text);
  return 0;
}

/** Writes a large text in chunks, waiting for the stream to drain (a 5 MB vmlinux.h to a pipe). */
async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  const chunk = 1 << 20;
  for (let i = 0; i < text.length; i += chunk) {
    if (!out.write(text.slice(i, i + chunk))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
}

export const command: Command = defineCommand({
  name: 'btf',
  summary: 'dump BTF type information (raw, JSON, or as a C header)',
  help,
  verbs: { dump },
});
