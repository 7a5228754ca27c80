// `tsbpf exporter`: ebpf_exporter's command line on tsbpf's loader.
import { parse, printHelp, UsageError, type Command, type CommandIO } from '../../cli/framework/index.js';
import { parseDuration } from '../common/duration.js';
import { readConfig, type ExporterConfig } from './config.js';
import { DecoderEnv } from './decoders.js';
import { Exporter, type ListenAddress, type MetricProvider, parseListenAddress, serve, serverUrl } from './exporter.js';
import { HELP } from './help.js';
import { checkConfig, type LoadedConfig, loadConfig } from './loader.js';
import type { SeriesLimits } from './series.js';
import { Sources } from './sources.js';
import { TOOL_NAMES, type ToolOptions, toolProvider } from './tools.js';
import { interrupted } from '../common/interrupt.js';

const OPTIONS = {
  'config.dir': { type: 'string' },
  'config.names': { type: 'string', multiple: true },
  'config.check': { type: 'boolean' },
  'config.strict': { type: 'boolean' },
  'web.listen-address': { type: 'string' },
  'web.telemetry-path': { type: 'string' },
  'btf.path': { type: 'string' },
  tools: { type: 'string', multiple: true },
  'series.expire': { type: 'string' },
  'series.max': { type: 'string' },
  'kube.log-dir': { type: 'string' },
  'observe.iface': { type: 'string', multiple: true },
  'guard.rules': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ExporterOptions {
  dir?: string;
  names: string[];
  check: boolean;
  strict: boolean;
  listen: ListenAddress;
  path: string;
  btfPath?: string;
  tools: string[];
  limits: SeriesLimits;
  kubeLogDir?: string;
  /** What the tools' sets are given: observe's interfaces, guard's rule files. */
  toolOptions: ToolOptions;
}

function list(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** ExporterOptions from the command line; UsageError on anything malformed. */
export function parseExporterArgs(argv: string[]): ExporterOptions | 'help' {
  const { values, positionals } = parse('exporter', argv, OPTIONS);
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`exporter: unexpected argument '${positionals[0]}'`);
  const names = list(values['config.names']);
  const tools = list(values.tools);
  for (const t of tools) if (!TOOL_NAMES.includes(t)) throw new UsageError(`exporter: --tools: unknown tool '${t}' (known: ${TOOL_NAMES.join(', ')})`);
  if (values['observe.iface'] !== undefined && !tools.includes('observe')) throw new UsageError('exporter: --observe.iface needs --tools observe');
  if (values['guard.rules'] !== undefined && !tools.includes('guard')) throw new UsageError('exporter: --guard.rules needs --tools guard');
  const dir = values['config.dir'];
  if (names.length > 0 && dir === undefined) throw new UsageError('exporter: --config.names needs --config.dir');
  if (dir !== undefined && names.length === 0) throw new UsageError('exporter: --config.dir needs --config.names (the configs to load)');
  if (names.length === 0 && tools.length === 0) throw new UsageError('exporter: nothing to export: give --config.dir and --config.names, or --tools');
  for (const n of names) if (!/^[\w.-]+$/.test(n)) throw new UsageError(`exporter: --config.names: '${n}' is not a config name`);
  const listen = parseListenAddress(values['web.listen-address'] ?? ':9435');
  if (listen === undefined) throw new UsageError(`exporter: --web.listen-address: '${values['web.listen-address']}' is not HOST:PORT`);
  const path = values['web.telemetry-path'] ?? '/metrics';
  if (!path.startsWith('/') || path === '/') throw new UsageError(`exporter: --web.telemetry-path: '${path}' must be a path other than /`);
  let expireMs = 0;
  if (values['series.expire'] !== undefined) {
    try {
      expireMs = parseDuration(values['series.expire'], { name: '--series.expire' });
    } catch (err) {
      throw new UsageError(`exporter: ${(err as Error).message}`);
    }
  }
  let maxSeries = 0;
  const max = values['series.max'];
  if (max !== undefined) {
    maxSeries = Number(max);
    if (!/^\d+$/.test(max) || !Number.isSafeInteger(maxSeries) || maxSeries < 1) throw new UsageError(`exporter: --series.max: '${max}' must be a positive integer`);
  }
  return {
    ...(dir !== undefined ? { dir } : {}),
    names,
    check: values['config.check'] ?? false,
    strict: values['config.strict'] ?? false,
    listen,
    path,
    ...(values['btf.path'] !== undefined ? { btfPath: values['btf.path'] } : {}),
    tools,
    limits: { expireMs, maxSeries },
    ...(values['kube.log-dir'] !== undefined ? { kubeLogDir: values['kube.log-dir'] } : {}),
    toolOptions: {
      ...(values['observe.iface'] !== undefined ? { observe: { args: list(values['observe.iface']).flatMap((i) => ['--iface', i]) } } : {}),
      ...(values['guard.rules'] !== undefined ? { guard: { rules: list(values['guard.rules']) } } : {}),
    },
  };
}

/** Loads every config and tool, all or nothing. */
export async function openExporter(o: ExporterOptions, env: DecoderEnv, toolOptions: ToolOptions = o.toolOptions): Promise<Exporter> {
  const configs: ExporterConfig[] = o.names.map((n) => readConfig(o.dir!, n, o.strict));
  const loaded: LoadedConfig[] = [];
  const tools: MetricProvider[] = [];
  try {
    for (const c of configs) loaded.push(loadConfig(c, env, { limits: o.limits, ...(o.btfPath !== undefined ? { btfPath: o.btfPath } : {}) }));
    for (const t of o.tools) tools.push(await toolProvider(t, toolOptions));
    return new Exporter(loaded, tools);
  } catch (err) {
    for (const t of tools.reverse()) t.close();
    for (const l of loaded.reverse()) l.close();
    throw err;
  }
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const o = parseExporterArgs(argv);
  if (o === 'help') return printHelp(io, HELP);
  const env = new DecoderEnv(new Sources(o.kubeLogDir !== undefined ? { kubeLogDir: o.kubeLogDir } : {}));
  if (o.check) {
    for (const n of o.names) {
      checkConfig(readConfig(o.dir!, n, o.strict), env);
      io.stdout.write(`${n}: ok\n`);
    }
    return 0;
  }
  const exporter = await openExporter(o, env);
  let server: Awaited<ReturnType<typeof serve>>;
  try {
    server = await serve(exporter, o.listen, o.path);
  } catch (err) {
    exporter.close();
    throw err;
  }
  io.stderr.write(`tsbpf exporter: serving ${o.names.length + o.tools.length} config(s) at ${serverUrl(server, o.path)}\n`);
  await interrupted();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  exporter.close();
  return 0;
}

export const command: Command = {
  name: 'exporter',
  summary: 'export kernel metrics to Prometheus from ebpf_exporter configs and tsbpf tools',
  help: HELP,
  run,
};
