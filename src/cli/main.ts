// The `tsbpf` command: global options, dispatch to subcommands, and how failures are reported.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsbpfError } from '../errors.js';
import { onFilesystemMounted } from '../sys/mounts.js';
import { UsageError, type Command, type CommandIO } from './command.js';

interface CommandEntry {
  readonly name: string;
  readonly load: () => Promise<{ command: Command }>;
}

/**
 * Every subcommand, one line each. Modules load on use, so `tsbpf map` does not pay for the
 * code generator and a broken module only breaks its own command.
 */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'prog', load: () => import('./prog.js') },
  { name: 'map', load: () => import('./map.js') },
  { name: 'feature', load: () => import('./feature.js') },
  { name: 'link', load: () => import('./link.js') },
  { name: 'usdt', load: () => import('./usdt.js') },
  { name: 'object', load: () => import('./object.js') },
  { name: 'btf', load: () => import('./btf.js') },
  { name: 'gen', load: () => import('./gen.js') },
  { name: 'compile', load: () => import('./compile.js') },
  { name: 'tcptrack', load: () => import('./tcptrack.js') },
  { name: 'xdp-filter', load: () => import('./xdp-filter.js') },
];

const HELP_FLAGS = new Set(['-h', '--help', 'help']);
const VERSION_FLAGS = new Set(['-V', '--version', 'version']);

function processIO(): CommandIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
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

async function topHelp(): Promise<string> {
  const rows: Array<[string, string]> = [];
  for (const entry of COMMANDS) {
    try {
      rows.push([entry.name, (await entry.load()).command.summary]);
    } catch (err) {
      rows.push([entry.name, `(unavailable: ${oneLine(messageOf(err))})`]);
    }
  }
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

// A usage error in one line (messages that already name the command keep their wording), then
// where to read more.
function usage(io: CommandIO, command: string | undefined, message: string): number {
  const text = oneLine(message);
  let line: string;
  if (command === undefined) line = `tsbpf: ${text}`;
  else if (text.startsWith(`${command} `) || text.startsWith(`${command}:`)) line = `tsbpf ${text}`;
  else line = `tsbpf ${command}: ${text}`;
  io.stderr.write(`${line}\nsee tsbpf${command === undefined ? '' : ` ${command}`} --help\n`);
  return 2;
}

function failure(io: CommandIO, err: unknown): number {
  let message = oneLine(messageOf(err)).replace(/^tsbpf: /, '');
  if (err instanceof TsbpfError && !message.includes(`[${err.code}]`)) message += ` [${err.code}]`;
  io.stderr.write(`tsbpf: ${message}\n`);
  if (process.env.TSBPF_DEBUG === '1' && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  return 1;
}

function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/**
 * Runs `tsbpf <argv>` and returns the exit code: 0 on success, 1 on failure (one line on
 * stderr), 2 on a usage error (one line and a pointer to the help).
 */
export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(await topHelp());
    return 2;
  }
  if (HELP_FLAGS.has(first)) {
    if (rest.length === 0 || first !== 'help') {
      io.stdout.write(await topHelp());
      return 0;
    }
    return main([rest[0] ?? '', '--help'], io);
  }
  if (VERSION_FLAGS.has(first)) {
    io.stdout.write(`tsbpf ${version()}\n`);
    return 0;
  }
  if (first.startsWith('-')) return usage(io, undefined, `unknown option '${first}'`);

  // A filesystem mounted on the user's behalf (bpffs for a pin, tracefs for a hook) is said once.
  const stopListening = onFilesystemMounted((fstype, target) => io.stderr.write(`tsbpf: mounted ${fstype} at ${target}, where none was mounted\n`));
  try {
    return await dispatch(first, rest, io);
  } finally {
    stopListening();
  }
}

async function dispatch(first: string, rest: string[], io: CommandIO): Promise<number> {
  const entry = findCommand(first);
  if (entry === undefined) return usage(io, undefined, `unknown command '${first}'`);

  let command: Command;
  try {
    command = (await entry.load()).command;
  } catch (err) {
    return failure(io, err);
  }
  if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h' || rest[0] === 'help')) {
    io.stdout.write(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (isUsageError(err)) return usage(io, command.name, messageOf(err));
    return failure(io, err);
  }
}
