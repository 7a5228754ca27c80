// What a flow needs besides its record: interface names, the kernel's names of drop reasons,
// and the cgroup path of a socket's cgroup (from which Kubernetes pods are read).
import { hostname } from 'node:os';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readKernelBtf } from '../../btf/index.js';
import { resolveInterface } from '../../link/index.js';
import { kubeIds } from '../common/kube.js';
import type { Endpoint, FlowContext, RawProc } from './flow.js';

const PREFIX = 'SKB_DROP_REASON_';

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
export function cgroup2Root(mounts = '/proc/self/mounts'): string {
  try {
    for (const line of readFileSync(mounts, 'utf8').split('\n')) {
      const [, dir, type] = line.split(' ');
      if (type === 'cgroup2' && dir !== undefined) return dir.replace(/\\040/g, ' ');
    }
  } catch {
    // No mount table: the usual place.
  }
  return '/sys/fs/cgroup';
}

/** enum skb_drop_reason from the running kernel's BTF: value -> name without its prefix. */
export function kernelDropReasons(): Map<number, string> {
  const out = new Map<number, string>();
  try {
    for (const e of readKernelBtf().typesByName('skb_drop_reason', 'ENUM')) {
      for (const v of e.values) out.set(v.value, v.name.startsWith(PREFIX) ? v.name.slice(PREFIX.length) : v.name);
    }
  } catch {
    // No kernel BTF: reasons print as numbers.
  }
  return out;
}

/** cgroup v2 directories by inode number (the cgroup id), found by walking the hierarchy. */
class CgroupPaths {
  readonly #root: string;
  #byId = new Map<bigint, string>();
  #walkedAt = 0;

  constructor(root: string) {
    this.#root = root;
  }

  path(id: bigint): string | undefined {
    const known = this.#byId.get(id);
    if (known !== undefined) return known;
    // A new cgroup: walk again, at most every few seconds.
    if (Date.now() - this.#walkedAt < 5000) return undefined;
    this.#walkedAt = Date.now();
    const found = new Map<bigint, string>();
    const walk = (dir: string, rel: string, depth: number): void => {
      try {
        found.set(statSync(dir, { bigint: true }).ino, rel === '' ? '/' : rel);
        if (depth > 12) return;
        for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) walk(join(dir, d.name), `${rel}/${d.name}`, depth + 1);
      } catch {
        // Removed while walking.
      }
    };
    walk(this.#root, '', 0);
    this.#byId = found;
    return found.get(id);
  }
}

/** Kubernetes' pod of a kubepods cgroup path: the pod's uid, and the container's id. */
export function kubernetesOf(path: string): { podUid: string; container?: string } | undefined {
  const ids = kubeIds(path);
  if (ids === undefined) return undefined;
  return ids.containerId === undefined ? { podUid: ids.podUid } : { podUid: ids.podUid, container: ids.containerId };
}

export function createContext(cgroupRoot: string, names: ReadonlyMap<number, string> = new Map()): FlowContext {
  const reasons = kernelDropReasons();
  const ifnames = new Map(names);
  const cgroups = new CgroupPaths(cgroupRoot);
  // Decoded processes are shared between the records that name them (see decodeRecord), so
  // their endpoints are made once; shared between flows, not to be changed.
  const endpoints = new WeakMap<RawProc, Endpoint>();
  return {
    nodeName: hostname(),
    interfaceName(ifindex) {
      if (!ifnames.has(ifindex)) {
        let name: string | undefined;
        try {
          name = resolveInterface(ifindex).name;
        } catch {
          name = undefined;
        }
        ifnames.set(ifindex, name ?? String(ifindex));
      }
      return ifnames.get(ifindex);
    },
    dropReasonName(reason) {
      return reasons.get(reason) ?? String(reason);
    },
    endpoint(p: RawProc): Endpoint | undefined {
      if (p.pid === 0 && p.cgroupId === 0n) return undefined;
      const known = endpoints.get(p);
      if (known !== undefined) return known;
      const e: Endpoint = {};
      if (p.pid !== 0) {
        e.pid = p.pid;
        e.comm = p.comm;
      }
      let settled = true;
      if (p.cgroupId !== 0n) {
        e.cgroup_id = p.cgroupId.toString();
        const path = cgroups.path(p.cgroupId);
        if (path !== undefined) {
          e.cgroup_path = path;
          const k8s = kubernetesOf(path);
          if (k8s !== undefined) e.labels = [`k8s:io.kubernetes.pod.uid=${k8s.podUid}`, ...(k8s.container !== undefined ? [`container.id=${k8s.container}`] : [])];
        } else settled = false;
      }
      // A cgroup not found yet may be found by a later walk: only what is complete is kept.
      if (settled) endpoints.set(p, e);
      return e;
    },
  };
}
