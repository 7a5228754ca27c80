#!/usr/bin/env node
// The `tsbpf` command. It runs the one-file build of the command line (dist/cli/tsbpf.cjs,
// made by `npm run build`) through a V8 code cache kept per command under dist/cli/cache, so
// a short command pays neither for loading 130 modules nor for compiling them. When that file
// is missing or older than the compiled modules (after a bare `tsc`), the modules run as they
// are, through dist/src/cli/entry.js.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const bundle = path.join(dist, 'cli', 'tsbpf.cjs');
const entry = path.join(dist, 'src', 'cli', 'entry.js');

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

// The code cache holds the functions a run compiled, so each command keeps its own. The second
// word may be an argument rather than a verb (`tsbpf gen NAME`), so the number of caches is
// capped instead of the words being checked.
const MAX_CACHES = 64;

function cacheFile() {
  const words = process.argv.slice(2, 4).filter((w) => /^[a-z][a-z0-9-]{0,31}$/.test(w));
  return path.join(dist, 'cli', 'cache', `${words.join('.') || 'tsbpf'}.v8`);
}

function runBundle() {
  const vm = require('node:vm');
  const Module = require('node:module');
  // esbuild writes ASCII only (non-ASCII characters escaped), which latin1 decodes fastest.
  const source = fs.readFileSync(bundle, 'latin1');
  const cache = cacheFile();
  let cachedData;
  try {
    cachedData = fs.readFileSync(cache);
  } catch {
    // First run of this command: the cache is written at exit.
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const mod = new Module(bundle, module);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(path.dirname(bundle));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      // A read-only installation or a concurrent writer only costs the next run its cache.
      const tmp = `${cache}.${process.pid}`;
      try {
        fs.mkdirSync(path.dirname(cache), { recursive: true });
        if (cachedData === undefined && fs.readdirSync(path.dirname(cache)).length >= MAX_CACHES) return;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cache);
      } catch {
        try {
          fs.rmSync(tmp, { force: true });
        } catch {}
      }
    });
  }
}

const built = mtime(bundle);
const compiled = mtime(entry);
if (built !== undefined && (compiled === undefined || built >= compiled)) runBundle();
else import(require('node:url').pathToFileURL(entry).href);
