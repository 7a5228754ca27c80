// The container a process runs in, from its cgroup path, and what the container runtime's
// state files say of it (name, image, Kubernetes pod and namespace).
import { readFileSync } from 'node:fs';

export interface ContainerInfo {
  /** The first 12 hex digits of the runtime's id, as docker and Falco show it. */
  id: string;
  fullId: string;
  runtime: string;
  name?: string | undefined;
  image?: string | undefined;
  podName?: string | undefined;
  podNamespace?: string | undefined;
  podUid?: string | undefined;
}

/** cgroup path patterns of the runtimes: systemd scopes and the cgroupfs layouts. */
const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  [/docker-([0-9a-f]{64})\.scope/, 'docker'],
  [/\/docker\/([0-9a-f]{64})/, 'docker'],
  [/cri-containerd-([0-9a-f]{64})\.scope/, 'containerd'],
  [/crio-([0-9a-f]{64})\.scope/, 'cri-o'],
  [/libpod-([0-9a-f]{64})\.scope/, 'podman'],
  [/\/kubepods[^\n]*\/([0-9a-f]{64})$/m, 'containerd'],
];

const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/;

const cache = new Map<string, ContainerInfo>();

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Fills in name, image and pod from the runtime's files where they exist. */
function describe(info: ContainerInfo): void {
  const docker = readJson(`/var/lib/docker/containers/${info.fullId}/config.v2.json`);
  if (docker !== undefined) {
    const config = docker.Config as { Image?: string; Labels?: Record<string, string> } | undefined;
    if (typeof docker.Name === 'string') info.name = docker.Name.replace(/^\//, '');
    if (config?.Image !== undefined) info.image = config.Image;
    info.podName ??= config?.Labels?.['io.kubernetes.pod.name'];
    info.podNamespace ??= config?.Labels?.['io.kubernetes.pod.namespace'];
  }
  for (const ns of ['k8s.io', 'moby', 'default']) {
    const spec = readJson(`/run/containerd/io.containerd.runtime.v2.task/${ns}/${info.fullId}/config.json`);
    const a = spec?.annotations as Record<string, string> | undefined;
    if (a === undefined) continue;
    info.podName ??= a['io.kubernetes.cri.sandbox-name'];
    info.podNamespace ??= a['io.kubernetes.cri.sandbox-namespace'];
    info.name ??= a['io.kubernetes.cri.container-name'];
    info.image ??= a['io.kubernetes.cri.image-name'];
  }
}

/** The container of a process whose /proc/PID/cgroup reads `cgroupText`; undefined on the host. */
export function containerOf(cgroupText: string): ContainerInfo | undefined {
  for (const [re, runtime] of PATTERNS) {
    const m = re.exec(cgroupText);
    if (m === null) continue;
    const fullId = m[1]!;
    const known = cache.get(fullId);
    if (known !== undefined) return known;
    const info: ContainerInfo = { id: fullId.slice(0, 12), fullId, runtime };
    const pod = POD_UID.exec(cgroupText);
    if (pod !== null) info.podUid = pod[1]!.replaceAll('_', '-');
    describe(info);
    cache.set(fullId, info);
    return info;
  }
  return undefined;
}
