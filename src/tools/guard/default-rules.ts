// Where the rules shipped with tsbpf are: src/tools/guard/rules/ of the installed package,
// found from this module whether it runs from src/ (tsx) or from dist/src/ (compiled).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RELATIVE = join('src', 'tools', 'guard', 'rules', 'guard_rules.yaml');

/** The default rules file; the package's directories are searched upwards from here. */
export function defaultRulesFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, RELATIVE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), 'rules', 'guard_rules.yaml');
    dir = up;
  }
}
