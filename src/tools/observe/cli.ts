// `tsbpf observe`: Hubble-style network flows on any host.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { printHelp, type Command, type CommandIO } from '../../cli/framework/index.js';
import { TsbpfError } from '../../index.js';
import { HELP } from './help.js';
import { parseObserveArgs } from './options.js';
import { runObserve } from './run.js';

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

async function run(argv: string[], io: CommandIO): Promise<number> {
  const options = parseObserveArgs(argv);
  if (options === 'help') return printHelp(io, HELP);
  if (options.netns !== undefined) return inNetns(options.netns, argv, io);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runObserve(options, io, controller.signal);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const command: Command = {
  name: 'observe',
  summary: 'observe network flows as Hubble does: TCP/UDP/ICMP, drops with reasons, DNS and HTTP',
  help: HELP,
  run,
};
