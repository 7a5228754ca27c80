// Finds struct types in the kernel's own BTF, for struct_ops maps, without a full BTF parser.
import { readFileSync } from 'node:fs';
import { NotSupportedError, TsbpfError } from '../errors.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const KIND_STRUCT = 4;

// Bytes that follow the 12-byte btf_type for each kind (per member where the kind has vlen).
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case 1: // INT
    case 14: // VAR
    case 17: // DECL_TAG
      return 4;
    case 3: // ARRAY
      return 12;
    case 4: // STRUCT
    case 5: // UNION
    case 15: // DATASEC
    case 19: // ENUM64
      return 12 * vlen;
    case 6: // ENUM
    case 13: // FUNC_PROTO
      return 8 * vlen;
    case 2: // PTR
    case 7: // FWD
    case 8: // TYPEDEF
    case 9: // VOLATILE
    case 10: // CONST
    case 11: // RESTRICT
    case 12: // FUNC
    case 16: // FLOAT
    case 18: // TYPE_TAG
      return 0;
    default:
      throw new TsbpfError('EINVAL', `${VMLINUX}: unknown BTF kind ${kind}`);
  }
}

export interface VmlinuxStruct {
  /** The type id in vmlinux BTF. */
  id: number;
  size: number;
}

/** The id and size of `struct <name>` in vmlinux BTF, or undefined if there is none. */
export function findVmlinuxStruct(name: string): VmlinuxStruct | undefined {
  let data: Buffer;
  try {
    data = readFileSync(VMLINUX);
  } catch {
    throw new NotSupportedError('kernel BTF', `${VMLINUX} is missing (CONFIG_DEBUG_INFO_BTF)`);
  }
  const hdrLen = data.readUInt32LE(4);
  const typeOff = hdrLen + data.readUInt32LE(8);
  const typeEnd = typeOff + data.readUInt32LE(12);
  const strOff = hdrLen + data.readUInt32LE(16);
  const want = Buffer.from(`${name}\0`, 'utf8');
  let id = 1;
  for (let off = typeOff; off < typeEnd; id++) {
    const nameOff = data.readUInt32LE(off);
    const info = data.readUInt32LE(off + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (kind === KIND_STRUCT && nameOff !== 0 && data.compare(want, 0, want.length, strOff + nameOff, strOff + nameOff + want.length) === 0) {
      return { id, size: data.readUInt32LE(off + 8) };
    }
    off += 12 + extraBytes(kind, vlen);
  }
  return undefined;
}

/**
 * The value type of a struct_ops map for the kernel's `struct <ops>` (for example
 * "tcp_congestion_ops"): `struct bpf_struct_ops_<ops>` in vmlinux BTF.
 */
export function structOpsValueType(ops: string): VmlinuxStruct {
  const found = findVmlinuxStruct(`bpf_struct_ops_${ops}`);
  if (!found) throw new NotSupportedError(`struct_ops "${ops}"`, `vmlinux BTF has no struct bpf_struct_ops_${ops}`);
  return found;
}
