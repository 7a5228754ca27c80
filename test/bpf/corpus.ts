// Paths of the committed BPF test corpus, from the source tree or the compiled dist/ tree alike.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root');
    dir = up;
  }
  return dir;
}

/** The repository root. */
export const root = findRoot();

/** A corpus object, e.g. corpus('maps.bpf.o') or corpus('realworld/execsnoop.bpf.o'). */
export function corpus(name: string): string {
  return join(root, 'test', 'bpf', name);
}

/** Every committed real-world-style object: the corpus's and the tools'. */
export function realWorldObjects(): string[] {
  const out = readdirSync(join(root, 'test', 'bpf', 'realworld'))
    .filter((f) => f.endsWith('.bpf.o'))
    .map((f) => join(root, 'test', 'bpf', 'realworld', f));
  const tools = join(root, 'src', 'tools');
  for (const t of readdirSync(tools)) {
    const dir = join(tools, t);
    if (!existsSync(dir)) continue;
    try {
      for (const f of readdirSync(dir)) if (f.endsWith('.bpf.o')) out.push(join(dir, f));
    } catch {
      // Not a directory.
    }
  }
  return out.sort();
}

/** Every committed object of the corpus itself. */
export function corpusObjects(): string[] {
  const base = join(root, 'test', 'bpf');
  return [
    ...readdirSync(base).filter((f) => f.endsWith('.bpf.o')).map((f) => join(base, f)),
    ...readdirSync(join(base, 'realworld')).filter((f) => f.endsWith('.bpf.o')).map((f) => join(base, 'realworld', f)),
  ].sort();
}
