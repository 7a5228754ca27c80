// Importing the ring and perf buffer readers loads no native code: the page size is asked of the
// addon when a buffer is mapped, so `--help` and object parsing never dlopen it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);
const ext = here.endsWith('.ts') ? '.ts' : '.js';

test('importing ringbuf and perf loads no addon', () => {
  const modules = ['../src/ringbuf/index', '../src/perf/index'].map((m) => pathToFileURL(fileURLToPath(new URL(`${m}${ext}`, import.meta.url))).href);
  const script = `
    import { createRequire } from 'node:module';
    ${modules.map((m) => `await import(${JSON.stringify(m)});`).join('\n')}
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.endsWith('.node'));
    process.stdout.write(JSON.stringify(loaded));
  `;
  const r = spawnSync(process.execPath, [...(ext === '.ts' ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});
