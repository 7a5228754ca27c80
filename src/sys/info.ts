// Decoders for the bpf_*_info structs returned by BPF_OBJ_GET_INFO_BY_FD (bpf_link_info: linkinfo.ts).
import { objGetInfoByFd } from './attrs.js';
import { BtfInfo as BTF, InfoSize, MapInfo as MAP, ProgInfo as PROG } from './layout.js';
import { addressOf } from './memory.js';
import { fromCString } from './syscall.js';

export interface ProgInfo {
  type: number;
  id: number;
  /** The program tag as 16 hex digits. */
  tag: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  /** Boot-relative load time in nanoseconds. */
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  name: string;
  ifindex: number;
  gplCompatible: boolean;
  btfId: number;
  nrFuncInfo: number;
  nrLineInfo: number;
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
}

const PROG_INFO_SIZE = InfoSize.prog;

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Program info; with `xlated`, also the translated instructions. */
export function progInfo(fd: number, opts: { xlated?: boolean; jited?: boolean } = {}): ProgInfo & { xlated?: Uint8Array; jited?: Uint8Array } {
  let info = new Uint8Array(new ArrayBuffer(PROG_INFO_SIZE));
  objGetInfoByFd(fd, info, 'program info');
  let v = new DataView(info.buffer);
  const nrMapIds = v.getUint32(PROG.nr_map_ids, true);
  const xlatedLen = v.getUint32(PROG.xlated_prog_len, true);
  const jitedLen = v.getUint32(PROG.jited_prog_len, true);
  let mapIds = new Uint32Array(0);
  let xlated: Uint8Array | undefined;
  let jited: Uint8Array | undefined;
  if (nrMapIds > 0 || (opts.xlated && xlatedLen > 0) || (opts.jited && jitedLen > 0)) {
    info = new Uint8Array(new ArrayBuffer(PROG_INFO_SIZE));
    v = new DataView(info.buffer);
    mapIds = new Uint32Array(nrMapIds);
    v.setUint32(PROG.nr_map_ids, nrMapIds, true);
    if (nrMapIds > 0) v.setBigUint64(PROG.map_ids, addressOf(mapIds), true);
    if (opts.xlated && xlatedLen > 0) {
      xlated = new Uint8Array(xlatedLen);
      v.setUint32(PROG.xlated_prog_len, xlatedLen, true);
      v.setBigUint64(PROG.xlated_prog_insns, addressOf(xlated), true);
    }
    if (opts.jited && jitedLen > 0) {
      jited = new Uint8Array(jitedLen);
      v.setUint32(PROG.jited_prog_len, jitedLen, true);
      v.setBigUint64(PROG.jited_prog_insns, addressOf(jited), true);
    }
    objGetInfoByFd(fd, info, 'program info');
  }
  return {
    type: v.getUint32(PROG.type, true),
    id: v.getUint32(PROG.id, true),
    tag: hex(info.subarray(PROG.tag, PROG.tag + 8)),
    jitedProgLen: v.getUint32(PROG.jited_prog_len, true),
    xlatedProgLen: v.getUint32(PROG.xlated_prog_len, true),
    loadTime: v.getBigUint64(PROG.load_time, true),
    createdByUid: v.getUint32(PROG.created_by_uid, true),
    mapIds: Array.from(mapIds.subarray(0, Math.min(nrMapIds, v.getUint32(PROG.nr_map_ids, true)))),
    name: fromCString(info.subarray(PROG.name, PROG.name + 16)),
    ifindex: v.getUint32(PROG.ifindex, true),
    gplCompatible: (v.getUint32(PROG.gpl_compatible, true) & 1) === 1,
    btfId: v.getUint32(PROG.btf_id, true),
    nrFuncInfo: v.getUint32(PROG.nr_func_info, true),
    nrLineInfo: v.getUint32(PROG.nr_line_info, true),
    runTimeNs: v.getBigUint64(PROG.run_time_ns, true),
    runCnt: v.getBigUint64(PROG.run_cnt, true),
    recursionMisses: v.getBigUint64(PROG.recursion_misses, true),
    verifiedInsns: v.getUint32(PROG.verified_insns, true),
    attachBtfObjId: v.getUint32(PROG.attach_btf_obj_id, true),
    attachBtfId: v.getUint32(PROG.attach_btf_id, true),
    ...(xlated ? { xlated } : {}),
    ...(jited ? { jited } : {}),
  };
}

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  name: string;
  ifindex: number;
  btfVmlinuxValueTypeId: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  mapExtra: bigint;
}

export function mapInfo(fd: number): MapInfo {
  const info = new Uint8Array(new ArrayBuffer(InfoSize.map));
  objGetInfoByFd(fd, info, 'map info');
  const v = new DataView(info.buffer);
  return {
    type: v.getUint32(MAP.type, true),
    id: v.getUint32(MAP.id, true),
    keySize: v.getUint32(MAP.key_size, true),
    valueSize: v.getUint32(MAP.value_size, true),
    maxEntries: v.getUint32(MAP.max_entries, true),
    mapFlags: v.getUint32(MAP.map_flags, true),
    name: fromCString(info.subarray(MAP.name, MAP.name + 16)),
    ifindex: v.getUint32(MAP.ifindex, true),
    btfVmlinuxValueTypeId: v.getUint32(MAP.btf_vmlinux_value_type_id, true),
    btfId: v.getUint32(MAP.btf_id, true),
    btfKeyTypeId: v.getUint32(MAP.btf_key_type_id, true),
    btfValueTypeId: v.getUint32(MAP.btf_value_type_id, true),
    mapExtra: v.getBigUint64(MAP.map_extra, true),
  };
}

export interface BtfInfo {
  id: number;
  size: number;
  name: string;
  kernelBtf: boolean;
  /** The BTF blob itself, when asked for. */
  data?: Uint8Array;
}

export function btfInfo(fd: number, withData = false): BtfInfo {
  const name = new Uint8Array(new ArrayBuffer(64));
  let info = new Uint8Array(new ArrayBuffer(InfoSize.btf));
  let v = new DataView(info.buffer);
  v.setBigUint64(BTF.name, addressOf(name), true);
  v.setUint32(BTF.name_len, name.byteLength, true);
  objGetInfoByFd(fd, info, 'btf info');
  const size = v.getUint32(BTF.btf_size, true);
  let data: Uint8Array | undefined;
  if (withData && size > 0) {
    data = new Uint8Array(new ArrayBuffer(size));
    info = new Uint8Array(new ArrayBuffer(InfoSize.btf));
    v = new DataView(info.buffer);
    v.setBigUint64(BTF.btf, addressOf(data), true);
    v.setUint32(BTF.btf_size, size, true);
    objGetInfoByFd(fd, info, 'btf info');
  }
  return { id: v.getUint32(BTF.id, true), size, name: fromCString(name), kernelBtf: v.getUint32(BTF.kernel_btf, true) !== 0, ...(data ? { data } : {}) };
}
