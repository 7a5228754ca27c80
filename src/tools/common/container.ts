// The container a process runs in, from its cgroup path, and what the container runtime's
// state files say of it (name, image, Kubernetes pod and namespace).
import { readFileSync } from 'node:fs';
import { kubeIds, KubeNames } from './kube.js';

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
];

/** The kubelet's log directories name pods and containers; read again whenever a name is missing. */
const kubeNamesByDir = new Map<string, KubeNames>();
let kubeReads = 0;

function kubeNames(logDir: string): KubeNames {
  let k = kubeNamesByDir.get(logDir);
  if (k === undefined) {
    k = new KubeNames(logDir, () => kubeReads);
    kubeNamesByDir.set(logDir, k);
  }
  return k;
}

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

/**
 * The container of a process whose /proc/PID/cgroup reads `cgroupText`; undefined on the host.
 * A Kubernetes pod's names come from the runtime's files or else the kubelet's log directories
 * under `kubeLogDir`.
 */
export function containerOf(cgroupText: string, kubeLogDir = '/var/log'): ContainerInfo | undefined {
  for (const line of cgroupText.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    const kube = kubeIds(path);
    let fullId = kube?.containerId;
    let runtime = /cri-containerd-|\/[0-9a-f]{64}$/.test(path) ? 'containerd' : /crio-/.test(path) ? 'cri-o' : 'docker';
    if (fullId === undefined) {
      const found = PATTERNS.find(([re]) => re.test(path));
      if (found === undefined) continue;
      fullId = found[0].exec(path)![1]!;
      runtime = found[1];
    }
    const known = cache.get(fullId);
    if (known !== undefined) return known;
    const info: ContainerInfo = { id: fullId.slice(0, 12), fullId, runtime };
    if (kube !== undefined) info.podUid = kube.podUid;
    describe(info);
    if (kube !== undefined && (info.podName === undefined || info.podNamespace === undefined)) {
      kubeReads++;
      const names = kubeNames(kubeLogDir);
      const labels = names.labels(kube);
      // An unknown pod has no namespace (its name falls back to the uid): no names then.
      if (labels.namespace !== '') {
        info.podName ??= labels.pod;
        info.podNamespace ??= labels.namespace;
        if (!names.missed) info.name ??= labels.container;
      }
    }
    cache.set(fullId, info);
    return info;
  }
  return undefined;
}
