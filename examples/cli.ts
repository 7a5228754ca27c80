// What the examples' main programs share with the tsbpf command line: arguments checked before
// anything loads (a one-line reason, exit 2), failures in one line (exit 1, no stack trace), and
// waits that Ctrl-C ends at once.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;

/** An example's name and its usage line, for messages. */
export interface Program {
  readonly name: string;
  readonly usage: string;
}

/** Prints `name: message` and exits: 2 for a usage error (with the usage line), 1 otherwise. */
export function exit(program: Program, message: string, code: 1 | 2): never {
  process.stderr.write(`${program.name}: ${message}\n${code === 2 ? `usage: ${program.usage}\n` : ''}`);
  process.exit(code);
}

/** parseArgs in strict mode; an unknown option or a missing value is a usage error. */
export function parseOptions<O extends Options>(program: Program, options: O, positionals: { min: number; max: number; what?: string }): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ options, allowPositionals: true, strict: true });
  } catch (err) {
    exit(program, (err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, ''), 2);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) exit(program, `expected ${positionals.what ?? 'an argument'}`, 2);
  if (n > positionals.max) exit(program, `unexpected argument '${parsed.positionals[positionals.max]}'`, 2);
  return parsed;
}

/** A whole number from min to max, or a usage error naming the option. */
export function integer(program: Program, option: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) exit(program, `${option}: expected a number ${min}-${max}, got '${text}'`, 2);
  return n;
}

/** Runs the example's body; an error ends it with one line and exit 1. */
export async function run(program: Program, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    exit(program, err instanceof Error ? err.message.split('\n')[0]! : String(err), 1);
  }
}

/** Waits `ms` milliseconds; false when the signal ended the wait first (Ctrl-C). */
export async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** A signal that Ctrl-C (SIGINT) and SIGTERM abort. */
export function stopSignal(): AbortSignal {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  return stop.signal;
}
