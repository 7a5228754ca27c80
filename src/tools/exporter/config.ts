// ebpf_exporter's config format: `<name>.yaml` beside `<name>.bpf.o`, read and checked key by key
// so that every error names the file, the key and why.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { TsbpfError } from '../../index.js';
import { parseDuration } from '../common/duration.js';
import { DECODER_NAMES } from './decoders.js';

/** A config that cannot be used: `file: key: why`. */
export class ConfigError extends TsbpfError {
  constructor(
    readonly file: string,
    readonly key: string,
    why: string,
  ) {
    super('ECONFIG', key === '' ? `${file}: ${why}` : `${file}: ${key}: ${why}`);
  }
}

export interface DecoderConfig {
  readonly name: string;
  readonly staticMap?: ReadonlyMap<string, string>;
  readonly allowUnknown: boolean;
  readonly regexps?: readonly RegExp[];
  /** cgroup only: add namespace, pod and container labels from kubepods cgroup paths. */
  readonly kubernetes: boolean;
}

export interface LabelConfig {
  readonly name: string;
  /** Bytes of the key this label decodes. */
  readonly size: number;
  /** Bytes skipped after it (struct padding). */
  readonly padding: number;
  readonly decoders: readonly DecoderConfig[];
}

export type BucketType = 'exp2' | 'exp2zero' | 'linear' | 'fixed';

export interface CounterConfig {
  readonly kind: 'counter';
  /** Where it is in the file, for errors: `metrics.counters[0]`. */
  readonly key: string;
  readonly name: string;
  readonly help: string;
  readonly labels: readonly LabelConfig[];
  readonly perfEventArray: boolean;
  /** perf_event_array counters: forget the counts this often (0: never). */
  readonly flushIntervalMs: number;
}

export interface HistogramConfig {
  readonly kind: 'histogram';
  readonly key: string;
  readonly name: string;
  readonly help: string;
  /** The last label is the bucket: it selects the bucket and is not exported. */
  readonly labels: readonly LabelConfig[];
  readonly bucketType: BucketType;
  readonly bucketMin: number;
  readonly bucketMax: number;
  readonly bucketKeys: readonly number[];
  readonly bucketMultiplier: number;
}

export type MetricConfig = CounterConfig | HistogramConfig;

export interface CgroupIdMapConfig {
  readonly name: string;
  readonly regexps: readonly RegExp[];
}

export interface ExporterConfig {
  /** The config's name: `<name>.yaml`, `<name>.bpf.o`. */
  readonly name: string;
  readonly file: string;
  readonly object: string;
  readonly metrics: readonly MetricConfig[];
  /** Kernel symbols whose addresses are written into `kaddr_<symbol>` constants. */
  readonly kaddrs: readonly string[];
  readonly cgroupIdMap?: CgroupIdMapConfig;
}

/** The keys each part of a config may have; --config.strict refuses others. */
const KEYS = {
  top: ['metrics', 'kaddrs', 'cgroup_id_map'],
  metrics: ['counters', 'histograms'],
  counter: ['name', 'help', 'labels', 'perf_event_array', 'flush_interval'],
  histogram: ['name', 'help', 'labels', 'bucket_type', 'bucket_min', 'bucket_max', 'bucket_keys', 'bucket_multiplier'],
  label: ['name', 'size', 'padding', 'decoders'],
  decoder: ['name', 'static_map', 'allow_unknown', 'regexps', 'kubernetes'],
  cgroupIdMap: ['name', 'type', 'regexps'],
} as const;

const BUCKET_TYPES: readonly BucketType[] = ['exp2', 'exp2zero', 'linear', 'fixed'];
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Node = Record<string, unknown>;

/** Walks one file's parsed YAML, with the file's name and strictness for every error. */
class Reader {
  constructor(
    readonly file: string,
    readonly strict: boolean,
  ) {}

  fail(key: string, why: string): never {
    throw new ConfigError(this.file, key, why);
  }

  object(v: unknown, key: string, allowed: readonly string[]): Node {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(key, `must be a mapping, got ${describe(v)}`);
    if (this.strict) {
      for (const k of Object.keys(v)) if (!allowed.includes(k)) this.fail(key === '' ? k : `${key}.${k}`, `unknown key (known: ${allowed.join(', ')})`);
    }
    return v as Node;
  }

  list(v: unknown, key: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(key, `must be a list, got ${describe(v)}`);
    return v;
  }

  string(v: unknown, key: string, required = true): string {
    if (v === undefined && !required) return '';
    if (typeof v !== 'string' || v === '') this.fail(key, v === undefined ? 'is required' : `must be a non-empty string, got ${describe(v)}`);
    return v;
  }

  integer(v: unknown, key: string, min: number, fallback?: number): number {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(key, v === undefined ? 'is required' : `must be an integer of at least ${min}, got ${describe(v)}`);
    return v;
  }

  number(v: unknown, key: string, fallback: number): number {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${describe(v)}`);
    return v;
  }

  boolean(v: unknown, key: string): boolean {
    if (v === undefined) return false;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  regexps(v: unknown, key: string): RegExp[] {
    return this.list(v, key).map((p, i) => {
      const source = this.string(p, `${key}[${i}]`);
      try {
        return new RegExp(source);
      } catch (err) {
        return this.fail(`${key}[${i}]`, `invalid regular expression: ${(err as Error).message}`);
      }
    });
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'string' ? `'${v}'` : String(v);
}

function readDecoder(r: Reader, v: unknown, key: string): DecoderConfig {
  const d = r.object(v, key, KEYS.decoder);
  const name = r.string(d.name, `${key}.name`);
  if (!DECODER_NAMES.includes(name)) r.fail(`${key}.name`, `unknown decoder '${name}' (known: ${DECODER_NAMES.join(', ')})`);
  let staticMap: Map<string, string> | undefined;
  if (name === 'static_map') {
    const m = d.static_map;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) r.fail(`${key}.static_map`, `is required by the static_map decoder, as a mapping; got ${describe(m)}`);
    staticMap = new Map(Object.entries(m).map(([k, val]) => [k, String(val)]));
  }
  if (name === 'regexp' && d.regexps === undefined) r.fail(`${key}.regexps`, 'is required by the regexp decoder');
  const kubernetes = r.boolean(d.kubernetes, `${key}.kubernetes`);
  if (kubernetes && name !== 'cgroup') r.fail(`${key}.kubernetes`, 'only the cgroup decoder gives Kubernetes labels');
  return {
    name,
    allowUnknown: r.boolean(d.allow_unknown, `${key}.allow_unknown`),
    kubernetes,
    ...(staticMap ? { staticMap } : {}),
    ...(name === 'regexp' ? { regexps: r.regexps(d.regexps, `${key}.regexps`) } : {}),
  };
}

function readLabel(r: Reader, v: unknown, key: string): LabelConfig {
  const l = r.object(v, key, KEYS.label);
  const name = r.string(l.name, `${key}.name`);
  if (!LABEL_NAME.test(name)) r.fail(`${key}.name`, `'${name}' is not a Prometheus label name`);
  const decoders = r.list(l.decoders, `${key}.decoders`).map((d, i) => readDecoder(r, d, `${key}.decoders[${i}]`));
  return { name, size: r.integer(l.size, `${key}.size`, 1), padding: r.integer(l.padding, `${key}.padding`, 0, 0), decoders };
}

function readCommon(r: Reader, m: Node, key: string): { key: string; name: string; help: string; labels: LabelConfig[] } {
  const name = r.string(m.name, `${key}.name`);
  if (!METRIC_NAME.test(name)) r.fail(`${key}.name`, `'${name}' is not a Prometheus metric name`);
  const labels = r.list(m.labels, `${key}.labels`).map((l, i) => readLabel(r, l, `${key}.labels[${i}]`));
  const seen = new Set<string>();
  labels.forEach((l, i) => {
    if (seen.has(l.name)) r.fail(`${key}.labels[${i}].name`, `label '${l.name}' is named twice`);
    seen.add(l.name);
  });
  return { key, name, help: r.string(m.help, `${key}.help`), labels };
}

function readCounter(r: Reader, v: unknown, key: string): CounterConfig {
  const m = r.object(v, key, KEYS.counter);
  const perfEventArray = r.boolean(m.perf_event_array, `${key}.perf_event_array`);
  let flushIntervalMs = 0;
  if (m.flush_interval !== undefined) {
    if (!perfEventArray) r.fail(`${key}.flush_interval`, 'only perf_event_array counters are flushed');
    try {
      flushIntervalMs = parseDuration(String(m.flush_interval));
    } catch (err) {
      r.fail(`${key}.flush_interval`, (err as Error).message);
    }
  }
  return { kind: 'counter', ...readCommon(r, m, key), perfEventArray, flushIntervalMs };
}

function readHistogram(r: Reader, v: unknown, key: string): HistogramConfig {
  const m = r.object(v, key, KEYS.histogram);
  const common = readCommon(r, m, key);
  const type = r.string(m.bucket_type, `${key}.bucket_type`);
  if (!(BUCKET_TYPES as readonly string[]).includes(type)) r.fail(`${key}.bucket_type`, `unknown bucket type '${type}' (known: ${BUCKET_TYPES.join(', ')})`);
  const bucketType = type as BucketType;
  if (common.labels.length === 0) r.fail(`${key}.labels`, 'a histogram needs at least its bucket label (the last one)');
  let bucketMin = 0;
  let bucketMax = 0;
  let bucketKeys: number[] = [];
  if (bucketType === 'fixed') {
    bucketKeys = r.list(m.bucket_keys, `${key}.bucket_keys`).map((k, i) => r.integer(k, `${key}.bucket_keys[${i}]`, 0));
    if (bucketKeys.length === 0) r.fail(`${key}.bucket_keys`, 'a fixed histogram needs its bucket keys');
    bucketKeys.forEach((k, i) => {
      if (i > 0 && k <= bucketKeys[i - 1]!) r.fail(`${key}.bucket_keys[${i}]`, 'bucket keys must increase');
    });
  } else {
    bucketMin = r.integer(m.bucket_min, `${key}.bucket_min`, 0, 0);
    bucketMax = r.integer(m.bucket_max, `${key}.bucket_max`, 0);
    if (bucketMax < bucketMin) r.fail(`${key}.bucket_max`, `must be at least bucket_min (${bucketMin})`);
    if (bucketType !== 'linear' && bucketMax > 1023) r.fail(`${key}.bucket_max`, 'an exp2 bucket above 1023 is beyond a double');
  }
  const bucketMultiplier = r.number(m.bucket_multiplier, `${key}.bucket_multiplier`, 1);
  return { kind: 'histogram', ...common, bucketType, bucketMin, bucketMax, bucketKeys, bucketMultiplier };
}

/** Parses one config file's text; `file` names it in errors. */
export function parseConfig(text: string, file: string, name: string, object: string, strict: boolean): ExporterConfig {
  const r = new Reader(file, strict);
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    r.fail('', `invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const top = r.object(doc.toJS(), '', KEYS.top);
  const metricsNode = r.object(top.metrics ?? {}, 'metrics', KEYS.metrics);
  const metrics: MetricConfig[] = [
    ...r.list(metricsNode.counters, 'metrics.counters').map((c, i) => readCounter(r, c, `metrics.counters[${i}]`)),
    ...r.list(metricsNode.histograms, 'metrics.histograms').map((h, i) => readHistogram(r, h, `metrics.histograms[${i}]`)),
  ];
  const names = new Set<string>();
  for (const m of metrics) {
    if (names.has(m.name)) r.fail('metrics', `metric '${m.name}' is defined twice`);
    names.add(m.name);
  }
  const kaddrs = r.list(top.kaddrs, 'kaddrs').map((k, i) => r.string(k, `kaddrs[${i}]`));
  let cgroupIdMap: CgroupIdMapConfig | undefined;
  if (top.cgroup_id_map !== undefined) {
    const c = r.object(top.cgroup_id_map, 'cgroup_id_map', KEYS.cgroupIdMap);
    if (c.type !== undefined && c.type !== 'hash' && c.type !== 'lru_hash') r.fail('cgroup_id_map.type', `must be hash or lru_hash, got ${describe(c.type)}`);
    cgroupIdMap = { name: r.string(c.name, 'cgroup_id_map.name'), regexps: r.regexps(c.regexps, 'cgroup_id_map.regexps') };
  }
  return { name, file, object, metrics, kaddrs, ...(cgroupIdMap ? { cgroupIdMap } : {}) };
}

/** Reads `<dir>/<name>.yaml` (its object is `<dir>/<name>.bpf.o`). */
export function readConfig(dir: string, name: string, strict: boolean): ExporterConfig {
  const file = join(dir, `${name}.yaml`);
  const object = join(dir, `${name}.bpf.o`);
  if (!existsSync(file)) throw new ConfigError(file, '', 'no such config file');
  if (!existsSync(object)) throw new ConfigError(file, '', `its object ${object} does not exist`);
  return parseConfig(readFileSync(file, 'utf8'), file, name, object, strict);
}
