// Kubernetes identity from a cgroup path, for every tool that labels by pod (the exporter's
// cgroup decoder first). The kubelet puts every container in a cgroup named by its pod's UID
// and its container's ID, in one of two layouts:
//   systemd driver:  /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
//   cgroupfs driver: /kubepods/burstable/pod<uid>/<id>
// (guaranteed pods have no QoS level; the uid's dashes are underscores in systemd unit names).
// Names are not in the path: the kubelet's log directories on the node hold them,
// /var/log/pods/<namespace>_<pod>_<uid>/<container>/ and
// /var/log/containers/<pod>_<namespace>_<container>-<id>.log.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface KubeIds {
  podUid: string;
  /** Absent for the pod's own cgroup (processes outside any container). */
  containerId?: string;
}

export interface KubeLabels {
  namespace: string;
  pod: string;
  container: string;
}

const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
const SYSTEMD_POD = new RegExp(`^kubepods(?:-(?:burstable|besteffort))?-pod(${UID})\\.slice$`);
const CGROUPFS_POD = new RegExp(`^pod(${UID})$`);
// cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope, or a bare 64-hex id (cgroupfs).
const CONTAINER = /^(?:(?:cri-containerd|crio|docker|cri-o)-)?([0-9a-f]{64})(?:\.scope)?$/;

/** The pod UID and container ID a kubepods cgroup path names, or undefined for other paths. */
export function kubeIds(path: string): KubeIds | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  const top = parts.findIndex((p) => p === 'kubepods.slice' || p === 'kubepods');
  if (top < 0) return undefined;
  for (let i = top + 1; i < parts.length; i++) {
    const m = SYSTEMD_POD.exec(parts[i]!) ?? CGROUPFS_POD.exec(parts[i]!);
    if (!m) continue;
    const podUid = m[1]!.replaceAll('_', '-');
    const c = parts[i + 1] === undefined ? null : CONTAINER.exec(parts[i + 1]!);
    return c ? { podUid, containerId: c[1]! } : { podUid };
  }
  return undefined;
}

/** Pod and container names from the kubelet's log directories, read again on a miss. */
export class KubeNames {
  #pods = new Map<string, { namespace: string; pod: string }>();
  /** Whether the last labels() found no name for the pod or container. */
  missed = false;
  #containers = new Map<string, string>();
  #readIn = -1;

  constructor(
    readonly logDir: string,
    /** The scrape count: the directories are read again on a miss once a scrape at most. */
    readonly scrape: () => number,
  ) {}

  labels(ids: KubeIds): KubeLabels {
    let pod = this.#pods.get(ids.podUid);
    let container = ids.containerId === undefined ? '' : this.#containers.get(ids.containerId);
    if ((pod === undefined || container === undefined) && this.#readIn !== this.scrape()) {
      this.#scan();
      pod = this.#pods.get(ids.podUid);
      container = ids.containerId === undefined ? '' : this.#containers.get(ids.containerId);
    }
    this.missed = pod === undefined || container === undefined;
    return {
      namespace: pod?.namespace ?? '',
      // Unknown names fall back to the ids, which still tell series apart.
      pod: pod?.pod ?? ids.podUid,
      container: container ?? ids.containerId?.slice(0, 12) ?? '',
    };
  }

  #scan(): void {
    this.#readIn = this.scrape();
    const pods = new Map<string, { namespace: string; pod: string }>();
    for (const name of list(join(this.logDir, 'pods'))) {
      // <namespace>_<pod>_<uid>: namespaces and pod names cannot hold '_', so the split is exact.
      const m = /^([^_]+)_([^_]+)_([0-9a-f-]{36})$/.exec(name);
      if (m) pods.set(m[3]!, { namespace: m[1]!, pod: m[2]! });
    }
    const containers = new Map<string, string>();
    for (const name of list(join(this.logDir, 'containers'))) {
      const m = /^[^_]+_[^_]+_(.+)-([0-9a-f]{64})\.log$/.exec(name);
      if (m) containers.set(m[2]!, m[1]!);
    }
    this.#pods = pods;
    this.#containers = containers;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
