// Running the system tools the benchmark drives (ip, nsenter, iptables, nft, bpftool, cc, clang).
import { spawn } from 'node:child_process';

/** A command exited non-zero or could not start; the message carries its stderr. */
export class CommandError extends Error {
  readonly command: string;
  readonly status: number | null;
  constructor(command: string, status: number | null, stderr: string, options?: { cause?: unknown }) {
    super(`${command}: ${stderr.trim() || `exit status ${status}`}`, options);
    this.name = 'CommandError';
    this.command = command;
    this.status = status;
  }
}

/** Runs `file args`, feeding `input` on stdin, and resolves to its stdout. */
export function sh(file: string, args: readonly string[], input?: string): Promise<string> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'pipe' });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new CommandError(command, null, e.message, { cause: e })));
    child.on('close', (status) => (status === 0 ? resolve(out) : reject(new CommandError(command, status, err))));
    // A tool that exits without reading its input reports that through its status.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** `sh` in the network namespace `netns` (a name under /run/netns), keeping this mount namespace. */
export function shIn(netns: string, file: string, args: readonly string[], input?: string): Promise<string> {
  return sh('nsenter', [`--net=/run/netns/${netns}`, file, ...args], input);
}
