// Decoders for the bpf_*_info structs returned by BPF_OBJ_GET_INFO_BY_FD.
import { objGetInfoByFd } from './attrs.js';
import { native } from './native.js';
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

const PROG_INFO_SIZE = 232;

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
  const nrMapIds = v.getUint32(52, true);
  const xlatedLen = v.getUint32(20, true);
  const jitedLen = v.getUint32(16, true);
  let mapIds = new Uint32Array(0);
  let xlated: Uint8Array | undefined;
  let jited: Uint8Array | undefined;
  if (nrMapIds > 0 || (opts.xlated && xlatedLen > 0) || (opts.jited && jitedLen > 0)) {
    info = new Uint8Array(new ArrayBuffer(PROG_INFO_SIZE));
    v = new DataView(info.buffer);
    mapIds = new Uint32Array(nrMapIds);
    v.setUint32(52, nrMapIds, true);
    if (nrMapIds > 0) v.setBigUint64(56, native.addressOf(mapIds), true);
    if (opts.xlated && xlatedLen > 0) {
      xlated = new Uint8Array(xlatedLen);
      v.setUint32(20, xlatedLen, true);
      v.setBigUint64(32, native.addressOf(xlated), true);
    }
    if (opts.jited && jitedLen > 0) {
      jited = new Uint8Array(jitedLen);
      v.setUint32(16, jitedLen, true);
      v.setBigUint64(24, native.addressOf(jited), true);
    }
    objGetInfoByFd(fd, info, 'program info');
  }
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    tag: hex(info.subarray(8, 16)),
    jitedProgLen: v.getUint32(16, true),
    xlatedProgLen: v.getUint32(20, true),
    loadTime: v.getBigUint64(40, true),
    createdByUid: v.getUint32(48, true),
    mapIds: Array.from(mapIds.subarray(0, Math.min(nrMapIds, v.getUint32(52, true)))),
    name: fromCString(info.subarray(64, 80)),
    ifindex: v.getUint32(80, true),
    gplCompatible: (v.getUint32(84, true) & 1) === 1,
    btfId: v.getUint32(128, true),
    nrFuncInfo: v.getUint32(144, true),
    nrLineInfo: v.getUint32(148, true),
    runTimeNs: v.getBigUint64(192, true),
    runCnt: v.getBigUint64(200, true),
    recursionMisses: v.getBigUint64(208, true),
    verifiedInsns: v.getUint32(216, true),
    attachBtfObjId: v.getUint32(220, true),
    attachBtfId: v.getUint32(224, true),
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
  const info = new Uint8Array(new ArrayBuffer(104));
  objGetInfoByFd(fd, info, 'map info');
  const v = new DataView(info.buffer);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    mapFlags: v.getUint32(20, true),
    name: fromCString(info.subarray(24, 40)),
    ifindex: v.getUint32(40, true),
    btfVmlinuxValueTypeId: v.getUint32(44, true),
    btfId: v.getUint32(64, true),
    btfKeyTypeId: v.getUint32(68, true),
    btfValueTypeId: v.getUint32(72, true),
    mapExtra: v.getBigUint64(80, true),
  };
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  /** The raw bytes of the type-specific union (from offset 16), for the hooks to decode. */
  extra: DataView;
}

export function linkInfo(fd: number): LinkInfo {
  const info = new Uint8Array(new ArrayBuffer(96));
  objGetInfoByFd(fd, info, 'link info');
  const v = new DataView(info.buffer);
  return { type: v.getUint32(0, true), id: v.getUint32(4, true), progId: v.getUint32(8, true), extra: new DataView(info.buffer, 16) };
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
  let info = new Uint8Array(new ArrayBuffer(32));
  let v = new DataView(info.buffer);
  v.setBigUint64(16, native.addressOf(name), true);
  v.setUint32(24, name.byteLength, true);
  objGetInfoByFd(fd, info, 'btf info');
  const size = v.getUint32(8, true);
  let data: Uint8Array | undefined;
  if (withData && size > 0) {
    data = new Uint8Array(new ArrayBuffer(size));
    info = new Uint8Array(new ArrayBuffer(32));
    v = new DataView(info.buffer);
    v.setBigUint64(0, native.addressOf(data), true);
    v.setUint32(8, size, true);
    objGetInfoByFd(fd, info, 'btf info');
  }
  return { id: v.getUint32(12, true), size, name: fromCString(name), kernelBtf: v.getUint32(28, true) !== 0, ...(data ? { data } : {}) };
}
