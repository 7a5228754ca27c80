// `tsbpf tcptrack`: TCP connections as they happen, with latency, outcome, bytes and statistics.
import { runTcptrack, type TcptrackIO } from '../tools/tcptrack/run.js';
import { OUTPUT_FORMATS, parseDurationOption, parseMaxEvents, parsePid, parsePorts, parseTop, parseUid, resolveNetns, type OutputFormat, type TcptrackOptions } from '../tools/tcptrack/options.js';
import { parse, printHelp, UsageError, type Command, type CommandIO } from './framework/index.js';

const HELP = `Usage: tsbpf tcptrack [options]

Traces TCP connections in the kernel: outbound connects with their latency (SYN sent to
established) and outcome (established, refused, timeout, failed), and with --accept inbound
connections with the task that accepted them; --close adds the end of each connection with
its duration and the data bytes sent and received. Filters run in the kernel. At the end
(Ctrl-C, SIGTERM, -t or -n) it prints the Connection Statistics: connections per source,
destination and port. Needs root (CAP_BPF and CAP_PERFMON).

Options:
  -p, --pid PID          only this process (inbound: the process that accepts)
  -u, --uid UID|USER     only tasks running as this user
  -P, --port PORT[,...]  only these ports (up to 16; repeatable): the destination port of
                         outbound, the local port of inbound connections
  -4, --ipv4             only IPv4 (IPv4 peers of dual-stack sockets included)
  -6, --ipv6             only IPv6
      --cgroup PATH      only tasks in this cgroup v2 directory (absolute, or relative to
                         the cgroup v2 mount)
      --netns NS         only sockets of this network namespace: a name in /run/netns, a
                         path (/proc/PID/ns/net), or its inode number
      --accept           include inbound connections (accept events)
      --close            include close events (duration, bytes sent and received) of
                         outbound connections, and with --accept of inbound ones
  -c, --count            print no events, only the statistics at the end
  -t, --duration TIME    stop after TIME (10s, 500ms, 2m; a bare number is seconds)
  -n, --events COUNT     stop after COUNT events
  -o, --output FORMAT    table (default): a row per event; life: a row per closed
                         connection, as bcc's tcplife (implies --close); json: one object
                         per line, then {"stats": ...}
  -j, --json             the same as -o json
      --life             the same as -o life
  -w, --wide             tables: every column (NETNS too), addresses never shortened; without
                         it a table fits the terminal's width (columns dropped as needed)
  -d, --dns              tables: remote addresses by their DNS names (reverse lookups; a row
                         waits for its name a second at most)
      --top N            rows per statistics section (default 10)
  -v, --verbose          say on stderr which hooks are in use, and when tracing starts
  -h, --help             this help

JSON lines have the keys time, pid, tid, uid, comm, netns, family, saddr, sport, daddr, dport,
direction ("out"|"in"), event ("connect"|"accept"|"close"), state ("established"|"refused"|
"timeout"|"failed"|"closed"), latencyMs (connects; else null), and on close durationMs,
txBytes, rxBytes. Lost events are reported on stderr ("N events lost").

Examples:
  tsbpf tcptrack                          outbound connects, as a table
  tsbpf tcptrack --accept --close -j      everything, as JSON lines
  tsbpf tcptrack -p 1234 -P 80,443 -t 30s connects of pid 1234 to ports 80 and 443
  tsbpf tcptrack -c --accept -t 1m        one minute of statistics only
  tsbpf tcptrack --life --accept          a line per connection, as tcplife
  tsbpf tcptrack --netns blue -w          the namespace of \`ip netns add blue\`, all columns

See docs/tcptrack.md.
`;

const OPTIONS = {
  pid: { type: 'string', short: 'p' },
  uid: { type: 'string', short: 'u' },
  port: { type: 'string', short: 'P', multiple: true },
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  cgroup: { type: 'string' },
  netns: { type: 'string' },
  accept: { type: 'boolean' },
  close: { type: 'boolean' },
  count: { type: 'boolean', short: 'c' },
  duration: { type: 'string', short: 't' },
  events: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean', short: 'j' },
  life: { type: 'boolean' },
  wide: { type: 'boolean', short: 'w' },
  dns: { type: 'boolean', short: 'd' },
  top: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `-t=5` as its user means it: parseArgs takes a short option's inline value as it is ("=5").
 * A short value option written with `=` is given its value without it. (A negative number after
 * a value option is that option's value already: the shared parse() sees to it.)
 */
export function shortEquals(argv: readonly string[], options: Readonly<Record<string, { type: string; short?: string }>>): string[] {
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) if (o.type === 'string' && o.short !== undefined) byShort.set(o.short, name);
  const end = argv.indexOf('--');
  return argv.map((a, i) => {
    const eq = /^-([^-])=(.*)$/s.exec(a);
    const name = eq === null || (end >= 0 && i > end) ? undefined : byShort.get(eq[1]!);
    return name === undefined ? a : `--${name}=${eq![2]}`;
  });
}

/** The output format of -o, -j and --life; naming two different ones is an error. */
function outputFormat(values: { output?: string; json?: boolean; life?: boolean }): OutputFormat {
  const named: Array<[string, string]> = [];
  if (values.output !== undefined) named.push([values.output, `-o ${values.output}`]);
  if (values.json) named.push(['json', '--json']);
  if (values.life) named.push(['life', '--life']);
  for (const [f] of named) if (!(OUTPUT_FORMATS as readonly string[]).includes(f)) throw new UsageError(`tcptrack: -o: unknown format '${f}' (${OUTPUT_FORMATS.join(', ')})`);
  if (new Set(named.map(([f]) => f)).size > 1) throw new UsageError(`tcptrack: ${named.map(([, how]) => how).join(' and ')} contradict each other`);
  return (named[0]?.[0] as OutputFormat | undefined) ?? 'table';
}

/** TcptrackOptions from the command line; UsageError on anything malformed. */
export function parseTcptrackArgs(argv: string[]): TcptrackOptions | 'help' {
  const { values, positionals } = parse('tcptrack', shortEquals(argv, OPTIONS), OPTIONS);
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`tcptrack: unexpected argument '${positionals[0]}'`);
  if (values.ipv4 && values.ipv6) throw new UsageError('tcptrack: -4 and -6 exclude each other');
  const output = outputFormat(values);
  if (values.cgroup === '') throw new UsageError('tcptrack: --cgroup needs a path');
  const o: TcptrackOptions = {
    accept: values.accept ?? false,
    close: values.close ?? false,
    countOnly: values.count ?? false,
    output,
    verbose: values.verbose ?? false,
  };
  if (values.wide) o.wide = true;
  if (values.dns) o.dns = true;
  if (values.netns !== undefined) o.netns = resolveNetns(values.netns);
  if (values.pid !== undefined) o.pid = parsePid(values.pid);
  if (values.uid !== undefined) o.uid = parseUid(values.uid);
  if (values.port !== undefined) o.ports = parsePorts(values.port);
  if (values.ipv4) o.family = 4;
  if (values.ipv6) o.family = 6;
  if (values.cgroup !== undefined) o.cgroup = values.cgroup;
  if (values.duration !== undefined) o.durationMs = parseDurationOption(values.duration);
  if (values.events !== undefined) o.maxEvents = parseMaxEvents(values.events);
  if (values.top !== undefined) o.top = parseTop(values.top);
  return o;
}

/**
 * Runs tcptrack with SIGINT and SIGTERM ending the trace (everything is detached and the
 * statistics printed; exit code 0).
 */
async function run(argv: string[], io: CommandIO): Promise<number> {
  const options = parseTcptrackArgs(argv);
  if (options === 'help') return printHelp(io, HELP);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runTcptrack(options, io as TcptrackIO, controller.signal);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const command: Command = {
  name: 'tcptrack',
  summary: 'trace TCP connections: latency, outcome, bytes, and connection statistics',
  help: HELP,
  run,
};
