// The test network: two namespaces made for one measurement, a sender namespace and a receiver
// namespace joined by one veth pair. Nothing is added to the caller's own namespace, and the
// receiver has no route beyond its /24, so no frame or reply can leave the pair.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { sh } from './exec.js';

/** RFC 2544's benchmarking range: the flood's source (the blocked address) and destination. */
export const BLOCKED_SRC = '198.18.0.1';
export const RECEIVER_ADDR = '198.18.1.1';

export interface Topology {
  /** Namespace of the sender and its interface. */
  txNs: string;
  txIf: string;
  /** Namespace of the interface under test, where the filter lives. */
  rxNs: string;
  rxIf: string;
  rxMac: string;
}

/** Unique names for one measurement's namespaces and interfaces (interface names <= 15 bytes). */
export function topologyNames(): Omit<Topology, 'rxMac'> {
  const tag = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
  return { txNs: `tsbpf-bench-xdp-${tag}-tx`, txIf: `bx${tag}t`.slice(0, 15), rxNs: `tsbpf-bench-xdp-${tag}-rx`, rxIf: `bx${tag}r`.slice(0, 15) };
}

export async function createTopology(names: Omit<Topology, 'rxMac'>): Promise<Topology> {
  const { txNs, txIf, rxNs, rxIf } = names;
  await sh('ip', ['netns', 'add', txNs]);
  await sh('ip', ['netns', 'add', rxNs]);
  await sh('ip', ['link', 'add', txIf, 'netns', txNs, 'type', 'veth', 'peer', 'name', rxIf, 'netns', rxNs]);
  for (const [ns, ifname] of [[txNs, txIf], [rxNs, rxIf]] as const) {
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  }
  await sh('ip', ['-n', rxNs, 'addr', 'add', `${RECEIVER_ADDR}/24`, 'dev', rxIf]);
  const info = JSON.parse(await sh('ip', ['-n', rxNs, '-j', 'link', 'show', 'dev', rxIf])) as { address: string }[];
  const rxMac = info[0]?.address;
  if (!rxMac) throw new Error(`no MAC address on ${rxIf} in ${rxNs}`);
  return { ...names, rxMac };
}

/**
 * Deletes both namespaces, which destroys the veth pair and with it any XDP program, iptables
 * rule and nftables table attached there. Synchronous so that a signal handler can call it;
 * a namespace that is already gone is not an error.
 */
export function destroyTopology(names: Pick<Topology, 'txNs' | 'rxNs'>): void {
  for (const ns of [names.txNs, names.rxNs]) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // Not created, or already deleted.
    }
  }
}
