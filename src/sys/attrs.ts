// Encoders for union bpf_attr, one per command, at the offsets of the running kernel's UAPI.
// Each function performs the command and returns its result or a new FD; errors are BpfErrors.
import { BpfError } from '../errors.js';
import { FD } from './fd.js';
import { Attr, bpf, bpfRaw, cString } from './syscall.js';
import { Cmd } from './types.js';

export interface MapCreateAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  innerMapFd?: number;
  numaNode?: number;
  mapName?: string;
  mapIfindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
  valueTypeBtfObjFd?: number;
  mapTokenFd?: number;
}

export function mapCreate(a: MapCreateAttr, context?: string): FD {
  const attr = new Attr(80);
  attr
    .u32(0, a.mapType)
    .u32(4, a.keySize)
    .u32(8, a.valueSize)
    .u32(12, a.maxEntries)
    .u32(16, a.mapFlags ?? 0)
    .u32(20, a.innerMapFd ?? 0)
    .u32(24, a.numaNode ?? 0)
    .str(28, a.mapName ?? '', 16)
    .u32(44, a.mapIfindex ?? 0)
    .u32(48, a.btfFd ?? 0)
    .u32(52, a.btfKeyTypeId ?? 0)
    .u32(56, a.btfValueTypeId ?? 0)
    .u32(60, a.btfVmlinuxValueTypeId ?? 0)
    .u64(64, a.mapExtra ?? 0n)
    .s32(72, a.valueTypeBtfObjFd ?? 0)
    .s32(76, a.mapTokenFd ?? 0);
  return new FD(bpf(Cmd.MAP_CREATE, attr, context), `map ${a.mapName ?? ''}`.trim());
}

/**
 * The element commands (LOOKUP, UPDATE, DELETE, GET_NEXT_KEY, LOOKUP_AND_DELETE) on one
 * reusable attr: callers pass buffer addresses they computed once, so the hot path allocates
 * nothing.
 */
export class ElemOp {
  readonly #attr = new Attr(32);

  /** Returns 0 or -errno; the caller decides which errnos are expected (ENOENT). */
  run(cmd: Cmd, mapFd: number, key: bigint, valueOrNext: bigint, flags: number | bigint): number {
    const v = this.#attr.view;
    v.setUint32(0, mapFd, true);
    v.setUint32(4, 0, true);
    v.setBigUint64(8, key, true);
    v.setBigUint64(16, valueOrNext, true);
    v.setBigUint64(24, BigInt(flags), true);
    return bpfRaw(cmd, this.#attr);
  }
}

export interface BatchAttr {
  inBatch: bigint;
  outBatch: bigint;
  keys: bigint;
  values: bigint;
  count: number;
  mapFd: number;
  elemFlags?: bigint | number;
  flags?: bigint | number;
}

/** A reusable attr for the MAP_*_BATCH commands; returns [result or -errno, count done]. */
export class BatchOp {
  readonly #attr = new Attr(56);

  run(cmd: Cmd, a: BatchAttr): [number, number] {
    const attr = this.#attr;
    attr
      .u64(0, a.inBatch)
      .u64(8, a.outBatch)
      .u64(16, a.keys)
      .u64(24, a.values)
      .u32(32, a.count)
      .u32(36, a.mapFd)
      .u64(40, a.elemFlags ?? 0)
      .u64(48, a.flags ?? 0);
    const r = bpfRaw(cmd, attr);
    return [r, attr.getU32(32)];
  }
}

export function mapFreeze(mapFd: number, context?: string): void {
  bpf(Cmd.MAP_FREEZE, new Attr(4).u32(0, mapFd), context);
}

export interface ProgLoadAttr {
  progType: number;
  insns: Uint8Array;
  license: string;
  logLevel?: number;
  logBuf?: Uint8Array | undefined;
  kernVersion?: number;
  progFlags?: number;
  progName?: string;
  progIfindex?: number;
  expectedAttachType?: number;
  progBtfFd?: number;
  funcInfoRecSize?: number;
  funcInfo?: Uint8Array;
  funcInfoCnt?: number;
  lineInfoRecSize?: number;
  lineInfo?: Uint8Array;
  lineInfoCnt?: number;
  attachBtfId?: number;
  attachProgFd?: number;
  attachBtfObjFd?: number;
  fdArray?: Int32Array;
  progTokenFd?: number;
}

export interface ProgLoadResult {
  /** The program fd, or -errno. */
  result: number;
  /** The log size the kernel needed (log_true_size), 0 if unknown. */
  logTrueSize: number;
}

/** BPF_PROG_LOAD, returning -errno rather than throwing so the caller can read the log. */
export function progLoadRaw(a: ProgLoadAttr): ProgLoadResult {
  const attr = new Attr(168);
  const license = cString(a.license);
  attr
    .u32(0, a.progType)
    .u32(4, a.insns.byteLength / 8)
    .ptr(8, a.insns)
    .ptr(16, license)
    .u32(24, a.logBuf ? (a.logLevel ?? 1) : 0)
    .u32(28, a.logBuf ? a.logBuf.byteLength : 0)
    .ptr(32, a.logBuf)
    .u32(40, a.kernVersion ?? 0)
    .u32(44, a.progFlags ?? 0)
    .str(48, a.progName ?? '', 16)
    .u32(64, a.progIfindex ?? 0)
    .u32(68, a.expectedAttachType ?? 0)
    .u32(72, a.progBtfFd ?? 0)
    .u32(76, a.funcInfoRecSize ?? 0)
    .ptr(80, a.funcInfo)
    .u32(88, a.funcInfoCnt ?? 0)
    .u32(92, a.lineInfoRecSize ?? 0)
    .ptr(96, a.lineInfo)
    .u32(104, a.lineInfoCnt ?? 0)
    .u32(108, a.attachBtfId ?? 0)
    .u32(112, a.attachProgFd ?? a.attachBtfObjFd ?? 0)
    .ptr(120, a.fdArray)
    .s32(144, a.progTokenFd ?? 0);
  let r = bpfRaw(Cmd.PROG_LOAD, attr);
  for (let i = 0; i < 4 && r === -11; i++) r = bpfRaw(Cmd.PROG_LOAD, attr);
  return { result: r, logTrueSize: attr.getU32(140) };
}

/** BPF_OBJ_PIN */
export function objPin(fd: number, path: string): void {
  const p = cString(path);
  bpf(Cmd.OBJ_PIN, new Attr(24).ptr(0, p).u32(8, fd), path);
}

/** BPF_OBJ_GET */
export function objGet(path: string, fileFlags = 0, what = 'pinned object'): FD {
  const p = cString(path);
  return new FD(bpf(Cmd.OBJ_GET, new Attr(24).ptr(0, p).u32(12, fileFlags), path), `${what} ${path}`);
}

export interface ProgAttachAttr {
  targetFd: number;
  attachBpfFd: number;
  attachType: number;
  attachFlags?: number;
  replaceBpfFd?: number;
  relativeFdOrId?: number;
  expectedRevision?: bigint;
}

function progAttachAttr(a: ProgAttachAttr): Attr {
  return new Attr(32)
    .u32(0, a.targetFd)
    .u32(4, a.attachBpfFd)
    .u32(8, a.attachType)
    .u32(12, a.attachFlags ?? 0)
    .u32(16, a.replaceBpfFd ?? 0)
    .u32(20, a.relativeFdOrId ?? 0)
    .u64(24, a.expectedRevision ?? 0n);
}

export function progAttach(a: ProgAttachAttr, context?: string): void {
  bpf(Cmd.PROG_ATTACH, progAttachAttr(a), context);
}

export function progDetach(a: ProgAttachAttr, context?: string): void {
  bpf(Cmd.PROG_DETACH, progAttachAttr(a), context);
}

export interface TestRunAttr {
  progFd: number;
  dataIn?: Uint8Array;
  dataOut?: Uint8Array;
  repeat?: number;
  ctxIn?: Uint8Array;
  ctxOut?: Uint8Array;
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

export interface TestRunResult {
  retval: number;
  durationNs: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

export function progTestRun(a: TestRunAttr, context?: string): TestRunResult {
  const attr = new Attr(80)
    .u32(0, a.progFd)
    .u32(8, a.dataIn?.byteLength ?? 0)
    .u32(12, a.dataOut?.byteLength ?? 0)
    .ptr(16, a.dataIn)
    .ptr(24, a.dataOut)
    .u32(32, a.repeat ?? 0)
    .u32(40, a.ctxIn?.byteLength ?? 0)
    .u32(44, a.ctxOut?.byteLength ?? 0)
    .ptr(48, a.ctxIn)
    .ptr(56, a.ctxOut)
    .u32(64, a.flags ?? 0)
    .u32(68, a.cpu ?? 0)
    .u32(72, a.batchSize ?? 0);
  bpf(Cmd.PROG_TEST_RUN, attr, context);
  return { retval: attr.getU32(4), durationNs: attr.getU32(36), dataSizeOut: attr.getU32(12), ctxSizeOut: attr.getU32(44) };
}

/** *_GET_NEXT_ID: the next id after `start`, or undefined at the end. */
export function getNextId(cmd: Cmd.PROG_GET_NEXT_ID | Cmd.MAP_GET_NEXT_ID | Cmd.BTF_GET_NEXT_ID | Cmd.LINK_GET_NEXT_ID, start: number): number | undefined {
  const attr = new Attr(16).u32(0, start);
  const r = bpfRaw(cmd, attr);
  if (r === -2) return undefined;
  if (r < 0) throw new BpfError(`BPF_${Cmd[cmd]}`, -r);
  return attr.getU32(4);
}

/** Every id of one kind of kernel object, in ascending order. */
export function allIds(cmd: Cmd.PROG_GET_NEXT_ID | Cmd.MAP_GET_NEXT_ID | Cmd.BTF_GET_NEXT_ID | Cmd.LINK_GET_NEXT_ID): number[] {
  const ids: number[] = [];
  for (let id = getNextId(cmd, 0); id !== undefined; id = getNextId(cmd, id)) ids.push(id);
  return ids;
}

/** *_GET_FD_BY_ID */
export function getFdById(
  cmd: Cmd.PROG_GET_FD_BY_ID | Cmd.MAP_GET_FD_BY_ID | Cmd.BTF_GET_FD_BY_ID | Cmd.LINK_GET_FD_BY_ID,
  id: number,
  openFlags = 0,
): FD {
  const what = Cmd[cmd].replace('_GET_FD_BY_ID', '').toLowerCase();
  return new FD(bpf(cmd, new Attr(16).u32(0, id).u32(8, openFlags), `${what} id ${id}`), `${what} ${id}`);
}

/** BPF_OBJ_GET_INFO_BY_FD into `info`; returns the length the kernel filled in. */
export function objGetInfoByFd(fd: number, info: Uint8Array, context?: string): number {
  const attr = new Attr(16).u32(0, fd).u32(4, info.byteLength).ptr(8, info);
  bpf(Cmd.OBJ_GET_INFO_BY_FD, attr, context);
  return attr.getU32(4);
}

export interface ProgQueryAttr {
  targetFd: number;
  attachType: number;
  queryFlags?: number;
  progIds?: Uint32Array;
  progAttachFlags?: Uint32Array;
  linkIds?: Uint32Array;
  linkAttachFlags?: Uint32Array;
}

export interface ProgQueryResult {
  attachFlags: number;
  count: number;
  revision: bigint;
}

export function progQuery(a: ProgQueryAttr, context?: string): ProgQueryResult {
  const attr = new Attr(64)
    .u32(0, a.targetFd)
    .u32(4, a.attachType)
    .u32(8, a.queryFlags ?? 0)
    .ptr(16, a.progIds)
    .u32(24, a.progIds?.length ?? 0)
    .ptr(32, a.progAttachFlags)
    .ptr(40, a.linkIds)
    .ptr(48, a.linkAttachFlags);
  bpf(Cmd.PROG_QUERY, attr, context);
  return { attachFlags: attr.getU32(12), count: attr.getU32(24), revision: attr.getU64(56) };
}

/** BPF_RAW_TRACEPOINT_OPEN; name undefined attaches tracing programs by their attach_btf_id. */
export function rawTracepointOpen(progFd: number, name: string | undefined, cookie = 0n): FD {
  const n = name === undefined ? undefined : cString(name);
  const attr = new Attr(24).ptr(0, n).u32(8, progFd).u64(16, cookie);
  return new FD(bpf(Cmd.RAW_TRACEPOINT_OPEN, attr, name ? `raw tracepoint ${name}` : undefined), `raw tracepoint ${name ?? ''}`.trim());
}

export interface BtfLoadAttr {
  btf: Uint8Array;
  logBuf?: Uint8Array;
  logLevel?: number;
  flags?: number;
  tokenFd?: number;
}

/** BPF_BTF_LOAD returning the fd or -errno, so the caller can read the log. */
export function btfLoadRaw(a: BtfLoadAttr): { result: number; logTrueSize: number } {
  const attr = new Attr(40)
    .ptr(0, a.btf)
    .ptr(8, a.logBuf)
    .u32(16, a.btf.byteLength)
    .u32(20, a.logBuf?.byteLength ?? 0)
    .u32(24, a.logBuf ? (a.logLevel ?? 1) : 0)
    .u32(32, a.flags ?? 0)
    .s32(36, a.tokenFd ?? 0);
  const r = bpfRaw(Cmd.BTF_LOAD, attr);
  return { result: r, logTrueSize: attr.getU32(28) };
}

export interface TaskFdQueryResult {
  name: string;
  progId: number;
  fdType: number;
  probeOffset: bigint;
  probeAddr: bigint;
}

export function taskFdQuery(pid: number, fd: number): TaskFdQueryResult {
  const buf = new Uint8Array(new ArrayBuffer(4096));
  const attr = new Attr(48).u32(0, pid).u32(4, fd).u32(12, buf.byteLength).ptr(16, buf);
  bpf(Cmd.TASK_FD_QUERY, attr, `pid ${pid} fd ${fd}`);
  const len = attr.getU32(12);
  return {
    name: new TextDecoder().decode(buf.subarray(0, len)),
    progId: attr.getU32(24),
    fdType: attr.getU32(28),
    probeOffset: attr.getU64(32),
    probeAddr: attr.getU64(40),
  };
}

/** The union of BPF_LINK_CREATE, as written by each hook's encoder. */
export interface LinkCreateAttr {
  progFd: number;
  targetFd: number;
  attachType: number;
  flags?: number;
  /** Writes the attach-type specific part of the union, starting at offset 16. */
  extra?: ((attr: Attr) => void) | undefined;
}

export function linkCreate(a: LinkCreateAttr, context?: string): FD {
  const attr = new Attr(64).u32(0, a.progFd).u32(4, a.targetFd).u32(8, a.attachType).u32(12, a.flags ?? 0);
  a.extra?.(attr);
  return new FD(bpf(Cmd.LINK_CREATE, attr, context), `link ${context ?? ''}`.trim());
}

/** Offsets within link_create's union for the hooks' encoders. */
export const LinkCreateOffsets = {
  TARGET_BTF_ID: 16,
  ITER_INFO: 16,
  ITER_INFO_LEN: 24,
  PERF_EVENT_BPF_COOKIE: 16,
  KPROBE_MULTI_FLAGS: 16,
  KPROBE_MULTI_CNT: 20,
  KPROBE_MULTI_SYMS: 24,
  KPROBE_MULTI_ADDRS: 32,
  KPROBE_MULTI_COOKIES: 40,
  TRACING_TARGET_BTF_ID: 16,
  TRACING_COOKIE: 24,
  NETFILTER_PF: 16,
  NETFILTER_HOOKNUM: 20,
  NETFILTER_PRIORITY: 24,
  NETFILTER_FLAGS: 28,
  TCX_RELATIVE: 16,
  TCX_EXPECTED_REVISION: 24,
  UPROBE_MULTI_PATH: 16,
  UPROBE_MULTI_OFFSETS: 24,
  UPROBE_MULTI_REF_CTR_OFFSETS: 32,
  UPROBE_MULTI_COOKIES: 40,
  UPROBE_MULTI_CNT: 48,
  UPROBE_MULTI_FLAGS: 52,
  UPROBE_MULTI_PID: 56,
} as const;

export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd = 0, flags = 0, context?: string): void {
  bpf(Cmd.LINK_UPDATE, new Attr(16).u32(0, linkFd).u32(4, newProgFd).u32(8, flags).u32(12, oldProgFd), context);
}

export function linkDetach(linkFd: number, context?: string): void {
  bpf(Cmd.LINK_DETACH, new Attr(4).u32(0, linkFd), context);
}

/** BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): stats stay on while the returned FD is open. */
export function enableStats(type = 0): FD {
  return new FD(bpf(Cmd.ENABLE_STATS, new Attr(4).u32(0, type), 'run time statistics'), 'stats');
}

export function iterCreate(linkFd: number, flags = 0): FD {
  return new FD(bpf(Cmd.ITER_CREATE, new Attr(8).u32(0, linkFd).u32(4, flags), 'iterator'), 'iterator');
}

export function progBindMap(progFd: number, mapFd: number): void {
  bpf(Cmd.PROG_BIND_MAP, new Attr(12).u32(0, progFd).u32(4, mapFd), 'bind map');
}
