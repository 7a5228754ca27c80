// A tiny BTF object made by hand, for probes of maps that insist on BTF and of BTF itself.
import { btfLoadRaw } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';

/**
 * BTF with `[1] int` (signed, 32 bits) and `[2] struct val { int cnt; }`: enough for the key
 * and value of local-storage maps, which the kernel only creates with BTF.
 */
function probeBtf(): Uint8Array {
  const strings = '\0int\0val\0cnt\0';
  const INT = 1;
  const STRUCT = 4;
  const types = new Uint32Array([
    // [1] int: name "int", kind INT, size 4; encoding BTF_INT_SIGNED, 32 bits
    1, INT << 24, 4, (1 << 24) | 32,
    // [2] struct val: name "val", kind STRUCT, vlen 1, size 4; member cnt: type 1, bit offset 0
    5, (STRUCT << 24) | 1, 4, 9, 1, 0,
  ]);
  const hdrLen = 24;
  const typeLen = types.byteLength;
  const strBytes = new TextEncoder().encode(strings);
  const out = new Uint8Array(new ArrayBuffer(hdrLen + typeLen + strBytes.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint8(3, 0);
  v.setUint32(4, hdrLen, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, strBytes.length, true);
  new Uint8Array(out.buffer, hdrLen, typeLen).set(new Uint8Array(types.buffer));
  out.set(strBytes, hdrLen + typeLen);
  return out;
}

/** The type ids in the probe BTF. */
export const ProbeBtfIds = { INT: 1, STRUCT_VAL: 2 } as const;

/** Loads the probe BTF: the fd, or -errno when the kernel refuses BTF. */
export function loadProbeBtf(): FD | number {
  const r = btfLoadRaw({ btf: probeBtf() });
  return r.result < 0 ? r.result : new FD(r.result, 'probe BTF');
}
