// The files a tool ships beside its sources (compiled BPF objects, rules, protos, web pages) and
// the package's version. The compiled modules run from dist/, where tsc copies none of these
// files, and from the one-file build, so they are found from the package root, not from the
// module's own URL.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../sys/package.js';

/** The path of `src/tools/<tool>/<segments...>` in the installed package. */
export function toolFile(tool: string, ...segments: string[]): string {
  return join(packageRoot(), 'src', 'tools', tool, ...segments);
}

/** "tsbpf 0.1.0", from the package's package.json. */
export function packageVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return version === undefined ? 'tsbpf' : `tsbpf ${version}`;
  } catch {
    return 'tsbpf';
  }
}
