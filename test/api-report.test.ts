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
