// Writing what a command produces (compile's object, gen's object and module): into a directory
// the user gave and that exists, each file complete or not at all, with errors about the paths
// the user named rather than the temporary files behind them.
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsbpfError } from '../errors.js';
import { UsageError } from './framework/index.js';

function isDirectory(path: string): boolean | undefined {
  try {
    return statSync(path).isDirectory();
  } catch {
    return undefined;
  }
}

/** Refuses `option DIR` unless DIR is an existing directory (nothing is created for a typo). */
export function requireOutputDir(option: string, dir: string): void {
  const d = isDirectory(dir);
  if (d === undefined) throw new UsageError(`${option} ${dir}: no such directory`);
  if (!d) throw new UsageError(`${option} ${dir}: not a directory`);
}

/** Refuses `option FILE` when FILE is a directory or its directory does not exist. */
export function requireOutputFile(option: string, file: string): void {
  if (isDirectory(file) === true) throw new UsageError(`${option} ${file}: is a directory; give a file name`);
  const dir = dirname(file);
  const d = isDirectory(dir);
  if (d === undefined) throw new UsageError(`${option} ${file}: no such directory ${dir}`);
  if (!d) throw new UsageError(`${option} ${file}: ${dir} is not a directory`);
}

/**
 * Writes every file to a temporary name beside it, then renames them all into place; on any
 * error no temporary file stays and the error names the file the user asked for.
 */
export function writeOutputs(files: ReadonlyArray<{ path: string; data: Uint8Array | string }>): void {
  const tmps = files.map((f) => join(dirname(f.path), `.${basename(f.path)}.${process.pid}.tmp`));
  let current = files[0]?.path ?? '';
  try {
    files.forEach((f, i) => {
      current = f.path;
      writeFileSync(tmps[i]!, f.data);
    });
    files.forEach((f, i) => {
      current = f.path;
      renameSync(tmps[i]!, f.path);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const reason = (err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*$/, '');
    throw new TsbpfError(code, `cannot write ${current}: ${reason}`, { cause: err });
  } finally {
    for (const t of tmps) rmSync(t, { force: true });
  }
}
