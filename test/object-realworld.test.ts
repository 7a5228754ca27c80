// Objects written like bcc's libbpf-tools, and the tools' own objects: tsbpf loads each wherever
// libbpf (through `bpftool prog loadall`) does, into the same instructions.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe } from 'node:test';
import { NotSupportedError } from '../src/errors.js';
import { makeBpffsDir } from '../src/map/bpffs.js';
import { CollectionSpec } from '../src/index.js';
import { ProgramNotSupportedError } from '../src/object/index.js';
import { objGet } from '../src/sys/attrs.js';
import { progInfo } from '../src/sys/info.js';
import { AttachType, ProgramType } from '../src/sys/types.js';
import { corpusObjects, realWorldObjects } from './bpf/corpus.js';
import { kernelTest, requireCommand, testPinDir, uniqueName } from './helpers/kernel.js';

function haveBpftool(): boolean {
  return spawnSync('bpftool', ['version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Loads with libbpf through bpftool; the tags of the programs it loaded, or undefined if it
 * failed. libbpf pins LIBBPF_PIN_BY_NAME maps at /sys/fs/bpf itself: those it made are removed.
 */
function bpftoolTags(object: string): Map<string, string> | undefined {
  const dir = join('/sys/fs/bpf', uniqueName('tsbpfrw', 40));
  const byName = Object.values(CollectionSpec.fromFile(object).maps).filter((m) => m.pinning === 'byName');
  const madeHere = byName.map((m) => join('/sys/fs/bpf', m.name)).filter((p) => !existsSync(p));
  makeBpffsDir(dir);
  try {
    const r = spawnSync('bpftool', ['prog', 'loadall', object, dir], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    const tags = new Map<string, string>();
    for (const name of readdirSync(dir)) {
      using fd = objGet(join(dir, name));
      tags.set(name, progInfo(fd.value).tag);
    }
    return tags;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const p of madeHere) rmSync(p, { force: true });
  }
}

const needsTrampoline = (type: ProgramType, attach?: AttachType): boolean =>
  type === ProgramType.LSM ||
  (type === ProgramType.TRACING && (attach === AttachType.TRACE_FENTRY || attach === AttachType.TRACE_FEXIT || attach === AttachType.MODIFY_RETURN));

describe('real-world objects', () => {
  for (const object of realWorldObjects()) {
    kernelTest(`${basename(object)} loads as libbpf loads it`, (t) => {
      const spec = CollectionSpec.fromFile(object);
      const reference = haveBpftool() ? bpftoolTags(object) : undefined;
      const pinPath = testPinDir(t);
      let loaded: ReturnType<CollectionSpec['load']>;
      try {
        loaded = spec.load({ pinPath });
      } catch (err) {
        if (reference !== undefined) throw err;
        // libbpf failed too; the only acceptable reason is a hook this kernel lacks.
        assert.ok(err instanceof NotSupportedError, `libbpf and tsbpf both fail, tsbpf with ${String(err)}`);
        assert.ok(err instanceof ProgramNotSupportedError && spec.programs[err.program] !== undefined, 'the error names the program');
        const trimmed = spec.copy();
        for (const [name, p] of Object.entries(trimmed.programs)) if (needsTrampoline(p.type, p.expectedAttachType)) delete trimmed.programs[name];
        using rest = trimmed.load({ pinPath });
        assert.ok(Object.keys(rest.programs).length > 0);
        return;
      }
      using c = loaded;
      assert.deepEqual(Object.keys(c.programs).sort(), Object.keys(spec.programs).sort());
      if (reference === undefined) return;
      // bpftool pins programs by name; a tag hashes the instructions with map fds left out.
      for (const [name, prog] of Object.entries(c.programs)) {
        const tag = reference.get(name);
        assert.ok(tag !== undefined, `libbpf loaded ${name} too`);
        assert.equal(prog.tag, tag, `${name}: the same instructions as libbpf's`);
      }
    });
  }
});

describe('the test corpus', () => {
  for (const object of corpusObjects().filter((f) => !f.includes('/realworld/'))) {
    const spec = CollectionSpec.fromFile(object);
    // libbpf would pin LIBBPF_PIN_BY_NAME maps under /sys/fs/bpf itself, shared by every run.
    if (Object.values(spec.maps).some((m) => m.pinning === 'byName')) continue;
    kernelTest(`${basename(object)}: wherever libbpf loads it, tsbpf loads the same instructions`, (t) => {
      if (!haveBpftool() && !requireCommand(t, 'bpftool', 'bpftool')) return;
      const reference = bpftoolTags(object);
      if (reference === undefined) return;
      using c = spec.load();
      for (const [name, prog] of Object.entries(c.programs)) assert.equal(prog.tag, reference.get(name), name);
    });
  }
});
