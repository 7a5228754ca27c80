// Network namespace hooks: sk_lookup (and the flow dissector), as bpf_links on a netns fd.
import { constants, openSync } from 'node:fs';
import { linkCreate } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { programFd, requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import { Link } from './link.js';

export interface NetnsOptions {
  program: AttachableProgram;
  /**
   * The network namespace: a path to its nsfs file (/proc/<pid>/ns/net, /run/netns/<name>), or a
   * name under /run/netns as `ip netns` makes them. This process's namespace by default.
   */
  netns?: string;
}

/** The nsfs path of a network namespace given by path or `ip netns` name. */
export function netnsPath(netns: string | undefined): string {
  if (netns === undefined) return '/proc/self/ns/net';
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

function openNetns(netns: string | undefined): FD {
  const path = netnsPath(netns);
  try {
    return new FD(openSync(path, constants.O_RDONLY), `netns ${path}`);
  } catch (err) {
    throw new TargetNotFoundError('network namespace', path, (err as NodeJS.ErrnoException).code, { cause: err });
  }
}

function attachNetns(opts: NetnsOptions, hook: string, type: ProgramType, attachType: AttachType): Link {
  requireType(hook, opts.program, type);
  const path = netnsPath(opts.netns);
  const ns = openNetns(opts.netns);
  try {
    const fd = linkCreate({ progFd: programFd(opts.program), targetFd: ns.value, attachType }, `${hook} in netns ${path}`);
    return new Link({ hook, target: `netns ${path}`, mechanism: 'bpf_link', program: opts.program, fd });
  } finally {
    ns.close();
  }
}

/** Attaches an SK_LOOKUP program to a network namespace. */
export function attachSkLookup(opts: NetnsOptions): Link {
  return attachNetns(opts, 'sk_lookup', ProgramType.SK_LOOKUP, AttachType.SK_LOOKUP);
}

/** Attaches a FLOW_DISSECTOR program to a network namespace. */
export function attachFlowDissector(opts: NetnsOptions): Link {
  return attachNetns(opts, 'flow_dissector', ProgramType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR);
}
