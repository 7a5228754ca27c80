// How a command line reaches its command, in one module because `--help` and every usage error
// load it (each module more costs start-up about half a millisecond of CPU on Node 20): the
// command by unique prefix, its verb by name, alias or unique prefix (from the help module
// alone), `--help` at every level without loading the command, then the command, with its
// failures (`tsbpf <command> <verb>: reason [CODE]`, exit 1) and usage errors (exit 2, and where
// the help is) printed in one format.
import type { Command, CommandEntry, CommandIO, HelpModule } from './command.js';

export const HELP_FLAGS: ReadonlySet<string> = new Set(['-h', '--help', 'help']);

/** The verb named exactly, by another name, or by a unique prefix. */
export function findVerb(help: HelpModule, word: string): string | { error: string } {
  const verbs = Object.keys(help.verbs ?? {});
  if (verbs.includes(word)) return word;
  const alias = help.aliases?.[word];
  if (alias !== undefined) return alias;
  const matches = verbs.filter((v) => v.startsWith(word));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) return { error: `'${word}' is ambiguous: ${matches.join(', ')}` };
  return { error: `unknown verb '${word}' (${verbs.join(', ')})` };
}

/** Whether the arguments ask for help (`-h` or `--help` before any `--`). */
export function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '-h' || a === '--help') return true;
  }
  return false;
}

/** Writes help text, ending in one newline. */
export function writeHelp(out: NodeJS.WritableStream, text: string): void {
  out.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function oneLine(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
}

/**
 * The one prefix of every error line, failures and usage errors alike: `tsbpf <command> <verb>:`
 * as far as they are known. A message that starts with (part of) that context does not repeat it;
 * one that names a verb the dispatcher did not resolve (`xdp-filter stats: ...`) keeps the verb.
 */
function errorLine(context: string | undefined, message: string): { line: string; where: string } {
  let text = oneLine(message).replace(/^tsbpf:? /, '');
  if (context === undefined) return { line: `tsbpf: ${text}`, where: 'tsbpf' };
  const words = context.split(' ');
  for (let n = words.length; n > 0; n--) {
    const prefix = `${words.slice(0, n).join(' ')}: `;
    if (text.startsWith(prefix)) {
      text = text.slice(prefix.length);
      break;
    }
  }
  const where = `tsbpf ${context}`;
  const verb = words.length === 1 ? new RegExp(`^${context} ([a-z-]+): `).exec(text) : null;
  if (verb !== null) return { line: `tsbpf ${context} ${verb[1]}: ${text.slice(verb[0].length)}`, where };
  return { line: `tsbpf ${context}: ${text}`, where };
}

/** Prints a usage error in one line, then where to read more; returns exit code 2. */
export function reportUsage(io: CommandIO, context: string | undefined, message: string): number {
  const { line, where } = errorLine(context, message);
  io.stderr.write(`${line}\nsee ${where} --help\n`);
  return 2;
}

/** Prints a failure in one line, with its code; returns exit code 1. */
export function reportFailure(io: CommandIO, context: string | undefined, err: unknown): number {
  let { line } = errorLine(context, messageOf(err));
  const code = codeOf(err);
  if (code !== undefined && !line.includes(`[${code}]`)) line += ` [${code}]`;
  io.stderr.write(`${line}\n`);
  if (process.env.TSBPF_DEBUG === '1' && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  return 1;
}

/** The code of a TsbpfError (an errno name or a tsbpf code) or of a Node system error. */
function codeOf(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** A UsageError (code EUSAGE) or one of parseArgs' own errors. */
export function isUsageError(err: unknown): boolean {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && (code === 'EUSAGE' || code.startsWith('ERR_PARSE_ARGS'));
}

/** The command named exactly, or the only one the word is a prefix of. */
function findCommand(table: readonly CommandEntry[], word: string): CommandEntry | undefined {
  const exact = table.find((c) => c.name === word);
  if (exact) return exact;
  const matches = table.filter((c) => c.name.startsWith(word));
  return matches.length === 1 ? matches[0] : undefined;
}

/** Runs `<first> <rest...>` from the table and returns the exit code (0, 1 or 2). */
export async function dispatch(table: readonly CommandEntry[], [first, ...rest]: readonly string[], io: CommandIO): Promise<number> {
  if (first === undefined || first.startsWith('-')) return reportUsage(io, undefined, `unknown option '${first ?? ''}'`);
  const entry = findCommand(table, first);
  if (entry === undefined) return reportUsage(io, undefined, `unknown command '${first}'`);
  let context = entry.name;
  let args = rest;

  if (entry.help !== undefined) {
    let help: HelpModule;
    try {
      help = await entry.help();
    } catch (err) {
      return reportFailure(io, context, err);
    }
    const [verb, ...verbArgs] = args;
    if (verb === undefined) {
      // Nothing to do: what there is to do, as a usage error.
      writeHelp(io.stderr, help.HELP);
      return 2;
    }
    if (help.verbs !== undefined) {
      if (HELP_FLAGS.has(verb)) {
        writeHelp(io.stdout, help.HELP);
        return 0;
      }
      if (verb.startsWith('-')) return reportUsage(io, context, `expected a verb (${Object.keys(help.verbs).join(', ')}) before '${verb}'`);
      const name = findVerb(help, verb);
      if (typeof name !== 'string') return reportUsage(io, context, name.error);
      context = `${entry.name} ${name}`;
      if (asksForHelp(verbArgs)) {
        writeHelp(io.stdout, help.verbs[name] ?? help.HELP);
        return 0;
      }
      args = [name, ...verbArgs];
    } else if (asksForHelp(args) || (args.length === 1 && verb === 'help')) {
      writeHelp(io.stdout, help.HELP);
      return 0;
    }
  }

  let command: Command;
  let onFilesystemMounted: typeof import('../../sys/mounts.js').onFilesystemMounted;
  try {
    command = (await entry.load()).command;
    // Loaded with the command, not before: help and usage errors pay for no library module.
    ({ onFilesystemMounted } = await import('../../sys/mounts.js'));
  } catch (err) {
    return reportFailure(io, context, err);
  }
  if (args.length === 1 && HELP_FLAGS.has(args[0]!)) {
    writeHelp(io.stdout, command.help);
    return 0;
  }
  // A filesystem mounted on the user's behalf (bpffs for a pin, tracefs for a hook) is said once.
  const stopListening = onFilesystemMounted((fstype, target) => io.stderr.write(`tsbpf: mounted ${fstype} at ${target}, where none was mounted\n`));
  try {
    return await command.run(args, io);
  } catch (err) {
    if (isUsageError(err)) return reportUsage(io, context, messageOf(err));
    return reportFailure(io, context, err);
  } finally {
    stopListening();
  }
}
