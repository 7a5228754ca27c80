// `.struct_ops` maps: a variable of a kernel ops struct (tcp_congestion_ops, sched_ext_ops)
// whose function pointers are programs of the object. Reading turns each into a STRUCT_OPS map
// spec; loading lays its value out as the kernel's `struct bpf_struct_ops_<ops>`, matching the
// object's members to the kernel's by name, with the programs' fds in the function pointers.
import type { Btf } from '../btf/btf.js';
import { resolveType, sizeOf } from '../btf/query.js';
import type { BtfMember, BtfType } from '../btf/types.js';
import { MapFlags, MapType } from '../sys/types.js';
import { ObjectError } from './errors.js';
import type { MapSpec } from './types.js';

/** `.struct_ops` maps register on load; `.struct_ops.link` ones when a link is made (attach). */
export const STRUCT_OPS_SECTION = /^\.struct_ops(\.link)?$/;

/** What a STRUCT_OPS map spec adds: the kernel struct it fills and the programs it points to. */
export interface StructOpsSpec {
  /** The kernel's struct: `tcp_congestion_ops`. */
  readonly type: string;
  /** Function-pointer members set to programs: member name → program name. */
  readonly programs: Record<string, string>;
}

/** One `.struct_ops` variable as a map spec; `programs` is filled from the section's relocations. */
export function structOpsMap(btf: Btf, name: string, typeId: number, initial: Uint8Array, section: string): MapSpec {
  const t = resolveType(btf, typeId);
  if (t.kind !== 'STRUCT' || t.name === '') throw new ObjectError(`a ${section} variable must be of a named kernel struct, not ${t.kind}`, { map: name, section });
  return {
    name,
    type: MapType.STRUCT_OPS,
    keySize: 4,
    // The kernel's struct bpf_struct_ops_<type> decides the size at load; this is the object's.
    valueSize: t.size,
    maxEntries: 1,
    flags: section.endsWith('.link') ? MapFlags.LINK : 0,
    pinning: 'none',
    mapExtra: 0n,
    valueType: t,
    values: [{ key: 0, value: initial }],
    section,
    freeze: false,
    structOps: { type: t.name, programs: {} },
  };
}

/** The member of a struct whose bytes hold `byte` (an offset into the struct). */
export function memberAt(btf: Btf, struct: BtfType, byte: number): BtfMember | undefined {
  if (struct.kind !== 'STRUCT') return undefined;
  return struct.members.find((m) => m.bitfieldSize === 0 && m.bitOffset / 8 <= byte && byte < m.bitOffset / 8 + sizeOf(btf, m.type));
}

function isFuncPointer(btf: Btf, id: number): boolean {
  const t = resolveType(btf, id);
  return t.kind === 'PTR' && resolveType(btf, t.type).kind === 'FUNC_PROTO';
}

/** The kernel's struct for a struct_ops type, its id, and where in the map value its data goes. */
export interface KernelStructOps {
  /** `struct <type>` in the kernel's BTF: programs' attach_btf_id. */
  readonly structId: number;
  readonly struct: Extract<BtfType, { kind: 'STRUCT' }>;
  /** `struct bpf_struct_ops_<type>`: the map's btf_vmlinux_value_type_id and value size. */
  readonly valueId: number;
  readonly valueSize: number;
  /** The byte offset of the `data` member (the struct itself) in the map value. */
  readonly dataOffset: number;
}

export function kernelStructOps(kernel: Btf, type: string, context: { file?: string; map?: string }): KernelStructOps | undefined {
  const struct = kernel.typesByName(type, 'STRUCT')[0];
  const value = kernel.typesByName(`bpf_struct_ops_${type}`, 'STRUCT')[0];
  if (struct === undefined || value === undefined) return undefined;
  const data = value.members.find((m) => m.name === 'data');
  if (data === undefined || data.bitOffset % 8 !== 0) throw new ObjectError(`the kernel's struct bpf_struct_ops_${type} has no data member`, context);
  return { structId: struct.id, struct, valueId: value.id, valueSize: value.size, dataOffset: data.bitOffset / 8 };
}

/** The attach target of a struct_ops program: the kernel struct and the index of its member. */
export function structOpsAttach(k: KernelStructOps, member: string, context: { file?: string; program?: string }): { attachBtfId: number; expectedAttachType: number } {
  const index = k.struct.members.findIndex((m) => m.name === member);
  if (index < 0) throw new ObjectError(`the kernel's struct ${k.struct.name} has no member ${member}`, context, 'ENOENT');
  return { attachBtfId: k.structId, expectedAttachType: index };
}

/**
 * The map value: the object's members copied to the kernel's members of the same name (which
 * must have the same size), function pointers set to the programs' fds.
 */
export function structOpsValue(
  spec: MapSpec,
  btf: Btf,
  kernel: Btf,
  k: KernelStructOps,
  programFd: (program: string) => number,
  context: { file?: string; map?: string },
): Uint8Array {
  const local = spec.valueType;
  const initial = spec.values[0]?.value;
  if (local?.kind !== 'STRUCT' || spec.structOps === undefined || !(initial instanceof Uint8Array)) throw new ObjectError('not a .struct_ops map', context);
  const out = new Uint8Array(k.valueSize);
  const view = new DataView(out.buffer);
  for (const m of local.members) {
    if (m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0) throw new ObjectError(`member ${m.name} is a bitfield, which struct_ops maps cannot set`, context, 'ENOTSUP');
    const from = m.bitOffset / 8;
    const size = sizeOf(btf, m.type);
    const bytes = initial.subarray(from, from + size);
    const program = spec.structOps.programs[m.name];
    const km = k.struct.members.find((x) => x.name === m.name);
    if (km === undefined) {
      if (program !== undefined || bytes.some((b) => b !== 0)) throw new ObjectError(`member ${m.name} is set, but the kernel's struct ${k.struct.name} has no such member`, context, 'ENOENT');
      continue;
    }
    const to = k.dataOffset + km.bitOffset / 8;
    if (program !== undefined || isFuncPointer(btf, m.type)) {
      if (!isFuncPointer(kernel, km.type)) throw new ObjectError(`member ${m.name} is a function pointer here but not in the kernel's struct ${k.struct.name}`, context);
      if (program !== undefined) view.setBigUint64(to, BigInt(programFd(program)), true);
      continue;
    }
    const ksize = sizeOf(kernel, km.type);
    if (ksize !== size) throw new ObjectError(`member ${m.name} has ${size} bytes here and ${ksize} in the kernel's struct ${k.struct.name}`, context);
    out.set(bytes, to);
  }
  return out;
}
