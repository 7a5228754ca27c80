// Label decoders, as ebpf_exporter chains them: the first gets the label's bytes of the map key,
// each next one the text the previous one gave. A decoder returns the text, or null to drop
// the whole series (regexp); one that throws counts a decoder error and drops the series.
import { constants } from 'node:os';
import { formatAddress } from '../common/net.js';
import type { DecoderConfig, LabelConfig } from './config.js';
import { kubeIds, KubeNames, type KubeLabels } from '../common/kube.js';
import type { Sources } from './sources.js';
import { SYSCALL_NAMES } from './syscalls.js';

/** One decoder's input: raw key bytes (first decoder) or the text of the one before. */
interface Input {
  bytes: Uint8Array;
  raw: boolean;
}

type DecodeFn = (input: Input, d: DecoderConfig, env: DecoderEnv) => string | null;

const textDecoder = new TextDecoder();

/** The label's bytes as an unsigned number: little-endian raw bytes, or a decimal/0x text. */
function number(input: Input): bigint {
  const b = input.bytes;
  if (!input.raw) {
    const s = textDecoder.decode(b).trim();
    if (!/^(?:0x[0-9a-fA-F]+|\d+)$/.test(s)) throw new Error(`'${s}' is not a number`);
    return BigInt(s);
  }
  if (b.length !== 1 && b.length !== 2 && b.length !== 4 && b.length !== 8) throw new Error(`a number is 1, 2, 4 or 8 bytes, not ${b.length}`);
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** The same bytes read as a signed number (errno values are often negative). */
function signed(input: Input): bigint {
  const v = number(input);
  if (!input.raw) return v;
  const bits = BigInt(input.bytes.length * 8);
  return v >= 1n << (bits - 1n) ? v - (1n << bits) : v;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return textDecoder.decode(end < 0 ? b : b.subarray(0, end));
}

/** A DNS name in wire format (length-prefixed labels) as dotted text. */
export function decodeDname(b: Uint8Array): string {
  const labels: string[] = [];
  let i = 0;
  while (i < b.length) {
    const n = b[i]!;
    if (n === 0) break;
    if (n > 63 || i + 1 + n > b.length) throw new Error(`a wire-format name has a label of ${n} bytes at offset ${i}`);
    labels.push(textDecoder.decode(b.subarray(i + 1, i + 1 + n)));
    i += 1 + n;
  }
  return labels.join('.');
}

function pciNumber(input: Input, what: string): number {
  const v = number(input);
  if (v > 0xffffffffn) throw new Error(`${what} ${v} is out of range`);
  return Number(v);
}

const DECODERS: Record<string, DecodeFn> = {
  uint: (i) => number(i).toString(),
  string: (i) => (i.raw ? cString(i.bytes) : textDecoder.decode(i.bytes)),
  hex: (i) => Buffer.from(i.bytes).toString('hex'),
  inet_ip: (i) => {
    if (i.bytes.length === 4) return formatAddress(i.bytes, 4);
    if (i.bytes.length === 16) return formatAddress(i.bytes, 6);
    throw new Error(`an address is 4 or 16 bytes, not ${i.bytes.length}`);
  },
  ksym: (i, _d, env) => {
    const addr = number(i);
    return env.sources.kallsyms().symbol(addr) ?? `0x${addr.toString(16)}`;
  },
  kstack: (i, _d, env) => {
    if (!i.raw || i.bytes.length % 8 !== 0) throw new Error('a stack is raw 8-byte addresses');
    const view = new DataView(i.bytes.buffer, i.bytes.byteOffset, i.bytes.byteLength);
    const frames: string[] = [];
    for (let off = 0; off < i.bytes.length; off += 8) {
      const addr = view.getBigUint64(off, true);
      if (addr === 0n) break;
      frames.push(env.sources.kallsyms().symbol(addr) ?? `0x${addr.toString(16)}`);
    }
    return frames.join('\n');
  },
  syscall: (i) => {
    const n = Number(number(i));
    return SYSCALL_NAMES[n] || `unknown_syscall:${n}`;
  },
  errno: (i) => {
    const n = Math.abs(Number(signed(i)));
    return ERRNO_NAMES.get(n) ?? `errno:${n}`;
  },
  ifname: (i, _d, env) => {
    const n = Number(number(i));
    return env.sources.ifname(n) ?? `ifindex:${n}`;
  },
  cgroup: (i, _d, env) => {
    const id = number(i);
    return env.sources.cgroupPath(id) ?? `unknown_cgroup_id:${id}`;
  },
  dname: (i) => decodeDname(i.bytes),
  majorminor: (i, _d, env) => {
    const dev = Number(number(i));
    // The kernel's own dev_t: 12 bits of major above 20 bits of minor.
    const major = dev >>> 20;
    const minor = dev & 0xfffff;
    return env.sources.deviceName(major, minor) ?? `${major}:${minor}`;
  },
  static_map: (i, d) => {
    const key = i.raw ? number(i).toString() : textDecoder.decode(i.bytes);
    const v = d.staticMap?.get(key);
    if (v !== undefined) return v;
    return d.allowUnknown ? key : `unknown:${key}`;
  },
  regexp: (i, d) => {
    const s = textDecoder.decode(i.raw ? i.bytes.subarray(0, i.bytes.indexOf(0) < 0 ? i.bytes.length : i.bytes.indexOf(0)) : i.bytes);
    return (d.regexps ?? []).some((r) => r.test(s)) ? s : null;
  },
  pci_vendor: (i, _d, env) => {
    const v = pciNumber(i, 'vendor');
    return env.sources.pci().vendors.get(v) ?? `unknown:0x${v.toString(16).padStart(4, '0')}`;
  },
  pci_device: (i, _d, env) => {
    // vendor << 16 | device, as ebpf_exporter takes it.
    const v = pciNumber(i, 'device');
    return env.sources.pci().devices.get(v) ?? `unknown:0x${v.toString(16).padStart(8, '0')}`;
  },
  pci_class: (i, _d, env) => {
    const v = pciNumber(i, 'class') & 0xff;
    return env.sources.pci().classes.get(v) ?? `unknown:0x${v.toString(16).padStart(2, '0')}`;
  },
  pci_subclass: (i, _d, env) => {
    const v = pciNumber(i, 'subclass') & 0xffff;
    return env.sources.pci().subclasses.get(v) ?? `unknown:0x${v.toString(16).padStart(4, '0')}`;
  },
};

export const DECODER_NAMES: readonly string[] = Object.keys(DECODERS);

/** Decoders needing data that may not be on every machine, and what they need. */
export function missingData(name: string, env: DecoderEnv): string | undefined {
  if (name.startsWith('pci_') && env.sources.pciIdsFile() === undefined) return `the ${name} decoder needs pci.ids (${env.sources.paths.pciIds.join(' or ')}; Debian package pci.ids)`;
  return undefined;
}

/** The names the Kubernetes labels of a `cgroup` decoder with `kubernetes: true` take. */
export const KUBE_LABELS: readonly (keyof KubeLabels)[] = ['namespace', 'pod', 'container'];

/** What decoders share: the name sources and the Kubernetes name cache. */
export class DecoderEnv {
  readonly kube: KubeNames;
  constructor(readonly sources: Sources) {
    this.kube = new KubeNames(sources.paths.kubeLogDir, () => sources.scrape);
  }
}

/**
 * Decodes one label from its key bytes into `out` (its value, then the Kubernetes labels when
 * asked for); returns false when a decoder drops the series. Throws what a decoder throws.
 */
export function decodeLabel(label: LabelConfig, bytes: Uint8Array, env: DecoderEnv, out: string[]): boolean {
  let input: Input = { bytes, raw: true };
  let text = label.decoders.length === 0 ? Buffer.from(bytes).toString('hex') : '';
  let kube = false;
  for (const d of label.decoders) {
    const r = DECODERS[d.name]!(input, d, env);
    if (r === null) return false;
    text = r;
    kube ||= d.kubernetes;
    input = { bytes: Buffer.from(r), raw: false };
  }
  out.push(text);
  if (kube) {
    const ids = kubeIds(text);
    const k = ids === undefined ? { namespace: '', pod: '', container: '' } : env.kube.labels(ids);
    if (env.kube.missed) env.sources.missed = true;
    for (const name of KUBE_LABELS) out.push(k[name]);
  }
  return true;
}

/** The label names a label contributes: its own, and the Kubernetes ones when asked for. */
export function labelNames(label: LabelConfig): string[] {
  return label.decoders.some((d) => d.kubernetes) ? [label.name, ...KUBE_LABELS] : [label.name];
}
