// The `tsbpf` command: global options, dispatch to subcommands, and how failures are reported.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Only types from the rest of tsbpf: every module imported here is paid by every command, and
// by `--help`, so errors are told apart by their code (TsbpfError's, UsageError's EUSAGE).
import type { Command, CommandIO } from './command.js';

/** A command's help, kept apart from its implementation (src/cli/help/<name>.ts). */
interface HelpModule {
  readonly HELP: string;
  /** Each verb and its help; absent for commands without verbs (gen, compile). */
  readonly verbs?: Readonly<Record<string, string>>;
  readonly aliases?: Readonly<Record<string, string>>;
}

interface CommandEntry {
  readonly name: string;
  /** One line for the top-level help (the module's `command.summary`, checked by a test). */
  readonly summary: string;
  readonly load: () => Promise<{ command: Command }>;
  /** The help alone, so that `--help`, and verb checks, load no library code. */
  readonly help?: () => Promise<HelpModule>;
}

/**
 * Every subcommand, one line each. Modules load on use, so `tsbpf map` does not pay for the
 * code generator and a broken module only breaks its own command; `--help` loads only the help.
 */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'prog', summary: 'list, show and dump the programs loaded in the kernel', load: () => import('./prog.js'), help: () => import('./help/prog.js') },
  { name: 'map', summary: 'list, show, dump, update, delete and pin BPF maps', load: () => import('./map.js'), help: () => import('./help/map.js') },
  { name: 'feature', summary: 'probe the running kernel for eBPF features', load: () => import('./feature.js'), help: () => import('./help/feature.js') },
  { name: 'link', summary: 'list, show and detach the bpf_links in the kernel', load: () => import('./link.js'), help: () => import('./help/link.js') },
  { name: 'usdt', summary: 'list the USDT probes of a binary, library or process', load: () => import('./usdt.js'), help: () => import('./help/usdt.js') },
  { name: 'object', summary: 'inspect, load, run and disassemble BPF object files', load: () => import('./object.js'), help: () => import('./help/object.js') },
  { name: 'btf', summary: 'dump BTF type information (raw, JSON, or as a C header)', load: () => import('./btf.js'), help: () => import('./help/btf.js') },
  { name: 'gen', summary: 'compile BPF C and generate a typed TypeScript module for it', load: () => import('./gen.js'), help: () => import('./help/gen.js') },
  { name: 'compile', summary: 'compile BPF C to an object with BTF (clang, as tsbpf gen does)', load: () => import('./compile.js'), help: () => import('./help/compile.js') },
  { name: 'tcptrack', summary: 'trace TCP connections: latency, outcome, bytes, and connection statistics', load: () => import('./tcptrack.js') },
  { name: 'xdp-filter', summary: 'XDP firewall: block addresses, prefixes, ports and MACs, with pinned state', load: () => import('./xdp-filter.js'), help: () => import('./help/xdp-filter.js') },
];

const HELP_FLAGS = new Set(['-h', '--help', 'help']);
const VERSION_FLAGS = new Set(['-V', '--version', 'version']);

// process.stdin is made on first use, and making it costs every command that reads no input.
function processIO(): CommandIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    get stdin() {
      return process.stdin;
    },
  };
}

/** The version in the package's package.json. */
export function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

function topHelp(): string {
  const rows = COMMANDS.map((c) => [c.name, c.summary] as const);
  const width = Math.max(...rows.map(([n]) => n.length));
  return [
    'Usage: tsbpf <command> [arguments] [options]',
    '',
    'Inspect and drive eBPF in the running kernel: programs, maps, objects and kernel features.',
    '',
    'Commands:',
    ...rows.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`),
    '',
    'Options:',
    '  -h, --help     show this help; `tsbpf <command> --help` for a command',
    '  -V, --version  print the version',
    '',
    'Commands are matched by unique prefix (`tsbpf p l` is `tsbpf prog list`).',
    'Exit status: 0 on success, 1 on failure, 2 on a usage error.',
    'Set TSBPF_DEBUG=1 to print stack traces of failures.',
    '',
  ].join('\n');
}

/** The command named exactly, or the only one the word is a prefix of. */
function findCommand(word: string): CommandEntry | undefined {
  const exact = COMMANDS.find((c) => c.name === word);
  if (exact) return exact;
  const matches = COMMANDS.filter((c) => c.name.startsWith(word));
  return matches.length === 1 ? matches[0] : undefined;
}

function messageOf(err: unknown): string {
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
 * one that names a verb main did not resolve (`xdp-filter stats: ...`) keeps the verb.
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

// A usage error in one line, then where to read more.
function usage(io: CommandIO, context: string | undefined, message: string): number {
  const { line, where } = errorLine(context, message);
  io.stderr.write(`${line}\nsee ${where} --help\n`);
  return 2;
}

function failure(io: CommandIO, context: string | undefined, err: unknown): number {
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
function isUsageError(err: unknown): boolean {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && (code === 'EUSAGE' || code.startsWith('ERR_PARSE_ARGS'));
}

/** Whether the arguments ask for help (`-h` or `--help` before any `--`). */
function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '-h' || a === '--help') return true;
  }
  return false;
}

function write(out: NodeJS.WritableStream, text: string): void {
  out.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** The verb named exactly, by another name, or by a unique prefix. */
function findVerb(help: HelpModule, word: string): string | { error: string } {
  const verbs = Object.keys(help.verbs ?? {});
  if (verbs.includes(word)) return word;
  const alias = help.aliases?.[word];
  if (alias !== undefined) return alias;
  const matches = verbs.filter((v) => v.startsWith(word));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) return { error: `'${word}' is ambiguous: ${matches.join(', ')}` };
  return { error: `unknown verb '${word}' (${verbs.join(', ')})` };
}

/**
 * Runs `tsbpf <argv>` and returns the exit code: 0 on success, 1 on failure (one line on
 * stderr), 2 on a usage error (one line and a pointer to the help).
 */
export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(topHelp());
    return 2;
  }
  if (HELP_FLAGS.has(first)) {
    if (rest.length === 0 || first !== 'help') {
      io.stdout.write(topHelp());
      return 0;
    }
    return main([...rest, '--help'], io);
  }
  if (VERSION_FLAGS.has(first)) {
    io.stdout.write(`tsbpf ${version()}\n`);
    return 0;
  }
  if (first.startsWith('-')) return usage(io, undefined, `unknown option '${first}'`);
  return dispatch(first, rest, io);
}

async function dispatch(first: string, rest: string[], io: CommandIO): Promise<number> {
  const entry = findCommand(first);
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
  let onFilesystemMounted: typeof import('../sys/mounts.js').onFilesystemMounted;
  try {
    command = (await entry.load()).command;
    // Loaded with the command, not before: help and usage errors pay for no library module.
    ({ onFilesystemMounted } = await import('../sys/mounts.js'));
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
