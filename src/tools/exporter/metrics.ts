// A config's counters and histograms read from its maps at each scrape (or, for perf event
// array counters, counted from the events as they come), as Prometheus samples.
import { type BpfMap, MapType, PerfReader } from '../../index.js';
import type { CounterConfig, HistogramConfig, LabelConfig, MetricConfig } from './config.js';
import { decodeLabel, type DecoderEnv, labelNames } from './decoders.js';
import { type ConfigSeries, SeriesTracker } from './series.js';

export interface Sample {
  metricName?: string;
  labels: Record<string, string>;
  /**
   * Labels prom-client writes after `labels` and keeps written, by the object's identity: a
   * series keeps its object from scrape to scrape, so its labels are escaped and joined once.
   */
  sharedLabels?: Record<string, string>;
  value: number;
}

/** The `labels` of samples whose labels are all shared ones. */
const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A metric as prom-client's registry serializes it. */
export interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: Sample[];
}

export const PREFIX = 'ebpf_exporter_';

const PER_CPU = new Set<MapType>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

/** Reads one u64 (as a double: exact up to 2^53) little-endian at `off`. */
function u64(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16)) + b[off + 3]! * 0x1000000 + (b[off + 4]! | (b[off + 5]! << 8) | (b[off + 6]! << 16)) * 0x100000000 + b[off + 7]! * 0x100000000000000;
}

/** Decoded labels of a key, kept while the key stays in the map. */
interface KeyEntry {
  /** null when a decoder dropped the series or failed. */
  labels: string[] | null;
  /** The label values joined with NUL (no label value holds one): the series' identity. */
  id: string;
  /** The labels by name, as samples carry them. */
  object: Record<string, string>;
  /** The bucket of a histogram key. */
  bucket: number;
  generation: number;
  /** Per-CPU counters split by CPU: the id and labels of each CPU's series. */
  cpus?: Array<{ id: string; object: Record<string, string> }>;
}

/** A key whose decoding failed: not cached, so it is tried again at the next scrape. */
const FAILED: KeyEntry = { labels: null, id: '', object: {}, bucket: 0, generation: 0 };

/** A key a decoder dropped (a regexp matched nothing): cached, it stays dropped. */
function dropped(): KeyEntry {
  return { ...FAILED };
}

/** Decodes keys into label values, with a cache by key bytes so a key is decoded once. */
class KeyDecoder {
  readonly #cache = new Map<string, KeyEntry>();
  #generation = 0;

  constructor(
    readonly labels: readonly LabelConfig[],
    readonly env: DecoderEnv,
    readonly series: ConfigSeries,
    /** Whether the last label is a histogram's bucket. */
    readonly bucketLast: boolean,
    /** The names of the label values decoded (Kubernetes ones included, the bucket not). */
    readonly names: readonly string[],
  ) {}

  begin(): void {
    this.#generation++;
  }

  /** The entry of the key at `off` in `bytes` (a Buffer view, so no object is made per key). */
  decode(bytes: Buffer, off: number, length: number): KeyEntry {
    const id = bytes.toString('latin1', off, off + length);
    let e = this.#cache.get(id);
    if (e === undefined) {
      const { sources } = this.env;
      sources.missed = false;
      e = this.#decode(bytes.subarray(off, off + length));
      // A label that found no name (a cgroup made after the last scan) is decoded again later.
      if (!sources.missed && e !== FAILED) this.#cache.set(id, e);
    }
    e.generation = this.#generation;
    return e;
  }

  /** Forgets keys not seen since begin(). */
  end(): void {
    for (const [id, e] of this.#cache) if (e.generation !== this.#generation) this.#cache.delete(id);
  }

  #decode(key: Uint8Array): KeyEntry {
    const out: string[] = [];
    let off = 0;
    let bucket = 0;
    try {
      for (let i = 0; i < this.labels.length; i++) {
        const l = this.labels[i]!;
        if (off + l.size > key.length) throw new Error(`label ${l.name} reads past the ${key.length}-byte key`);
        const part = key.subarray(off, off + l.size);
        off += l.size + l.padding;
        if (this.bucketLast && i === this.labels.length - 1) {
          const b: string[] = [];
          if (!decodeLabel(l, part, this.env, b)) return dropped();
          bucket = Number(b[0]);
          if (!Number.isSafeInteger(bucket)) throw new Error(`bucket '${b[0]}' is not an integer`);
          continue;
        }
        if (!decodeLabel(l, part, this.env, out)) return dropped();
      }
    } catch {
      this.series.decoderErrors++;
      return FAILED;
    }
    return { labels: out, id: out.join('\0'), object: labelObject(this.names, out), bucket, generation: 0 };
  }
}

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) o[names[i]!] = values[i]!;
  return o;
}

/** One metric of a config. */
export interface MetricSource {
  readonly config: MetricConfig;
  collect(now: number): MetricData;
  close(): void;
}

/** A counter or histogram read from a hash or array map (per-CPU ones too) at each scrape. */
class MapMetric implements MetricSource {
  readonly #keys: KeyDecoder;
  readonly #tracker: SeriesTracker;
  readonly #sums = new Map<string, Sample & { generation: number }>();
  #generation = 0;
  readonly #perCpu: boolean;
  /** A per-CPU counter whose last label is `cpu`: one series per CPU. */
  readonly #cpuLabel: LabelConfig | undefined;
  readonly #keyLabels: readonly LabelConfig[];

  constructor(
    readonly config: MetricConfig,
    readonly map: BpfMap<unknown, unknown>,
    readonly env: DecoderEnv,
    series: ConfigSeries,
  ) {
    this.#perCpu = PER_CPU.has(map.type);
    const last = config.labels[config.labels.length - 1];
    this.#cpuLabel = this.#perCpu && config.kind === 'counter' && last?.name === 'cpu' ? last : undefined;
    this.#keyLabels = this.#cpuLabel ? config.labels.slice(0, -1) : config.labels;
    const decoded = config.kind === 'histogram' ? config.labels.slice(0, -1) : this.#keyLabels;
    this.#keys = new KeyDecoder(this.#keyLabels, env, series, config.kind === 'histogram', decoded.flatMap(labelNames));
    this.#tracker = new SeriesTracker(series);
  }

  /** Every series of the map with its value, per-CPU values summed or split by CPU. */
  #read(visit: (id: string, labels: Record<string, string>, bucket: number, value: number) => void): void {
    const stride = this.map.valueStride;
    const ks = this.map.keySize;
    const cpus = this.#perCpu ? stride / Math.ceil(this.map.valueSize / 8) / 8 : 1;
    const slot = this.#perCpu ? stride / cpus : 0;
    const cpuNames: string[] = [];
    if (this.#cpuLabel) {
      const b = new Uint8Array(2);
      for (let c = 0; c < cpus; c++) {
        b[0] = c & 0xff;
        b[1] = c >> 8;
        const out: string[] = [];
        try {
          decodeLabel(this.#cpuLabel, b, this.env, out);
        } catch {
          out.push(String(c));
        }
        cpuNames.push(out[0] ?? String(c));
      }
    }
    for (const chunk of this.map.lookupBatch()) {
      const k = chunk.keyBytes;
      const keys = Buffer.from(k.buffer, k.byteOffset, k.byteLength);
      const values = chunk.valueBytes;
      for (let i = 0; i < chunk.count; i++) {
        const e = this.#keys.decode(keys, i * ks, ks);
        if (e.labels === null) continue;
        const base = i * stride;
        if (!this.#perCpu) {
          visit(e.id, e.object, e.bucket, u64(values, base));
        } else if (this.#cpuLabel) {
          const cpuLabel = this.#cpuLabel.name;
          e.cpus ??= cpuNames.map((n) => ({ id: `${e.id}\0${n}`, object: { ...e.object, [cpuLabel]: n } }));
          for (let c = 0; c < cpus; c++) visit(e.cpus[c]!.id, e.cpus[c]!.object, e.bucket, u64(values, base + c * slot));
        } else {
          let sum = 0;
          for (let c = 0; c < cpus; c++) sum += u64(values, base + c * slot);
          visit(e.id, e.object, e.bucket, sum);
        }
      }
    }
  }

  collect(now: number): MetricData {
    this.#keys.begin();
    this.#tracker.begin();
    const data = this.config.kind === 'counter' ? this.#counter(now) : this.#histogram(this.config, now);
    this.#keys.end();
    this.#tracker.end();
    return data;
  }

  #counter(now: number): MetricData {
    // Keys that decode alike (a static_map, a regexp) are one series. Each series' sample is
    // kept from scrape to scrape and refilled, so a scrape allocates little per series.
    const generation = ++this.#generation;
    const sums = this.#sums;
    this.#read((id, labels, _bucket, value) => {
      let s = sums.get(id);
      if (s === undefined) {
        s = { labels: NO_LABELS, sharedLabels: labels, value: 0, generation };
        sums.set(id, s);
      } else if (s.generation !== generation) {
        s.value = 0;
        s.generation = generation;
      }
      s.value += value;
    });
    const values: Sample[] = [];
    for (const [id, s] of sums) {
      if (s.generation !== generation) sums.delete(id);
      else if (this.#tracker.admit(id, s.value, now)) values.push(s);
    }
    return { name: PREFIX + this.config.name, help: this.config.help, type: 'counter', values };
  }

  #histogram(h: HistogramConfig, now: number): MetricData {
    const groups = new Map<string, { labels: Record<string, string>; counts: Map<number, number> }>();
    this.#read((id, labels, bucket, value) => {
      let g = groups.get(id);
      if (!g) {
        g = { labels, counts: new Map() };
        groups.set(id, g);
      }
      g.counts.set(bucket, (g.counts.get(bucket) ?? 0) + value);
    });
    const values: Sample[] = [];
    const bounds = histogramBounds(h);
    const les = bounds.map(([, le]) => ({ le: String(le) }));
    const inf = { le: '+Inf' };
    const sumKey = h.bucketType === 'fixed' ? h.bucketKeys[h.bucketKeys.length - 1]! + 1 : h.bucketMax + 1;
    for (const [id, g] of groups) {
      let count = 0;
      const buckets: Array<[number, number]> = [];
      for (const [key, le] of bounds) {
        count += g.counts.get(key) ?? 0;
        buckets.push([le, count]);
      }
      const sum = (g.counts.get(sumKey) ?? 0) * h.bucketMultiplier;
      if (!this.#tracker.admit(id, `${count}/${sum}`, now)) continue;
      const shared = g.labels;
      buckets.forEach(([, c], i) => values.push({ metricName: `${PREFIX}${h.name}_bucket`, labels: les[i]!, sharedLabels: shared, value: c }));
      values.push({ metricName: `${PREFIX}${h.name}_bucket`, labels: inf, sharedLabels: shared, value: count });
      values.push({ metricName: `${PREFIX}${h.name}_sum`, labels: NO_LABELS, sharedLabels: shared, value: sum });
      values.push({ metricName: `${PREFIX}${h.name}_count`, labels: NO_LABELS, sharedLabels: shared, value: count });
    }
    return { name: PREFIX + h.name, help: h.help, type: 'histogram', values };
  }

  close(): void {
    this.#tracker.clear();
  }
}

/** [map bucket key, upper bound] of each bucket, in order. */
export function histogramBounds(h: HistogramConfig): Array<[number, number]> {
  const m = h.bucketMultiplier;
  const out: Array<[number, number]> = [];
  switch (h.bucketType) {
    case 'exp2':
      for (let i = h.bucketMin; i <= h.bucketMax; i++) out.push([i, 2 ** i * m]);
      break;
    case 'exp2zero':
      // Key 0 counts zeros; key i > 0 counts what exp2 key i - 1 would.
      for (let i = h.bucketMin; i <= h.bucketMax; i++) out.push([i, i === 0 ? 0 : 2 ** (i - 1) * m]);
      break;
    case 'linear':
      for (let i = h.bucketMin; i <= h.bucketMax; i++) out.push([i, i * m]);
      break;
    case 'fixed':
      for (const k of h.bucketKeys) out.push([k, k * m]);
      break;
  }
  return out;
}

/** A counter of the events a perf event array delivers, by the labels of each event's bytes. */
class PerfCounter implements MetricSource {
  readonly #keys: KeyDecoder;
  readonly #tracker: SeriesTracker;
  readonly #counts = new Map<string, Sample>();
  readonly #reader: PerfReader;
  readonly #keySize: number;
  #flush: NodeJS.Timeout | undefined;
  lost = 0;

  constructor(
    readonly config: CounterConfig,
    map: BpfMap<unknown, unknown>,
    env: DecoderEnv,
    series: ConfigSeries,
  ) {
    this.#keys = new KeyDecoder(config.labels, env, series, false, config.labels.flatMap(labelNames));
    this.#tracker = new SeriesTracker(series);
    this.#keySize = config.labels.reduce((n, l) => n + l.size + l.padding, 0);
    this.#reader = new PerfReader(map, {
      onLost: (n) => {
        this.lost += n;
      },
    });
    this.#reader.startRaw((data, offset, length) => this.#count(data, offset, length));
    // flush_interval: the counts start again from zero, as ebpf_exporter flushes them.
    if (config.flushIntervalMs > 0) {
      this.#flush = setInterval(() => this.#counts.clear(), config.flushIntervalMs);
      this.#flush.unref();
    }
  }

  #count(data: Uint8Array, offset: number, length: number): void {
    if (length < this.#keySize) {
      this.#keys.series.decoderErrors++;
      return;
    }
    const e = this.#keys.decode(Buffer.from(data.buffer, data.byteOffset, data.byteLength), offset, this.#keySize);
    if (e.labels === null) return;
    const c = this.#counts.get(e.id);
    if (c) c.value++;
    else this.#counts.set(e.id, { labels: NO_LABELS, sharedLabels: e.object, value: 1 });
  }

  collect(now: number): MetricData {
    // Events that arrived since the last turn of the event loop are counted before the scrape.
    this.#reader.drainRaw((data, offset, length) => this.#count(data, offset, length));
    this.#tracker.begin();
    const values: Sample[] = [];
    for (const [id, c] of this.#counts) if (this.#tracker.admit(id, c.value, now)) values.push(c);
    this.#tracker.end();
    return { name: PREFIX + this.config.name, help: this.config.help, type: 'counter', values };
  }

  close(): void {
    clearInterval(this.#flush);
    this.#reader.close();
    this.#tracker.clear();
  }
}

/** The source of one metric from its map. */
export function metricSource(config: MetricConfig, map: BpfMap<unknown, unknown>, env: DecoderEnv, series: ConfigSeries): MetricSource {
  if (config.kind === 'counter' && config.perfEventArray) return new PerfCounter(config, map, env, series);
  return new MapMetric(config, map, env, series);
}

/** The events a perf event array counter lost, or undefined for other metrics. */
export function lostEvents(m: MetricSource): number | undefined {
  return m instanceof PerfCounter ? m.lost : undefined;
}
