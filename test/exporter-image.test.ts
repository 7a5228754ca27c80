// deploy/Dockerfile, built without a container engine: every instruction is carried out here,
// each stage in a directory of its own (COPY from the checkout or an earlier stage, RUN in the
// stage's WORKDIR), the last stage is mounted where the image has it (a private mount
// namespace), and its ENTRYPOINT and CMD must serve metrics. That proves the image's file list
// and build steps, not the base images (node:20-bookworm and -slim are the host's Node here).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { after, describe } from 'node:test';
import { packageRoot } from '../src/sys/package.js';
import { kernelTest, requireCommand } from './helpers/kernel.js';

const root = packageRoot();

interface Stage {
  name: string;
  dir: string;
  workdir: string;
  entrypoint?: string[];
  cmd?: string[];
}

/** The Dockerfile's instructions, continuation lines joined and comments dropped. */
function instructions(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(l);
    assert.ok(m, `not an instruction: ${l}`);
    out.push([m[1]!, m[2]!]);
  }
  return out;
}

/** Builds the Dockerfile into `work`; the stages, the last one the image. */
function build(dockerfile: string, work: string): Stage[] {
  const stages: Stage[] = [];
  const inStage = (s: Stage, p: string) => join(s.dir, posix.resolve(s.workdir, p));
  for (const [op, arg] of instructions(dockerfile)) {
    const stage = stages.at(-1);
    if (op === 'FROM') {
      const [, name] = /\sAS\s+(\S+)/i.exec(arg) ?? [];
      const dir = join(work, `stage${stages.length}`);
      mkdirSync(dir);
      stages.push({ name: name ?? String(stages.length), dir, workdir: '/' });
      continue;
    }
    assert.ok(stage, `${op} before FROM`);
    if (op === 'WORKDIR') {
      stage.workdir = posix.resolve(stage.workdir, arg);
      mkdirSync(inStage(stage, '.'), { recursive: true });
    } else if (op === 'COPY') {
      const words = arg.split(/\s+/);
      const from = words[0]!.startsWith('--from=') ? stages.find((s) => s.name === words.shift()!.slice(7)) : undefined;
      const dest = words.pop()!;
      for (const src of words) {
        const path = from ? join(from.dir, posix.resolve(from.workdir, src)) : join(root, src);
        assert.ok(existsSync(path), `COPY ${src}: no such file`);
        const target = statSync(path).isDirectory() || !dest.endsWith('/') ? inStage(stage, dest) : join(inStage(stage, dest), basename(src));
        cpSync(path, target, { recursive: true });
      }
    } else if (op === 'RUN') {
      const env = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
      const r = spawnSync('sh', ['-c', arg], { cwd: inStage(stage, '.'), env, encoding: 'utf8' });
      assert.equal(r.status, 0, `RUN ${arg}\n${r.stdout}${r.stderr}`);
    } else if (op === 'ENTRYPOINT' || op === 'CMD') {
      const argv = JSON.parse(arg) as string[];
      if (op === 'ENTRYPOINT') stage.entrypoint = argv;
      else stage.cmd = argv;
    } else {
      assert.ok(['EXPOSE', 'ENV', 'LABEL', 'USER'].includes(op), `${op} is not an instruction this build knows`);
    }
  }
  return stages;
}

/**
 * Runs the image's entrypoint with these arguments, its tree mounted where the image has it (in
 * a mount namespace of its own); the metrics it serves, once, then SIGTERM and exit 0.
 */
async function serve(image: Stage, args: string[]): Promise<string> {
  const top = posix.resolve(image.workdir).split('/')[1]!;
  const script = 'mount --bind "$0" "$1" && shift 2 && exec "$@"';
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, join(image.dir, top), `/${top}`, ...image.entrypoint!, ...args], {
    cwd: '/',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /at (http:\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    exited.then((code) => reject(new Error(`the image's command exited ${code}: ${stderr}`)));
  });
  try {
    return await (await fetch(url)).text();
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  }
}

/** Every file name under dir, relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: false }) as string[];
}

describe('deploy/Dockerfile', () => {
  const work = mkdtempSync(join(tmpdir(), 'tsbpf-image-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  kernelTest('builds an image that keeps no compiler and whose command serves metrics', { timeout: 280_000 }, async (t) => {
    if (!requireCommand(t, 'unshare', 'util-linux')) return;
    const stages = build(readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8'), work);
    const image = stages.at(-1)!;
    assert.ok(image.entrypoint && image.cmd);

    // No compiler: no package that only development needs (TypeScript, esbuild...), and no C.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => p.dev && path.startsWith('node_modules/'));
    assert.ok(devOnly.some(([path]) => path === 'node_modules/typescript'));
    for (const [path] of devOnly) assert.ok(!existsSync(join(image.dir, image.workdir, path)), `${path} is in the image`);
    // BPF objects come compiled: each BPF C source the image carries has its object beside it.
    const sources = files(image.dir).filter((f) => f.endsWith('.bpf.c'));
    assert.ok(sources.length >= 5);
    for (const c of sources) assert.ok(existsSync(join(image.dir, c.replace(/\.c$/, '.o'))), `${c} has no object`);

    // The image's command, and the tools' metrics (their objects and files are in the image).
    const cmd = await serve(image, [...image.cmd!, '--web.listen-address=127.0.0.1:0']);
    assert.match(cmd, /^ebpf_exporter_enabled_configs\{name="execs"\} 1$/m);
    assert.match(cmd, /^ebpf_exporter_ebpf_program_attached\{id="\d+"\} 1$/m);
    const tools = await serve(image, ['exporter', '--tools', 'tcptrack,xdp-filter,observe,guard', '--web.listen-address=127.0.0.1:0']);
    for (const metric of ['tsbpf_tcptrack_connections_total', 'tsbpf_xdp_filter_packets_total', 'hubble_flows_processed_total', 'tsbpf_guard_events_total']) {
      assert.match(tools, new RegExp(`^# TYPE ${metric} counter$`, 'm'));
    }
  });
});
