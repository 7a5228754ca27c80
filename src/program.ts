// A loaded eBPF program: load with the verifier log on failure, test runs, pinning, info.
import { encode } from './asm/encoding.js';
import type { Instruction } from './asm/instruction.js';
import { BpfError, InvalidArgumentError, NotSupportedError, VerifierError, type SourceLocation } from './errors.js';
import { haveProgramType } from './features/programs.js';
import { bpfFdKind, memlockOf } from './program/fdinfo.js';
import { loadWithLog } from './program/load.js';
import { kernelObjectName, programTypeName } from './program/names.js';
import { bootTimeToDate } from './program/time.js';
import { getFdById, objGet, objPin, progTestRun, type ProgLoadAttr } from './sys/attrs.js';
import { FD } from './sys/fd.js';
import { progInfo } from './sys/info.js';
import { AttachType, Cmd, ProgramType } from './sys/types.js';
import { parseVerifierLog } from './verifier.js';
import { checkPinnedPath, preparePinPath, removePin } from './map/bpffs.js';
import { EINVAL, EPERM } from './sys/errno.js';

/** A file descriptor given as a number, an owning FD, or an object that has one (a BpfMap, a Btf). */
export type FdLike = number | FD | { readonly fd: number | FD };

function rawFd(x: FdLike): number {
  if (typeof x === 'number') return x;
  if (x instanceof FD) return x.value;
  return rawFd(x.fd);
}

/** BTF describing the program's functions and lines (bpf_func_info and bpf_line_info records). */
export interface ProgramBtfOptions {
  /** The loaded BTF object the records refer to. */
  fd: FdLike;
  funcInfo?: Uint8Array;
  /** sizeof(struct bpf_func_info) by default: 8. */
  funcInfoRecSize?: number;
  /** funcInfo.byteLength / funcInfoRecSize by default. */
  funcInfoCount?: number;
  lineInfo?: Uint8Array;
  /** sizeof(struct bpf_line_info) by default: 16. */
  lineInfoRecSize?: number;
  lineInfoCount?: number;
}

export interface ProgramLoadOptions {
  type: ProgramType;
  /** Instructions, or their encoding (8 bytes per slot, in the host's byte order). */
  instructions: Uint8Array | readonly Instruction[];
  /** The license string; GPL-only helpers need a GPL-compatible one. */
  license: string;
  /** A name for listings; characters the kernel refuses become '_' and it is cut to 15. */
  name?: string;
  expectedAttachType?: AttachType;
  /** LINUX_VERSION_CODE, which kprobe programs needed before Linux 5.0. */
  kernelVersion?: number;
  /** ProgFlags (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, ...). */
  flags?: number;
  /** The device for an offloaded program. */
  ifindex?: number;
  btf?: ProgramBtfOptions;
  /** The kernel function, tracepoint or hook a tracing/LSM/struct_ops program is for. */
  attachBtfId?: number;
  /** The BTF object (vmlinux if absent, or a module's) that attachBtfId is in. */
  attachBtfObjFd?: FdLike;
  /** The program an extension (freplace) or fentry-on-BPF program attaches to. */
  attachProgFd?: FdLike;
  /** Maps and BTF objects that ld_imm64 and kfunc calls refer to by index. */
  fdArray?: readonly number[] | Int32Array;
  /** Load with a log from the start (1, 2, or 4 for statistics, combinable); the log is kept. */
  logLevel?: number;
  /** The first log buffer size; grown as the kernel asks. */
  logSize?: number;
}

export interface TestRunOptions {
  /** The packet (or other input data) the program sees. */
  data?: Uint8Array;
  /** The context struct (__sk_buff, xdp_md, ...) or the arguments of a syscall program. */
  ctx?: Uint8Array;
  /** How many times to run; the duration is the mean. */
  repeat?: number;
  /** BPF_F_TEST_RUN_ON_CPU, BPF_F_TEST_XDP_LIVE_FRAMES, ... */
  flags?: number;
  cpu?: number;
  batchSize?: number;
  /** Room for the data the program leaves; the input length plus 256 for packet programs by default. */
  dataOutSize?: number;
  /** Room for the context the program leaves; the input ctx length by default where the type returns one. */
  ctxOutSize?: number;
}

export interface TestRunResult {
  /** R0 when the program returned. */
  retval: number;
  /** The mean run time in nanoseconds. */
  durationNs: number;
  /** The data as the program left it (rewritten, grown or shrunk). */
  dataOut?: Uint8Array;
  /** The context as the program left it. */
  ctxOut?: Uint8Array;
}

export interface ProgramInfo {
  type: ProgramType;
  /** The bpftool name of the type: 'xdp', 'sched_cls', ... */
  typeName: string;
  id: number;
  /** The kernel's copy of the name (at most 15 characters). */
  name: string;
  /** The hash of the instructions, 16 hex digits. */
  tag: string;
  gplCompatible: boolean;
  loadedAt: Date;
  /** The load time in nanoseconds since boot (CLOCK_BOOTTIME). */
  loadTimeNs: bigint;
  createdByUid: number;
  mapIds: number[];
  /** The program's BTF object, 0 without one. */
  btfId: number;
  xlatedSize: number;
  /** 0 when the program is interpreted. */
  jitedSize: number;
  verifiedInstructions: number;
  /** Run statistics; they count only while statistics are enabled (see enableStats). */
  runCount: bigint;
  runTimeNs: bigint;
  recursionMisses: bigint;
  ifindex: number;
  attachBtfObjId: number;
  attachBtfId: number;
  funcInfoCount: number;
  lineInfoCount: number;
  /** Locked memory charged to the program, in bytes, when the kernel says. */
  memlock?: number;
}

// Types whose test run takes and returns packet data and a context struct (net/bpf/test_run.c).
export const PACKET_TYPES = new Set<ProgramType>([
  ProgramType.SOCKET_FILTER,
  ProgramType.SCHED_CLS,
  ProgramType.SCHED_ACT,
  ProgramType.XDP,
  ProgramType.CGROUP_SKB,
  ProgramType.LWT_IN,
  ProgramType.LWT_OUT,
  ProgramType.LWT_XMIT,
  ProgramType.LWT_SEG6LOCAL,
]);
const CTX_OUT_TYPES = new Set<ProgramType>([...PACKET_TYPES, ProgramType.SK_LOOKUP, ProgramType.FLOW_DISSECTOR, ProgramType.NETFILTER]);
/** Room for headers a packet program pushes (XDP_PACKET_HEADROOM). */
const DATA_OUT_HEADROOM = 256;

function toBytes(instructions: Uint8Array | readonly Instruction[]): Uint8Array {
  if (instructions instanceof Uint8Array) {
    if (instructions.byteLength === 0) throw new InvalidArgumentError('a program needs at least one instruction');
    if (instructions.byteLength % 8 !== 0) {
      throw new InvalidArgumentError(`instructions are 8 bytes each; got ${instructions.byteLength} bytes`);
    }
    return instructions;
  }
  if (instructions.length === 0) throw new InvalidArgumentError('a program needs at least one instruction');
  return encode(instructions);
}

function validate(opts: ProgramLoadOptions): void {
  if (typeof opts.type !== 'number' || ProgramType[opts.type] === undefined || opts.type === ProgramType.UNSPEC) {
    throw new InvalidArgumentError(`unknown program type ${String(opts.type)}`);
  }
  if (opts.expectedAttachType !== undefined && AttachType[opts.expectedAttachType] === undefined) {
    throw new InvalidArgumentError(`unknown attach type ${String(opts.expectedAttachType)}`);
  }
  if (typeof opts.license !== 'string') throw new InvalidArgumentError('a program needs a license string');
  if (opts.logLevel !== undefined && (!Number.isInteger(opts.logLevel) || opts.logLevel < 0)) {
    throw new InvalidArgumentError(`invalid log level ${opts.logLevel}`);
  }
}

function btfAttr(btf: ProgramBtfOptions | undefined): Partial<ProgLoadAttr> {
  if (!btf) return {};
  const funcRec = btf.funcInfoRecSize ?? 8;
  const lineRec = btf.lineInfoRecSize ?? 16;
  return {
    progBtfFd: rawFd(btf.fd),
    ...(btf.funcInfo && btf.funcInfo.byteLength > 0
      ? { funcInfo: btf.funcInfo, funcInfoRecSize: funcRec, funcInfoCnt: btf.funcInfoCount ?? btf.funcInfo.byteLength / funcRec }
      : {}),
    ...(btf.lineInfo && btf.lineInfo.byteLength > 0
      ? { lineInfo: btf.lineInfo, lineInfoRecSize: lineRec, lineInfoCnt: btf.lineInfoCount ?? btf.lineInfo.byteLength / lineRec }
      : {}),
  };
}

/**
 * A program loaded into the kernel. It owns its file descriptor: close() (or `using`) unloads
 * it unless something else holds it (a link, a pin, another fd).
 */
export class Program {
  readonly type: ProgramType;
  /** The name it was loaded with (as given), or the kernel's name for an opened program. */
  readonly name: string;
  /** The verifier log of a load that asked for one with logLevel. */
  readonly verifierLog?: string;
  /** The expected attach type it was loaded with; unknown for programs opened by fd, id or pin. */
  readonly expectedAttachType?: AttachType;
  readonly #fd: FD;
  #id?: number;
  #tag?: string;
  #pinnedPath: string | undefined;

  private constructor(fd: FD, type: ProgramType, name: string, verifierLog?: string, expectedAttachType?: AttachType) {
    this.#fd = fd;
    this.type = type;
    this.name = name;
    if (verifierLog !== undefined) this.verifierLog = verifierLog;
    if (expectedAttachType !== undefined) this.expectedAttachType = expectedAttachType;
  }

  /**
   * Loads a program. Verification failures throw a VerifierError whose `reason` has the lines
   * that explain it and whose `log` is the whole log; parseVerifierLog(err.log) also gives the
   * index of the failing instruction.
   */
  static load(opts: ProgramLoadOptions): Program {
    validate(opts);
    const insns = toBytes(opts.instructions);
    const label = opts.name ?? programTypeName(opts.type);
    const attr: ProgLoadAttr = {
      progType: opts.type,
      insns,
      license: opts.license,
      progName: kernelObjectName(opts.name ?? ''),
      ...(opts.expectedAttachType !== undefined ? { expectedAttachType: opts.expectedAttachType } : {}),
      ...(opts.kernelVersion !== undefined ? { kernVersion: opts.kernelVersion } : {}),
      ...(opts.flags !== undefined ? { progFlags: opts.flags } : {}),
      ...(opts.ifindex !== undefined ? { progIfindex: opts.ifindex } : {}),
      ...btfAttr(opts.btf),
      ...(opts.attachBtfId !== undefined ? { attachBtfId: opts.attachBtfId } : {}),
      ...(opts.attachBtfObjFd !== undefined ? { attachBtfObjFd: rawFd(opts.attachBtfObjFd) } : {}),
      ...(opts.attachProgFd !== undefined ? { attachProgFd: rawFd(opts.attachProgFd) } : {}),
      ...(opts.fdArray !== undefined ? { fdArray: opts.fdArray instanceof Int32Array ? opts.fdArray : Int32Array.from(opts.fdArray) } : {}),
    };
    const out = loadWithLog(attr, {
      ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}),
      ...(opts.logSize !== undefined ? { logSize: opts.logSize } : {}),
    });
    if (out.result < 0) throw loadError(opts.type, label, -out.result, out.log ?? '');
    const fd = new FD(out.result, `program ${label}`);
    return new Program(fd, opts.type, opts.name ?? '', opts.logLevel ? out.log : undefined, opts.expectedAttachType);
  }

  /**
   * Takes ownership of a program file descriptor. If it is not a program, nothing is taken: the
   * error is thrown and the descriptor stays the caller's.
   */
  static fromFd(fd: number | FD): Program {
    return Program.#adopt(fd instanceof FD ? fd : new FD(fd, 'program'), fd instanceof FD);
  }

  static #adopt(fd: FD, callerKeeps: boolean): Program {
    try {
      const kind = bpfFdKind(fd.value);
      if (kind !== 'prog') throw new InvalidArgumentError(`${fd} is not a BPF program (${kind ? `a bpf ${kind}` : 'not a bpf object'})`);
      const info = progInfo(fd.value);
      const p = new Program(fd, info.type, info.name);
      p.#id = info.id;
      p.#tag = info.tag;
      return p;
    } catch (err) {
      if (callerKeeps) throw err;
      // A raw number stays open for the caller; only our wrapper goes.
      fd.release();
      throw err;
    }
  }

  /** Opens a program pinned in bpffs. */
  static openPinned(path: string): Program {
    let fd: FD;
    try {
      fd = objGet(path, 0, 'pinned program');
    } catch (err) {
      checkPinnedPath(path);
      throw err;
    }
    return Program.#open(fd);
  }

  /** Opens a loaded program by its id. */
  static fromId(id: number): Program {
    if (!Number.isInteger(id) || id <= 0) throw new InvalidArgumentError(`invalid program id ${id}`);
    return Program.#open(getFdById(Cmd.PROG_GET_FD_BY_ID, id));
  }

  // A descriptor opened here is closed again if it turns out not to be a program.
  static #open(fd: FD): Program {
    try {
      return Program.#adopt(fd, true);
    } catch (err) {
      fd.close();
      throw err;
    }
  }

  /** The raw file descriptor, for attr fields; throws ClosedError after close(). */
  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  get id(): number {
    if (this.#id === undefined) this.#identify();
    return this.#id ?? 0;
  }

  get tag(): string {
    if (this.#tag === undefined) this.#identify();
    return this.#tag ?? '';
  }

  #identify(): void {
    const info = progInfo(this.fd);
    this.#id = info.id;
    this.#tag = info.tag;
  }

  /** Where the program was pinned by pin(), if it was. */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  info(): ProgramInfo {
    const fd = this.fd;
    const i = progInfo(fd);
    const memlock = memlockOf(fd);
    return {
      type: i.type,
      typeName: programTypeName(i.type),
      id: i.id,
      name: i.name,
      tag: i.tag,
      gplCompatible: i.gplCompatible,
      loadedAt: bootTimeToDate(i.loadTime),
      loadTimeNs: i.loadTime,
      createdByUid: i.createdByUid,
      mapIds: i.mapIds,
      btfId: i.btfId,
      xlatedSize: i.xlatedProgLen,
      jitedSize: i.jitedProgLen,
      verifiedInstructions: i.verifiedInsns,
      runCount: i.runCnt,
      runTimeNs: i.runTimeNs,
      recursionMisses: i.recursionMisses,
      ifindex: i.ifindex,
      attachBtfObjId: i.attachBtfObjId,
      attachBtfId: i.attachBtfId,
      funcInfoCount: i.nrFuncInfo,
      lineInfoCount: i.nrLineInfo,
      ...(memlock !== undefined ? { memlock } : {}),
    };
  }

  /** The instructions as the kernel rewrote them (map ids in place of fds), 8 bytes per slot. */
  xlated(): Uint8Array {
    return progInfo(this.fd, { xlated: true }).xlated ?? new Uint8Array(0);
  }

  /** The JIT-compiled machine code, empty when the program is interpreted or hidden. */
  jited(): Uint8Array {
    return progInfo(this.fd, { jited: true }).jited ?? new Uint8Array(0);
  }

  /** Runs the program once (or `repeat` times) in the kernel on the given input (BPF_PROG_TEST_RUN). */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    const fd = this.fd;
    const packet = PACKET_TYPES.has(this.type);
    const dataOutSize = opts.dataOutSize ?? (opts.data && packet ? opts.data.byteLength + DATA_OUT_HEADROOM : 0);
    const ctxOutSize = opts.ctxOutSize ?? (opts.ctx && CTX_OUT_TYPES.has(this.type) ? opts.ctx.byteLength : 0);
    const dataOut = dataOutSize > 0 ? new Uint8Array(new ArrayBuffer(dataOutSize)) : undefined;
    const ctxOut = ctxOutSize > 0 ? new Uint8Array(new ArrayBuffer(ctxOutSize)) : undefined;
    // A syscall program writes its results back into the context it was given: run it on a copy.
    const ctxIn = opts.ctx && this.type === ProgramType.SYSCALL ? opts.ctx.slice() : opts.ctx;
    const r = progTestRun(
      {
        progFd: fd,
        ...(opts.data ? { dataIn: opts.data } : {}),
        ...(dataOut ? { dataOut } : {}),
        ...(ctxIn ? { ctxIn } : {}),
        ...(ctxOut ? { ctxOut } : {}),
        ...(opts.repeat !== undefined ? { repeat: opts.repeat } : {}),
        ...(opts.flags !== undefined ? { flags: opts.flags } : {}),
        ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
        ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      },
      `test run of program ${this.#label()}`,
    );
    return {
      retval: r.retval,
      durationNs: r.durationNs,
      ...(dataOut ? { dataOut: dataOut.subarray(0, Math.min(r.dataSizeOut, dataOut.byteLength)) } : {}),
      ...(ctxOut ? { ctxOut: ctxOut.subarray(0, Math.min(r.ctxSizeOut, ctxOut.byteLength)) } : {}),
      ...(ctxIn && this.type === ProgramType.SYSCALL ? { ctxOut: ctxIn } : {}),
    };
  }

  /** Pins the program at a path in bpffs, so it outlives this process. */
  pin(path: string): void {
    objPin(this.fd, preparePinPath(path));
    this.#pinnedPath = path;
  }

  /** Removes the pin made by pin(); the program stays loaded while other references exist. */
  unpin(): void {
    if (this.#pinnedPath === undefined) return;
    removePin(this.#pinnedPath);
    this.#pinnedPath = undefined;
  }

  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `Program(${programTypeName(this.type)}${this.name ? ` ${this.name}` : ''})`;
  }

  #label(): string {
    return this.name || programTypeName(this.type);
  }
}

function loadError(type: ProgramType, label: string, errno: number, log: string): Error {
  if (log.trim() !== '') {
    const failure = parseVerifierLog(log);
    // EPERM is refused before the verifier walks the program (capabilities, lockdown, a hook
    // the kernel cannot provide): not a rejection by the verifier, whatever the log holds.
    if (errno === EPERM && failure.failedInstruction === undefined) {
      const said = failure.reason.at(-1);
      return new BpfError('BPF_PROG_LOAD', errno, `program ${label}${said !== undefined && said !== '' ? `; the kernel logged: ${said}` : ''}`);
    }
    const at: { failedInstruction?: number; source?: SourceLocation } = {};
    if (failure.failedInstruction !== undefined) at.failedInstruction = failure.failedInstruction;
    const m = failure.source === undefined ? null : /^;\s*(.*?)\s*@\s*(\S+):(\d+)\s*$/.exec(failure.source);
    if (m) at.source = { text: m[1] ?? '', file: m[2] ?? '', line: Number(m[3]) };
    return new VerifierError(label, errno, log, failure.reason, at);
  }
  // An empty log with EINVAL is what a kernel says about a program type it does not know.
  if (errno === EINVAL && !haveProgramType(type)) return new NotSupportedError(`program type ${programTypeName(type)}`);
  return new BpfError('BPF_PROG_LOAD', errno, `program ${label}`);
}

export { enableStats } from './sys/attrs.js';
