// deploy/: the Kubernetes manifests hold together (every object is valid against its kind's
// schema, the names and ports that tie them agree, the host mounts the exporter reads are
// there), the image
// keeps no compiler, and the exporter runs with exactly the capabilities the DaemonSet grants.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { packageRoot } from '../src/sys/package.js';
import { Exporter } from '../src/tools/exporter/exporter.js';
import { HELP } from '../src/tools/exporter/help.js';
import { cliArgv } from './helpers/cli.js';
import { kernelTest, requireCommand } from './helpers/kernel.js';

const root = packageRoot();
const dir = join(root, 'deploy', 'kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: parsed manifests, whose every field the tests check
type Obj = Record<string, any>;

function manifests(): Map<string, Obj> {
  const out = new Map<string, Obj>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      assert.equal(doc.errors.length, 0, `${f}: ${doc.errors[0]?.message}`);
      const o = doc.toJS() as Obj;
      out.set(o.kind === 'Kustomization' ? 'Kustomization' : `${o.kind}/${o.metadata?.name}`, { ...o, file: f });
    }
  }
  return out;
}

const REQUIRED: Record<string, string> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  DaemonSet: 'apps/v1',
  Service: 'v1',
  ServiceMonitor: 'monitoring.coreos.com/v1',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function daemonSet(): Obj {
  return manifests().get('DaemonSet/tsbpf-exporter')!;
}

describe('deploy/kubernetes manifests', () => {
  it('every object has its apiVersion, kind, a DNS name and the namespace', () => {
    const all = manifests();
    assert.deepEqual(new Set([...all.values()].map((o) => o.kind)), new Set(Object.keys(REQUIRED)));
    for (const [id, o] of all) {
      assert.equal(o.apiVersion, REQUIRED[o.kind], id);
      if (o.kind === 'Kustomization') continue;
      assert.match(o.metadata.name, DNS_LABEL, id);
      if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'tsbpf', id);
    }
    const k = all.get('Kustomization')!;
    assert.deepEqual([...k.resources].sort(), [...all.values()].filter((o) => o.kind !== 'Kustomization').map((o) => o.file).sort());
  });

  it('the DaemonSet selects its pods, runs the exporter in the host PID namespace, and mounts what it reads', () => {
    const ds = daemonSet();
    const pod = ds.spec.template;
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(pod.metadata.labels[k], v);
    assert.equal(pod.spec.hostPID, true);
    assert.equal(pod.spec.serviceAccountName, manifests().get('ServiceAccount/tsbpf-exporter')!.metadata.name);
    assert.deepEqual(pod.spec.tolerations, [{ operator: 'Exists' }]);
    const [c] = pod.spec.containers;
    assert.equal(pod.spec.containers.length, 1);
    assert.ok(c.image && c.name);
    assert.equal(c.args[0], 'exporter');
    assert.ok(c.args.some((a: string) => a.startsWith('--config.dir=')));
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9435, protocol: 'TCP' }]);
    const mounts = new Map<string, string>(c.volumeMounts.map((m: Obj) => [m.mountPath, m.name]));
    const volumes = new Map<string, string>(pod.spec.volumes.map((v: Obj) => [v.name, v.hostPath.path]));
    for (const path of ['/sys/fs/bpf', '/sys/kernel/tracing', '/sys/kernel/btf', '/sys/fs/cgroup']) assert.equal(volumes.get(mounts.get(path)!), path, path);
    const logs = c.args.find((a: string) => a.startsWith('--kube.log-dir='))!.split('=')[1];
    assert.equal(volumes.get(mounts.get(logs)!), '/var/log');
    // The probe asks for the landing page: a scrape of every map is no health check.
    assert.equal(c.readinessProbe.httpGet.path, '/');
    assert.equal(c.securityContext.privileged, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  });

  it('the Service and the ServiceMonitor reach the pods by their labels and port name', () => {
    const all = manifests();
    const svc = all.get('Service/tsbpf-exporter')!;
    const pod = daemonSet().spec.template;
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(pod.metadata.labels[k], v);
    assert.equal(svc.spec.ports[0].targetPort, pod.spec.containers[0].ports[0].name);
    const sm = all.get('ServiceMonitor/tsbpf-exporter')!;
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v);
    assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
    assert.equal(pod.metadata.annotations['prometheus.io/port'], String(svc.spec.ports[0].port));
  });

  it('each object is valid against the Kubernetes (and Prometheus Operator) schemas', () => {
    const validate: Record<string, (o: Obj) => void> = {
      Namespace: (o) => new Namespace(o).validate(),
      ServiceAccount: (o) => new ServiceAccount(o).validate(),
      DaemonSet: (o) => new DaemonSet(o as ConstructorParameters<typeof DaemonSet>[0]).validate(),
      Service: (o) => new Service(o).validate(),
      ServiceMonitor: (o) => new ServiceMonitor(o as ConstructorParameters<typeof ServiceMonitor>[0]).validate(),
    };
    for (const [id, { file: _file, ...o }] of manifests()) {
      if (o.kind === 'Kustomization') continue;
      assert.doesNotThrow(() => validate[o.kind]!(o), id);
    }
    // The schemas do catch mistakes: a port given as a word.
    const bad = structuredClone(daemonSet());
    delete bad.file;
    bad.spec.template.spec.containers[0].ports[0].containerPort = 'metrics';
    assert.throws(() => new DaemonSet(bad).validate(), /containerPort must be integer/);
  });

  it('the image is built in one stage and runs from another that has no compiler', () => {
    const text = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
    const stages = text.split(/^FROM /m).slice(1);
    assert.equal(stages.length, 2);
    const runtime = stages[1]!;
    assert.match(runtime, /^node:\d+-\S*slim/);
    assert.doesNotMatch(runtime, /apt-get|clang|gcc|g\+\+|build-essential|python3/);
    assert.match(runtime, /ENTRYPOINT \["node", "\/opt\/tsbpf\/bin\/tsbpf\.cjs"\]/);
    assert.match(runtime, /COPY examples\/exporter examples\/exporter/);
  });
});

/** Helm, fetched into node_modules by scripts/helm.mjs (npm test's setup step does it first). */
function helmPath(t: TestContext): string | undefined {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'helm.mjs')], { encoding: 'utf8' });
  if (r.status === 0) return r.stdout.trim();
  const why = `helm is not here and could not be fetched: ${r.stderr.trim()}`;
  if (process.env.CI === 'true') throw new Error(why);
  t.skip(why);
  return undefined;
}

describe('the Helm chart, rendered by helm', () => {
  const chart = join(root, 'deploy', 'helm', 'tsbpf-exporter');
  // helm's own cache, config and data directories, so rendering writes nothing in $HOME
  const home = mkdtempSync(join(tmpdir(), 'tsbpf-helm-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  const env = { ...process.env, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };

  function helm(t: TestContext, args: string[]): { status: number | null; stdout: string; stderr: string } | undefined {
    const bin = helmPath(t);
    if (!bin) return undefined;
    return spawnSync(bin, args, { encoding: 'utf8', env });
  }

  /** `helm template` with these values; the objects it renders, by kind. */
  function render(t: TestContext, values?: Obj): Map<string, Obj> | undefined {
    const args = ['template', 'fleet', chart, '--namespace', 'monitoring'];
    if (values) {
      const file = join(home, `values-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, JSON.stringify(values));
      args.push('--values', file);
    }
    const r = helm(t, args);
    if (!r) return undefined;
    assert.equal(r.status, 0, r.stderr);
    const out = new Map<string, Obj>();
    for (const doc of parseAllDocuments(r.stdout)) {
      assert.equal(doc.errors.length, 0, doc.errors[0]?.message);
      const o = doc.toJS() as Obj | null;
      if (o) out.set(o.kind, o);
    }
    return out;
  }

  const validate: Record<string, (o: Obj) => void> = {
    ServiceAccount: (o) => new ServiceAccount(o).validate(),
    DaemonSet: (o) => new DaemonSet(o as ConstructorParameters<typeof DaemonSet>[0]).validate(),
    Service: (o) => new Service(o).validate(),
    ServiceMonitor: (o) => new ServiceMonitor(o as ConstructorParameters<typeof ServiceMonitor>[0]).validate(),
  };

  it('passes helm lint --strict', (t) => {
    const r = helm(t, ['lint', '--strict', chart]);
    if (!r) return;
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders, with its defaults, objects valid against the schemas and the pod of deploy/kubernetes', (t) => {
    const objs = render(t);
    if (!objs) return;
    assert.deepEqual([...objs.keys()].sort(), Object.keys(validate).sort());
    for (const [kind, o] of objs) {
      assert.doesNotThrow(() => validate[kind]!(o), kind);
      assert.equal(o.metadata.name, 'fleet-tsbpf-exporter', kind);
      assert.equal(o.metadata.namespace, 'monitoring', kind);
    }
    // The chart and the plain manifests deploy the same pod: same flags, capabilities, mounts.
    const rendered = objs.get('DaemonSet')!.spec.template.spec;
    const plain = daemonSet().spec.template.spec;
    const [rc, pc] = [rendered.containers[0], plain.containers[0]];
    for (const k of ['args', 'ports', 'securityContext', 'volumeMounts', 'resources', 'readinessProbe']) assert.deepEqual(rc[k], pc[k], k);
    for (const k of ['hostPID', 'tolerations', 'volumes', 'priorityClassName', 'automountServiceAccountToken']) assert.deepEqual(rendered[k], plain[k], k);
    const svc = objs.get('Service')!;
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(objs.get('DaemonSet')!.spec.template.metadata.labels[k], v, k);
    assert.deepEqual(objs.get('ServiceMonitor')!.spec.namespaceSelector.matchNames, ['monitoring']);
  });

  it('carries its values into the objects: configs, tools, port, resources, tolerations', (t) => {
    const objs = render(t, {
      configs: { dir: '/etc/tsbpf/configs', names: ['tcp_syn'], configMap: 'tsbpf-configs' },
      tools: ['tcptrack', 'observe'],
      port: 9500,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      extraArgs: ['--observe.iface=eth0'],
      serviceMonitor: { enabled: false },
    });
    if (!objs) return;
    assert.deepEqual([...objs.keys()].sort(), ['DaemonSet', 'Service', 'ServiceAccount']);
    for (const [kind, o] of objs) assert.doesNotThrow(() => validate[kind]!(o), kind);
    const pod = objs.get('DaemonSet')!.spec.template;
    const c = pod.spec.containers[0];
    for (const a of ['--config.dir=/etc/tsbpf/configs', '--config.names=tcp_syn', '--tools=tcptrack,observe', '--web.listen-address=:9500', '--observe.iface=eth0']) assert.ok(c.args.includes(a), a);
    // every flag the chart passes is one the exporter has
    for (const a of c.args.slice(1) as string[]) assert.match(HELP, new RegExp(`^  ${a.split('=')[0]!.replace(/\./g, '\\.')} `, 'm'), a);
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9500, protocol: 'TCP' }]);
    assert.equal(pod.metadata.annotations['prometheus.io/port'], '9500');
    assert.equal(objs.get('Service')!.spec.ports[0].port, 9500);
    assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } });
    assert.deepEqual(pod.spec.tolerations, [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }]);
    assert.deepEqual(pod.spec.nodeSelector, { 'kubernetes.io/os': 'linux' });
    const configs = pod.spec.volumes.find((v: Obj) => v.name === 'configs');
    assert.deepEqual(configs, { name: 'configs', configMap: { name: 'tsbpf-configs' } });
    assert.deepEqual(c.volumeMounts.find((m: Obj) => m.name === 'configs'), { name: 'configs', mountPath: '/etc/tsbpf/configs', readOnly: true });
  });

  it('refuses values its schema does not allow, naming the value', (t) => {
    const cases: [string[], RegExp][] = [
      [['--set', 'port=http'], /\/port': got string, want integer/],
      [['--set', 'port=70000'], /\/port'/],
      [['--set', 'tools={tcptrack,nope}'], /\/tools\/1': value must be one of/],
      [['--set', 'prot=9435'], /additional properties 'prot' not allowed/],
      [['--set', 'extraArgs={oops}'], /\/extraArgs\/0'/],
    ];
    for (const [set, why] of cases) {
      const r = helm(t, ['template', 'fleet', chart, ...set]);
      if (!r) return;
      assert.notEqual(r.status, 0, set.join(' '));
      assert.equal(r.stdout, '', set.join(' '));
      assert.match(r.stderr, why, set.join(' '));
    }
  });
});

/** The capabilities the DaemonSet adds, as setpriv names them. */
function manifestCaps(): string[] {
  return (daemonSet().spec.template.spec.containers[0].securityContext.capabilities.add as string[]).map((c) => c.toLowerCase());
}

/** Runs the exporter as root with only `caps`; resolves with its first metrics, or its failure. */
function runWithCaps(caps: string[]): Promise<{ metrics?: string; stderr: string; code: number | null }> {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  const argv = ['--bounding-set', set, '--inh-caps', set, '--ambient-caps', set, process.execPath, ...cliArgv(['exporter', '--config.dir', join(root, 'examples', 'exporter'), '--config.names', 'execs,cgroup_execs,exec_events', '--web.listen-address', '127.0.0.1:0'])];
  const child = spawn('setpriv', argv, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let metrics: string | undefined;
  return new Promise((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /at (http:\S+)/.exec(stderr);
      if (!m || metrics !== undefined) return;
      metrics = '';
      fetch(m[1]!)
        .then((r) => r.text())
        .then(
          (text) => {
            metrics = text;
            child.kill('SIGTERM');
          },
          (err: Error) => {
            stderr += `fetch: ${err.message}\n`;
            child.kill('SIGKILL');
          },
        );
    });
    child.once('exit', (code) => resolve({ ...(metrics ? { metrics } : {}), stderr, code }));
  });
}

describe('the DaemonSet capabilities', () => {
  kernelTest('suffice: the exporter loads, attaches and serves with exactly them', { timeout: 120_000 }, async (t) => {
    if (!requireCommand(t, 'setpriv', 'util-linux')) return;
    const r = await runWithCaps(manifestCaps());
    assert.ok(r.metrics !== undefined, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.metrics, /^ebpf_exporter_enabled_configs\{name="exec_events"\} 1$/m);
    assert.match(r.metrics, /^ebpf_exporter_ebpf_program_attached\{id="\d+"\} 1$/m);
  });

  kernelTest('are needed: without CAP_BPF it fails with one line and exit 1', { timeout: 120_000 }, async (t) => {
    if (!requireCommand(t, 'setpriv', 'util-linux')) return;
    const r = await runWithCaps(manifestCaps().filter((c) => c !== 'bpf'));
    assert.equal(r.metrics, undefined);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EPERM/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});

describe('the Grafana dashboard', () => {
  it('queries only metrics the exporter has, per node', async () => {
    const dash = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'tsbpf-exporter.json'), 'utf8')) as Obj;
    const { body } = await new Exporter([]).scrape();
    const known = new Set([...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const used = new Set<string>();
    assert.ok(dash.panels.length >= 6);
    for (const p of dash.panels) {
      assert.ok(p.title && p.targets.length > 0, p.title);
      for (const t of p.targets) {
        assert.match(t.expr, /node=~"\$node"/, p.title);
        for (const m of (t.expr as string).matchAll(/\bebpf_exporter_\w+/g)) used.add(m[0]);
      }
    }
    for (const name of used) assert.ok(known.has(name), `${name} is not a metric of the exporter`);
    for (const name of known) assert.ok(used.has(name), `${name} has no panel`);
  });
});

describe('the Helm chart', () => {
  const chart = join(root, 'deploy', 'helm', 'tsbpf-exporter');
  const templates = readdirSync(join(chart, 'templates')).map((f) => [f, readFileSync(join(chart, 'templates', f), 'utf8')] as const);

  it('has a Chart.yaml of API v2 and values for every value its templates use', () => {
    const meta = parseAllDocuments(readFileSync(join(chart, 'Chart.yaml'), 'utf8'))[0]!.toJS() as Obj;
    assert.equal(meta.apiVersion, 'v2');
    assert.equal(meta.name, 'tsbpf-exporter');
    assert.match(meta.version, /^\d+\.\d+\.\d+$/);
    const values = parseAllDocuments(readFileSync(join(chart, 'values.yaml'), 'utf8'))[0]!.toJS() as Obj;
    const defined = new Set([...readFileSync(join(chart, 'templates', '_helpers.tpl'), 'utf8').matchAll(/define "([^"]+)"/g)].map((m) => m[1]));
    for (const [file, text] of templates) {
      for (const m of text.matchAll(/\.Values((?:\.\w+)+)/g)) {
        let v: unknown = values;
        for (const k of m[1]!.slice(1).split('.')) v = (v as Obj | undefined)?.[k];
        assert.notEqual(v, undefined, `${file}: .Values${m[1]} has no value`);
      }
      for (const m of text.matchAll(/include "([^"]+)"/g)) assert.ok(defined.has(m[1]), `${file}: ${m[1]} is not defined`);
    }
    for (const k of ['configs', 'tools', 'port', 'resources', 'tolerations']) assert.ok(k in values, k);
  });

  it('passes the exporter only flags it has, and mounts what the manifests mount', () => {
    const ds = templates.find(([f]) => f === 'daemonset.yaml')![1];
    const flags = [...ds.matchAll(/- (--[a-z.-]+)=/g)].map((m) => m[1]!);
    assert.ok(flags.length >= 5);
    for (const f of flags) assert.match(HELP, new RegExp(`^  ${f.replace(/\./g, '\\.')} `, 'm'), f);
    const pod = daemonSet().spec.template.spec;
    for (const v of pod.volumes as Obj[]) assert.ok(ds.includes(`path: ${v.hostPath.path},`), v.hostPath.path);
  });
});
