// `tsbpf tcptrack`: TCP connections as they happen, with latency, outcome, bytes and statistics.
import { parse, printHelp, UsageError, type Command, type CommandIO } from '../../cli/framework/index.js';
import { HELP } from './help.js';
import { OUTPUT_FORMATS, parseDurationOption, parseMaxEvents, parsePid, parsePorts, parseTop, parseUid, resolveNetns, type OutputFormat, type TcptrackOptions } from './options.js';
import { runTcptrack, type TcptrackIO } from './run.js';
import { untilInterrupted } from '../common/interrupt.js';

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
  await untilInterrupted((signal) => runTcptrack(options, io as TcptrackIO, signal));
  return 0;
}

export const command: Command = {
  name: 'tcptrack',
  summary: 'trace TCP connections: latency, outcome, bytes, and connection statistics',
  help: HELP,
  run,
};
