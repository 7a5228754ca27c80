// A config's object checked against its YAML, loaded, attached by section, and its maps turned
// into metric sources. All or nothing: a failure closes what was made and throws.
import { type BpfMap, type Collection, type CollectionLinks, CollectionSpec, MapType, type ProgramInfo } from '../../index.js';
import { ConfigError, type ExporterConfig } from './config.js';
import { type DecoderEnv, missingData } from './decoders.js';
import { lostEvents, type MetricSource, metricSource } from './metrics.js';
import { ConfigSeries, type SeriesLimits } from './series.js';

const COUNTER_MAPS = new Set<MapType>([MapType.HASH, MapType.LRU_HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);
const PER_CPU = new Set<MapType>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

/** Reads the config's object and checks the config against it; ConfigError names what is wrong. */
export function checkConfig(config: ExporterConfig, env: DecoderEnv): CollectionSpec {
  let spec: CollectionSpec;
  try {
    spec = CollectionSpec.fromFile(config.object);
  } catch (err) {
    throw new ConfigError(config.file, '', `cannot read ${config.object}: ${(err as Error).message}`);
  }
  const fail = (key: string, why: string): never => {
    throw new ConfigError(config.file, key, why);
  };
  for (const m of config.metrics) {
    const map = spec.maps[m.name];
    if (map === undefined) fail(`${m.key}.name`, `no map '${m.name}' in ${config.object} (maps: ${Object.keys(spec.maps).filter((n) => !n.startsWith('.')).join(', ') || 'none'})`);
    const perf = m.kind === 'counter' && m.perfEventArray;
    if (perf !== (map!.type === MapType.PERF_EVENT_ARRAY)) {
      fail(perf ? `${m.key}.perf_event_array` : `${m.key}.name`, perf ? `map '${m.name}' is ${MapType[map!.type]}, not PERF_EVENT_ARRAY` : `map '${m.name}' is a PERF_EVENT_ARRAY: set perf_event_array: true`);
    }
    m.labels.forEach((l, i) => {
      for (const [j, d] of l.decoders.entries()) {
        const missing = missingData(d.name, env);
        if (missing !== undefined) fail(`${m.key}.labels[${i}].decoders[${j}].name`, missing);
      }
    });
    if (perf) continue;
    if (!COUNTER_MAPS.has(map!.type)) fail(`${m.key}.name`, `map '${m.name}' is ${MapType[map!.type]}: metrics read hash and array maps (per-CPU ones too)`);
    if (map!.valueSize !== 8) fail(`${m.key}.name`, `map '${m.name}' has ${map!.valueSize}-byte values; metrics read u64 values`);
    const cpuLast = m.kind === 'counter' && PER_CPU.has(map!.type) && m.labels[m.labels.length - 1]?.name === 'cpu';
    const keyLabels = cpuLast ? m.labels.slice(0, -1) : m.labels;
    const size = keyLabels.reduce((n, l) => n + l.size + l.padding, 0);
    if (size !== map!.keySize) fail(`${m.key}.labels`, `the labels' sizes and padding add up to ${size} bytes, but map '${m.name}' has ${map!.keySize}-byte keys${cpuLast ? ' (the cpu label takes no key bytes)' : ''}`);
  }
  for (const [i, sym] of config.kaddrs.entries()) {
    const v = spec.variables[`kaddr_${sym}`];
    if (v === undefined || !v.constant) fail(`kaddrs[${i}]`, `${config.object} has no constant kaddr_${sym} to hold the address of ${sym}`);
  }
  if (config.cgroupIdMap) {
    const map = spec.maps[config.cgroupIdMap.name];
    if (map === undefined) fail('cgroup_id_map.name', `no map '${config.cgroupIdMap.name}' in ${config.object}`);
    if (map!.type !== MapType.HASH && map!.type !== MapType.LRU_HASH) fail('cgroup_id_map.name', `map '${config.cgroupIdMap.name}' is ${MapType[map!.type]}, not a hash`);
    if (map!.keySize !== 8) fail('cgroup_id_map.name', `map '${config.cgroupIdMap.name}' has ${map!.keySize}-byte keys; cgroup ids are 8 bytes`);
  }
  return spec;
}

export interface ProgramState {
  name: string;
  info: ProgramInfo;
  attached: boolean;
}

/** A loaded and attached config: its collection, links, metric sources and counts. */
export class LoadedConfig {
  #refreshedCgroups = 0;

  constructor(
    readonly config: ExporterConfig,
    readonly collection: Collection,
    readonly links: CollectionLinks,
    readonly metrics: MetricSource[],
    readonly programs: ProgramState[],
    readonly series: ConfigSeries,
    readonly env: DecoderEnv,
  ) {}

  /** Events lost by each perf event array counter, by metric name. */
  lost(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const m of this.metrics) {
      const n = lostEvents(m);
      if (n !== undefined) out.push([m.config.name, n]);
    }
    return out;
  }

  /**
   * Puts the ids of the cgroups whose path matches cgroup_id_map's regexps into that map (and
   * takes out those no longer there), at most once a second: the program filters on it.
   */
  refreshCgroupIdMap(now: number): void {
    const c = this.config.cgroupIdMap;
    if (c === undefined || now - this.#refreshedCgroups < 1000) return;
    this.#refreshedCgroups = now;
    fillCgroupIdMap(this.collection.maps[c.name]!, c.regexps, this.env);
  }

  close(): void {
    for (const m of this.metrics) m.close();
    this.links.close();
    this.collection.close();
  }
}

function fillCgroupIdMap(map: BpfMap<unknown, unknown>, regexps: readonly RegExp[], env: DecoderEnv): void {
  const raw = map.withCodecs();
  try {
    const want = new Set<bigint>();
    for (const [id, path] of env.sources.cgroups()) if (regexps.some((r) => r.test(path))) want.add(id);
    const key = new Uint8Array(8);
    const view = new DataView(key.buffer);
    const value = new Uint8Array(raw.valueSize);
    value[0] = 1;
    for (const k of [...raw.keys()]) if (!want.has(new DataView(k.buffer, k.byteOffset, 8).getBigUint64(0, true))) raw.delete(k);
    for (const id of want) {
      view.setBigUint64(0, id, true);
      raw.update(key, value);
    }
  } finally {
    raw.close();
  }
}

export interface LoadOptions {
  /** A BTF file for CO-RE instead of the kernel's (--btf.path). */
  btfPath?: string;
  limits: SeriesLimits;
}

/** Loads and attaches one config; on failure nothing of it stays loaded or attached. */
export function loadConfig(config: ExporterConfig, env: DecoderEnv, options: LoadOptions): LoadedConfig {
  const spec = checkConfig(config, env);
  if (config.kaddrs.length > 0) {
    const values: Record<string, bigint> = {};
    for (const [i, sym] of config.kaddrs.entries()) {
      const addr = env.sources.kallsyms().address(sym);
      if (addr === undefined) throw new ConfigError(config.file, `kaddrs[${i}]`, `no kernel symbol ${sym} in ${env.sources.paths.kallsyms} (or its addresses are hidden: needs CAP_SYSLOG)`);
      values[`kaddr_${sym}`] = addr;
    }
    spec.rewriteConstants(values);
  }
  const collection = spec.load(options.btfPath === undefined ? {} : { kernelBtf: options.btfPath });
  let links: CollectionLinks | undefined;
  const metrics: MetricSource[] = [];
  try {
    links = collection.attach();
    const skipped = new Set(links.skipped.map((s) => s.program));
    const programs = Object.entries(collection.programs).map(([name, p]) => ({ name, info: p.info(), attached: !skipped.has(name) }));
    const series = new ConfigSeries(options.limits);
    for (const m of config.metrics) metrics.push(metricSource(m, collection.maps[m.name]!, env, series));
    const loaded = new LoadedConfig(config, collection, links, metrics, programs, series, env);
    loaded.refreshCgroupIdMap(Date.now());
    return loaded;
  } catch (err) {
    for (const m of metrics) m.close();
    links?.close();
    collection.close();
    throw err;
  }
}
