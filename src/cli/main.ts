// The `tsbpf` command: global options, dispatch to subcommands, and how failures are reported.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Only types from the rest of tsbpf: every module imported here is paid by every command, and
// by `--help`; the framework's dispatcher is loaded once a command is named.
import type { CommandEntry, CommandIO } from './framework/command.js';

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
  { name: 'tcptrack', summary: 'trace TCP connections: latency, outcome, bytes, and connection statistics', load: () => import('../tools/tcptrack/cli.js'), help: () => import('../tools/tcptrack/help.js') },
  { name: 'exporter', summary: 'export kernel metrics to Prometheus from ebpf_exporter configs and tsbpf tools', load: () => import('../tools/exporter/cli.js'), help: () => import('../tools/exporter/help.js') },
  { name: 'guard', summary: 'runtime security: Falco rules on system call events, alerts, and enforcement in the kernel', load: () => import('../tools/guard/cli.js'), help: () => import('../tools/guard/help.js') },
  { name: 'xdp-filter', summary: 'XDP firewall: block addresses, prefixes, ports and MACs, with pinned state', load: () => import('../tools/xdp-filter/cli.js'), help: () => import('../tools/xdp-filter/help.js') },
  { name: 'lb', summary: 'XDP layer-4 load balancer: VIPs, reals, Maglev hashing, NAT and DSR, pinned state', load: () => import('../tools/lb/cli.js'), help: () => import('../tools/lb/help.js') },
  { name: 'observe', summary: 'observe network flows as Hubble does: TCP/UDP/ICMP, drops with reasons, DNS and HTTP', load: () => import('../tools/observe/cli.js'), help: () => import('../tools/observe/help.js') },
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
  const { dispatch } = await import('./framework/dispatch.js');
  return dispatch(COMMANDS, argv, io);
}
