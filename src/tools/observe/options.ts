// `tsbpf observe`'s command line: Hubble's flags, the filters they make, and the datapath's own.
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../../index.js';
import { UsageError } from '../../cli/framework/index.js';
import { parseDuration } from '../common/duration.js';
import { parseRfc3339 } from './flow.js';
import { isEmpty, parseCidr, parseHttpStatus, parsePortFilter, parseProtocol, parseRegex, parseTcpFlags, parseType, parseVerdict, type Filters, type FlowFilter } from './filter.js';
import { OUTPUT_FORMATS, type OutputFormat } from './format.js';
import { AGGREGATIONS, SNAP_LEN, SNAP_MAX, type Aggregation } from './datapath.js';

/** The datapath's options, the same for `tsbpf observe` and `tsbpf observe serve`. */
export const DATAPATH_OPTIONS = {
  iface: { type: 'string', short: 'i', multiple: true },
  netns: { type: 'string' },
  'snap-len': { type: 'string' },
  'ring-size': { type: 'string' },
  'no-drops': { type: 'boolean' },
  'monitor-aggregation': { type: 'string' },
} as const;

export const OPTIONS = {
  follow: { type: 'boolean', short: 'f' },
  last: { type: 'string' },
  first: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  ip: { type: 'string', multiple: true },
  'from-ip': { type: 'string', multiple: true },
  'to-ip': { type: 'string', multiple: true },
  port: { type: 'string', multiple: true },
  'from-port': { type: 'string', multiple: true },
  'to-port': { type: 'string', multiple: true },
  protocol: { type: 'string', multiple: true },
  verdict: { type: 'string', multiple: true },
  'drop-reason-desc': { type: 'string', multiple: true },
  'tcp-flags': { type: 'string', multiple: true },
  'http-method': { type: 'string', multiple: true },
  'http-status': { type: 'string', multiple: true },
  'http-path': { type: 'string', multiple: true },
  'dns-query': { type: 'string', multiple: true },
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  type: { type: 'string', short: 't', multiple: true },
  pod: { type: 'string', multiple: true },
  namespace: { type: 'string', multiple: true },
  pid: { type: 'string', multiple: true },
  interface: { type: 'string', multiple: true },
  reply: { type: 'boolean' },
  not: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean', short: 'j' },
  'input-file': { type: 'string' },
  ...DATAPATH_OPTIONS,
  server: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flags that add to a filter, and which field. */
type FilterFlag = Exclude<keyof typeof OPTIONS, 'follow' | 'last' | 'first' | 'since' | 'until' | 'not' | 'output' | 'json' | 'input-file' | 'iface' | 'netns' | 'snap-len' | 'ring-size' | 'no-drops' | 'monitor-aggregation' | 'server' | 'help'>;

/** What DATAPATH_OPTIONS choose. */
export interface DatapathChoice {
  interfaces: string[];
  netns?: string;
  snapLen: number;
  ringBytes?: number;
  drops: boolean;
  aggregation: Aggregation;
}

export interface ObserveOptions extends DatapathChoice {
  follow: boolean;
  /** The last N flows (of a file or server). */
  last?: number;
  /** Stop after N flows. */
  first?: number;
  /** Nanoseconds since the epoch. */
  since?: bigint;
  until?: bigint;
  filters: Filters;
  output: OutputFormat;
  inputFile?: string;
  /** A `tsbpf observe serve` address to read from (unix:PATH or HOST:PORT). */
  server?: string;
}

function positiveInt(flag: string, s: string, max = 2 ** 31 - 1, who = 'observe'): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max) throw new UsageError(`${who}: --${flag} '${s}' must be a whole number from 1 to ${max}`);
  return Number(s);
}


/** The values of DATAPATH_OPTIONS checked; `who` starts the usage errors ("observe serve"). */
export function parseDatapathOptions(
  values: { iface?: string[] | undefined; netns?: string | undefined; 'snap-len'?: string | undefined; 'ring-size'?: string | undefined; 'no-drops'?: boolean | undefined; 'monitor-aggregation'?: string | undefined },
  who = 'observe',
): DatapathChoice {
  const d: DatapathChoice = { interfaces: values.iface ?? [], snapLen: SNAP_LEN, drops: !(values['no-drops'] ?? false), aggregation: parseAggregation(values['monitor-aggregation']) };
  if (values.netns !== undefined) {
    if (values.netns === '' || values.netns.includes('\0')) throw new UsageError(`${who}: --netns needs a namespace name or path`);
    d.netns = values.netns;
  }
  const snap = values['snap-len'];
  if (snap !== undefined) {
    if (!/^\d+$/.test(snap) || Number(snap) > SNAP_MAX) throw new UsageError(`${who}: --snap-len '${snap}' must be from 0 to ${SNAP_MAX}`);
    d.snapLen = Number(snap);
  }
  const ring = values['ring-size'];
  if (ring !== undefined) {
    const kb = positiveInt('ring-size', ring, 1 << 20, who);
    if ((kb & (kb - 1)) !== 0 || kb < 4) throw new UsageError(`${who}: --ring-size '${ring}' must be a power of two of KiB, at least 4`);
    d.ringBytes = kb * 1024;
  }
  return d;
}

/** A time as Hubble takes it: RFC 3339, or a duration ago ("5m", "1h"). */
export function parseTime(flag: string, s: string, now = Date.now()): bigint {
  if (/^\d{4}-\d\d-\d\dT/.test(s)) {
    if (Number.isNaN(Date.parse(s))) throw new UsageError(`observe: --${flag}: invalid time '${s}'`);
    return parseRfc3339(s);
  }
  try {
    return BigInt(now - parseDuration(s, { name: `--${flag}` })) * 1_000_000n;
  } catch {
    throw new UsageError(`observe: --${flag}: invalid time '${s}' (RFC 3339, or a duration ago such as 5m)`);
  }
}

/** Each filter flag: the field it adds to, and how its value is read. */
const FILTER_FIELDS: Record<FilterFlag, [keyof FlowFilter, (s: string) => unknown]> = {
  ip: ['ip', parseCidr],
  'from-ip': ['sourceIp', parseCidr],
  'to-ip': ['destinationIp', parseCidr],
  port: ['port', parsePortFilter],
  'from-port': ['sourcePort', parsePortFilter],
  'to-port': ['destinationPort', parsePortFilter],
  protocol: ['protocol', parseProtocol],
  verdict: ['verdict', parseVerdict],
  'drop-reason-desc': ['dropReasonDesc', (s) => s],
  'tcp-flags': ['tcpFlags', parseTcpFlags],
  'http-method': ['httpMethod', (s) => s.toUpperCase()],
  'http-status': ['httpStatus', parseHttpStatus],
  'http-path': ['httpPath', (s) => parseRegex(s, '--http-path')],
  'dns-query': ['dnsQuery', (s) => parseRegex(s, '--dns-query')],
  ipv4: ['ipVersion', () => 4],
  ipv6: ['ipVersion', () => 6],
  type: ['type', parseType],
  pod: ['pod', (s) => s],
  namespace: ['namespace', (s) => s],
  pid: ['pid', (s) => positiveInt('pid', s)],
  interface: ['interface', (s) => s],
  reply: ['reply', () => true],
};

function addTo(f: FlowFilter, flag: FilterFlag, value: string): void {
  const [field, read] = FILTER_FIELDS[flag];
  const list = (f[field] ?? []) as unknown[];
  list.push(read(value));
  (f as Record<string, unknown>)[field] = list;
}

export const FILTER_FLAGS: ReadonlySet<string> = new Set(Object.keys(FILTER_FIELDS));

export function parseAggregation(s: string | undefined): Aggregation {
  if (s === undefined) return 'medium';
  if (!(AGGREGATIONS as readonly string[]).includes(s)) throw new UsageError(`observe: --monitor-aggregation: unknown level '${s}' (${AGGREGATIONS.join(', ')})`);
  return s as Aggregation;
}

/** ObserveOptions from the command line; UsageError on anything malformed. */
export function parseObserveArgs(argv: string[]): ObserveOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(`observe: ${(err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '')}`);
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`observe: unexpected argument '${positionals[0]}'`);
  // Filters in command-line order: --not puts the next filter flag in the deny list.
  const allow: FlowFilter = {};
  const deny: FlowFilter = {};
  let negate = false;
  try {
    for (const t of tokens) {
      if (t.kind !== 'option') continue;
      if (t.name === 'not') {
        negate = true;
        continue;
      }
      if (!FILTER_FLAGS.has(t.name)) continue;
      addTo(negate ? deny : allow, t.name as FilterFlag, t.value ?? '');
      negate = false;
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(`observe: ${err.message}`);
    throw err;
  }
  if (negate) throw new UsageError('observe: --not must come before a filter flag');
  let output: OutputFormat = 'compact';
  if (values.output !== undefined) {
    if (!(OUTPUT_FORMATS as readonly string[]).includes(values.output)) throw new UsageError(`observe: -o: unknown format '${values.output}' (${OUTPUT_FORMATS.join(', ')})`);
    output = values.output as OutputFormat;
  }
  if (values.json) output = 'json';
  const o: ObserveOptions = {
    follow: values.follow ?? false,
    filters: { allow: isEmpty(allow) ? [] : [allow], deny: isEmpty(deny) ? [] : [deny] },
    output,
    ...parseDatapathOptions(values),
  };
  if (values.last !== undefined) o.last = positiveInt('last', values.last);
  if (values.first !== undefined) o.first = positiveInt('first', values.first);
  if (values.since !== undefined) o.since = parseTime('since', values.since);
  if (values.until !== undefined) o.until = parseTime('until', values.until);
  if (values['input-file'] !== undefined) o.inputFile = values['input-file'];
  if (values.server !== undefined) o.server = values.server;
  if (o.follow && o.last !== undefined && o.inputFile !== undefined) throw new UsageError('observe: --follow and --last exclude each other with --input-file');
  if (o.inputFile !== undefined && (o.interfaces.length > 0 || o.netns !== undefined)) throw new UsageError('observe: --input-file replays flows; --iface and --netns observe live traffic');
  return o;
}
