// The public API is what api/*.api.md says: a change to the surface must come with the
// regenerated report (`npm run api`), so it is seen in review.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

const root = repoRoot();

test('api/*.api.md match the exported surface (npm run api rewrites them)', async () => {
  const { apiReports } = (await import(pathToFileURL(join(root, 'scripts/api-report.mjs')).href)) as { apiReports(): Record<string, string> };
  const reports = apiReports();
  assert.deepEqual(readdirSync(join(root, 'api')).sort(), Object.keys(reports).sort(), 'one report per entry point of package.json "exports"');
  for (const [file, text] of Object.entries(reports)) {
    assert.equal(readFileSync(join(root, 'api', file), 'utf8'), text, `api/${file} is stale: run npm run api and review the diff`);
  }
});

test('every entry point resolves by package name and exports what its report lists', async () => {
  const { apiReports, entryPoints } = (await import(pathToFileURL(join(root, 'scripts/api-report.mjs')).href)) as {
    apiReports(): Record<string, string>;
    entryPoints(): { name: string; file: string }[];
  };
  const reports = apiReports();
  for (const e of entryPoints()) {
    const listed = new Set(reports[`${e.file}.api.md`]!.split('\n').map((l) => /^(\w+): /.exec(l)?.[1]).filter((n) => n !== undefined));
    const runtime = Object.keys((await import(e.name)) as object);
    assert.ok(runtime.length > 0, `${e.name} exports values`);
    assert.deepEqual(runtime.filter((n) => !listed.has(n)), [], `${e.name}: run-time names missing from its report`);
  }
});

test('Map, the old name of BpfMap, still works for one release', async () => {
  const { BpfMap, Map } = await import('../src/index.js');
  assert.equal(Map, BpfMap);
  assert.equal(typeof Map.create, 'function');
});
