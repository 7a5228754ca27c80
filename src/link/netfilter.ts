// Netfilter hooks (Linux 6.4+): a NETFILTER program as a bpf_link on an IPv4/IPv6 hook.
import { InvalidArgumentError } from '../errors.js';
import { linkCreate } from '../sys/attrs.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { programFd, requireType, type AttachableProgram } from './attachable.js';
import { Link } from './link.js';

export type NetfilterFamily = 'ipv4' | 'ipv6';
export type NetfilterHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface NetfilterOptions {
  program: AttachableProgram;
  /** The protocol family: 'ipv4', 'ipv6', or an NFPROTO_* number. */
  pf: NetfilterFamily | number;
  /** The hook: 'prerouting'... or an NF_INET_* number. */
  hooknum: NetfilterHook | number;
  /** Where among the hook's functions it runs; lower runs first (not INT_MIN or INT_MAX). */
  priority: number;
  /** Defragment packets before the program sees them (BPF_F_NETFILTER_IP_DEFRAG). */
  defrag?: boolean;
  /** Raw BPF_F_NETFILTER_* flags, or'ed with defrag. */
  flags?: number;
}

const NFPROTO: Record<NetfilterFamily, number> = { ipv4: 2, ipv6: 10 };
const NF_INET: Record<NetfilterHook, number> = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 };
const BPF_F_NETFILTER_IP_DEFRAG = 1;

/** Attaches a NETFILTER program to a netfilter hook of this network namespace. */
export function attachNetfilter(opts: NetfilterOptions): Link {
  requireType('netfilter', opts.program, ProgramType.NETFILTER);
  const pf = typeof opts.pf === 'number' ? opts.pf : NFPROTO[opts.pf];
  const hook = typeof opts.hooknum === 'number' ? opts.hooknum : NF_INET[opts.hooknum];
  if (pf === undefined) throw new InvalidArgumentError(`unknown netfilter family '${String(opts.pf)}'`);
  if (hook === undefined) throw new InvalidArgumentError(`unknown netfilter hook '${String(opts.hooknum)}'`);
  if (!Number.isInteger(opts.priority) || opts.priority <= -0x80000000 || opts.priority >= 0x7fffffff) {
    throw new InvalidArgumentError(`netfilter priority must be an integer strictly between INT_MIN and INT_MAX, not ${opts.priority}`);
  }
  const flags = (opts.flags ?? 0) | (opts.defrag ? BPF_F_NETFILTER_IP_DEFRAG : 0);
  const target = `${typeof opts.pf === 'string' ? opts.pf : `pf ${pf}`} ${typeof opts.hooknum === 'string' ? opts.hooknum : `hook ${hook}`} priority ${opts.priority}`;
  const fd = linkCreate(
    {
      progFd: programFd(opts.program),
      targetFd: 0,
      attachType: AttachType.NETFILTER,
      tail: { kind: 'netfilter', pf, hooknum: hook, priority: opts.priority, flags },
    },
    `netfilter ${target}`,
  );
  return new Link({ hook: 'netfilter', target, mechanism: 'bpf_link', program: opts.program, fd });
}
