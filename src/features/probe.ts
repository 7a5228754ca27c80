// What the probes share: the outcome type, minimal programs, and loading one with a small log.
import { readFileSync } from 'node:fs';
import { encode } from '../asm/encoding.js';
import type { Instruction } from '../asm/instruction.js';
import { BPF_ALU64, BPF_CALL, BPF_EXIT, BPF_JMP, BPF_K, BPF_MOV } from '../asm/opcodes.js';
import { E2BIG, EINVAL, EPERM, errnoName } from '../sys/errno.js';
import { progLoadRaw, type ProgLoadAttr } from '../sys/attrs.js';
import { closeFd } from '../sys/file.js';

/** A probe's answer. `supported` is undefined when the probe could not decide; `detail` says why. */
export interface ProbeResult {
  readonly supported: boolean | undefined;
  readonly detail?: string;
}

export const YES: ProbeResult = Object.freeze({ supported: true });

export function no(detail?: string): ProbeResult {
  return Object.freeze(detail ? { supported: false, detail } : { supported: false });
}

export function unknown(detail: string): ProbeResult {
  return Object.freeze({ supported: undefined, detail });
}

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

let privilegedCache: boolean | undefined;
/** Whether this process holds the capabilities for every kind of BPF object, so EPERM is the kernel's refusal. */
export function privileged(): boolean {
  if (privilegedCache === undefined) {
    let caps = 0n;
    try {
      const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) caps = BigInt(`0x${m[1]}`);
    } catch {
      caps = 0n;
    }
    const has = (bit: bigint): boolean => ((caps >> bit) & 1n) === 1n;
    privilegedCache = has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON) && has(CAP_NET_ADMIN));
  }
  return privilegedCache;
}

/** Why a probe could not decide when the process lacks the capabilities to ask. */
export const NEEDS_PRIVILEGE = 'needs CAP_BPF';

/** EPERM for a privileged process means the kernel will not do it; otherwise it may be us. */
export function refused(): ProbeResult {
  return privileged() ? no('refused by the kernel (EPERM) despite full privileges') : unknown(NEEDS_PRIVILEGE);
}

const r0Imm = (imm: number): Instruction => ({ opcode: BPF_ALU64 | BPF_MOV | BPF_K, dst: 0, src: 0, off: 0, imm });
const exit: Instruction = { opcode: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 };

/** `r0 = 0; exit`: the smallest program every type accepts. */
export const RETURN_ZERO = encode([r0Imm(0), exit]);

/** `call <helper>; exit`: a helper call with whatever arguments happen to be there. */
export function callHelper(id: number): Uint8Array {
  return encode([{ opcode: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: id }, exit]);
}

export interface ProbeLoad {
  /** The load's result: fd or -errno (the fd is already closed). */
  result: number;
  log: string;
}

// One buffer serves every probe: probes run one at a time on the main thread.
const logBuf = new Uint8Array(new ArrayBuffer(4096));

/** Loads a probe program with a small log, closes the fd, and returns what the kernel said. */
export function probeLoad(attr: ProgLoadAttr): ProbeLoad {
  logBuf[0] = 0;
  const { result } = progLoadRaw({ ...attr, logLevel: 1, logBuf });
  if (result >= 0) closeFd(result);
  const end = logBuf.indexOf(0);
  return { result, log: new TextDecoder().decode(logBuf.subarray(0, end < 0 ? logBuf.length : end)) };
}

/**
 * Reads a load's outcome the way bpftool does for types: a load that works, or that the verifier
 * got far enough to complain about, means the kernel knows what was asked; EINVAL (or E2BIG from
 * kernels that reject attr fields they lack) with an empty log means it does not.
 */
export function classifyLoad(r: ProbeLoad): ProbeResult {
  if (r.result >= 0) return YES;
  const errno = -r.result;
  if (errno === EPERM) return refused();
  if (r.log.trim() !== '') return YES;
  if (errno === EINVAL || errno === E2BIG) return no();
  return unknown(`load failed with ${errnoName(errno)}`);
}

/** Memoizes a probe by key: the kernel does not change under a running process. */
export function cached<K, V>(fn: (key: K) => V): (key: K) => V {
  const memo = new Map<K, V>();
  return (key: K): V => {
    if (memo.has(key)) return memo.get(key) as V;
    const v = fn(key);
    memo.set(key, v);
    return v;
  };
}
