// The contract between `tsbpf` and its subcommands, and the shared output conventions.
import { TsbpfError } from '../errors.js';

/** A usage error: printed with the command's help hint, exit code 2. */
export class UsageError extends TsbpfError {
  constructor(message: string) {
    super('EUSAGE', message);
  }
}

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

/**
 * A subcommand module (`src/cli/<name>.ts`) exports `command: Command`. `run` receives the
 * arguments after the subcommand's name and returns the exit code.
 */
export interface Command {
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full help text, printed for `--help`. */
  readonly help: string;
  run(argv: string[], io: CommandIO): Promise<number>;
}

/** Writes one JSON document (or one JSON line) with bigints as numbers when safe, else strings. */
export function writeJson(out: NodeJS.WritableStream, value: unknown, pretty = false): void {
  out.write(`${JSON.stringify(value, jsonReplacer, pretty ? 2 : undefined)}\n`);
}

export function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

/** Renders rows as an aligned text table. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** `1 program`, `2 programs`: a count and its noun (plural given when not noun + 's'). */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : pluralNoun}`;
}
