#!/usr/bin/env node
// `npm run build:native`: builds the addon with node-gyp and copies it to
// prebuilds/<platform>-<arch>/node.napi.glibc.node, where node-gyp-build finds it. The addon uses
// Node-API 8 only, so one binary serves every Node >= 20; the copy is committed, so installing
// the package needs no C compiler where a prebuilt binary fits (linux-x64, glibc).
//
//   node scripts/prebuild-native.mjs [--arch ARCH]   (another arch needs its cross compiler:
//                                                     CC=aarch64-linux-gnu-gcc ... --arch arm64)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--arch');
const arch = i > 0 ? process.argv[i + 1] : process.arch;

// npm puts its own node-gyp on PATH for scripts; outside npm, the one bundled with npm.
const gyp = spawnSync('node-gyp', ['rebuild', `--arch=${arch}`], { cwd: root, stdio: 'inherit' });
if (gyp.error !== undefined || gyp.status !== 0) {
  process.stderr.write(`prebuild-native: node-gyp rebuild failed${gyp.error ? ` (${gyp.error.message}; run it as \`npm run build:native\`)` : ''}\n`);
  process.exit(1);
}
const built = join(root, 'build', 'Release', 'tsbpf_native.node');
if (!existsSync(built)) {
  process.stderr.write(`prebuild-native: ${built} was not built\n`);
  process.exit(1);
}
const dir = join(root, 'prebuilds', `${process.platform}-${arch}`);
mkdirSync(dir, { recursive: true });
const out = join(dir, 'node.napi.glibc.node');
// Without symbols and debug sections: smaller, and the same bytes for the same compiler.
// A cross compiler's strip has its prefix: aarch64-linux-gnu-gcc, aarch64-linux-gnu-strip.
const stripTool = process.env.STRIP ?? (process.env.CC?.endsWith('-gcc') ? process.env.CC.replace(/gcc$/, 'strip') : 'strip');
const strip = spawnSync(stripTool, ['--strip-unneeded', '-o', out, built], { stdio: 'inherit' });
if (strip.error !== undefined || strip.status !== 0) copyFileSync(built, out);
process.stdout.write(`prebuild-native: ${out}\n`);
