// Bundles the `tsbpf` command into one CommonJS file, dist/cli/tsbpf.cjs, which bin/tsbpf.cjs
// runs with a V8 code cache. Node 20 spends most of a short command's CPU in its ES module
// loader (about 0.7 ms per module, 130 modules for `object load`) and in compiling source; one
// CommonJS script has no per-module cost, and only CommonJS scripts can use a code cache there.
//
// Each module keeps its own import.meta.url (its place under dist/src), so everything that
// finds files relative to itself (the native addon, package.json, BPF objects) is unchanged.
import { readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'cli', 'tsbpf.cjs');

const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const from = JSON.stringify(relative(dirname(outfile), args.path));
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${from})).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'js' };
    });
  },
};

await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'entry.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Dependencies stay in node_modules: the native addon's locator finds files beside itself.
  packages: 'external',
  minifyWhitespace: true,
  // ASCII only (others escaped), so bin/tsbpf.cjs can read it as latin1, the cheapest decoding.
  charset: 'ascii',
  legalComments: 'none',
  plugins: [ownImportMetaUrl],
  logLevel: 'warning',
});
