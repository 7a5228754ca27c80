// How every command's failures and usage errors are printed: one line, `tsbpf <command> <verb>:
// reason [CODE]`, exit 1 for a failure and 2 for a usage error (with a pointer to the help).
import type { CommandIO } from './command.js';

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
