// cgroup v2 hooks: a bpf_link (Linux 5.7+), or BPF_PROG_ATTACH with ALLOW_MULTI/ALLOW_OVERRIDE
// on older kernels or when asked for.
import { closeSync, constants, openSync, statfsSync, statSync } from 'node:fs';
import { BpfError, InvalidArgumentError } from '../errors.js';
import { attachTypeName } from '../program/names.js';
import { linkCreate, progAttach, progDetach } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';
import { AttachFlags, AttachType, ProgramType } from '../sys/types.js';
import { holdProgram, programFd, programLabel, requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import { kernelAtLeast } from './kernel.js';
import type { LinkDetails } from './info.js';
import { Link } from './link.js';
import { EINVAL } from '../sys/errno.js';

export type CgroupAttachMode = 'multi' | 'override' | 'none';

export interface CgroupOptions {
  program: AttachableProgram;
  /** The cgroup's directory in the cgroup v2 hierarchy. */
  cgroup: string;
  attachType: AttachType;
  /**
   * For PROG_ATTACH: 'multi' (the default) runs every program attached here and below; 'override'
   * lets a descendant's program take over; 'none' allows no programs below. Links are always multi.
   */
  flags?: CgroupAttachMode;
  /** 'link' (the default; PROG_ATTACH on kernels before 5.7) or 'attach' for PROG_ATTACH. */
  mechanism?: 'link' | 'attach';
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

const TYPE_OF: ReadonlyMap<AttachType, ProgramType> = new Map([
  [AttachType.CGROUP_INET_INGRESS, ProgramType.CGROUP_SKB],
  [AttachType.CGROUP_INET_EGRESS, ProgramType.CGROUP_SKB],
  [AttachType.CGROUP_INET_SOCK_CREATE, ProgramType.CGROUP_SOCK],
  [AttachType.CGROUP_INET_SOCK_RELEASE, ProgramType.CGROUP_SOCK],
  [AttachType.CGROUP_INET4_POST_BIND, ProgramType.CGROUP_SOCK],
  [AttachType.CGROUP_INET6_POST_BIND, ProgramType.CGROUP_SOCK],
  [AttachType.CGROUP_SOCK_OPS, ProgramType.SOCK_OPS],
  [AttachType.CGROUP_DEVICE, ProgramType.CGROUP_DEVICE],
  [AttachType.CGROUP_INET4_BIND, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_INET6_BIND, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_INET4_CONNECT, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_INET6_CONNECT, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UDP4_SENDMSG, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UDP6_SENDMSG, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UDP4_RECVMSG, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UDP6_RECVMSG, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_INET4_GETPEERNAME, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_INET6_GETPEERNAME, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_INET4_GETSOCKNAME, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_INET6_GETSOCKNAME, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UNIX_CONNECT, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UNIX_SENDMSG, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UNIX_RECVMSG, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UNIX_GETPEERNAME, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_UNIX_GETSOCKNAME, ProgramType.CGROUP_SOCK_ADDR],
  [AttachType.CGROUP_SYSCTL, ProgramType.CGROUP_SYSCTL],
  [AttachType.CGROUP_GETSOCKOPT, ProgramType.CGROUP_SOCKOPT],
  [AttachType.CGROUP_SETSOCKOPT, ProgramType.CGROUP_SOCKOPT],
  [AttachType.LSM_CGROUP, ProgramType.LSM],
]);

/** Opens a cgroup v2 directory, or throws TargetNotFoundError naming it. */
export function openCgroup(path: string): FD {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    throw new TargetNotFoundError('cgroup', path, (err as NodeJS.ErrnoException).code, { cause: err });
  }
  let magic: number;
  try {
    magic = statfsSync(path).type;
  } catch {
    magic = CGROUP2_SUPER_MAGIC;
  }
  if (magic !== CGROUP2_SUPER_MAGIC) {
    closeSync(fd);
    throw new TargetNotFoundError('cgroup', path, 'not a directory of the cgroup v2 hierarchy');
  }
  return new FD(fd, `cgroup ${path}`);
}

/** A cgroup's id: the inode number of its directory in cgroupfs. */
function cgroupIdOf(path: string): bigint {
  try {
    return statSync(path, { bigint: true }).ino;
  } catch {
    return 0n;
  }
}

const MODE_FLAGS: Record<CgroupAttachMode, number> = { multi: AttachFlags.ALLOW_MULTI, override: AttachFlags.ALLOW_OVERRIDE, none: 0 };

/** Attaches a cgroup program (skb, sock, sock_addr, sockops, device, sysctl, sockopt) to a cgroup. */
export function attachCgroup(opts: CgroupOptions): Link {
  const want = TYPE_OF.get(opts.attachType);
  if (want === undefined) throw new InvalidArgumentError(`attach type ${attachTypeName(opts.attachType)} is not a cgroup hook`);
  const name = attachTypeName(opts.attachType);
  requireType(`cgroup ${name}`, opts.program, want);
  const mode = opts.flags ?? 'multi';
  if (MODE_FLAGS[mode] === undefined) throw new InvalidArgumentError(`cgroup attach flags must be multi, override or none, not '${String(mode)}'`);
  // Links always run alongside the programs below them: other modes need PROG_ATTACH.
  if (mode !== 'multi' && opts.mechanism === 'link') throw new InvalidArgumentError(`cgroup links are always multi; '${mode}' needs the attach mechanism`);
  const mechanism = opts.mechanism ?? (mode === 'multi' ? undefined : 'attach');
  const target = `${name} on ${opts.cgroup}`;
  const cg = openCgroup(opts.cgroup);
  const cgroupId = cgroupIdOf(opts.cgroup);
  const describe = (): LinkDetails => ({ kind: 'cgroup', cgroupId, attachType: opts.attachType, attachTypeName: name, path: opts.cgroup });
  if (mechanism !== 'attach') {
    try {
      const fd = linkCreate({ progFd: programFd(opts.program), targetFd: cg.value, attachType: opts.attachType }, `cgroup ${target}`);
      cg.close();
      return new Link({
        hook: 'cgroup',
        target,
        mechanism: 'bpf_link',
        program: opts.program,
        fd,
        describe,
      });
    } catch (err) {
      if (!(err instanceof BpfError && err.errno === EINVAL && !kernelAtLeast(5, 7) && mechanism === undefined)) {
        cg.close();
        throw err;
      }
    }
  }
  return attachLegacy(opts, cg, mode, target, describe);
}

function attachLegacy(opts: CgroupOptions, cg: FD, mode: CgroupAttachMode, target: string, describe: () => LinkDetails): Link {
  let held;
  try {
    held = holdProgram(opts.program);
    progAttach({ targetFd: cg.value, attachBpfFd: held.fd.value, attachType: opts.attachType, attachFlags: MODE_FLAGS[mode] }, `cgroup ${target}`);
  } catch (err) {
    held?.fd.close();
    cg.close();
    throw err;
  }
  let current = held;
  return new Link({
    hook: 'cgroup',
    target,
    mechanism: 'prog_attach',
    program: opts.program,
    progId: current.id,
    detach: () => progDetach({ targetFd: cg.value, attachBpfFd: current.fd.value, attachType: opts.attachType }, `cgroup ${target}`),
    update: (next) => {
      const nextHeld = holdProgram(next);
      try {
        const replace = mode === 'multi' ? { attachFlags: AttachFlags.ALLOW_MULTI | AttachFlags.REPLACE, replaceBpfFd: current.fd.value } : { attachFlags: MODE_FLAGS[mode] };
        progAttach({ targetFd: cg.value, attachBpfFd: nextHeld.fd.value, attachType: opts.attachType, ...replace }, `cgroup ${target} (replacing ${programLabel(opts.program)})`);
      } catch (err) {
        nextHeld.fd.close();
        throw err;
      }
      current.fd.close();
      current = nextHeld;
    },
    holds: [{ close: () => current.fd.close() }, cg],
    describe,
  });
}

export interface SockOpsOptions {
  program: AttachableProgram;
  cgroup: string;
  flags?: CgroupAttachMode;
  mechanism?: 'link' | 'attach';
}

/** Attaches a SOCK_OPS program to a cgroup. */
export function attachSockOps(opts: SockOpsOptions): Link {
  return attachCgroup({ ...opts, attachType: AttachType.CGROUP_SOCK_OPS });
}
