// The typed modules of the test corpus (test/bpf/gen/, written by scripts/gen-corpus.mjs during
// `npm run build:bpf`): each is exactly what the generator makes now from the committed object,
// and every object the generator handles has one. No clang needed: generation starts from the .o.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateModule } from '../src/codegen/generate.js';
import { TsbpfError } from '../src/errors.js';
import { corpus, root } from './bpf/corpus.js';

const genDir = corpus('gen');
const REGENERATE = 'regenerate with `npm run build:bpf` (or `npx tsx scripts/gen-corpus.mjs` from the committed objects)';

/** What scripts/gen-corpus.mjs generates for a corpus object; undefined when it skips the object. */
function generate(name: string): string | undefined {
  try {
    return generateModule({
      name,
      object: readFileSync(corpus(`${name}.bpf.o`)),
      objectFile: `../${name}.bpf.o`,
      runtime: '../../../src/codegen/runtime.js',
      embed: false,
      commandLine: 'npm run build:bpf',
    });
  } catch (err) {
    if (err instanceof TsbpfError) return undefined;
    throw err;
  }
}

const objects = readdirSync(join(root, 'test', 'bpf'))
  .filter((f) => f.endsWith('.bpf.o'))
  .map((f) => f.slice(0, -'.bpf.o'.length))
  .sort();
const committed = existsSync(genDir) ? readdirSync(genDir).filter((f) => f.endsWith('_bpf.ts')).sort() : [];

describe('generated corpus modules', () => {
  it('exist for the corpus', () => {
    assert.ok(committed.length > 0, `no modules in test/bpf/gen: ${REGENERATE}`);
  });

  for (const name of objects) {
    it(`gen/${name}_bpf.ts is what the generator makes from ${name}.bpf.o`, () => {
      const text = generate(name);
      const path = join(genDir, `${name}_bpf.ts`);
      if (text === undefined) {
        assert.ok(!existsSync(path), `the generator skips ${name}.bpf.o, but gen/${name}_bpf.ts exists: ${REGENERATE}`);
        return;
      }
      assert.ok(existsSync(path), `gen/${name}_bpf.ts is missing: ${REGENERATE}`);
      assert.equal(readFileSync(path, 'utf8'), text, REGENERATE);
    });
  }

  it('has no module without an object', () => {
    const orphans = committed.filter((f) => !objects.includes(f.slice(0, -'_bpf.ts'.length)));
    assert.deepEqual(orphans, [], REGENERATE);
  });
});
