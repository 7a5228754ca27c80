// XDP: a bpf_link (BPF_LINK_CREATE with BPF_XDP) where the kernel has one, netlink (RTM_SETLINK
// with IFLA_XDP) on kernels before 5.9, when asked for, or to replace an attached program.
import { BpfError, InvalidArgumentError } from '../errors.js';
import { linkCreate } from '../sys/attrs.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { holdProgram, programFd, requireType, type AttachableProgram } from './attachable.js';
import { resolveInterface, xdpSet, xdpState, XdpFlags, type Interface, type InterfaceRef } from './interfaces.js';
import { kernelAtLeast } from './kernel.js';
import { NetlinkError } from '../sys/netlink.js';
import { Link } from './link.js';
import type { LinkDetails } from './info.js';
import { EBUSY, EEXIST, EINVAL } from '../sys/errno.js';

export type XdpMode = 'generic' | 'driver' | 'offload';

export interface XdpOptions {
  program: AttachableProgram;
  interface: InterfaceRef;
  /** generic (skb), driver (native) or offload (hardware); by default driver where the device has it. */
  mode?: XdpMode;
  /**
   * Replace a program attached through netlink: true for whatever is there, or a program to
   * replace only that one, atomically. Implies the netlink mechanism.
   */
  replace?: boolean | AttachableProgram;
  /** 'link' (the default; netlink on kernels without XDP links) or 'netlink'. */
  mechanism?: 'link' | 'netlink';
}

const MODE_FLAGS: Record<XdpMode, number> = {
  generic: XdpFlags.SKB_MODE,
  driver: XdpFlags.DRV_MODE,
  offload: XdpFlags.HW_MODE,
};

function modeFlags(mode: XdpMode | undefined): number {
  if (mode === undefined) return 0;
  const f = MODE_FLAGS[mode];
  if (f === undefined) throw new InvalidArgumentError(`unknown XDP mode '${String(mode)}' (generic, driver or offload)`);
  return f;
}

function where(ifc: Interface, mode: XdpMode | undefined): string {
  return `${ifc.name} (ifindex ${ifc.ifindex})${mode ? ` ${mode}` : ''}`;
}

function alreadyAttached(err: unknown, ifc: Interface, mode: XdpMode | undefined): unknown {
  if (err instanceof BpfError && (err.errno === EBUSY || err.errno === EEXIST)) {
    const why = err instanceof NetlinkError && err.extack ? err.extack : 'a program is already attached';
    return new BpfError(err.command, err.errno, `XDP on ${where(ifc, mode)}: ${why}; detach it, or replace it`, { cause: err });
  }
  return err;
}

/** Attaches an XDP program to a network interface. */
export function attachXdp(opts: XdpOptions): Link {
  requireType('XDP', opts.program, ProgramType.XDP);
  const flags = modeFlags(opts.mode);
  if (opts.replace && opts.mechanism === 'link') {
    throw new InvalidArgumentError('XDP links cannot replace another attachment; update() the link that holds it, or use the netlink mechanism');
  }
  const ifc = resolveInterface(opts.interface);
  if (opts.mechanism === 'netlink' || opts.replace) return attachNetlink(opts, ifc, flags);
  try {
    const fd = linkCreate({ progFd: programFd(opts.program), targetFd: ifc.ifindex, attachType: AttachType.XDP, flags }, `XDP on ${where(ifc, opts.mode)}`);
    const describe = (): LinkDetails => ({ kind: 'xdp', ifindex: ifc.ifindex, interface: ifc.name, ...(opts.mode ? { mode: opts.mode } : {}) });
    return new Link({ hook: 'xdp', target: where(ifc, opts.mode), mechanism: 'bpf_link', program: opts.program, fd, describe });
  } catch (err) {
    if (err instanceof BpfError && err.errno === EINVAL && !kernelAtLeast(5, 9) && opts.mechanism === undefined) return attachNetlink(opts, ifc, flags);
    throw alreadyAttached(err, ifc, opts.mode);
  }
}

function attachNetlink(opts: XdpOptions, ifc: Interface, mode: number): Link {
  let flags = mode;
  let expected: number | undefined;
  if (opts.replace === undefined || opts.replace === false) flags |= XdpFlags.UPDATE_IF_NOEXIST;
  else if (opts.replace !== true) {
    flags |= XdpFlags.REPLACE;
    expected = programFd(opts.replace);
  }
  let held = holdProgram(opts.program);
  try {
    xdpSet(ifc, programFd(opts.program), flags, expected);
  } catch (err) {
    held.fd.close();
    throw alreadyAttached(err, ifc, opts.mode);
  }
  const target = where(ifc, opts.mode);
  return new Link({
    hook: 'xdp',
    target,
    mechanism: 'netlink',
    program: opts.program,
    progId: held.id,
    // Remove only our program: if another replaced it since, that one stays.
    detach: () => {
      try {
        xdpSet(ifc, -1, mode | XdpFlags.REPLACE, held.fd.value);
      } catch (err) {
        if (!(err instanceof BpfError && err.errno === EEXIST)) throw err;
      }
    },
    update: (next) => {
      const nextHeld = holdProgram(next);
      try {
        xdpSet(ifc, programFd(next), mode | XdpFlags.REPLACE, held.fd.value);
      } catch (err) {
        nextHeld.fd.close();
        throw err;
      }
      held.fd.close();
      held = nextHeld;
    },
    holds: [{ close: () => held.fd.close() }],
    describe: () => {
      const state = xdpState(ifc.ifindex);
      const m = opts.mode ?? (state.driverProgId === held.id ? 'driver' : state.genericProgId === held.id ? 'generic' : state.offloadProgId === held.id ? 'offload' : undefined);
      return { kind: 'xdp', ifindex: ifc.ifindex, interface: ifc.name, ...(m ? { mode: m } : {}) };
    },
  });
}
