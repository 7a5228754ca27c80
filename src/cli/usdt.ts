// `tsbpf usdt`: the USDT probes a binary, a library or a running process's files offer, with
// the section name that attaches a program to each.
import { readFileSync, statSync } from 'node:fs';
import { TargetNotFoundError } from '../link/errors.js';
import { resolveBinary } from '../link/binaries.js';
import { usdtSites, type UsdtSite } from '../link/usdt.js';
import { OUTPUT_OPTIONS, parse, UsageError, writeJson, type Command, type CommandIO, defineCommand } from './framework/index.js';
import * as help from './help/usdt.js';

interface Probe {
  file: string;
  provider: string;
  name: string;
  sites: number[];
  semaphoreOffset: number;
  args: string;
}

/** The probes of one file: sites of the same provider:name together, in file order. */
function probesOf(file: string, sites: readonly UsdtSite[]): Probe[] {
  const byName = new Map<string, Probe>();
  for (const s of sites) {
    const key = `${s.provider}:${s.name}`;
    const p = byName.get(key);
    if (p === undefined) byName.set(key, { file, provider: s.provider, name: s.name, sites: [s.offset], semaphoreOffset: s.semaphoreOffset, args: s.args });
    else p.sites.push(s.offset);
  }
  return [...byName.values()];
}

/** The files a process maps from disk, in the order of /proc/PID/maps, each once. */
function mappedFiles(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch (err) {
    throw new TargetNotFoundError('process', String(pid), undefined, { cause: err });
  }
  const files = new Set<string>();
  for (const line of text.split('\n')) {
    const path = line.split(/\s+/).slice(5).join(' ');
    if (path.startsWith('/') && !path.endsWith(' (deleted)')) files.add(path);
  }
  // Only regular files: a mapped device or socket is no ELF file, and reading one may not end.
  return [...files].filter((f) => {
    try {
      return statSync(`/proc/${pid}/root${f}`).isFile();
    } catch {
      return false;
    }
  });
}

/** The probes of the files a process maps; files that are not ELF or cannot be read are passed over. */
function processProbes(pid: number): Probe[] {
  const out: Probe[] = [];
  for (const file of mappedFiles(pid)) {
    let sites: UsdtSite[];
    try {
      sites = usdtSites(`/proc/${pid}/root${file}`);
    } catch (err) {
      // Not ELF, gone, or not readable ({code: 'EACCES'} and the like).
      if (err instanceof TargetNotFoundError || typeof (err as { code?: unknown }).code === 'string') continue;
      throw err;
    }
    out.push(...probesOf(file, sites));
  }
  return out;
}

function hex(n: number): string {
  return n === 0 ? '-' : `0x${n.toString(16)}`;
}

async function list(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('usdt list', argv, { ...OUTPUT_OPTIONS, pid: { type: 'string' } });
  if (positionals.length > 1) throw new UsageError(`usdt list: unexpected argument '${positionals[1]}'`);
  if ((positionals.length === 1) === (values.pid !== undefined)) throw new UsageError('usdt list: give a file or --pid PID');
  let probes: Probe[];
  if (values.pid !== undefined) {
    const pid = Number(values.pid);
    if (!/^\d+$/.test(values.pid) || pid <= 0) throw new UsageError(`usdt list: invalid pid '${values.pid}'`);
    probes = processProbes(pid);
  } else {
    const file = resolveBinary(positionals[0]!);
    probes = probesOf(file, usdtSites(file));
  }
  if (values.json || values.pretty) {
    writeJson(io.stdout, probes, values.pretty === true);
    return 0;
  }
  if (probes.length === 0) {
    io.stdout.write('no USDT probes\n');
    return 0;
  }
  const names = probes.map((p) => `${p.provider}:${p.name}`);
  const width = Math.max(...names.map((n) => n.length));
  let file = '';
  probes.forEach((p, i) => {
    if (p.file !== file) {
      file = p.file;
      io.stdout.write(`${file}\n`);
    }
    const sites = `${p.sites.length} site${p.sites.length === 1 ? '' : 's'}`;
    io.stdout.write(`  ${names[i]!.padEnd(width)}  ${sites.padEnd(8)}  semaphore ${hex(p.semaphoreOffset).padEnd(8)}  ${p.args}\n`);
  });
  return 0;
}

export const command: Command = defineCommand({
  name: 'usdt',
  summary: 'list the USDT probes of a binary, library or process',
  help,
  verbs: { list },
});
