// The SSH session a command runs in, so the firewall never cuts off its own operator. sudo's
// default env_reset removes SSH_CONNECTION, so the environment of this process is not enough:
// the parents' environments (sudo's own keeps it) and utmp are asked too.
import { readFileSync, readlinkSync } from 'node:fs';
import { parseAddress } from '../common/net.js';

export interface SshSession {
  /** The client's addresses (one, unless only utmp knew and the user has several sessions). */
  peers: string[];
  /** The server's port, 22 when unknown. */
  port: number;
  /** Where it was found: 'environment', 'parent process <pid>' or 'utmp'. */
  source: string;
}

function validAddress(s: string | undefined): string | undefined {
  if (!s) return undefined;
  try {
    parseAddress(s);
    return s;
  } catch {
    return undefined;
  }
}

/** SSH_CONNECTION is "client port server port"; SSH_CLIENT is "client port server-port". */
export function fromEnvironment(env: Record<string, string | undefined>): { peer: string; port: number } | undefined {
  const conn = env.SSH_CONNECTION?.trim().split(/\s+/);
  const client = env.SSH_CLIENT?.trim().split(/\s+/);
  const peer = validAddress(conn?.[0]) ?? validAddress(client?.[0]);
  if (peer === undefined) return undefined;
  const port = Number(conn?.[3] ?? client?.[2]);
  return { peer, port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 22 };
}

function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return env;
}

function parentOf(pid: number): number {
  // The command name, in parentheses, may hold spaces: the fields after it are split.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

const UTMP_SIZE = 384;
const USER_PROCESS = 7;

interface UtmpEntry {
  line: string;
  user: string;
  addr: string | undefined;
}

function cString(b: Buffer, start: number, len: number): string {
  const raw = b.subarray(start, start + len);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? len : end).toString('utf8');
}

/** The logged-in sessions of /var/run/utmp (struct utmp of glibc on Linux, 384 bytes). */
function utmpSessions(path = '/var/run/utmp'): UtmpEntry[] {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return [];
  }
  const out: UtmpEntry[] = [];
  for (let off = 0; off + UTMP_SIZE <= data.length; off += UTMP_SIZE) {
    if (data.readInt32LE(off) !== USER_PROCESS) continue;
    // ut_addr_v6 holds the peer's address: IPv4 in its first word, the rest zero.
    const a = data.subarray(off + 348, off + 364);
    let addr: string | undefined;
    if (a.readUInt32LE(4) === 0 && a.readUInt32LE(8) === 0 && a.readUInt32LE(12) === 0) {
      addr = a.readUInt32LE(0) === 0 ? undefined : `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
    } else {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(a.readUInt16BE(i).toString(16));
      addr = groups.join(':');
    }
    out.push({ line: cString(data, off + 8, 32), user: cString(data, off + 44, 32), addr: validAddress(addr) });
  }
  return out;
}

function terminalsOfSelf(): string[] {
  const out: string[] = [];
  for (const fd of [0, 1, 2]) {
    try {
      const t = readlinkSync(`/proc/self/fd/${fd}`);
      if (t.startsWith('/dev/')) out.push(t.slice(5));
    } catch {
      // Closed.
    }
  }
  return out;
}

export interface SessionSources {
  env?: Record<string, string | undefined>;
  pid?: number;
  utmpPath?: string;
}

/** The SSH session of this process: its environment, its parents', then utmp. */
export function sshSession(src: SessionSources = {}): SshSession | undefined {
  const env = src.env ?? process.env;
  const own = fromEnvironment(env);
  if (own) return { peers: [own.peer], port: own.port, source: 'environment' };
  let pid = src.pid ?? process.pid;
  for (let depth = 0; depth < 32 && pid > 1; depth++) {
    try {
      pid = parentOf(pid);
      if (pid <= 1) break;
      const found = fromEnvironment(environOf(pid));
      if (found) return { peers: [found.peer], port: found.port, source: `parent process ${pid}` };
    } catch {
      break;
    }
  }
  const sessions = utmpSessions(src.utmpPath);
  const ttys = terminalsOfSelf();
  const mine = sessions.filter((s) => s.addr !== undefined && ttys.includes(s.line));
  const user = env.SUDO_USER;
  const candidates = mine.length ? mine : user ? sessions.filter((s) => s.addr !== undefined && s.user === user) : [];
  const peers = [...new Set(candidates.map((s) => s.addr!))];
  return peers.length ? { peers, port: 22, source: 'utmp' } : undefined;
}
