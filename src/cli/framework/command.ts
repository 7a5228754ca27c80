// The contract between `tsbpf` and its subcommands, and the shared output conventions.
import { TsbpfError } from '../../errors.js';
import { asksForHelp, findVerb, HELP_FLAGS, writeHelp } from './dispatch.js';

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

/** A verb's implementation: the arguments after the verb's name; returns the exit code. */
export type Verb = (argv: string[], io: CommandIO) => number | Promise<number>;

/**
 * A command's help, kept apart from its implementation (src/cli/help/<name>.ts, a tool's
 * help.ts) so that `--help`, and the check of the verb, load no library code.
 */
export interface HelpModule {
  readonly HELP: string;
  /** Each verb and its help; absent for commands without verbs (gen, compile). */
  readonly verbs?: Readonly<Record<string, string>>;
  /** Other names of verbs: `ls` for `list`. */
  readonly aliases?: Readonly<Record<string, string>>;
}

/**
 * A command module exports `command: Command`. `run` receives the arguments after the command's
 * name, throws UsageError (exit 2) and other failures (exit 1), and returns the exit code.
 */
export interface Command {
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full help text, printed for `--help`. */
  readonly help: string;
  run(argv: string[], io: CommandIO): Promise<number>;
}

/** One line of a command table: the command's name, its summary, how to load it and its help. */
export interface CommandEntry {
  readonly name: string;
  /** One line for the top-level help (the module's `command.summary`, checked by a test). */
  readonly summary: string;
  readonly load: () => Promise<{ command: Command }>;
  /** The help alone, so that `--help`, and verb checks, load no library code. */
  readonly help?: () => Promise<HelpModule>;
}

/** A command with verbs: its help module, and what each verb the help names does. */
export interface VerbCommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly help: HelpModule & { readonly verbs: Readonly<Record<string, string>> };
  readonly verbs: Readonly<Record<string, Verb>>;
}

/**
 * The command of a verb table. Its run() finds the verb as `tsbpf` does (name, alias, unique
 * prefix), answers `--help` with the verb's help, and calls the verb: the one dispatch every
 * command with verbs shares.
 */
export function defineCommand(spec: VerbCommandSpec): Command {
  const names = Object.keys(spec.help.verbs);
  const missing = names.filter((v) => spec.verbs[v] === undefined);
  if (missing.length > 0 || names.length !== Object.keys(spec.verbs).length) throw new Error(`${spec.name}: the help and the verb table name different verbs`);
  return {
    name: spec.name,
    summary: spec.summary,
    help: spec.help.HELP,
    async run(argv: string[], io: CommandIO): Promise<number> {
      const [word, ...rest] = argv;
      if (word === undefined) throw new UsageError(`${spec.name}: expected a verb (${names.join(', ')})`);
      if (HELP_FLAGS.has(word)) {
        writeHelp(io.stdout, spec.help.HELP);
        return 0;
      }
      const verb = findVerb(spec.help, word);
      if (typeof verb !== 'string') throw new UsageError(`${spec.name}: ${verb.error}`);
      if (asksForHelp(rest)) {
        writeHelp(io.stdout, spec.help.verbs[verb] ?? spec.help.HELP);
        return 0;
      }
      return spec.verbs[verb]!(rest, io);
    },
  };
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
