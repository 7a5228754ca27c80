// Map type probes: create the smallest map of each type, with the flags or BTF it insists on.
import { BpfError, NotSupportedError } from '../errors.js';
import { mapTypeName } from '../program/names.js';
import { E2BIG, EINVAL, ENOTSUPP, EPERM, errnoName } from '../sys/errno.js';
import { mapCreate, type MapCreateAttr } from '../sys/attrs.js';
import type { FD } from '../sys/fd.js';
import { pageSize } from '../sys/memory.js';
import { MapFlags, MapType } from '../sys/types.js';
import { loadProbeBtf, ProbeBtfIds } from './btf.js';
import { cached, no, refused, unknown, YES, type ProbeResult } from './probe.js';

/** sizeof(struct bpf_cgroup_storage_key): a u64 cgroup inode id and a u32 attach type, padded. */
const CGROUP_STORAGE_KEY_SIZE = 16;

interface MapProbe {
  attr: MapCreateAttr;
  /** An errno that proves the type is known when creation cannot succeed (struct_ops). */
  knownBy?: number;
}

function probeSpec(type: MapType, btfFd: number | undefined, innerFd: number | undefined): MapProbe | ProbeResult {
  const attr: MapCreateAttr = { mapType: type, keySize: 4, valueSize: 4, maxEntries: 1 };
  switch (type) {
    case MapType.LPM_TRIE:
      // A prefix length and 4 bytes of data; LPM tries are never preallocated.
      return { attr: { ...attr, keySize: 8, valueSize: 8, mapFlags: MapFlags.NO_PREALLOC } };
    case MapType.STACK_TRACE:
      return { attr: { ...attr, valueSize: 8 } };
    case MapType.CGROUP_STORAGE:
    case MapType.PERCPU_CGROUP_STORAGE:
      return { attr: { ...attr, keySize: CGROUP_STORAGE_KEY_SIZE, valueSize: 8, maxEntries: 0 } };
    case MapType.QUEUE:
    case MapType.STACK:
    case MapType.BLOOM_FILTER:
      return { attr: { ...attr, keySize: 0 } };
    case MapType.RINGBUF:
    case MapType.USER_RINGBUF:
      return { attr: { ...attr, keySize: 0, valueSize: 0, maxEntries: pageSize() } };
    case MapType.ARENA:
      return { attr: { ...attr, keySize: 0, valueSize: 0, maxEntries: 1, mapFlags: MapFlags.MMAPABLE } };
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS:
      if (innerFd === undefined) return unknown('could not create an inner map');
      return { attr: { ...attr, innerMapFd: innerFd } };
    case MapType.SK_STORAGE:
    case MapType.INODE_STORAGE:
    case MapType.TASK_STORAGE:
    case MapType.CGRP_STORAGE:
      if (btfFd === undefined) return unknown('needs BTF, which this kernel refused');
      return {
        attr: {
          ...attr,
          maxEntries: 0,
          mapFlags: MapFlags.NO_PREALLOC,
          btfFd,
          btfKeyTypeId: ProbeBtfIds.INT,
          btfValueTypeId: ProbeBtfIds.STRUCT_VAL,
        },
      };
    case MapType.STRUCT_OPS:
      // Creating one needs a kernel struct to implement; a known type refuses the bogus BTF id
      // with ENOTSUPP, an unknown one with EINVAL.
      return { attr: { ...attr, btfVmlinuxValueTypeId: 1 }, knownBy: ENOTSUPP };
    default:
      return { attr };
  }
}

function tryCreate(attr: MapCreateAttr): FD | number {
  try {
    return mapCreate(attr, 'feature probe');
  } catch (err) {
    if (err instanceof BpfError) return -err.errno;
    throw err;
  }
}

/** Whether the kernel creates maps of this type. Cached. */
export const probeMapType = cached((type: MapType): ProbeResult => {
  if (MapType[type] === undefined || type === MapType.UNSPEC) return no('not a map type');
  const storage = [MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE].includes(type);
  const nested = type === MapType.ARRAY_OF_MAPS || type === MapType.HASH_OF_MAPS;
  const btf = storage ? loadProbeBtf() : undefined;
  const inner = nested ? tryCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }) : undefined;
  try {
    // What these types need first is refused for the same lack of privilege as the type itself.
    if ((typeof btf === 'number' && -btf === EPERM) || (typeof inner === 'number' && -inner === EPERM)) return refused();
    const spec = probeSpec(type, typeof btf === 'object' ? btf.value : undefined, typeof inner === 'object' ? inner.value : undefined);
    if ('supported' in spec) return spec;
    const r = tryCreate(spec.attr);
    if (typeof r === 'object') {
      r.close();
      return YES;
    }
    const errno = -r;
    if (spec.knownBy !== undefined && errno === spec.knownBy) return YES;
    if (errno === EPERM) return refused();
    if (errno === EINVAL || errno === E2BIG) return no();
    return unknown(`creation failed with ${errnoName(errno)}`);
  } finally {
    if (typeof btf === 'object') btf.close();
    if (typeof inner === 'object') inner.close();
  }
});

export function haveMapType(type: MapType): boolean {
  return probeMapType(type).supported === true;
}

/** Throws NotSupportedError naming the type when the kernel lacks it. */
export function requireMapType(type: MapType): void {
  const r = probeMapType(type);
  if (r.supported !== true) throw new NotSupportedError(`map type ${mapTypeName(type)}`, r.detail);
}
