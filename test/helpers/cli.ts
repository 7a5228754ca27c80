// Running the `tsbpf` command line as a separate process, from dist/ after `npm test`'s build or
// from the TypeScript sources (through tsx) during development.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../src/sys/native.js';

const root = packageRoot();
const fromDist = fileURLToPath(import.meta.url).includes(`${join(root, 'dist')}`);

/** The argv that starts `tsbpf` with the given arguments. */
export function cliArgv(args: string[]): string[] {
  if (fromDist) return [join(root, 'bin', 'tsbpf.js'), ...args];
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
