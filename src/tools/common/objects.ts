// Where a tool's compiled BPF object is: beside its C source under src/tools/<tool>/, which the
// package ships. The compiled modules run from dist/, where tsc copies no object, and from the
// one-file build, so the path is taken from the package root, not from the module's own URL.
import { join } from 'node:path';
import { packageRoot } from '../../sys/package.js';

/** The path of `src/tools/<tool>/<file>` in the installed package. */
export function toolObject(tool: string, file: string): string {
  return join(packageRoot(), 'src', 'tools', tool, file);
}
