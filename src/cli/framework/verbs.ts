// Finding a command's verb: by its name, by another name, or by a unique prefix (bpftool's
// `tsbpf p l` for `prog list`), and telling a request for help from the verb's own arguments.
import type { HelpModule } from './command.js';

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
