// Encoders for union bpf_attr, one per command, at the offsets of the running kernel's UAPI.
// Each function performs the command and returns its result or a new FD; errors are BpfErrors.
import { BpfError } from '../errors.js';
import { FD } from './fd.js';
import { Attr, bpf, bpfRaw, cString } from './syscall.js';
import {
  BtfLoadAttr as BTF_LOAD,
  EnableStatsAttr as ENABLE_STATS,
  GetIdAttr as GET_ID,
  IterLinkInfo,
  InfoAttr as INFO,
  IterCreateAttr as ITER_CREATE,
  LinkCreateAttr as LINK_CREATE,
  LinkDetachAttr as LINK_DETACH,
  LinkUpdateAttr as LINK_UPDATE,
  MapBatchAttr as BATCH,
  MapCreateAttr as MAP_CREATE,
  MapElemAttr as ELEM,
  ObjAttr as OBJ,
  ProgAttachAttr as PROG_ATTACH,
  ProgLoadAttr as PROG_LOAD,
  QueryAttr as QUERY,
  RawTracepointAttr as RAW_TP,
  TestRunAttr as TEST_RUN,
} from './layout.js';
import { Cmd } from './types.js';
import { EAGAIN, ENOENT } from './errno.js';

const BPF_STATS_RUN_TIME = 0;

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
    .u32(MAP_CREATE.map_type, a.mapType)
    .u32(MAP_CREATE.key_size, a.keySize)
    .u32(MAP_CREATE.value_size, a.valueSize)
    .u32(MAP_CREATE.max_entries, a.maxEntries)
    .u32(MAP_CREATE.map_flags, a.mapFlags ?? 0)
    .u32(MAP_CREATE.inner_map_fd, a.innerMapFd ?? 0)
    .u32(MAP_CREATE.numa_node, a.numaNode ?? 0)
    .str(MAP_CREATE.map_name, a.mapName ?? '', 16)
    .u32(MAP_CREATE.map_ifindex, a.mapIfindex ?? 0)
    .u32(MAP_CREATE.btf_fd, a.btfFd ?? 0)
    .u32(MAP_CREATE.btf_key_type_id, a.btfKeyTypeId ?? 0)
    .u32(MAP_CREATE.btf_value_type_id, a.btfValueTypeId ?? 0)
    .u32(MAP_CREATE.btf_vmlinux_value_type_id, a.btfVmlinuxValueTypeId ?? 0)
    .u64(MAP_CREATE.map_extra, a.mapExtra ?? 0n)
    .s32(MAP_CREATE.value_type_btf_obj_fd, a.valueTypeBtfObjFd ?? 0)
    .s32(MAP_CREATE.map_token_fd, a.mapTokenFd ?? 0);
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
    v.setUint32(ELEM.map_fd, mapFd, true);
    v.setUint32(ELEM.map_fd + 4, 0, true);
    v.setBigUint64(ELEM.key, key, true);
    v.setBigUint64(ELEM.value, valueOrNext, true);
    v.setBigUint64(ELEM.flags, BigInt(flags), true);
    return bpfRaw(cmd, this.#attr);
  }
}

/**
 * One element command with the key and value (or next key) given as buffers: the attr is
 * built for this call. Returns 0 or -errno; the caller decides which errnos are expected.
 */
export function mapElemRaw(cmd: Cmd, mapFd: number, key: ArrayBufferView | undefined, value?: ArrayBufferView, flags = 0): number {
  return bpfRaw(cmd, new Attr(32).u32(ELEM.map_fd, mapFd).ptr(ELEM.key, key).ptr(ELEM.value, value).u64(ELEM.flags, flags));
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
      .u64(BATCH.in_batch, a.inBatch)
      .u64(BATCH.out_batch, a.outBatch)
      .u64(BATCH.keys, a.keys)
      .u64(BATCH.values, a.values)
      .u32(BATCH.count, a.count)
      .u32(BATCH.map_fd, a.mapFd)
      .u64(BATCH.elem_flags, a.elemFlags ?? 0)
      .u64(BATCH.flags, a.flags ?? 0);
    const r = bpfRaw(cmd, attr);
    return [r, attr.getU32(BATCH.count)];
  }
}

export function mapFreeze(mapFd: number, context?: string): void {
  bpf(Cmd.MAP_FREEZE, new Attr(4).u32(ELEM.map_fd, mapFd), context);
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
    .u32(PROG_LOAD.prog_type, a.progType)
    .u32(PROG_LOAD.insn_cnt, a.insns.byteLength / 8)
    .ptr(PROG_LOAD.insns, a.insns)
    .ptr(PROG_LOAD.license, license)
    .u32(PROG_LOAD.log_level, a.logBuf ? (a.logLevel ?? 1) : 0)
    .u32(PROG_LOAD.log_size, a.logBuf ? a.logBuf.byteLength : 0)
    .ptr(PROG_LOAD.log_buf, a.logBuf)
    .u32(PROG_LOAD.kern_version, a.kernVersion ?? 0)
    .u32(PROG_LOAD.prog_flags, a.progFlags ?? 0)
    .str(PROG_LOAD.prog_name, a.progName ?? '', 16)
    .u32(PROG_LOAD.prog_ifindex, a.progIfindex ?? 0)
    .u32(PROG_LOAD.expected_attach_type, a.expectedAttachType ?? 0)
    .u32(PROG_LOAD.prog_btf_fd, a.progBtfFd ?? 0)
    .u32(PROG_LOAD.func_info_rec_size, a.funcInfoRecSize ?? 0)
    .ptr(PROG_LOAD.func_info, a.funcInfo)
    .u32(PROG_LOAD.func_info_cnt, a.funcInfoCnt ?? 0)
    .u32(PROG_LOAD.line_info_rec_size, a.lineInfoRecSize ?? 0)
    .ptr(PROG_LOAD.line_info, a.lineInfo)
    .u32(PROG_LOAD.line_info_cnt, a.lineInfoCnt ?? 0)
    .u32(PROG_LOAD.attach_btf_id, a.attachBtfId ?? 0)
    .u32(PROG_LOAD.attach_prog_fd, a.attachProgFd ?? a.attachBtfObjFd ?? 0)
    .ptr(PROG_LOAD.fd_array, a.fdArray)
    .s32(PROG_LOAD.prog_token_fd, a.progTokenFd ?? 0);
  let r = bpfRaw(Cmd.PROG_LOAD, attr);
  for (let i = 0; i < 4 && r === -EAGAIN; i++) r = bpfRaw(Cmd.PROG_LOAD, attr);
  return { result: r, logTrueSize: attr.getU32(PROG_LOAD.log_true_size) };
}

/** BPF_OBJ_PIN */
export function objPin(fd: number, path: string): void {
  const p = cString(path);
  bpf(Cmd.OBJ_PIN, new Attr(24).ptr(OBJ.pathname, p).u32(OBJ.bpf_fd, fd), path);
}

/** BPF_OBJ_GET */
export function objGet(path: string, fileFlags = 0, what = 'pinned object'): FD {
  const p = cString(path);
  return new FD(bpf(Cmd.OBJ_GET, new Attr(24).ptr(OBJ.pathname, p).u32(OBJ.file_flags, fileFlags), path), `${what} ${path}`);
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
    .u32(PROG_ATTACH.target_fd, a.targetFd)
    .u32(PROG_ATTACH.attach_bpf_fd, a.attachBpfFd)
    .u32(PROG_ATTACH.attach_type, a.attachType)
    .u32(PROG_ATTACH.attach_flags, a.attachFlags ?? 0)
    .u32(PROG_ATTACH.replace_bpf_fd, a.replaceBpfFd ?? 0)
    .u32(PROG_ATTACH.relative_fd, a.relativeFdOrId ?? 0)
    .u64(PROG_ATTACH.expected_revision, a.expectedRevision ?? 0n);
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
    .u32(TEST_RUN.prog_fd, a.progFd)
    .u32(TEST_RUN.data_size_in, a.dataIn?.byteLength ?? 0)
    .u32(TEST_RUN.data_size_out, a.dataOut?.byteLength ?? 0)
    .ptr(TEST_RUN.data_in, a.dataIn)
    .ptr(TEST_RUN.data_out, a.dataOut)
    .u32(TEST_RUN.repeat, a.repeat ?? 0)
    .u32(TEST_RUN.ctx_size_in, a.ctxIn?.byteLength ?? 0)
    .u32(TEST_RUN.ctx_size_out, a.ctxOut?.byteLength ?? 0)
    .ptr(TEST_RUN.ctx_in, a.ctxIn)
    .ptr(TEST_RUN.ctx_out, a.ctxOut)
    .u32(TEST_RUN.flags, a.flags ?? 0)
    .u32(TEST_RUN.cpu, a.cpu ?? 0)
    .u32(TEST_RUN.batch_size, a.batchSize ?? 0);
  bpf(Cmd.PROG_TEST_RUN, attr, context);
  return {
    retval: attr.getU32(TEST_RUN.retval),
    durationNs: attr.getU32(TEST_RUN.duration),
    dataSizeOut: attr.getU32(TEST_RUN.data_size_out),
    ctxSizeOut: attr.getU32(TEST_RUN.ctx_size_out),
  };
}

/** *_GET_NEXT_ID: the next id after `start`, or undefined at the end. */
export function getNextId(cmd: Cmd.PROG_GET_NEXT_ID | Cmd.MAP_GET_NEXT_ID | Cmd.BTF_GET_NEXT_ID | Cmd.LINK_GET_NEXT_ID, start: number): number | undefined {
  const attr = new Attr(16).u32(GET_ID.start_id, start);
  const r = bpfRaw(cmd, attr);
  if (r === -ENOENT) return undefined;
  if (r < 0) throw new BpfError(`BPF_${Cmd[cmd]}`, -r);
  return attr.getU32(GET_ID.next_id);
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
  return new FD(bpf(cmd, new Attr(16).u32(GET_ID.start_id, id).u32(GET_ID.open_flags, openFlags), `${what} id ${id}`), `${what} ${id}`);
}

/** BPF_OBJ_GET_INFO_BY_FD into `info`; returns the length the kernel filled in. */
export function objGetInfoByFd(fd: number, info: Uint8Array, context?: string): number {
  const attr = new Attr(16).u32(INFO.bpf_fd, fd).u32(INFO.info_len, info.byteLength).ptr(INFO.info, info);
  bpf(Cmd.OBJ_GET_INFO_BY_FD, attr, context);
  return attr.getU32(INFO.info_len);
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
    .u32(QUERY.target_fd, a.targetFd)
    .u32(QUERY.attach_type, a.attachType)
    .u32(QUERY.query_flags, a.queryFlags ?? 0)
    .ptr(QUERY.prog_ids, a.progIds)
    .u32(QUERY.count, a.progIds?.length ?? 0)
    .ptr(QUERY.prog_attach_flags, a.progAttachFlags)
    .ptr(QUERY.link_ids, a.linkIds)
    .ptr(QUERY.link_attach_flags, a.linkAttachFlags);
  bpf(Cmd.PROG_QUERY, attr, context);
  return { attachFlags: attr.getU32(QUERY.attach_flags), count: attr.getU32(QUERY.count), revision: attr.getU64(QUERY.revision) };
}

/**
 * BPF_RAW_TRACEPOINT_OPEN: a raw tracepoint by name, or (name undefined) a tracing program by
 * its attach_btf_id. `context` names the link in errors (default: the tracepoint).
 */
export function rawTracepointOpen(progFd: number, name: string | undefined, cookie = 0n, context = name === undefined ? undefined : `raw tracepoint ${name}`): FD {
  const n = name === undefined ? undefined : cString(name);
  const attr = new Attr(24).ptr(RAW_TP.name, n).u32(RAW_TP.prog_fd, progFd).u64(RAW_TP.cookie, cookie);
  return new FD(bpf(Cmd.RAW_TRACEPOINT_OPEN, attr, context), context === undefined ? 'raw tracepoint' : `link ${context}`);
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
    .ptr(BTF_LOAD.btf, a.btf)
    .ptr(BTF_LOAD.btf_log_buf, a.logBuf)
    .u32(BTF_LOAD.btf_size, a.btf.byteLength)
    .u32(BTF_LOAD.btf_log_size, a.logBuf?.byteLength ?? 0)
    .u32(BTF_LOAD.btf_log_level, a.logBuf ? (a.logLevel ?? 1) : 0)
    .u32(BTF_LOAD.btf_flags, a.flags ?? 0)
    .s32(BTF_LOAD.btf_token_fd, a.tokenFd ?? 0);
  const r = bpfRaw(Cmd.BTF_LOAD, attr);
  return { result: r, logTrueSize: attr.getU32(BTF_LOAD.btf_log_true_size) };
}

/** What an iterator link walks (union bpf_iter_link_info). */
export type IterTarget = { mapFd: number } | { cgroupFd: number; order: number } | { tid: number; pid: number; pidFd: number };

function iterLinkInfo(t: IterTarget): Uint8Array {
  const I = IterLinkInfo;
  const a = new Attr(16);
  if ('mapFd' in t) a.u32(I.map.map_fd, t.mapFd);
  else if ('cgroupFd' in t) a.u32(I.cgroup.order, t.order).u32(I.cgroup.cgroup_fd, t.cgroupFd);
  else a.u32(I.task.tid, t.tid).u32(I.task.pid, t.pid).u32(I.task.pid_fd, t.pidFd);
  return a.bytes;
}

/** The attach-type specific part of BPF_LINK_CREATE's attr, one shape per hook. */
export type LinkCreateTail =
  | { kind: 'iter'; target: IterTarget }
  | { kind: 'perf_event'; cookie: bigint }
  | { kind: 'kprobe_multi'; flags: number; count: number; symbols?: readonly string[] | undefined; addrs?: BigUint64Array | undefined; cookies?: BigUint64Array | undefined }
  | { kind: 'tracing'; targetBtfId: number; cookie: bigint }
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number }
  | { kind: 'tcx'; relative: number; expectedRevision: bigint };

export interface LinkCreateAttr {
  progFd: number;
  targetFd: number;
  attachType: number;
  flags?: number;
  tail?: LinkCreateTail | undefined;
}

function writeLinkTail(attr: Attr, t: LinkCreateTail): void {
  const O = LINK_CREATE;
  switch (t.kind) {
    case 'iter': {
      const info = iterLinkInfo(t.target);
      attr.ptr(O.iter_info, info).u32(O.iter_info_len, info.byteLength);
      return;
    }
    case 'perf_event':
      attr.u64(O.perf_event.bpf_cookie, t.cookie);
      return;
    case 'kprobe_multi': {
      // An array of pointers to the names: the attr holds the names' buffers alive too.
      const names = t.symbols?.map((s) => cString(s));
      const syms = names ? BigUint64Array.from(names, (n) => attr.hold(n)) : undefined;
      attr
        .u32(O.kprobe_multi.flags, t.flags)
        .u32(O.kprobe_multi.cnt, t.count)
        .ptr(O.kprobe_multi.syms, syms)
        .ptr(O.kprobe_multi.addrs, t.addrs)
        .ptr(O.kprobe_multi.cookies, t.cookies);
      return;
    }
    case 'tracing':
      attr.u32(O.tracing.target_btf_id, t.targetBtfId).u64(O.tracing.cookie, t.cookie);
      return;
    case 'netfilter':
      attr.u32(O.netfilter.pf, t.pf).u32(O.netfilter.hooknum, t.hooknum).s32(O.netfilter.priority, t.priority).u32(O.netfilter.flags, t.flags);
      return;
    case 'tcx':
      attr.u32(O.tcx.relative_fd, t.relative).u64(O.tcx.expected_revision, t.expectedRevision);
      return;
  }
}

export function linkCreate(a: LinkCreateAttr, context?: string): FD {
  const O = LINK_CREATE;
  const attr = new Attr(64).u32(O.prog_fd, a.progFd).u32(O.target_fd, a.targetFd).u32(O.attach_type, a.attachType).u32(O.flags, a.flags ?? 0);
  if (a.tail) writeLinkTail(attr, a.tail);
  return new FD(bpf(Cmd.LINK_CREATE, attr, context), `link ${context ?? ''}`.trim());
}

export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd = 0, flags = 0, context?: string): void {
  bpf(Cmd.LINK_UPDATE, new Attr(16).u32(LINK_UPDATE.link_fd, linkFd).u32(LINK_UPDATE.new_prog_fd, newProgFd).u32(LINK_UPDATE.flags, flags).u32(LINK_UPDATE.old_prog_fd, oldProgFd), context);
}

export function linkDetach(linkFd: number, context?: string): void {
  bpf(Cmd.LINK_DETACH, new Attr(4).u32(LINK_DETACH.link_fd, linkFd), context);
}

/**
 * Turns on run-time statistics (run count and time in a program's info()) for every program,
 * for as long as the returned handle stays open: BPF_ENABLE_STATS(BPF_STATS_RUN_TIME).
 */
export function enableStats(): FD {
  return new FD(bpf(Cmd.ENABLE_STATS, new Attr(4).u32(ENABLE_STATS.type, BPF_STATS_RUN_TIME), 'run time statistics'), 'stats');
}

export function iterCreate(linkFd: number, flags = 0): FD {
  return new FD(bpf(Cmd.ITER_CREATE, new Attr(8).u32(ITER_CREATE.link_fd, linkFd).u32(ITER_CREATE.flags, flags), 'iterator'), 'iterator');
}
