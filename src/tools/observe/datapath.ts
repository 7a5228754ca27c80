// observe's datapath: the programs loaded with the user's kernel-side filter, attached to TCX
// (or legacy tc) ingress and egress of each interface, to the root cgroup (which process made a
// socket) and to skb:kfree_skb (drops); close() detaches and frees all of it.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { attachCgroup, attachIter, attachTc, attachTcx, AttachType, type Link, readAllIter, TsbpfError } from '../../index.js';
import { resolveInterface } from '../../link/index.js';
import { toolFile } from '../common/assets.js';
import type { KernelFilter } from './filter.js';
import { loadObserve, type Observe, type ObserveConfig, type ObservePrograms } from './observe_bpf.js';

/** The compiled object, as the package ships it. */
export function objectPath(): string {
  return toolFile('observe', 'observe.bpf.o');
}

/** The ring's default size: about 25,000 small records, a busy second of a small host. */
export const RING_BYTES = 4 * 1024 * 1024;
/** Payload bytes copied per packet by default, for the DNS and HTTP parsers. */
export const SNAP_LEN = 256;
/** The most the object can copy (SNAP_MAX in observe.bpf.c). */
export const SNAP_MAX = 512;

/** Cilium's monitor aggregation levels that observe has. */
export const AGGREGATIONS = ['none', 'medium'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface DatapathOptions {
  /** Interfaces by name; all of this network namespace when empty. */
  interfaces: readonly string[];
  filter: KernelFilter;
  /** Payload bytes per record (0: none). */
  snapLen: number;
  ringBytes?: number;
  /** Drop events from skb:kfree_skb (default true). */
  drops?: boolean;
  /** A record per packet ('none'), or per connection event ('medium', as Cilium's default). */
  aggregation?: Aggregation;
  /** Where the cgroup v2 hierarchy is mounted, for the socket hook. */
  cgroupRoot: string;
}

export interface AttachedInterface {
  name: string;
  ifindex: number;
  /** 'tcx' where the kernel has it, else 'tc' (a clsact qdisc and a cls_bpf filter). */
  hook: 'tcx' | 'tc';
}

export interface Datapath {
  readonly object: Observe;
  readonly interfaces: readonly AttachedInterface[];
  /** Records the kernel could not reserve in the ring, summed over CPUs. */
  lost(): number;
  close(): void;
}

/**
 * Every interface of this process's network namespace, by name, from /proc/net/dev (which,
 * unlike /sys/class/net, follows the process into a namespace entered with setns).
 */
export function allInterfaces(procNetDev = '/proc/net/dev'): string[] {
  return readFileSync(procNetDev, 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter((n) => n !== '');
}

/** ARPHRD_* types whose packets carry no link-layer header at tc (tun, WireGuard, ip6tnl...). */
const NO_LINK_HEADER = new Set([65534, 776, 769, 778, 823]);

/** The link-layer header's length on an interface: 14 for Ethernet and loopback, 0 for L3 devices. */
export function linkHeaderLength(name: string, sysfs = '/sys/class/net'): number {
  try {
    return NO_LINK_HEADER.has(Number(readFileSync(join(sysfs, name, 'type'), 'utf8'))) ? 0 : 14;
  } catch {
    return 14;
  }
}

/** The inode number of this process's network namespace. */
export function ownNetns(): number {
  return Number(statSync('/proc/self/ns/net').ino);
}

/** TCX where the kernel has it; legacy tc where it answers that it has no TCX. */
function attachBoth(object: Observe, ifc: { name: string; ifindex: number }): { links: Link[]; hook: 'tcx' | 'tc' } {
  const links: Link[] = [];
  try {
    links.push(attachTcx({ program: object.programs.observe_ingress.program, interface: ifc.ifindex, direction: 'ingress' }));
    links.push(attachTcx({ program: object.programs.observe_egress.program, interface: ifc.ifindex, direction: 'egress' }));
    return { links, hook: 'tcx' };
  } catch (err) {
    for (const l of links) l.close();
    const code = (err as { code?: unknown }).code;
    if (code !== 'EINVAL' && code !== 'EOPNOTSUPP' && code !== 'ENOTSUP') throw err;
  }
  links.length = 0;
  try {
    links.push(attachTc({ program: object.programs.observe_ingress.program, interface: ifc.ifindex, direction: 'ingress' }));
    links.push(attachTc({ program: object.programs.observe_egress.program, interface: ifc.ifindex, direction: 'egress' }));
  } catch (err) {
    for (const l of links) l.close();
    throw err;
  }
  return { links, hook: 'tc' };
}

const SOCKET_ITERATORS = ['observe_tcp_sockets', 'observe_udp_sockets'] as const;

/** Which process holds each socket inode, from /proc/PID/fd; the first one found keeps it. */
function socketOwners(cgroupRoot: string): Map<string, { pid: number; comm: string; cgroupId: bigint }> {
  const owners = new Map<string, { pid: number; comm: string; cgroupId: bigint }>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // Gone, or a kernel thread.
    }
    let who: { pid: number; comm: string; cgroupId: bigint } | undefined;
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const ino = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (ino === undefined || owners.has(ino)) continue;
      who ??= processOf(Number(pid), cgroupRoot);
      if (who !== undefined) owners.set(ino, who);
    }
  }
  return owners;
}

function processOf(pid: number, cgroupRoot: string): { pid: number; comm: string; cgroupId: bigint } | undefined {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    const path = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
    let cgroupId = 0n;
    try {
      if (path !== undefined) cgroupId = statSync(join(cgroupRoot, path), { bigint: true }).ino;
    } catch {
      // A cgroup outside this mount's view.
    }
    return { pid, comm, cgroupId };
  } catch {
    return undefined;
  }
}

/**
 * The processes of sockets made before observe started, into `socks`: the socket iterators
 * give each TCP and UDP socket's cookie and inode, /proc the inode's process.
 */
async function seedSockets(object: Observe, cgroupRoot: string): Promise<void> {
  const owners = socketOwners(cgroupRoot);
  const programs = object.programs as Partial<Record<(typeof SOCKET_ITERATORS)[number], { program: Parameters<typeof attachIter>[0]['program'] }>>;
  for (const name of SOCKET_ITERATORS) {
    const program = programs[name];
    if (program === undefined) continue;
    const link = attachIter({ program: program.program });
    let text: string;
    try {
      text = await readAllIter(link);
    } finally {
      link.close();
    }
    for (const line of text.split('\n')) {
      const [cookie, ino] = line.split(' ');
      const who = ino === undefined ? undefined : owners.get(ino);
      if (who !== undefined) object.maps.socks.set(BigInt(cookie!), { cgroup_id: who.cgroupId, pid: who.pid, comm: who.comm.slice(0, 15), pad: 0 });
    }
  }
}

/**
 * Loads and attaches the datapath. The interfaces are resolved first, so an unknown one fails
 * before anything is loaded; any later failure closes what was made.
 */
export async function openDatapath(o: DatapathOptions): Promise<Datapath> {
  const names = o.interfaces.length > 0 ? [...new Set(o.interfaces)] : allInterfaces();
  const resolved = names.map((n) => resolveInterface(n));
  if (o.snapLen < 0 || o.snapLen > SNAP_MAX) throw new TsbpfError('EINVAL', `snap length ${o.snapLen} is outside 0-${SNAP_MAX}`);
  const config: ObserveConfig = {
    snap_len: o.snapLen,
    filter_family: o.filter.family ?? 0,
    filter_protocols: o.filter.protocols ?? 0,
    filter_addresses: o.filter.prefixes !== undefined ? 1 : 0,
    filter_ports: o.filter.ports !== undefined ? 1 : 0,
    drop_ifaces: 1,
    netns_ino: ownNetns(),
    trace_events: 1,
    aggregate: o.aggregation === 'none' ? 0 : 1,
  };
  const programs: Array<keyof ObservePrograms> = ['observe_ingress', 'observe_egress', 'observe_sock_create'];
  if (o.drops !== false) programs.push('observe_drop');
  const load = (names: Array<keyof ObservePrograms>): Promise<Observe> => loadObserve({ object: objectPath(), config, programs: names, maxEntries: { events: o.ringBytes ?? RING_BYTES } });
  let object: Observe;
  let iterators = true;
  try {
    object = await load([...programs, ...SOCKET_ITERATORS]);
  } catch (err) {
    // A kernel without socket iterators: processes of older sockets stay unknown.
    const program = (err as { program?: unknown }).program;
    if (program !== 'observe_tcp_sockets' && program !== 'observe_udp_sockets') throw err;
    iterators = false;
    object = await load(programs);
  }
  const links: Link[] = [];
  const attached: AttachedInterface[] = [];
  try {
    for (const p of o.filter.prefixes ?? []) {
      if (p.family === 4) object.maps.addr_v4.set({ prefixlen: p.prefixLen, addr: p.addr }, p.sides);
      else object.maps.addr_v6.set({ prefixlen: p.prefixLen, addr: p.addr }, p.sides);
    }
    for (const [port, sides] of o.filter.ports ?? []) object.maps.ports.set(port, sides);
    for (const ifc of resolved) object.maps.ifaces.set(ifc.ifindex, linkHeaderLength(ifc.name) + 1);
    if (iterators) await seedSockets(object, o.cgroupRoot);
    links.push(attachCgroup({ program: object.programs.observe_sock_create.program, cgroup: o.cgroupRoot, attachType: AttachType.CGROUP_INET_SOCK_CREATE }));
    if (o.drops !== false) links.push((object.programs as Observe['programs']).observe_drop.attach());
    for (const ifc of resolved) {
      const both = attachBoth(object, ifc);
      links.push(...both.links);
      attached.push({ name: ifc.name, ifindex: ifc.ifindex, hook: both.hook });
    }
  } catch (err) {
    for (const l of links.reverse()) l.close();
    object.close();
    throw err;
  }
  let closed = false;
  return {
    object,
    interfaces: attached,
    lost() {
      const values = object.maps.lost.get(0);
      return Number((values ?? []).reduce((a, b) => a + b, 0n));
    },
    close() {
      if (closed) return;
      closed = true;
      for (const l of links.reverse()) l.close();
      object.close();
    },
  };
}
