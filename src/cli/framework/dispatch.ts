// Running one command of a command table: the command by unique prefix, its verb by name, alias
// or unique prefix (from the help module alone), `--help` at every level without loading the
// command, then the command itself, with its failures and usage errors reported in one format.
import type { Command, CommandEntry, CommandIO, HelpModule } from './command.js';
import { isUsageError, messageOf, reportFailure as failure, reportUsage as usage } from './report.js';
import { asksForHelp, findVerb, HELP_FLAGS, writeHelp as write } from './verbs.js';

/** The command named exactly, or the only one the word is a prefix of. */
function findCommand(table: readonly CommandEntry[], word: string): CommandEntry | undefined {
  const exact = table.find((c) => c.name === word);
  if (exact) return exact;
  const matches = table.filter((c) => c.name.startsWith(word));
  return matches.length === 1 ? matches[0] : undefined;
}

/** Runs `<first> <rest...>` from the table and returns the exit code (0, 1 or 2). */
export async function dispatch(table: readonly CommandEntry[], [first, ...rest]: readonly string[], io: CommandIO): Promise<number> {
  if (first === undefined || first.startsWith('-')) return usage(io, undefined, `unknown option '${first ?? ''}'`);
  const entry = findCommand(table, first);
  if (entry === undefined) return usage(io, undefined, `unknown command '${first}'`);
  let context = entry.name;
  let args = rest;

  if (entry.help !== undefined) {
    let help: HelpModule;
    try {
      help = await entry.help();
    } catch (err) {
      return failure(io, context, err);
    }
    const [verb, ...verbArgs] = args;
    if (verb === undefined) {
      // Nothing to do: what there is to do, as a usage error.
      write(io.stderr, help.HELP);
      return 2;
    }
    if (help.verbs !== undefined) {
      if (HELP_FLAGS.has(verb)) {
        write(io.stdout, help.HELP);
        return 0;
      }
      if (verb.startsWith('-')) return usage(io, context, `expected a verb (${Object.keys(help.verbs).join(', ')}) before '${verb}'`);
      const name = findVerb(help, verb);
      if (typeof name !== 'string') return usage(io, context, name.error);
      context = `${entry.name} ${name}`;
      if (asksForHelp(verbArgs)) {
        write(io.stdout, help.verbs[name] ?? help.HELP);
        return 0;
      }
      args = [name, ...verbArgs];
    } else if (asksForHelp(args) || (args.length === 1 && verb === 'help')) {
      write(io.stdout, help.HELP);
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
    return failure(io, context, err);
  }
  if (args.length === 1 && HELP_FLAGS.has(args[0]!)) {
    write(io.stdout, command.help);
    return 0;
  }
  // A filesystem mounted on the user's behalf (bpffs for a pin, tracefs for a hook) is said once.
  const stopListening = onFilesystemMounted((fstype, target) => io.stderr.write(`tsbpf: mounted ${fstype} at ${target}, where none was mounted\n`));
  try {
    return await command.run(args, io);
  } catch (err) {
    if (isUsageError(err)) return usage(io, context, messageOf(err));
    return failure(io, context, err);
  } finally {
    stopListening();
  }
}
