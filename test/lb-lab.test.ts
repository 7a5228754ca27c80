// docs/lb.md's lab, run as the doc shows it: the ```sh blocks after "## The lab", in order, in
// one shell, from the checkout, with the outputs the doc's comments promise asserted.
//
// The blocks use fixed names (namespaces lab-*, pins under b0, /tmp/lab-*), so they run in
// namespaces of their own: a mount namespace with its own /run/netns, bpffs and /tmp (nothing
// collides with another run or a lab someone has up), and a PID namespace whose end kills what
// the blocks started if the run is cut short.
//
// The lab must work on a fresh machine, where the machine's name is in no /etc/hosts (Debian's
// debootstrap writes none) and resolves, if at all, through DNS. The run gets that machine: an
// /etc/hosts without the name and a nameserver the lab's namespaces cannot reach. There, each
// real's `python3 -m http.server` refuses connections for 5 s or more after it starts, while
// it looks up the name between bind() and listen(); a lab that starts sending after a fixed
// pause loses its first connections and the health check marks the live reals DOWN.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { packageRoot } from '../src/sys/package.js';
import { kernelTest, requireCommand } from './helpers/kernel.js';

/** The ```sh blocks of the doc's "## The lab" section, in order. */
function labBlocks(doc: string): string[] {
  const section = doc.split(/^## The lab$/m)[1]?.split(/^## /m)[0] ?? '';
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

// Mounts the run's own /run/netns, bpffs and /tmp, hides the machine's name from the resolver,
// then runs the blocks ($LAB) from the checkout with stderr and stdout in one stream. After
// them it lists what is left: pins (progs.debug and maps.debug are the kernel's, in every
// bpffs), namespaces, files and servers. A checkout under /tmp (a CI clone) is mounted back in
// its place on the new /tmp, from the machine's /tmp kept under a tmpfs on /mnt.
const ENTER = `set -e
mount --make-rprivate /
mkdir -p /run/netns
mount -t tmpfs lab-netns /run/netns
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs lab-hold /mnt
mkdir /mnt/tmp
mount --rbind /tmp /mnt/tmp
mount -t tmpfs lab-tmp /tmp
case "$PWD/" in /tmp/*) mkdir -p "$PWD" && mount --rbind "/mnt$PWD" "$PWD" && cd "$PWD" ;; esac
mkdir /tmp/.etc
printf '127.0.0.1 localhost\\n::1 localhost\\n' > /tmp/.etc/hosts
echo 'nameserver 192.0.2.53' > /tmp/.etc/resolv.conf
[ -e /etc/hosts ] && mount --bind /tmp/.etc/hosts /etc/hosts
[ -e /etc/resolv.conf ] && mount --bind /tmp/.etc/resolv.conf /etc/resolv.conf
set +e
exec 2>&1
bash -c "$LAB"
echo "@@after"
find /sys/fs/bpf -mindepth 1 ! -type d ! -name progs.debug ! -name maps.debug
ls /run/netns
ls -d /tmp/lab-* 2>/dev/null
pgrep -a python3
true`;

/** The output of each block (and "after", what is left once the last has run). */
function runLab(blocks: string[]): Map<string, string> {
  const lab = blocks.map((b, i) => `echo "@@block ${i}"\n${b}`).join('\n');
  const r = spawnSync('unshare', ['--mount', '--pid', '--kill-child', '--mount-proc', 'bash', '-c', ENTER], {
    cwd: packageRoot(),
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, LAB: lab, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` },
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `the lab's shell: ${r.stdout}${r.stderr}`);
  const out = new Map<string, string>();
  for (const part of r.stdout.split(/^@@/m).slice(1)) {
    const nl = part.indexOf('\n');
    out.set(part.slice(0, nl).replace(/^block /, ''), part.slice(nl + 1));
  }
  return out;
}

/** The `sort | uniq -c` tally of the real names in a block's output. */
function counts(out: string): Record<string, number> {
  const t: Record<string, number> = {};
  for (const m of out.matchAll(/^\s*(\d+) (real\d)$/gm)) t[m[2]!] = Number(m[1]);
  return t;
}

/** The numbers of a VIP's or real's row of `lb stats`: packets, bytes, new conns, lru misses, replies, dropped. */
function statsRow(out: string, name: string): number[] {
  const row = out.split('\n').find((l) => l.trim().split(/\s+/)[0] === name);
  assert.ok(row, `no stats row for ${name} in:\n${out}`);
  return row.trim().split(/\s+/).slice(1).map(Number);
}

/** The health column of a real in `lb status` under the VIP `vip`. */
function health(out: string, vip: string, real: string): string | undefined {
  const section = out.split(/^(?=\S)/m).find((s) => s.startsWith(`${vip}:`)) ?? '';
  return section.split('\n').find((l) => l.trim().startsWith(`${real} `))?.trim().split(/\s+/).at(-1);
}

kernelTest('lb: the lab of docs/lb.md works as its commands show, on a machine whose name only DNS knows', (t) => {
  for (const [cmd, pkg] of [['python3', 'python3'], ['ethtool', 'ethtool'], ['curl', 'curl'], ['nsenter', 'util-linux'], ['unshare', 'util-linux']] as const) {
    if (!requireCommand(t, cmd, pkg)) return;
  }
  const blocks = labBlocks(readFileSync(join(packageRoot(), 'docs', 'lb.md'), 'utf8'));
  assert.equal(blocks.length, 5, 'set-up, NAT, DSR, health checks, tear-down');
  const out = runLab(blocks);
  const whole = [...out.values()].join('');

  // Set-up: the only output is the four bridge ports' pass-all programs, no error.
  const setUp = (out.get('0') ?? '').trim().split('\n');
  assert.equal(setUp.length, 4, `set-up printed:\n${out.get('0')}`);
  for (const l of setUp) assert.match(l, /^lb decap on \S+-sw with no VIPs: every packet passes$/);

  // NAT: 30 connections, "about 10 real1, 20 real2" (weights 1:2; real1's count within 3.5 sd).
  const nat = counts(out.get('1') ?? '');
  assert.equal((nat.real1 ?? 0) + (nat.real2 ?? 0), 30, `NAT tally: ${JSON.stringify(nat)}\n${out.get('1')}`);
  assert.ok(nat.real1! >= 1 && nat.real1! <= 19, `NAT tally: ${JSON.stringify(nat)}`);
  assert.equal(statsRow(out.get('1') ?? '', '10.200.9.1:80/tcp')[2], 30, 'new connections of the NAT VIP');

  // DSR: 30 connections over both reals, and no reply through the balancer.
  const dsr = counts(out.get('2') ?? '');
  assert.equal((dsr.real1 ?? 0) + (dsr.real2 ?? 0), 30, `DSR tally: ${JSON.stringify(dsr)}\n${out.get('2')}`);
  assert.ok(dsr.real1! >= 5 && dsr.real2! >= 5, `DSR tally: ${JSON.stringify(dsr)}`);
  const [, , newConns, , replies] = statsRow(out.get('2') ?? '', '[fd00:c8:9::2]:80/tcp');
  assert.equal(newConns, 30, 'new connections of the DSR VIP');
  assert.equal(replies, 0, 'DSR replies go from the reals to the client directly');

  // Health checks: the stopped real goes DOWN, the live one never does, and takes every connection.
  assert.match(out.get('3') ?? '', /real 10\.200\.2\.12 DOWN/);
  assert.doesNotMatch(whole, /real 10\.200\.2\.11 DOWN/, 'the live real was marked DOWN');
  assert.equal(health(out.get('3') ?? '', '10.200.9.1:80/tcp', '10.200.2.12'), 'DOWN');
  assert.equal(health(out.get('3') ?? '', '10.200.9.1:80/tcp', '10.200.2.11'), 'up');
  assert.deepEqual(counts(out.get('3') ?? ''), { real1: 10 });

  // Tear-down: each unload says so and nothing else is printed; no pin, namespace, file or
  // server is left.
  for (const l of (out.get('4') ?? '').trim().split('\n')) assert.match(l, /^lb (decap )?unloaded from \S+$/);
  assert.equal(out.get('after')?.trim(), '', 'left after the tear-down');
});
