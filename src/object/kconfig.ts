// Values of `__kconfig` externs: the running kernel's configuration and version.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../btf/btf.js';
import type { BtfType } from '../btf/types.js';
import { ObjectError } from './errors.js';
import type { ExternSpec } from './types.js';

/** CONFIG_* name → value as written in the config: `y`, `m`, `n`, a number, a quoted string. */
export type KernelConfig = ReadonlyMap<string, string>;

let cached: KernelConfig | undefined;

/**
 * The running kernel's configuration from /proc/config.gz, else /boot/config-$(uname -r).
 * `# CONFIG_X is not set` reads as `n`. Undefined when neither exists.
 */
export function readKernelConfig(path?: string): KernelConfig | undefined {
  if (path === undefined && cached !== undefined) return cached;
  const candidates = path !== undefined ? [path] : ['/proc/config.gz', `/boot/config-${release()}`];
  for (const p of candidates) {
    if (!existsSync(p)) continue;
    let raw: Buffer;
    try {
      raw = readFileSync(p);
    } catch {
      continue;
    }
    const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
    const config = parseKernelConfig(text);
    if (path === undefined) cached = config;
    return config;
  }
  return undefined;
}

export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) {
      out.set(unset[1]!, 'n');
      continue;
    }
    const eq = line.indexOf('=');
    if (!line.startsWith('CONFIG_') || eq < 0) continue;
    out.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return out;
}

/** LINUX_VERSION_CODE of the running kernel from uname: major << 16 | minor << 8 | min(patch, 255). */
export function kernelVersionCode(rel = release()): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) return 0;
  return (Number(m[1]) << 16) | (Number(m[2]) << 8) | Math.min(Number(m[3] ?? 0), 255);
}

export interface KconfigSources {
  readonly config: KernelConfig | undefined;
  readonly kernelVersion: () => number;
  readonly hasSyscallWrapper: () => boolean;
}

function resolveType(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let i = 0; i < 32 && (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG'); i++) {
    t = btf.type(t.type);
  }
  return t;
}

/**
 * The bytes of the `.kconfig` map: each extern's value encoded by its BTF type (bool, the
 * `libbpf_tristate` enum, `char`, integers, `char[]` strings), zero for weak externs the config
 * lacks. A strong extern the config lacks is an error, as is a value that does not fit.
 */
export function kconfigData(btf: Btf, externs: Iterable<ExternSpec>, size: number, src: KconfigSources, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  for (const ext of externs) {
    if (ext.kind !== 'kconfig' || ext.typeId === undefined || ext.offset === undefined) continue;
    const v = btf.type(ext.typeId);
    if (v.kind !== 'VAR') continue;
    const t = resolveType(btf, v.type);
    const fail = (message: string): ObjectError => new ObjectError(`__kconfig ${ext.name}: ${message}`, { symbol: ext.name });
    let value: string | undefined;
    if (ext.name === 'LINUX_KERNEL_VERSION') value = String(src.kernelVersion());
    else if (ext.name === 'LINUX_HAS_SYSCALL_WRAPPER') value = src.hasSyscallWrapper() ? 'y' : 'n';
    else if (ext.name === 'LINUX_HAS_BPF_COOKIE') value = 'y';
    else if (ext.name.startsWith('CONFIG_')) {
      if (src.config === undefined && !ext.weak) throw fail('the kernel configuration is not available (no /proc/config.gz or /boot/config-*)');
      value = src.config?.get(ext.name);
    } else throw fail('unknown kind of __kconfig extern (expected CONFIG_* or LINUX_*)');
    if (value === undefined) {
      if (ext.weak) continue;
      throw fail('not set in the kernel configuration (declare it __weak to default to zero)');
    }
    writeValue(out, view, ext.offset, t, value, littleEndian, fail);
  }
  return out;
}

function writeValue(out: Uint8Array, view: DataView, off: number, t: BtfType, value: string, le: boolean, fail: (m: string) => ObjectError): void {
  const tri = value === 'y' || value === 'n' || value === 'm';
  if (t.kind === 'INT' && t.encoding === 'BOOL') {
    if (value === 'm') throw fail("value 'm' for a bool (use enum libbpf_tristate)");
    if (!tri) throw fail(`value ${value} for a bool`);
    out[off] = value === 'y' ? 1 : 0;
    return;
  }
  if ((t.kind === 'ENUM' || t.kind === 'ENUM64') && t.name === 'libbpf_tristate') {
    if (!tri) throw fail(`value ${value} for a tristate`);
    const n = value === 'y' ? 1 : value === 'm' ? 2 : 0;
    writeInt(view, off, t.size, BigInt(n), le);
    return;
  }
  if (t.kind === 'INT' && t.size === 1 && (t.encoding === 'CHAR' || t.name === 'char') && tri) {
    out[off] = value.charCodeAt(0);
    return;
  }
  if (t.kind === 'ARRAY') {
    if (!value.startsWith('"') || !value.endsWith('"') || value.length < 2) throw fail(`value ${value} for a char array is not a string`);
    const bytes = new TextEncoder().encode(value.slice(1, -1).replace(/\\(.)/g, '$1'));
    const n = Math.min(bytes.length, t.nelems - 1);
    out.set(bytes.subarray(0, n), off);
    return;
  }
  if (t.kind === 'INT' || t.kind === 'ENUM' || t.kind === 'ENUM64') {
    if (tri) throw fail(`value '${value}' for an integer`);
    let n: bigint;
    try {
      n = parseCInteger(value);
    } catch {
      throw fail(`value ${value} is not an integer`);
    }
    const bits = BigInt(t.size * 8);
    const signed = t.kind === 'INT' ? t.encoding === 'SIGNED' : t.signed;
    const lo = signed ? -(1n << (bits - 1n)) : 0n;
    const hi = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    if (n < lo || n > hi) throw fail(`value ${value} does not fit ${t.size} bytes`);
    writeInt(view, off, t.size, n, le);
    return;
  }
  throw fail(`a ${t.kind} cannot hold a kernel configuration value`);
}

function parseCInteger(s: string): bigint {
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  let v: bigint;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) v = BigInt(body);
  else if (/^0[0-7]+$/.test(body)) v = BigInt(`0o${body.slice(1)}`);
  else if (/^\d+$/.test(body)) v = BigInt(body);
  else throw new Error('not an integer');
  return neg ? -v : v;
}

function writeInt(view: DataView, off: number, size: number, v: bigint, le: boolean): void {
  const u = BigInt.asUintN(size * 8, v);
  switch (size) {
    case 1:
      view.setUint8(off, Number(u));
      break;
    case 2:
      view.setUint16(off, Number(u), le);
      break;
    case 4:
      view.setUint32(off, Number(u), le);
      break;
    case 8:
      view.setBigUint64(off, u, le);
      break;
    default:
      throw new ObjectError(`cannot store a ${size}-byte integer`);
  }
}
