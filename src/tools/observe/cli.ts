// `tsbpf observe`: Hubble-style network flows on any host.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { printHelp, UsageError, writeJson, type Command, type CommandIO } from '../../cli/framework/index.js';
import { type InvalidArgumentError, TsbpfError } from '../../index.js';
import { serverStatus } from './client.js';
import { HELP, SERVE_HELP, STATUS_HELP } from './help.js';
import { DATAPATH_OPTIONS, parseDatapathOptions, parseObserveArgs } from './options.js';
import { runObserve } from './run.js';
import { packageVersion } from '../common/assets.js';
import { openWebView } from './ui/webview.js';
import { DEFAULT_BUFFER, DEFAULT_SOCKET, grpcAddress, ObserveServer } from './server.js';
import { interrupted, untilInterrupted } from '../common/interrupt.js';

const NETNS_DIR = '/run/netns';

/** The argv without --netns and its value. */
function withoutNetns(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--netns') i++;
    else if (!a.startsWith('--netns=')) out.push(a);
  }
  return out;
}

/**
 * --netns: the whole observer runs in the namespace (interfaces, ifindexes and the attach calls
 * are all per namespace), started again under nsenter, which leaves the mounts (bpffs, cgroup)
 * as they are. Resolves with its exit code.
 */
function inNetns(netns: string, argv: readonly string[], io: CommandIO): Promise<number> {
  const path = netns.includes('/') ? netns : join(NETNS_DIR, netns);
  if (!existsSync(path)) throw new TsbpfError('ENOENT', `no network namespace '${netns}'${netns.includes('/') ? '' : ` in ${NETNS_DIR}`}`);
  const script = process.argv[1];
  if (script === undefined) throw new TsbpfError('EINVAL', '--netns needs the tsbpf command to start again');
  const child = spawn('nsenter', [`--net=${path}`, '--', process.execPath, ...process.execArgv, script, 'observe', ...withoutNetns(argv)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(io.stdout as NodeJS.WritableStream, { end: false });
  child.stderr.pipe(io.stderr as NodeJS.WritableStream, { end: false });
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new TsbpfError('ENOENT', `nsenter: ${err.message}`)));
    child.once('close', (code) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? 1);
    });
  });
}



const SERVE_OPTIONS = {
  listen: { type: 'string', short: 'l', multiple: true },
  'buffer-size': { type: 'string' },
  ...DATAPATH_OPTIONS,
  'export-file': { type: 'string' },
  'export-max-size-mb': { type: 'string' },
  'export-max-backups': { type: 'string' },
  ui: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseVerbArgs(verb: string, argv: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | Array<string | boolean> | undefined> {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
    return r.values;
  } catch (err) {
    throw new UsageError(`observe ${verb}: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function serve(argv: string[], io: CommandIO): Promise<number> {
  const v = parseVerbArgs('serve', argv, SERVE_OPTIONS);
  if (v.help) return printHelp(io, SERVE_HELP);
  if (typeof v.netns === 'string') return inNetns(v.netns, ['serve', ...argv], io);
  const listen = (v.listen as string[] | undefined) ?? [DEFAULT_SOCKET];
  for (const l of listen) {
    try {
      grpcAddress(l);
    } catch (err) {
      throw new UsageError(`observe serve: --listen: ${(err as InvalidArgumentError).message}`);
    }
  }
  const size = v['buffer-size'] === undefined ? DEFAULT_BUFFER : Number(v['buffer-size']);
  if (!Number.isInteger(size) || size < 1 || size > 1 << 20) throw new UsageError(`observe serve: --buffer-size '${String(v['buffer-size'])}' must be from 1 to ${1 << 20}`);
  const { netns: _inNetns, ...datapath } = parseDatapathOptions(v as Parameters<typeof parseDatapathOptions>[0], 'observe serve');
  const exportFile = v['export-file'] as string | undefined;
  const maxMb = v['export-max-size-mb'] === undefined ? 10 : Number(v['export-max-size-mb']);
  const backups = v['export-max-backups'] === undefined ? 5 : Number(v['export-max-backups']);
  if (!(maxMb > 0) || maxMb > 1 << 20) throw new UsageError(`observe serve: --export-max-size-mb '${String(v['export-max-size-mb'])}' must be a positive number of MiB`);
  if (!Number.isInteger(backups) || backups < 0 || backups > 1000) throw new UsageError(`observe serve: --export-max-backups '${String(v['export-max-backups'])}' must be from 0 to 1000`);
  if (exportFile === '') throw new UsageError('observe serve: --export-file needs a path');
  const server = new ObserveServer({
    ...(exportFile !== undefined ? { export: { path: exportFile, maxBytes: Math.round(maxMb * 1024 * 1024), maxBackups: backups } } : {}),
    listen,
    bufferSize: size,
    version: packageVersion(),
    filter: {},
    ...datapath,
  });
  // The page's port is taken before the datapath is attached: a busy one leaves nothing behind.
  const web = typeof v.ui === 'string' ? await openWebView(server, v.ui) : undefined;
  const stopped = interrupted();
  let addresses: string[];
  try {
    addresses = await server.start();
  } catch (err) {
    web?.view.close();
    throw err;
  }
  io.stderr.write(`observe: serving Hubble's Observer API on ${addresses.join(', ')}; Ctrl-C to stop\n`);
  if (web !== undefined) io.stderr.write(`observe: web view on ${web.url}\n`);
  try {
    await stopped;
  } finally {
    web?.view.close();
    server.close();
  }
  return 0;
}

async function status(argv: string[], io: CommandIO): Promise<number> {
  const v = parseVerbArgs('status', argv, { server: { type: 'string' }, json: { type: 'boolean', short: 'j' }, help: { type: 'boolean', short: 'h' } } as const);
  if (v.help) return printHelp(io, STATUS_HELP);
  const address = (v.server as string | undefined) ?? DEFAULT_SOCKET;
  const s = await serverStatus(address);
  if (v.json) {
    writeJson(io.stdout, s);
    return 0;
  }
  const uptime = Number(BigInt(String(s.uptime_ns ?? '0')) / 1_000_000_000n);
  io.stdout.write(`Healthcheck (via ${address}): Ok\nCurrent/Max Flows: ${s.num_flows ?? 0}/${s.max_flows ?? 0}\nFlows seen: ${s.seen_flows ?? 0}\nUptime: ${uptime}s\n`);
  return 0;
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  if (argv[0] === 'serve') return serve(argv.slice(1), io);
  if (argv[0] === 'status') return status(argv.slice(1), io);
  const options = parseObserveArgs(argv);
  if (options === 'help') return printHelp(io, HELP);
  if (options.netns !== undefined) return inNetns(options.netns, argv, io);
  await untilInterrupted((signal) => runObserve(options, io, signal));
  return 0;
}

export const command: Command = {
  name: 'observe',
  summary: 'observe network flows as Hubble does: TCP/UDP/ICMP, drops with reasons, DNS and HTTP',
  help: HELP,
  run,
};
