// Every offset table and UAPI enum of src/sys against the running kernel's BTF: a wrong offset
// fails here instead of as an EINVAL from the kernel.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { readKernelBtf, type Btf, type BtfComposite, type BtfType } from '../src/btf/index.js';
import { LinkCreateAttr } from '../src/sys/layout.js';
import * as layout from '../src/sys/layout.js';
import { FanotifyEventMetadata, FanotifyResponse } from '../src/sys/fanotify.js';
import { IfInfoMsg, TcMsg } from '../src/sys/netlink.js';
import { PERF_ATTR_SIZE, PerfAttrFlags, PerfEventAttrOffsets } from '../src/sys/perf.js';
import { AttachType, Cmd, LinkType, MapFlags, MapType, ProgramType, UpdateFlags } from '../src/sys/types.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

interface Table {
  readonly [name: string]: number | Table;
}

interface Found {
  type: BtfType;
  /** Bit offset from the start of the outermost struct. */
  bits: number;
}

function resolve(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  while (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG') t = btf.type(t.type);
  return t;
}

function isComposite(t: BtfType): t is BtfComposite {
  return t.kind === 'STRUCT' || t.kind === 'UNION';
}

/** A member by name, looking through anonymous structs and unions as C does. */
function member(btf: Btf, container: BtfComposite, name: string, bits = 0): Found | undefined {
  for (const m of container.members) {
    const t = resolve(btf, m.type);
    if (m.name === name) return { type: t, bits: bits + m.bitOffset };
  }
  for (const m of container.members) {
    const t = resolve(btf, m.type);
    if (m.name === '' && isComposite(t)) {
      const found = member(btf, t, name, bits + m.bitOffset);
      if (found) return found;
    }
  }
  return undefined;
}

/** The differences between a table and the kernel's struct, as "name: table N, kernel M" lines. */
function compare(btf: Btf, container: BtfComposite, table: Table, bits = 0, path = ''): string[] {
  const wrong: string[] = [];
  for (const [name, want] of Object.entries(table)) {
    const found = member(btf, container, name, bits);
    if (!found) {
      wrong.push(`${path}${name}: not in the kernel's ${container.name || 'anonymous struct'}`);
    } else if (typeof want === 'number') {
      if (found.bits !== want * 8) wrong.push(`${path}${name}: table ${want}, kernel ${found.bits / 8}`);
    } else if (!isComposite(found.type)) {
      wrong.push(`${path}${name}: not a struct in the kernel`);
    } else {
      wrong.push(...compare(btf, found.type, want, found.bits, `${path}${name}.`));
    }
  }
  return wrong;
}

function named(btf: Btf, kind: 'STRUCT' | 'UNION' | 'ENUM', name: string): BtfType {
  for (let id = 1; id < btf.nextTypeId; id++) {
    const t = btf.type(id);
    if (t.kind === kind && t.name === name) return t;
  }
  throw new Error(`no ${kind.toLowerCase()} ${name} in the kernel's BTF`);
}

/** Every enumerator of every enum, by name. */
function enumerators(btf: Btf): Map<string, number> {
  const values = new Map<string, number>();
  for (let id = 1; id < btf.nextTypeId; id++) {
    const t = btf.type(id);
    if (t.kind === 'ENUM') for (const v of t.values) values.set(v.name, v.value);
  }
  return values;
}

/** The enum members a TypeScript enum (or const table) has that the kernel names otherwise. */
function enumDiff(kernel: Map<string, number>, prefix: string, ours: Record<string, string | number>): string[] {
  const wrong: string[] = [];
  for (const [name, value] of Object.entries(ours)) {
    if (typeof value !== 'number') continue; // the reverse mapping of a numeric enum
    const k = kernel.get(prefix + name);
    if (k === undefined) wrong.push(`${prefix}${name}: not in the kernel`);
    else if (k !== value) wrong.push(`${prefix}${name}: ours ${value}, kernel ${k}`);
  }
  return wrong;
}

// Each bpf_attr table and the union member it describes: by name, or the anonymous struct holding a member.
const BPF_ATTR: Array<[string, Table, { named: string } | { holding: string }]> = [
  ['MapCreateAttr', layout.MapCreateAttr, { holding: 'map_type' }],
  ['MapElemAttr', layout.MapElemAttr, { holding: 'next_key' }],
  ['MapBatchAttr', layout.MapBatchAttr, { named: 'batch' }],
  ['ProgLoadAttr', layout.ProgLoadAttr, { holding: 'prog_type' }],
  ['ObjAttr', layout.ObjAttr, { holding: 'pathname' }],
  ['ProgAttachAttr', layout.ProgAttachAttr, { holding: 'attach_bpf_fd' }],
  ['TestRunAttr', layout.TestRunAttr, { named: 'test' }],
  ['GetIdAttr', layout.GetIdAttr, { holding: 'next_id' }],
  ['InfoAttr', layout.InfoAttr, { named: 'info' }],
  ['QueryAttr', layout.QueryAttr, { named: 'query' }],
  ['RawTracepointAttr', layout.RawTracepointAttr, { named: 'raw_tracepoint' }],
  ['BtfLoadAttr', layout.BtfLoadAttr, { holding: 'btf_log_buf' }],
  ['LinkCreateAttr', LinkCreateAttr, { named: 'link_create' }],
  ['LinkUpdateAttr', layout.LinkUpdateAttr, { named: 'link_update' }],
  ['LinkDetachAttr', layout.LinkDetachAttr, { named: 'link_detach' }],
  ['EnableStatsAttr', layout.EnableStatsAttr, { named: 'enable_stats' }],
  ['IterCreateAttr', layout.IterCreateAttr, { named: 'iter_create' }],
];

describe('kernel layout', { skip: !existsSync(VMLINUX) && `no ${VMLINUX}: this kernel has no BTF` }, () => {
  const btf = existsSync(VMLINUX) ? readKernelBtf() : undefined;

  test('every bpf_attr table matches its part of union bpf_attr', () => {
    const attr = named(btf!, 'UNION', 'bpf_attr') as BtfComposite;
    const wrong: string[] = [];
    for (const [name, table, where] of BPF_ATTR) {
      let part: BtfComposite | undefined;
      if ('named' in where) {
        const m = attr.members.find((x) => x.name === where.named);
        const t = m && resolve(btf!, m.type);
        if (t && isComposite(t)) part = t;
      } else {
        for (const m of attr.members) {
          const t = resolve(btf!, m.type);
          if (m.name === '' && isComposite(t) && member(btf!, t, where.holding)) part = t;
        }
      }
      if (!part) wrong.push(`${name}: no such part of bpf_attr`);
      else wrong.push(...compare(btf!, part, table).map((w) => `${name}.${w}`));
    }
    assert.deepEqual(wrong, []);
  });

  test('the bpf_*_info, bpf_iter_link_info and rtnetlink header tables match the kernel', () => {
    const wrong: string[] = [];
    const structs: Array<[string, Table]> = [
      ['bpf_prog_info', layout.ProgInfo],
      ['bpf_map_info', layout.MapInfo],
      ['bpf_btf_info', layout.BtfInfo],
      ['bpf_link_info', layout.LinkInfo],
    ];
    for (const [name, table] of structs) wrong.push(...compare(btf!, named(btf!, 'STRUCT', name) as BtfComposite, table).map((w) => `${name}.${w}`));
    wrong.push(...compare(btf!, named(btf!, 'UNION', 'bpf_iter_link_info') as BtfComposite, layout.IterLinkInfo).map((w) => `bpf_iter_link_info.${w}`));
    for (const [name, { size, ...members }] of [['ifinfomsg', IfInfoMsg], ['tcmsg', TcMsg]] as const) {
      const struct = named(btf!, 'STRUCT', name) as BtfComposite;
      wrong.push(...compare(btf!, struct, members).map((w) => `${name}.${w}`));
      if (struct.size !== size) wrong.push(`${name}: size ${size}, kernel ${struct.size}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('struct fanotify_event_metadata and struct fanotify_response match the kernel', () => {
    const wrong: string[] = [];
    for (const [name, { size, ...members }] of [['fanotify_event_metadata', FanotifyEventMetadata], ['fanotify_response', FanotifyResponse]] as const) {
      const struct = named(btf!, 'STRUCT', name) as BtfComposite;
      wrong.push(...compare(btf!, struct, members).map((w) => `${name}.${w}`));
      if (struct.size !== size) wrong.push(`${name}: size ${size}, kernel ${struct.size}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('perf_event_attr: offsets, flag bits and the size (PERF_ATTR_SIZE_VER8)', () => {
    const attr = named(btf!, 'STRUCT', 'perf_event_attr') as BtfComposite;
    const { flags, ...members } = PerfEventAttrOffsets;
    assert.deepEqual(compare(btf!, attr, members), []);
    // The flags word is a run of bitfields; its first bit is `disabled`.
    const bit = (name: string): number => member(btf!, attr, name)!.bits - flags * 8;
    assert.equal(bit('disabled'), 0);
    assert.deepEqual(
      { disabled: PerfAttrFlags.disabled, freq: PerfAttrFlags.freq, watermark: PerfAttrFlags.watermark, writeBackward: PerfAttrFlags.writeBackward },
      { disabled: 1n << BigInt(bit('disabled')), freq: 1n << BigInt(bit('freq')), watermark: 1n << BigInt(bit('watermark')), writeBackward: 1n << BigInt(bit('write_backward')) },
    );
    assert.ok(PERF_ATTR_SIZE <= attr.size, `PERF_ATTR_SIZE ${PERF_ATTR_SIZE}, the kernel's struct ${attr.size}`);
    assert.equal(PERF_ATTR_SIZE, 136);
  });

  test('the UAPI enums match the kernel: bpf_cmd, map, program, attach and link types, flags', () => {
    const kernel = enumerators(btf!);
    assert.deepEqual(
      [
        ...enumDiff(kernel, 'BPF_', Cmd),
        ...enumDiff(kernel, 'BPF_MAP_TYPE_', MapType),
        ...enumDiff(kernel, 'BPF_PROG_TYPE_', ProgramType),
        ...enumDiff(kernel, 'BPF_', AttachType),
        ...enumDiff(kernel, 'BPF_LINK_TYPE_', LinkType),
        ...enumDiff(kernel, 'BPF_', UpdateFlags),
        ...enumDiff(kernel, 'BPF_F_', MapFlags),
      ],
      [],
    );
  });

  test('a wrong offset or enum value is caught', () => {
    const attr = named(btf!, 'UNION', 'bpf_attr') as BtfComposite;
    const link = resolve(btf!, attr.members.find((m) => m.name === 'link_create')!.type) as BtfComposite;
    assert.deepEqual(compare(btf!, link, { tcx: { relative_fd: 20 } }), ['tcx.relative_fd: table 20, kernel 16']);
    assert.deepEqual(enumDiff(enumerators(btf!), 'BPF_', { MAP_CREATE: 1, NO_SUCH_CMD: 99 }), ['BPF_MAP_CREATE: ours 1, kernel 0', 'BPF_NO_SUCH_CMD: not in the kernel']);
  });
});
