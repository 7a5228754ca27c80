// The exporter's parts that need no kernel: config parsing and its errors, every decoder,
// histogram buckets, series expiry and cap, Kubernetes identity from cgroup paths.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseExporterArgs } from '../src/tools/exporter/cli.js';
import { ConfigError, type LabelConfig, parseConfig, type HistogramConfig } from '../src/tools/exporter/config.js';
import { decodeDname, decodeLabel, DecoderEnv } from '../src/tools/exporter/decoders.js';
import { parseListenAddress } from '../src/tools/exporter/exporter.js';
import { kubeIds } from '../src/tools/common/kube.js';
import { histogramBounds } from '../src/tools/exporter/metrics.js';
import { ConfigSeries, SeriesTracker } from '../src/tools/exporter/series.js';
import { Kallsyms, PciIds, Sources } from '../src/tools/exporter/sources.js';

const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-exporter-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const UID = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const CID = 'a'.repeat(64);

function fixtureSources(): Sources {
  const kallsyms = join(tmp, 'kallsyms');
  writeFileSync(kallsyms, 'ffffffff81000000 T _stext\nffffffff81001000 T do_one\nffffffff81002000 t helper_two\nffffffff81003000 D some_data\nffffffffc0000000 t mod_fn\t[mymod]\n');
  const pci = join(tmp, 'pci.ids');
  writeFileSync(pci, '# comment\n8086  Intel Corporation\n\t1000  82542 Gigabit Ethernet Controller (Fiber)\nC 02  Network controller\n\t00  Ethernet controller\n');
  const net = join(tmp, 'net');
  mkdirSync(join(net, 'eth7'), { recursive: true });
  writeFileSync(join(net, 'eth7', 'ifindex'), '7\n');
  const dev = join(tmp, 'dev');
  mkdirSync(join(dev, 'block', '8:16'), { recursive: true });
  writeFileSync(join(dev, 'block', '8:16', 'uevent'), 'MAJOR=8\nMINOR=16\nDEVNAME=sdb\n');
  const cg = join(tmp, 'cgroup');
  mkdirSync(join(cg, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice`, `cri-containerd-${CID}.scope`), { recursive: true });
  const logs = join(tmp, 'log');
  mkdirSync(join(logs, 'pods', `shop_cart-7d9f_${UID}`, 'server'), { recursive: true });
  mkdirSync(join(logs, 'containers'), { recursive: true });
  symlinkSync('/dev/null', join(logs, 'containers', `cart-7d9f_shop_server-${CID}.log`));
  return new Sources({ kallsyms, pciIds: [pci], netClass: net, sysDev: dev, cgroupRoot: cg, kubeLogDir: logs });
}

const env = new DecoderEnv(fixtureSources());

function label(size: number, ...decoders: Array<string | Record<string, unknown>>): LabelConfig {
  return {
    name: 'l',
    size,
    padding: 0,
    decoders: decoders.map((d) => (typeof d === 'string' ? { name: d, allowUnknown: false, kubernetes: false } : { allowUnknown: false, kubernetes: false, ...(d as { name: string }) })),
  };
}

function decode(l: LabelConfig, bytes: Uint8Array): string[] | null {
  const out: string[] = [];
  return decodeLabel(l, bytes, env, out) ? out : null;
}

const le = (n: bigint, size: number): Uint8Array => {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return b;
};

describe('exporter decoders', () => {
  it('uint reads 1, 2, 4 and 8 little-endian bytes, and refuses other sizes', () => {
    assert.deepEqual(decode(label(1, 'uint'), le(200n, 1)), ['200']);
    assert.deepEqual(decode(label(2, 'uint'), le(0xbeefn, 2)), ['48879']);
    assert.deepEqual(decode(label(4, 'uint'), le(4000000000n, 4)), ['4000000000']);
    assert.deepEqual(decode(label(8, 'uint'), le(2n ** 63n + 5n, 8)), [(2n ** 63n + 5n).toString()]);
    assert.throws(() => decode(label(3, 'uint'), le(1n, 3)), /1, 2, 4 or 8 bytes/);
  });
  it('string stops at the first NUL; hex prints every byte', () => {
    assert.deepEqual(decode(label(8, 'string'), new Uint8Array([0x73, 0x64, 0x61, 0, 0x78, 0, 0, 0])), ['sda']);
    assert.deepEqual(decode(label(3, 'hex'), new Uint8Array([0, 0xab, 0x10])), ['00ab10']);
  });
  it('inet_ip formats IPv4 and IPv6', () => {
    assert.deepEqual(decode(label(4, 'inet_ip'), new Uint8Array([10, 0, 0, 1])), ['10.0.0.1']);
    const v6 = new Uint8Array(16);
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[2] = 0x0d;
    v6[3] = 0xb8;
    v6[15] = 1;
    assert.deepEqual(decode(label(16, 'inet_ip'), v6), ['2001:db8::1']);
  });
  it('ksym gives the function an address is in; kstack a line per frame', () => {
    assert.deepEqual(decode(label(8, 'ksym'), le(0xffffffff81001010n, 8)), ['do_one']);
    assert.deepEqual(decode(label(8, 'ksym'), le(0xffffffffc0000004n, 8)), ['mod_fn\t[mymod]']);
    const stack = new Uint8Array(32);
    stack.set(le(0xffffffff81002004n, 8), 0);
    stack.set(le(0xffffffff81001000n, 8), 8);
    assert.deepEqual(decode(label(32, 'kstack'), stack), ['helper_two\ndo_one']);
    assert.equal(new Kallsyms('0000000000000000 T hidden\n').size, 0);
  });
  it('syscall and errno name their numbers', () => {
    assert.deepEqual(decode(label(4, 'syscall'), le(59n, 4)), ['execve']);
    assert.deepEqual(decode(label(4, 'syscall'), le(100000n, 4)), ['unknown_syscall:100000']);
    assert.deepEqual(decode(label(4, 'errno'), le(2n, 4)), ['ENOENT']);
    assert.deepEqual(decode(label(4, 'errno'), le(BigInt(2 ** 32 - 13), 4)), ['EACCES']);
  });
  it('ifname, majorminor and cgroup look names up, with the number when unknown', () => {
    assert.deepEqual(decode(label(4, 'ifname'), le(7n, 4)), ['eth7']);
    assert.deepEqual(decode(label(4, 'ifname'), le(99n, 4)), ['ifindex:99']);
    assert.deepEqual(decode(label(4, 'majorminor'), le((8n << 20n) | 16n, 4)), ['sdb']);
    assert.deepEqual(decode(label(4, 'majorminor'), le((9n << 20n) | 1n, 4)), ['9:1']);
    const root = env.sources.cgroupRoot();
    assert.deepEqual(decode(label(8, 'cgroup'), le(statSync(root, { bigint: true }).ino, 8)), [root]);
    assert.deepEqual(decode(label(8, 'cgroup'), le(1n, 8)), ['unknown_cgroup_id:1']);
  });
  it('cgroup with kubernetes: true adds namespace, pod and container from kubepods paths', () => {
    const dir = join(env.sources.cgroupRoot(), 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice`, `cri-containerd-${CID}.scope`);
    const out = decode(label(8, { name: 'cgroup', kubernetes: true }), le(statSync(dir, { bigint: true }).ino, 8));
    assert.deepEqual(out, [dir, 'shop', 'cart-7d9f', 'server']);
    assert.deepEqual(decode(label(8, { name: 'cgroup', kubernetes: true }), le(1n, 8)), ['unknown_cgroup_id:1', '', '', '']);
  });
  it('dname turns a wire-format name into dots', () => {
    assert.equal(decodeDname(new Uint8Array([7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0])), 'example.com');
    assert.deepEqual(decode(label(13, 'string', 'dname'), new Uint8Array([7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0])), ['example.com']);
    assert.throws(() => decodeDname(new Uint8Array([9, 1, 2])), /label of 9 bytes/);
  });
  it('static_map maps values, unknown ones marked unless allow_unknown', () => {
    const staticMap = new Map([['1', 'read'], ['2', 'write']]);
    assert.deepEqual(decode(label(1, 'uint', { name: 'static_map', staticMap }), le(2n, 1)), ['write']);
    assert.deepEqual(decode(label(1, 'uint', { name: 'static_map', staticMap }), le(3n, 1)), ['unknown:3']);
    assert.deepEqual(decode(label(1, 'uint', { name: 'static_map', staticMap, allowUnknown: true }), le(3n, 1)), ['3']);
  });
  it('regexp keeps matching values and drops the series otherwise', () => {
    const l = label(8, 'string', { name: 'regexp', regexps: [/^sys/, /^ng$/] });
    assert.deepEqual(decode(l, Buffer.from('systemd\0')), ['systemd']);
    assert.equal(decode(l, Buffer.from('bash\0\0\0\0')), null);
  });
  it('pci_* decoders read pci.ids', () => {
    assert.deepEqual(decode(label(2, 'pci_vendor'), le(0x8086n, 2)), ['Intel Corporation']);
    assert.deepEqual(decode(label(4, 'pci_device'), le(0x80861000n, 4)), ['82542 Gigabit Ethernet Controller (Fiber)']);
    assert.deepEqual(decode(label(1, 'pci_class'), le(2n, 1)), ['Network controller']);
    assert.deepEqual(decode(label(2, 'pci_subclass'), le(0x0200n, 2)), ['Ethernet controller']);
    assert.equal(new PciIds('').vendors.size, 0);
  });
  it('without decoders a label is its bytes in hex', () => {
    assert.deepEqual(decode(label(2), new Uint8Array([1, 2])), ['0102']);
  });
});

describe('exporter kubepods cgroup paths', () => {
  it('reads the pod UID and container ID of both cgroup drivers', () => {
    assert.deepEqual(kubeIds(`/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replaceAll('-', '_')}.slice/crio-${CID}.scope`), { podUid: UID, containerId: CID });
    assert.deepEqual(kubeIds(`/sys/fs/cgroup/kubepods.slice/kubepods-pod${UID.replaceAll('-', '_')}.slice/docker-${CID}.scope`), { podUid: UID, containerId: CID });
    assert.deepEqual(kubeIds(`/sys/fs/cgroup/kubepods/burstable/pod${UID}/${CID}`), { podUid: UID, containerId: CID });
    assert.deepEqual(kubeIds(`/sys/fs/cgroup/kubepods/pod${UID}`), { podUid: UID });
    assert.equal(kubeIds('/sys/fs/cgroup/system.slice/ssh.service'), undefined);
  });
});

const F = 'cfg.yaml';
function config(text: string, strict = false) {
  return parseConfig(text, F, 'cfg', 'cfg.bpf.o', strict);
}
function configError(text: string, strict: boolean, key: string, why: RegExp): void {
  assert.throws(
    () => config(text, strict),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.code, 'ECONFIG');
      assert.equal(err.key, key);
      assert.match(err.message, why);
      assert.ok(err.message.startsWith(`${F}: `));
      return true;
    },
  );
}

describe('exporter configs', () => {
  it('reads counters, histograms, labels, decoders, kaddrs and cgroup_id_map', () => {
    const c = config(`
metrics:
  counters:
    - name: a_total
      help: A
      labels:
        - { name: x, size: 4, padding: 4, decoders: [{ name: uint }, { name: static_map, static_map: { 1: one } }] }
  histograms:
    - name: h_seconds
      help: H
      bucket_type: fixed
      bucket_keys: [1, 5, 10]
      bucket_multiplier: 0.5
      labels:
        - { name: bucket, size: 8, decoders: [{ name: uint }] }
kaddrs: [jiffies]
cgroup_id_map: { name: ids, type: hash, regexps: ['^/sys'] }
`);
    assert.equal(c.metrics.length, 2);
    const [a, h] = c.metrics;
    assert.equal(a!.labels[0]!.padding, 4);
    assert.equal(a!.labels[0]!.decoders[1]!.staticMap?.get('1'), 'one');
    assert.deepEqual((h as HistogramConfig).bucketKeys, [1, 5, 10]);
    assert.deepEqual(c.kaddrs, ['jiffies']);
    assert.equal(c.cgroupIdMap?.name, 'ids');
  });
  it('names the file, the key and why', () => {
    configError('metrics: [1]', false, 'metrics', /must be a mapping/);
    configError('metrics:\n  counters:\n    - help: x\n', false, 'metrics.counters[0].name', /is required/);
    configError('metrics:\n  counters:\n    - { name: a, help: b, labels: [{ name: l, size: 4, decoders: [{ name: nope }] }] }\n', false, 'metrics.counters[0].labels[0].decoders[0].name', /unknown decoder 'nope'/);
    configError('metrics:\n  counters:\n    - { name: a, help: b, labels: [{ name: l, size: 0 }] }\n', false, 'metrics.counters[0].labels[0].size', /at least 1/);
    configError('metrics:\n  histograms:\n    - { name: h, help: b, bucket_type: log, labels: [{ name: b, size: 8 }] }\n', false, 'metrics.histograms[0].bucket_type', /unknown bucket type 'log'/);
    configError('metrics:\n  histograms:\n    - { name: h, help: b, bucket_type: exp2, bucket_min: 5, bucket_max: 2, labels: [{ name: b, size: 8 }] }\n', false, 'metrics.histograms[0].bucket_max', /at least bucket_min/);
    configError('metrics:\n  counters:\n    - { name: a, help: b, labels: [{ name: l, size: 1, decoders: [{ name: regexp, regexps: ["("] }] }] }\n', false, 'metrics.counters[0].labels[0].decoders[0].regexps[0]', /invalid regular expression/);
    configError('metrics: {\n', false, '', /invalid YAML/);
    configError('metrics:\n  counters:\n    - { name: a, help: b, flush_interval: 1m }\n', false, 'metrics.counters[0].flush_interval', /only perf_event_array counters/);
    configError('metrics:\n  counters:\n    - { name: a, help: b, perf_event_array: true, flush_interval: soon }\n', false, 'metrics.counters[0].flush_interval', /invalid duration/);
    assert.equal((config('metrics:\n  counters:\n    - { name: a, help: b, perf_event_array: true, flush_interval: 2m }\n').metrics[0] as { flushIntervalMs: number }).flushIntervalMs, 120_000);
  });
  it('--config.strict refuses unknown keys, which are ignored otherwise', () => {
    const text = 'metrics:\n  counters:\n    - { name: a, help: b, colour: red }\n';
    assert.equal(config(text).metrics.length, 1);
    configError(text, true, 'metrics.counters[0].colour', /unknown key/);
    configError('programs: []\n', true, 'programs', /unknown key/);
  });
});

describe('exporter histogram buckets', () => {
  const h = (over: Partial<HistogramConfig>): HistogramConfig => ({ kind: 'histogram', key: 'k', name: 'h', help: 'h', labels: [], bucketType: 'exp2', bucketMin: 0, bucketMax: 3, bucketKeys: [], bucketMultiplier: 1, ...over });
  it('exp2, exp2zero, linear and fixed', () => {
    assert.deepEqual(histogramBounds(h({})), [[0, 1], [1, 2], [2, 4], [3, 8]]);
    assert.deepEqual(histogramBounds(h({ bucketType: 'exp2zero' })), [[0, 0], [1, 1], [2, 2], [3, 4]]);
    assert.deepEqual(histogramBounds(h({ bucketType: 'linear', bucketMin: 1, bucketMultiplier: 10 })), [[1, 10], [2, 20], [3, 30]]);
    assert.deepEqual(histogramBounds(h({ bucketType: 'fixed', bucketKeys: [2, 7], bucketMultiplier: 0.5 })), [[2, 1], [7, 3.5]]);
  });
});

describe('exporter series expiry and cap', () => {
  it('hides a series unchanged for the expiry time until it changes', () => {
    const owner = new ConfigSeries({ expireMs: 1000, maxSeries: 0 });
    const t = new SeriesTracker(owner);
    t.begin();
    assert.equal(t.admit('a', '1', 0), true);
    t.end();
    t.begin();
    assert.equal(t.admit('a', '1', 999), true);
    t.end();
    t.begin();
    assert.equal(t.admit('a', '1', 1000), false);
    t.end();
    assert.equal(owner.expired, 1);
    assert.equal(owner.active, 0);
    t.begin();
    assert.equal(t.admit('a', '2', 1500), true);
    t.end();
    assert.equal(owner.active, 1);
  });
  it('refuses new series past the cap, counts each once, and admits them when room frees', () => {
    const owner = new ConfigSeries({ expireMs: 0, maxSeries: 2 });
    const t = new SeriesTracker(owner);
    for (let scrape = 0; scrape < 2; scrape++) {
      t.begin();
      assert.deepEqual(['a', 'b', 'c'].map((id) => t.admit(id, '1', scrape)), [true, true, false]);
      t.end();
    }
    assert.equal(owner.refused, 1);
    t.begin();
    t.admit('b', '1', 3);
    t.end();
    assert.equal(owner.active, 1);
    t.begin();
    assert.equal(t.admit('c', '1', 4), true);
    t.end();
  });
});

describe('exporter command line', () => {
  it('takes ebpf_exporter flags, with its defaults', () => {
    const o = parseExporterArgs(['--config.dir', 'd', '--config.names', 'a,b', '--config.names=c']);
    assert.ok(o !== 'help');
    assert.deepEqual(o.names, ['a', 'b', 'c']);
    assert.deepEqual(o.listen, { host: undefined, port: 9435 });
    assert.equal(o.path, '/metrics');
  });
  it('refuses what it cannot use', () => {
    assert.throws(() => parseExporterArgs([]), /nothing to export/);
    assert.throws(() => parseExporterArgs(['--config.names', 'a']), /needs --config.dir/);
    assert.throws(() => parseExporterArgs(['--tools', 'nope']), /unknown tool 'nope'/);
    assert.throws(() => parseExporterArgs(['--tools', 'tcptrack', '--web.listen-address', 'x']), /not HOST:PORT/);
    assert.throws(() => parseExporterArgs(['--tools', 'tcptrack', '--series.max', '0']), /positive integer/);
    assert.throws(() => parseExporterArgs(['--tools', 'tcptrack', '--observe.iface', 'eth0']), /--observe.iface needs --tools observe/);
    assert.throws(() => parseExporterArgs(['--tools', 'tcptrack', '--guard.rules', 'r.yaml']), /--guard.rules needs --tools guard/);
    const o = parseExporterArgs(['--tools', 'observe,guard', '--observe.iface', 'eth0,eth1', '--guard.rules', 'r.yaml']);
    assert.ok(o !== 'help');
    assert.deepEqual(o.toolOptions, { observe: { args: ['--iface', 'eth0', '--iface', 'eth1'] }, guard: { rules: ['r.yaml'] } });
  });
  it('parses listen addresses as Go does', () => {
    assert.deepEqual(parseListenAddress('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListenAddress('0.0.0.0:9435'), { host: '0.0.0.0', port: 9435 });
    assert.equal(parseListenAddress('9435'), undefined);
    assert.equal(parseListenAddress(':70000'), undefined);
  });
});
