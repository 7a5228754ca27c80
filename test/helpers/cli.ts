// Running the `tsbpf` command line: in this process (runCliInProcess), or as a separate process
// (runCli, spawnCli) from dist/ after `npm test`'s build or from the TypeScript sources (through
// tsx) during development.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type Command, type CommandIO, isUsageError, reportFailure } from '../../src/cli/framework/index.js';
import { main } from '../../src/cli/main.js';
import { packageRoot } from '../../src/sys/package.js';

const root = packageRoot();
const fromDist = fileURLToPath(import.meta.url).includes(`${join(root, 'dist')}`);

/** The argv that starts `tsbpf` with the given arguments. */
export function cliArgv(args: string[]): string[] {
  if (fromDist) return [join(root, 'bin', 'tsbpf.cjs'), ...args];
  const tsx = join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs');
  if (!existsSync(tsx)) throw new Error('tsx is not installed; run npm install');
  return ['--import', 'tsx', join(root, 'src', 'cli', 'entry.ts'), ...args];
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `tsbpf args...` to completion. */
export function runCli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CliResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, cliArgv(args), {
    cwd: root,
    encoding: 'utf8',
    input: opts.input ?? '',
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `tsbpf args...` in the background. */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): ReturnType<typeof spawn> {
  return spawn(process.execPath, cliArgv(args), { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface InProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tsbpf argv...` in this process as the binary does, through main(): usage errors exit 2,
 * other failures 1 with the reason on stderr. With `command`, runs that command module's `run`
 * on `argv` instead, and what it throws reaches the caller, for tests of those errors; with
 * `reportAs` too, only usage errors do, and other failures are reported as `tsbpf <reportAs>`
 * reports them (one line on stderr, exit 1).
 */
export async function runCliInProcess(
  argv: string[],
  opts: { command?: Pick<Command, 'run'>; reportAs?: string; stdin?: NodeJS.ReadableStream } = {},
): Promise<InProcessRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { stdout: collect(out), stderr: collect(err), stdin: opts.stdin ?? new PassThrough() };
  let code: number;
  try {
    code = await (opts.command ? opts.command.run(argv, io) : main(argv, io));
  } catch (e) {
    if (opts.reportAs === undefined || isUsageError(e)) throw e;
    code = reportFailure(io, opts.reportAs, e);
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function collect(chunks: string[]): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
}
