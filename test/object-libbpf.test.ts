// Objects written here in the shapes real-world ones have: tsbpf lays out their programs as
// libbpf does, so both load the same instructions (the same tag).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BPF_LD_IMM64, BPF_PSEUDO_MAP_VALUE, decode } from '../src/asm/index.js';
import { CollectionSpec } from '../src/index.js';
import { root } from './bpf/corpus.js';
import { kernelTest } from './helpers/kernel.js';
import { haveBpftool, libbpfPrograms, libbpfTags } from './helpers/libbpf.js';

export const fixture = (name: string): string => join(root, 'test', 'fixtures', 'loader', name);

function sameTagsAsLibbpf(object: string): void {
  const reference = libbpfTags(object);
  assert.ok(reference instanceof Map, `libbpf loads ${object}: ${'error' in reference ? reference.error : ''}`);
  using c = CollectionSpec.fromFile(object).load();
  assert.deepEqual(Object.keys(c.programs).sort(), [...reference.keys()].sort());
  for (const [name, prog] of Object.entries(c.programs)) assert.equal(prog.tag, reference.get(name), `${name}: libbpf's tag`);
}

describe('programs laid out as libbpf lays them out', () => {
  it('subprograms follow their program depth-first in call order (handle, a, b, c)', () => {
    const spec = CollectionSpec.fromFile(fixture('subprog_order.bpf.o'));
    const starts = spec.programs.handle!.instructions.filter((i) => i.symbol !== undefined).map((i) => i.symbol);
    assert.deepEqual(starts, ['handle', 'a', 'b', 'c']);
  });

  kernelTest('subprog_order: the tag libbpf gives handle', (t) => {
    if (!haveBpftool()) return t.skip('bpftool is not installed');
    sameTagsAsLibbpf(fixture('subprog_order.bpf.o'));
  });
});

/** Instructions as the kernel holds them, with what differs between two loads (map ids) zeroed. */
function comparable(xlated: Uint8Array): string[] {
  return decode(xlated).map((i) => {
    const mapValue = i.opcode === BPF_LD_IMM64 && i.src === BPF_PSEUDO_MAP_VALUE;
    return `${i.opcode} ${i.dst} ${i.src} ${i.off} ${mapValue ? 0 : i.imm} ${i.imm2 ?? ''}`;
  });
}

describe('.kconfig laid out as libbpf lays it out', () => {
  it('by alignment, then size, then name', () => {
    const spec = CollectionSpec.fromFile(fixture('kconfig_layout.bpf.o'));
    const layout = Object.values(spec.externs)
      .filter((e) => e.kind === 'kconfig')
      .sort((a, b) => a.offset! - b.offset!)
      .map((e) => `${e.name}@${e.offset}`);
    assert.deepEqual(layout, [
      'CONFIG_HZ@0',
      'CONFIG_LOG_BUF_SHIFT@8',
      'LINUX_KERNEL_VERSION@12',
      'CONFIG_NR_CPUS@16',
      'CONFIG_BPF_SYSCALL@18',
      'CONFIG_SMP@19',
      'CONFIG_DEFAULT_HOSTNAME@20',
    ]);
    assert.equal(spec.maps['.kconfig']!.valueSize, 36);
  });

  kernelTest("the program reads each extern where libbpf puts it: libbpf's instructions and tag", (t) => {
    if (!haveBpftool()) return t.skip('bpftool is not installed');
    const object = fixture('kconfig_layout.bpf.o');
    const reference = libbpfPrograms(object);
    assert.ok(reference instanceof Map, `libbpf loads it: ${'error' in reference ? reference.error : ''}`);
    using c = CollectionSpec.fromFile(object).load();
    const prog = c.programs.read_config!;
    assert.deepEqual(comparable(prog.xlated()), comparable(reference.get('read_config')!.xlated), 'the same map value offsets as libbpf');
    assert.equal(prog.tag, reference.get('read_config')!.tag);
  });
});
