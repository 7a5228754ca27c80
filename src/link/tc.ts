// Legacy tc (before TCX): a clsact qdisc and a cls_bpf filter in direct-action mode, through
// rtnetlink. The filter is deleted on close, and the qdisc too if this link created it and no
// filter is left on it.
import { InvalidArgumentError } from '../errors.js';
import { ProgramType } from '../sys/types.js';
import { programFd, programId, requireType, type AttachableProgram } from './attachable.js';
import { resolveInterface, type Interface, type InterfaceRef } from './interfaces.js';
import { Link } from './link.js';
import { attrU32, NetlinkError, NLM_F, parseAttrs, RTM, TcMsg, tcMessage, withNetlink, type NetlinkSocket } from '../sys/netlink.js';
import type { TcDirection } from './tcx.js';
import { EEXIST, EINVAL, ENOENT } from '../sys/errno.js';

export interface TcOptions {
  program: AttachableProgram;
  interface: InterfaceRef;
  direction: TcDirection;
  /** The filter priority, 1..65535; the kernel picks one when absent. */
  priority?: number;
  /** The filter handle; the kernel picks one when absent. */
  handle?: number;
  /** Replace the filter at this priority and handle instead of failing when one is there. */
  replace?: boolean;
}

const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_ID = 11;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
const TC_H_CLSACT = 0xfffffff1;
const CLSACT_HANDLE = 0xffff0000;
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;
// htons(ETH_P_ALL): the filter sees every protocol.
const ETH_P_ALL_BE = 0x0300;

function parentOf(direction: TcDirection): number {
  if (direction === 'ingress') return ((TC_H_CLSACT & 0xffff0000) | TC_H_MIN_INGRESS) >>> 0;
  if (direction === 'egress') return ((TC_H_CLSACT & 0xffff0000) | TC_H_MIN_EGRESS) >>> 0;
  throw new InvalidArgumentError(`direction must be 'ingress' or 'egress', not '${String(direction)}'`);
}

/** Adds the clsact qdisc; false when one was already there. */
function addClsact(sock: NetlinkSocket, ifc: Interface): boolean {
  const msg = tcMessage(RTM.NEWQDISC, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, ifc.ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0).string(TCA_KIND, 'clsact');
  try {
    sock.request(msg, 'RTM_NEWQDISC', `clsact qdisc on ${ifc.name}`);
    return true;
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === EEXIST) return false;
    throw err;
  }
}

function filterCount(sock: NetlinkSocket, ifc: Interface, parent: number): number {
  const msg = tcMessage(RTM.GETTFILTER, NLM_F.REQUEST | NLM_F.DUMP, ifc.ifindex, 0, parent, 0);
  return sock.request(msg, 'RTM_GETTFILTER', `filters on ${ifc.name}`).filter((m) => m.type === RTM.NEWTFILTER).length;
}

function removeClsactIfEmpty(sock: NetlinkSocket, ifc: Interface): void {
  if (filterCount(sock, ifc, parentOf('ingress')) > 0 || filterCount(sock, ifc, parentOf('egress')) > 0) return;
  const msg = tcMessage(RTM.DELQDISC, NLM_F.REQUEST | NLM_F.ACK, ifc.ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0).string(TCA_KIND, 'clsact');
  sock.request(msg, 'RTM_DELQDISC', `clsact qdisc on ${ifc.name}`);
}

interface Filter {
  handle: number;
  priority: number;
}

function setFilter(sock: NetlinkSocket, ifc: Interface, parent: number, f: Filter, program: AttachableProgram, flags: number, what: string): Filter {
  const info = ((f.priority << 16) | ETH_P_ALL_BE) >>> 0;
  const msg = tcMessage(RTM.NEWTFILTER, NLM_F.REQUEST | NLM_F.ACK | NLM_F.ECHO | NLM_F.CREATE | flags, ifc.ifindex, f.handle, parent, info)
    .string(TCA_KIND, 'bpf')
    .nest(TCA_OPTIONS, (b) =>
      b
        .u32(TCA_BPF_FD, programFd(program))
        .string(TCA_BPF_NAME, program.name || 'tsbpf')
        .u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT),
    );
  const replies = sock.request(msg, 'RTM_NEWTFILTER', what);
  // The echo carries the handle and priority the kernel chose.
  const echo = replies.find((m) => m.type === RTM.NEWTFILTER && m.body.length >= TcMsg.size);
  if (!echo) return f;
  const v = new DataView(echo.body.buffer, echo.body.byteOffset, echo.body.byteLength);
  return { handle: v.getUint32(8, true), priority: v.getUint32(16, true) >>> 16 };
}

function deleteFilter(sock: NetlinkSocket, ifc: Interface, parent: number, f: Filter, what: string): void {
  const info = ((f.priority << 16) | ETH_P_ALL_BE) >>> 0;
  const msg = tcMessage(RTM.DELTFILTER, NLM_F.REQUEST | NLM_F.ACK, ifc.ifindex, f.handle, parent, info).string(TCA_KIND, 'bpf');
  sock.request(msg, 'RTM_DELTFILTER', what);
}

/** The program id of the bpf filter at this priority and handle, or undefined. */
function filterProgId(sock: NetlinkSocket, ifc: Interface, parent: number, f: Filter): number | undefined {
  const msg = tcMessage(RTM.GETTFILTER, NLM_F.REQUEST | NLM_F.DUMP, ifc.ifindex, 0, parent, 0);
  for (const m of sock.request(msg, 'RTM_GETTFILTER', `filters on ${ifc.name}`)) {
    if (m.type !== RTM.NEWTFILTER || m.body.length < TcMsg.size) continue;
    const v = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
    if (v.getUint32(8, true) !== f.handle || v.getUint32(16, true) >>> 16 !== f.priority) continue;
    const opts = parseAttrs(parseAttrs(m.body.subarray(TcMsg.size)).get(TCA_OPTIONS) ?? new Uint8Array(0));
    return attrU32(opts.get(TCA_BPF_ID));
  }
  return undefined;
}

/** Attaches a tc (SCHED_CLS) program as a direct-action cls_bpf filter on clsact. */
export function attachTc(opts: TcOptions): Link {
  requireType('tc', opts.program, ProgramType.SCHED_CLS);
  const parent = parentOf(opts.direction);
  const priority = opts.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) throw new InvalidArgumentError(`tc priority must be 1..65535, not ${priority}`);
  const handle = opts.handle ?? 0;
  if (!Number.isInteger(handle) || handle < 0 || handle > 0xffffffff) throw new InvalidArgumentError(`invalid tc handle ${handle}`);
  if (opts.replace && (priority === 0 || handle === 0)) throw new InvalidArgumentError('replacing a tc filter needs its priority and handle');
  const ifc = resolveInterface(opts.interface);
  const base = `${ifc.name} (ifindex ${ifc.ifindex}) ${opts.direction}`;
  return withNetlink((sock) => {
    const created = addClsact(sock, ifc);
    let filter: Filter;
    try {
      filter = setFilter(sock, ifc, parent, { handle, priority }, opts.program, opts.replace ? NLM_F.REPLACE : NLM_F.EXCL, `tc filter on ${base}`);
    } catch (err) {
      if (created) removeClsactIfEmpty(sock, ifc);
      throw err;
    }
    const target = `${base} handle ${filter.handle} priority ${filter.priority}`;
    let progId = programId(opts.program);
    return new Link({
      hook: 'tc',
      target,
      mechanism: 'netlink',
      program: opts.program,
      progId,
      detach: () =>
        withNetlink((s) => {
          // Delete only our filter: one that replaced it at the same place stays.
          const attached = filterProgId(s, ifc, parent, filter);
          if (attached === progId) {
            try {
              deleteFilter(s, ifc, parent, filter, `tc filter on ${target}`);
            } catch (err) {
              if (!(err instanceof NetlinkError && (err.errno === ENOENT || err.errno === EINVAL))) throw err;
            }
          }
          if (created) removeClsactIfEmpty(s, ifc);
        }),
      update: (next) =>
        withNetlink((s) => {
          setFilter(s, ifc, parent, filter, next, NLM_F.REPLACE, `tc filter on ${target}`);
          progId = programId(next);
        }),
      describe: () => ({ kind: 'tc', ifindex: ifc.ifindex, interface: ifc.name, direction: opts.direction, handle: filter.handle, priority: filter.priority }),
    });
  });
}
