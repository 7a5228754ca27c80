// TCX (Linux 6.6+): bpf_links on an interface's ingress or egress, ordered among each other.
import { InvalidArgumentError } from '../errors.js';
import { linkCreate } from '../sys/attrs.js';
import { AttachFlags, AttachType, ProgramType } from '../sys/types.js';
import { programFd, requireType, type AttachableProgram } from './attachable.js';
import { resolveInterface, type InterfaceRef } from './interfaces.js';
import { Link } from './link.js';

export type TcDirection = 'ingress' | 'egress';

/** A program, a link, or a program id to order against. */
export type TcxRelative = AttachableProgram | Link | number;

/** Where the new program runs among those already attached; last by default. */
export type TcxAnchor = { first: true } | { last: true } | { before: TcxRelative } | { after: TcxRelative };

export interface TcxOptions {
  program: AttachableProgram;
  interface: InterfaceRef;
  direction: TcDirection;
  anchor?: TcxAnchor;
  /** Attach only if the hook's revision (from a PROG_QUERY) is still this one. */
  expectedRevision?: bigint | number;
}

/** The BPF_F_* flags and relative fd/id of an mprog anchor (TCX, netkit, cgroup links). */
export function anchorFlags(anchor: TcxAnchor | undefined): { flags: number; relative: number } {
  if (!anchor) return { flags: 0, relative: 0 };
  if ('first' in anchor) return { flags: AttachFlags.BEFORE, relative: 0 };
  if ('last' in anchor) return { flags: AttachFlags.AFTER, relative: 0 };
  const [side, rel] = 'before' in anchor ? [AttachFlags.BEFORE, anchor.before] : [AttachFlags.AFTER, anchor.after];
  if (typeof rel === 'number') {
    if (!Number.isInteger(rel) || rel <= 0) throw new InvalidArgumentError(`invalid program id ${rel}`);
    return { flags: side | AttachFlags.ID, relative: rel };
  }
  if (rel instanceof Link) {
    if (rel.mechanism !== 'bpf_link') throw new InvalidArgumentError(`${rel} is not a bpf_link to order against`);
    return { flags: side | AttachFlags.LINK, relative: rel.fd };
  }
  return { flags: side, relative: programFd(rel) };
}

function attachType(direction: TcDirection): AttachType {
  if (direction === 'ingress') return AttachType.TCX_INGRESS;
  if (direction === 'egress') return AttachType.TCX_EGRESS;
  throw new InvalidArgumentError(`direction must be 'ingress' or 'egress', not '${String(direction)}'`);
}

/** Attaches a tc (SCHED_CLS) program to an interface through TCX. */
export function attachTcx(opts: TcxOptions): Link {
  requireType('TCX', opts.program, ProgramType.SCHED_CLS);
  const type = attachType(opts.direction);
  return anchoredLink('tcx', 'TCX', opts, type, opts.direction);
}

/** A TCX or netkit link: the same attr, placed relative to an anchor on one interface. */
function anchoredLink(hook: 'tcx' | 'netkit', what: string, opts: TcxOptions | NetkitOptions, type: AttachType, where: string): Link {
  const { flags, relative } = anchorFlags(opts.anchor);
  const ifc = resolveInterface(opts.interface);
  const target = `${ifc.name} (ifindex ${ifc.ifindex}) ${where}`;
  const fd = linkCreate(
    {
      progFd: programFd(opts.program),
      targetFd: ifc.ifindex,
      attachType: type,
      flags,
      tail: { kind: 'tcx', relative, expectedRevision: BigInt(opts.expectedRevision ?? 0) },
    },
    `${what} ${target}`,
  );
  return new Link({ hook, target, mechanism: 'bpf_link', program: opts.program, fd });
}

export type NetkitSide = 'primary' | 'peer';

export interface NetkitOptions {
  program: AttachableProgram;
  /** The netkit device (its primary side). */
  interface: InterfaceRef;
  side: NetkitSide;
  anchor?: TcxAnchor;
  expectedRevision?: bigint | number;
}

/** Attaches a SCHED_CLS program to a netkit device's primary or peer side (Linux 6.7+). */
export function attachNetkit(opts: NetkitOptions): Link {
  requireType('netkit', opts.program, ProgramType.SCHED_CLS);
  if (opts.side !== 'primary' && opts.side !== 'peer') throw new InvalidArgumentError(`netkit side must be 'primary' or 'peer', not '${String(opts.side)}'`);
  const type = opts.side === 'primary' ? AttachType.NETKIT_PRIMARY : AttachType.NETKIT_PEER;
  return anchoredLink('netkit', 'netkit', opts, type, opts.side);
}
