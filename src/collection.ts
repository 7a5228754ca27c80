// Loading a CollectionSpec: BTF, maps, relocated programs, initial values, pins — all or nothing.
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isKfuncCall, type Instruction, type SourceLocation } from './asm/instruction.js';
import { BPF_LD_IMM64, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from './asm/opcodes.js';
import type { BtfValue } from './btfcodec.js';
import type { Codec } from './codec/codec.js';
import { u32 } from './codec/int.js';
import { applyCoreRelocations, type CoreOutcome } from './core/relocate.js';
import { CoreTargets, type Candidate } from './core/targets.js';
import { attachPrograms, CollectionLinks, type CollectionAttachOptions } from './collection/attach.js';
import { BpfError, NotSupportedError, TsbpfError, VerifierError } from './errors.js';
import { probeFentry } from './features/kernel.js';
import type { SectionTargets } from './link/section.js';
import { BpfMap } from './map.js';
import { loadObjectBtf } from './collection/btfload.js';
import { encodeKey, rawUpdate, tryDelete, tryUpdate } from './collection/elements.js';
import { asObjectError, ObjectError, ProgramLoadError, ProgramNotSupportedError, ProgramVerifierError, type ObjectErrorContext } from './object/errors.js';
import { kconfigData, kernelVersionCode, readKernelConfig } from './object/kconfig.js';
import { KernelResolver } from './collection/kernel.js';
import { adjustedMaxEntries, checkCompatible, codecOf, kernelName, NO_BTF, type CollectionMap } from './collection/mapcreate.js';
import { btfRecords, extensionTarget, isRoot, needsTrampoline, prefixName } from './collection/progload.js';
import { resolveCalls } from './object/reader.js';
import { kernelStructOps, structOpsAttach, structOpsValue, type KernelStructOps } from './object/structops.js';
import { readKernelBtf } from './btf/kernel.js';
import { errnoName } from './sys/errno.js';
import { registerSpecLoader, type CollectionSpec } from './object/spec.js';
import type { ExternSpec, MapSpec, ProgramInstruction, ProgramSpec } from './object/types.js';
import { Variable } from './collection/variable.js';
import { Program, type FdLike } from './program.js';
import type { FD } from './sys/fd.js';
import { AttachType, MapFlags, MapType, ProgramType } from './sys/types.js';
import { linkCreate } from './sys/attrs.js';
import { Link } from './link/link.js';
import { parseVerifierLog } from './verifier.js';

export interface ProgramLoadOverrides {
  /** The program an extension (freplace) program replaces a function of. */
  attachProgram?: FdLike;
  /** The function in `attachProgram` (default: the section's target). */
  attachTo?: string;
}

export interface CollectionLoadOptions {
  /** The bpffs directory of LIBBPF_PIN_BY_NAME maps (default /sys/fs/bpf, as libbpf). */
  pinPath?: string;
  /** The bpffs directory of iproute2's PIN_GLOBAL_NS maps (default /sys/fs/bpf/tc/globals, as tc). */
  globalNsPinPath?: string;
  /** A BTF file (raw, or an ELF object with .BTF) to resolve CO-RE against instead of the kernel's. */
  kernelBtf?: string;
  /** Verifier log level for every program; the log is kept in Program.verifierLog. */
  logLevel?: number;
  /** Maps to use instead of creating the spec's maps of these names; the collection does not own them. */
  mapReplacements?: Record<string, BpfMap<unknown, unknown>>;
  /** Per-program settings by program name. */
  programs?: Record<string, ProgramLoadOverrides>;
}

// The live side hands out CollectionSpec too: importing it from here guarantees load() works.
export { CollectionSpec } from './object/spec.js';
export type { CollectionMap } from './collection/mapcreate.js';
export { CollectionLinks, type AttachTarget, type CollectionAttachOptions, type SkippedProgram } from './collection/attach.js';
export { Variable } from './collection/variable.js';

const DEFAULT_PIN_PATH = '/sys/fs/bpf';
const DEFAULT_GLOBAL_NS_PIN_PATH = '/sys/fs/bpf/tc/globals';
/** Helper ids libbpf gives calls of weak kfuncs the kernel lacks: unknown to the verifier. */
const POISON_KFUNC_BASE = 2002000000;

/** The maps, programs and global variables of a loaded object. close() releases them all. */
export class Collection implements Disposable {
  readonly maps: Record<string, CollectionMap>;
  readonly programs: Record<string, Program>;
  readonly variables: Record<string, Variable>;
  readonly #owned: CollectionMap[];
  /** Each program's section name, by program name. */
  readonly #sections: Record<string, string>;
  readonly #structOps: readonly StructOpsMap[];

  constructor(
    maps: Record<string, CollectionMap>,
    programs: Record<string, Program>,
    variables: Record<string, Variable>,
    owned: CollectionMap[],
    sections: Record<string, string> = {},
    structOps: readonly StructOpsMap[] = [],
  ) {
    this.maps = maps;
    this.programs = programs;
    this.variables = variables;
    this.#owned = owned;
    this.#sections = sections;
    this.#structOps = structOps;
  }

  /**
   * Attaches every program where its section says (attachBySection), with `targets` for what
   * a section cannot name: the interface of `xdp`, the cgroup of `cgroup_skb/egress`... Programs
   * whose section names no attach point (`xdp/devmap`, `struct_ops`), or whose hook needs a
   * target not given (`xdp` without an interface, `socket` without a socket), are skipped and
   * listed in `skipped` with the reason; struct_ops programs are attached through their map:
   * each `.struct_ops.link` map gets a link, `struct_ops <map>` in `links`.
   * With `options.strict` a missing target throws MissingTargetError instead, before anything is
   * attached. All or nothing: when one attach fails, the links made so far are closed and the
   * error is thrown. The result owns the links: its close() detaches them all (closing the
   * collection does not).
   */
  attach(targets: SectionTargets = {}, options: CollectionAttachOptions = {}): CollectionLinks {
    // USDT programs built with <bpf/usdt.bpf.h> find their argument locations in this map.
    const usdtSpecs = this.maps.__bpf_usdt_specs;
    const withSpecs = targets.usdtSpecs === undefined && usdtSpecs !== undefined ? { ...targets, usdtSpecs } : targets;
    const attached = attachPrograms(this.programs, this.#sections, withSpecs, options);
    const linked = this.#structOps.filter((s) => s.link);
    if (linked.length === 0) return attached;
    // `.struct_ops.link` maps register when a link is made from them (the others did at load).
    const links: Record<string, Link> = { ...attached.links };
    try {
      for (const s of linked) links[`struct_ops ${s.name}`] = attachStructOps(s);
    } catch (err) {
      for (const l of Object.values(links).reverse()) if (!Object.values(attached.links).includes(l)) l.close();
      attached.close();
      throw err;
    }
    return new CollectionLinks(links, [...attached.skipped]);
  }

  /**
   * Closes every program and every map the collection created (pins stay). `.struct_ops` maps
   * registered at load (a TCP congestion control...) are unregistered first, unless pinned.
   */
  close(): void {
    unregisterStructOps(this.#structOps);
    for (const p of Object.values(this.programs)) p.close();
    for (const m of this.#owned) m.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A program as it would be loaded: every relocation applied, map fds left 0. */
export interface RelocatedProgram {
  readonly instructions: ProgramInstruction[];
  /** bpf_func_info and bpf_line_info records for BPF_PROG_LOAD. */
  readonly funcInfo: Uint8Array;
  readonly lineInfo: Uint8Array;
  readonly attachBtfId?: number;
  readonly attachBtfObjFd?: number;
  readonly attachProgFd?: FdLike;
  /** When the attach target decides it (a struct_ops program: the member's index). */
  readonly expectedAttachType?: number;
  /** What each CO-RE relocation resolved to. */
  readonly core: CoreOutcome[];
  /** Slots poisoned by CO-RE relocations that found nothing. */
  readonly poisoned: ReadonlyMap<number, CoreOutcome>;
  /** Slots of calls of weak kfuncs this kernel lacks, replaced by calls the verifier refuses if reached. */
  readonly missingKfuncs: ReadonlyMap<number, string>;
}

/**
 * Relocates every program of a spec as load would, without creating maps or loading programs:
 * CO-RE against the kernel (or options.kernelBtf), kfuncs and kernel variables resolved, calls
 * linked. Map references keep fd 0.
 */
export function relocateCollection(spec: CollectionSpec, options: Pick<CollectionLoadOptions, 'kernelBtf' | 'programs'> = {}): Record<string, RelocatedProgram> {
  const session = new LoadSession(spec, options, true);
  try {
    const out: Record<string, RelocatedProgram> = {};
    for (const [name, ps] of Object.entries(spec.programs)) out[name] = session.prepare(name, ps);
    return out;
  } catch (err) {
    if (err instanceof TsbpfError) throw err;
    throw asObjectError(err, spec.source !== undefined ? { file: spec.source } : {});
  } finally {
    session.finish();
  }
}

/** Loads a spec; on any failure everything created so far is closed and unpinned. */
export function loadCollection(spec: CollectionSpec, options: CollectionLoadOptions = {}): Collection {
  const session = new LoadSession(spec, options);
  try {
    return session.run();
  } catch (err) {
    session.abort();
    if (err instanceof TsbpfError) throw err;
    throw asObjectError(err, spec.source !== undefined ? { file: spec.source } : {});
  } finally {
    session.finish();
  }
}

registerSpecLoader({ load: loadCollection, relocate: relocateCollection });

class LoadSession {
  readonly #spec: CollectionSpec;
  readonly #opts: CollectionLoadOptions;
  readonly #maps: Record<string, CollectionMap> = {};
  readonly #owned: CollectionMap[] = [];
  readonly #programs: Record<string, Program> = {};
  readonly #pins: string[] = [];
  readonly #reused = new Set<string>();
  readonly #resolver: KernelResolver;
  #kernelTargets: CoreTargets | undefined;
  #coreTargets: CoreTargets | undefined;
  readonly #candidateCache = new globalThis.Map<number, Candidate[]>();
  #btfFd: FD | undefined;
  /** Relocate only: no maps exist, map references keep fd 0. */
  readonly #dry: boolean;
  readonly #structOpsTypes = new globalThis.Map<string, KernelStructOps>();
  readonly #structOps: StructOpsMap[] = [];

  constructor(spec: CollectionSpec, options: CollectionLoadOptions, dry = false) {
    this.#spec = spec;
    this.#opts = options;
    this.#dry = dry;
    this.#resolver = new KernelResolver(() => this.#kernel());
  }

  #kernel(): CoreTargets {
    this.#kernelTargets ??= CoreTargets.kernel();
    return this.#kernelTargets;
  }

  #core(): CoreTargets {
    if (this.#coreTargets === undefined) this.#coreTargets = this.#opts.kernelBtf !== undefined ? CoreTargets.fromFile(this.#opts.kernelBtf) : this.#kernel();
    return this.#coreTargets;
  }

  #context(extra: { map?: string; program?: string; symbol?: string } = {}): { file?: string; map?: string; program?: string; symbol?: string } {
    return { ...(this.#spec.source !== undefined ? { file: this.#spec.source } : {}), ...extra };
  }

  run(): Collection {
    const spec = this.#spec;
    const hostLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    if ((spec.byteOrder === 'little') !== hostLittle) {
      throw new NotSupportedError(`loading a ${spec.byteOrder}-endian object`, 'this machine has the other byte order');
    }
    if (spec.btf !== undefined) this.#btfFd = loadObjectBtf(spec.btf, spec.source ?? 'object');
    for (const [name, ms] of Object.entries(spec.maps)) this.#maps[name] = this.#createMap(name, ms);
    this.#fillMapsOfMaps();
    for (const [name, ms] of Object.entries(spec.maps)) {
      if (ms.freeze && !this.#reused.has(name) && this.#opts.mapReplacements?.[name] === undefined) this.#maps[name]!.freeze();
    }
    for (const [name, ps] of Object.entries(spec.programs)) this.#programs[name] = this.#loadProgram(name, ps);
    this.#fillProgramArrays();
    this.#fillStructOps();
    this.#pin();
    const sections: Record<string, string> = {};
    for (const [name, ps] of Object.entries(spec.programs)) sections[name] = ps.sectionName;
    return new Collection(this.#maps, this.#programs, this.#variables(), this.#owned, sections, this.#structOps);
  }

  abort(): void {
    unregisterStructOps(this.#structOps);
    for (const p of Object.values(this.#programs)) p.close();
    for (const m of this.#owned) m.close();
    for (const path of this.#pins) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  }

  finish(): void {
    this.#btfFd?.close();
    this.#resolver.close();
  }

  #createMap(name: string, ms: MapSpec): CollectionMap {
    const replacement = this.#opts.mapReplacements?.[name];
    if (replacement !== undefined) {
      checkCompatible(ms, replacement, `replacement for map ${name}`);
      return replacement as CollectionMap;
    }
    if (ms.problem !== undefined) throw new ObjectError(ms.problem.message, this.#context({ map: name }), ms.problem.code);
    const btf = this.#spec.btf;
    const key = ms.internal !== undefined ? (u32 as Codec<BtfValue>) : codecOf(btf, ms.keyType, ms.keySize);
    const value = codecOf(btf, ms.valueType, ms.valueSize);
    const path = this.#pinPathOf(ms);
    if (path !== undefined) {
      if (existsSync(path)) {
        {
          using raw = BpfMap.openPinned(path);
          checkCompatible(ms, raw, `pinned map ${path}`);
        }
        const m = BpfMap.openPinned<BtfValue, BtfValue>(path, { ...(key ? { key } : {}), ...(value ? { value } : {}) });
        this.#owned.push(m);
        this.#reused.add(name);
        return m;
      }
    }
    const m = this.#newMap(ms, key, value);
    this.#owned.push(m);
    // A struct_ops map's value needs the programs' fds: written once they are loaded.
    if (ms.structOps === undefined) this.#writeValues(name, ms, m);
    return m;
  }

  /** The kernel's side of a struct_ops type, or NotSupportedError when this kernel lacks it. */
  #kernelStructOps(type: string, context: { map?: string; program?: string }): KernelStructOps {
    let k = this.#structOpsTypes.get(type);
    if (k === undefined) {
      k = kernelStructOps(readKernelBtf(), type, this.#context(context));
      if (k === undefined) throw new NotSupportedError(`struct_ops ${type}`, `its kernel BTF has no struct bpf_struct_ops_${type} (${Object.values(context)[0] ?? ''})`);
      this.#structOpsTypes.set(type, k);
    }
    return k;
  }

  #newStructOpsMap(ms: MapSpec): CollectionMap {
    const k = this.#kernelStructOps(ms.structOps!.type, { map: ms.name });
    if (this.#btfFd === undefined) throw new ObjectError('a struct_ops map needs the object BTF', this.#context({ map: ms.name }));
    return BpfMap.create<BtfValue, BtfValue>({
      type: MapType.STRUCT_OPS,
      keySize: 4,
      valueSize: k.valueSize,
      maxEntries: 1,
      flags: ms.flags,
      name: kernelName(ms.name),
      btf: { fd: this.#btfFd.value, keyTypeId: 0, valueTypeId: 0, vmlinuxValueTypeId: k.valueId },
    }) as CollectionMap;
  }

  #newMap(ms: MapSpec, key: Codec<BtfValue> | undefined, value: Codec<BtfValue> | undefined): CollectionMap {
    if (ms.type === MapType.UNSPEC) throw new ObjectError('map has no type', this.#context({ map: ms.name }));
    if (ms.problem !== undefined) throw new ObjectError(ms.problem.message, this.#context({ map: ms.name }), ms.problem.code);
    if (ms.structOps !== undefined) {
      try {
        return this.#newStructOpsMap(ms);
      } catch (err) {
        if (err instanceof TsbpfError && !(err instanceof ObjectError) && !(err instanceof NotSupportedError)) throw new ObjectError(err.message, { ...this.#context({ map: ms.name }), cause: err }, err.code);
        throw err;
      }
    }
    const btfFd = this.#btfFd;
    const withBtf =
      btfFd !== undefined && ms.valueType !== undefined && !NO_BTF.has(ms.type) && (ms.keyType !== undefined || ms.internal !== undefined);
    let inner: BpfMap<unknown, unknown> | undefined;
    if (ms.innerMap !== undefined) inner = this.#newMap(ms.innerMap, undefined, undefined);
    const maxEntries = adjustedMaxEntries(ms);
    const create = (btf: boolean, flags: number): CollectionMap =>
      BpfMap.create<BtfValue, BtfValue>({
        type: ms.type,
        keySize: ms.keySize,
        valueSize: ms.valueSize,
        maxEntries,
        flags,
        name: kernelName(ms.name),
        ...(inner !== undefined ? { innerMap: inner } : {}),
        ...(ms.numaNode !== undefined ? { numaNode: ms.numaNode } : {}),
        ...(ms.mapExtra !== 0n ? { mapExtra: ms.mapExtra } : {}),
        ...(btf && btfFd !== undefined ? { btf: { fd: btfFd.value, keyTypeId: ms.keyType?.id ?? 0, valueTypeId: ms.valueType!.id } } : {}),
        ...(key !== undefined ? { key } : {}),
        ...(value !== undefined ? { value } : {}),
      }) as CollectionMap;
    try {
      try {
        return create(withBtf, ms.flags);
      } catch (err) {
        if (!(err instanceof TsbpfError) || err.code !== 'EINVAL') throw err;
        // As libbpf: retry without what older kernels refuse (BTF, then mmapable data).
        if (withBtf) {
          try {
            return create(false, ms.flags);
          } catch (err2) {
            if (!(err2 instanceof TsbpfError) || err2.code !== 'EINVAL' || ms.internal === undefined) throw err2;
          }
        }
        if (ms.internal !== undefined && (ms.flags & MapFlags.MMAPABLE) !== 0) return create(false, ms.flags & ~MapFlags.MMAPABLE);
        throw err;
      }
    } catch (err) {
      if (err instanceof TsbpfError && !(err instanceof ObjectError)) {
        throw new ObjectError(err.message, { ...this.#context({ map: ms.name }), cause: err }, err.code);
      }
      throw err;
    } finally {
      inner?.close();
    }
  }

  #writeValues(name: string, ms: MapSpec, m: CollectionMap): void {
    const spec = this.#spec;
    for (const e of ms.values) {
      if (!(e.value instanceof Uint8Array)) continue;
      let data = e.value;
      if (ms.internal === 'kconfig') {
        data = kconfigData(
          spec.btf!,
          Object.values(spec.externs),
          ms.valueSize,
          {
            config: readKernelConfig(),
            kernelVersion: () => kernelVersionCode(),
            hasSyscallWrapper: () => this.#resolver.hasSyscallWrapper(),
          },
          spec.byteOrder === 'little',
        );
      } else if (ms.internal === 'bss' && data.every((b) => b === 0)) {
        continue;
      }
      if (data.length !== m.valueStride) {
        throw new ObjectError(`initial value of ${data.length} bytes for values of ${m.valueStride}`, this.#context({ map: name }), 'EINVAL');
      }
      rawUpdate(m, encodeKey(e.key, ms.keySize), data, `map ${name}`);
    }
  }

  #fillMapsOfMaps(): void {
    for (const [name, ms] of Object.entries(this.#spec.maps)) {
      if (this.#reused.has(name) || this.#opts.mapReplacements?.[name] !== undefined) continue;
      for (const e of ms.values) {
        if (e.value instanceof Uint8Array || !('map' in e.value)) continue;
        const inner = this.#maps[e.value.map];
        if (inner === undefined) throw new ObjectError(`slot ${String(e.key)} holds map ${e.value.map}, which is not in the collection`, this.#context({ map: name }), 'ENOENT');
        const v = new Uint8Array(4);
        new DataView(v.buffer).setUint32(0, inner.fd, true);
        rawUpdate(this.#maps[name]!, encodeKey(e.key, ms.keySize), v, `map ${name} slot ${String(e.key)}`);
      }
    }
  }

  #fillProgramArrays(): void {
    for (const [name, ms] of Object.entries(this.#spec.maps)) {
      if (this.#reused.has(name) || this.#opts.mapReplacements?.[name] !== undefined) continue;
      for (const e of ms.values) {
        if (e.value instanceof Uint8Array || !('program' in e.value)) continue;
        const prog = this.#programs[e.value.program];
        if (prog === undefined) continue;
        const v = new Uint8Array(4);
        new DataView(v.buffer).setUint32(0, prog.fd, true);
        rawUpdate(this.#maps[name]!, encodeKey(e.key, ms.keySize), v, `map ${name} slot ${String(e.key)}`);
      }
    }
  }

  /** Where a pinned map of the spec lives (and is reused from); undefined for the others. */
  #pinPathOf(ms: MapSpec): string | undefined {
    if (ms.pinning === 'byName') return join(this.#opts.pinPath ?? DEFAULT_PIN_PATH, ms.name);
    if (ms.pinning === 'globalNs') return join(this.#opts.globalNsPinPath ?? DEFAULT_GLOBAL_NS_PIN_PATH, ms.name);
    return undefined;
  }

  /**
   * Writes each struct_ops map's value, the programs' fds in its function pointers. For a
   * `.struct_ops` map this registers it with the kernel (the congestion control appears); a
   * `.struct_ops.link` one registers when attached.
   */
  #fillStructOps(): void {
    const btf = this.#spec.btf;
    for (const [name, ms] of Object.entries(this.#spec.maps)) {
      if (ms.structOps === undefined || this.#opts.mapReplacements?.[name] !== undefined) continue;
      const ctx = this.#context({ map: name });
      const k = this.#kernelStructOps(ms.structOps.type, { map: name });
      const value = structOpsValue(ms, btf!, readKernelBtf(), k, (program) => {
        const p = this.#programs[program];
        if (p === undefined) throw new ObjectError(`points to program ${program}, which is not in the collection`, ctx, 'ENOENT');
        return p.fd;
      }, ctx);
      const map = this.#maps[name]!;
      const link = (ms.flags & MapFlags.LINK) !== 0;
      const r = tryUpdate(map, encodeKey(0, 4), value);
      if (r < 0) {
        const what = link ? 'cannot set the value of' : 'the kernel refused to register';
        throw new ObjectError(`${what} struct_ops ${ms.structOps.type} ${name}: errno ${errnoName(-r)}${-r === 17 ? ' (one of this name is registered already)' : ''}`, ctx, errnoName(-r));
      }
      this.#structOps.push({ name, type: ms.structOps.type, map, link });
    }
  }

  #pin(): void {
    for (const [name, ms] of Object.entries(this.#spec.maps)) {
      const path = this.#pinPathOf(ms);
      if (path === undefined || this.#reused.has(name) || this.#opts.mapReplacements?.[name] !== undefined) continue;
      this.#maps[name]!.pin(path);
      this.#pins.push(path);
    }
  }

  #variables(): Record<string, Variable> {
    const out: Record<string, Variable> = {};
    for (const [name, v] of Object.entries(this.#spec.variables)) {
      const map = this.#maps[v.section];
      if (map === undefined) continue;
      out[name] = new Variable({
        name,
        map,
        offset: v.offset,
        size: v.size,
        ...(v.type !== undefined ? { type: v.type } : {}),
        constant: v.constant,
        codec: v.codec,
      });
    }
    return out;
  }

  /** Everything before BPF_PROG_LOAD: CO-RE, calls, maps, kernel symbols, BTF records, attach target. */
  prepare(name: string, ps: ProgramSpec): RelocatedProgram {
    const ctx = this.#context({ program: name });
    if (ps.problem !== undefined) throw new ObjectError(ps.problem.message, ctx, ps.problem.code);
    if (ps.type === ProgramType.UNSPEC) {
      throw new ObjectError(`section ${ps.sectionName} does not name a program type; set spec.programs.${name}.type before load (tsbpf object load: --type ${name}=TYPE)`, ctx, 'ENOTSUP');
    }
    let insns: ProgramInstruction[] = ps.instructions;
    let poisoned = new globalThis.Map<number, CoreOutcome>();
    let core: CoreOutcome[] = [];
    if (insns.some((i) => i.core !== undefined)) {
      const btf = this.#spec.btf;
      if (btf === undefined) throw new ObjectError('CO-RE relocations need the object BTF', ctx);
      const r = applyCoreRelocations(insns, btf, this.#core(), { program: name, candidateCache: this.#candidateCache });
      insns = r.instructions;
      poisoned = r.poisoned;
      core = r.outcomes;
    }
    // Only instructions with a reference change below; the rest are shared with the spec.
    insns = resolveCalls(insns.map((i) => (i.reference !== undefined ? { ...i } : i)));
    const missingKfuncs = this.#fillReferences(name, insns);
    const attach = this.#attachTarget(name, ps);
    const { funcInfo, lineInfo } = btfRecords(insns);
    return { instructions: insns, funcInfo, lineInfo, ...attach, core, poisoned, missingKfuncs };
  }

  #loadProgram(name: string, ps: ProgramSpec): Program {
    const prepared = this.prepare(name, ps);
    const { instructions: insns, funcInfo, lineInfo, poisoned, missingKfuncs } = prepared;
    const fdArray = this.#resolver.fdArray;
    try {
      return Program.load({
        type: ps.type,
        instructions: insns,
        license: ps.license,
        name,
        ...(prepared.expectedAttachType !== undefined ? { expectedAttachType: prepared.expectedAttachType } : ps.expectedAttachType !== undefined ? { expectedAttachType: ps.expectedAttachType } : {}),
        // Kernels before 5.0 refused kprobe programs whose version was not theirs.
        ...(ps.kernelVersion !== 0 ? { kernelVersion: ps.kernelVersion } : ps.type === ProgramType.KPROBE ? { kernelVersion: kernelVersionCode() } : {}),
        ...(ps.flags !== 0 ? { flags: ps.flags } : {}),
        ...(this.#btfFd !== undefined && (funcInfo.length > 0 || lineInfo.length > 0)
          ? { btf: { fd: this.#btfFd, ...(funcInfo.length > 0 ? { funcInfo } : {}), ...(lineInfo.length > 0 ? { lineInfo } : {}) } }
          : {}),
        ...(prepared.attachBtfId !== undefined ? { attachBtfId: prepared.attachBtfId } : {}),
        ...(prepared.attachBtfObjFd !== undefined ? { attachBtfObjFd: prepared.attachBtfObjFd } : {}),
        ...(prepared.attachProgFd !== undefined ? { attachProgFd: prepared.attachProgFd } : {}),
        ...(fdArray.length > 1 ? { fdArray: [...fdArray] } : {}),
        ...(this.#opts.logLevel !== undefined ? { logLevel: this.#opts.logLevel } : {}),
      });
    } catch (err) {
      if (err instanceof VerifierError) throw this.#explain(err, ps, insns, poisoned, missingKfuncs);
      if (err instanceof BpfError && err.code === 'EPERM' && needsTrampoline(ps) && isRoot()) {
        const probe = probeFentry();
        if (probe.supported === false) throw new ProgramNotSupportedError(name, ps.sectionName, `${ps.sectionName.split('/')[0]} programs`, probe.detail ?? 'no BPF trampolines');
      }
      if (err instanceof NotSupportedError && !(err instanceof ProgramNotSupportedError)) throw new ProgramNotSupportedError(name, ps.sectionName, err.feature, err.detail, { by: err.by });
      if (err instanceof BpfError) throw new ProgramLoadError(name, ps.sectionName, err);
      throw err;
    }
  }

  #explain(
    err: VerifierError,
    ps: ProgramSpec,
    insns: readonly Instruction[],
    poisoned: ReadonlyMap<number, CoreOutcome>,
    missingKfuncs: ReadonlyMap<number, string>,
  ): ProgramVerifierError {
    const failure = parseVerifierLog(err.log);
    const at = failure.failedInstruction;
    let source: SourceLocation | undefined;
    if (at !== undefined) {
      let slot = 0;
      for (const insn of insns) {
        if (slot > at) break;
        if (insn.source?.line !== undefined) source = insn.source;
        if (insn.symbol !== undefined && slot <= at && insn.source === undefined) source = undefined;
        slot += insn.opcode === BPF_LD_IMM64 ? 2 : 1;
      }
    }
    const core = at !== undefined ? poisoned.get(at) : undefined;
    let hint: string | undefined;
    if (/failed to find the address for kernel symbol/.test(err.log)) hint = this.#resolver.kallsymsHint();
    const kfunc = at !== undefined ? missingKfuncs.get(at) : undefined;
    if (kfunc !== undefined) hint = `kfunc ${kfunc} is not in this kernel, and its call at instruction ${at} is reachable (guard it with bpf_ksym_exists(${kfunc}))`;
    return new ProgramVerifierError(err, {
      ...(at !== undefined ? { instruction: at } : {}),
      ...(source !== undefined ? { source } : {}),
      ...(core !== undefined ? { core } : {}),
      ...(hint !== undefined ? { hint } : {}),
      section: ps.sectionName,
    });
  }

  /** Map fds, kernel symbols and kfuncs into the instructions' immediates. */
  #fillReferences(program: string, insns: ProgramInstruction[]): ReadonlyMap<number, string> {
    const spec = this.#spec;
    const missingKfuncs = new globalThis.Map<number, string>();
    let slot = 0;
    for (let i = 0; i < insns.length; slot += insns[i]!.opcode === BPF_LD_IMM64 ? 2 : 1, i++) {
      const insn = insns[i]!;
      const ref = insn.reference;
      if (ref === undefined) continue;
      const ctx = this.#context({ program, symbol: ref });
      if (insn.opcode === BPF_LD_IMM64 && (insn.src === BPF_PSEUDO_MAP_FD || insn.src === BPF_PSEUDO_MAP_VALUE)) {
        const m = this.#maps[ref];
        if (m === undefined) {
          if (this.#dry && spec.maps[ref] !== undefined) continue;
          throw new ObjectError(`refers to map ${ref}, which is not in the collection`, ctx, 'ENOENT');
        }
        insn.imm = m.fd;
        continue;
      }
      const ext = spec.externs[ref];
      if (insn.opcode === BPF_LD_IMM64 && (insn.src === BPF_PSEUDO_BTF_ID || (insn.src === 0 && ext !== undefined))) {
        if (ext === undefined) throw new ObjectError(`refers to kernel symbol ${ref}, which the object does not declare`, ctx, 'ENOENT');
        this.#fillKsym(insn, ext, ctx);
        continue;
      }
      if (isKfuncCall(insn) || (insn.src === BPF_PSEUDO_KFUNC_CALL && ext !== undefined)) {
        if (ext === undefined || ext.kind !== 'kfunc' || ext.typeId === undefined) throw new ObjectError(`calls ${ref}, which is not a declared kfunc`, ctx, 'ENOENT');
        const k = this.#resolver.kfunc(ref, spec.btf!, ext.typeId, ext.weak);
        if (k === undefined) {
          if (!ext.weak) throw new ObjectError(`kfunc ${ref} is not in the kernel's BTF`, ctx, 'ENOENT');
          const idx = Object.keys(spec.externs).indexOf(ref);
          insns[i] = { ...insn, src: 0, off: 0, imm: POISON_KFUNC_BASE + Math.max(idx, 0) };
          missingKfuncs.set(slot, ref);
          continue;
        }
        insn.imm = k.id;
        insn.off = k.fdIndex;
      }
    }
    return missingKfuncs;
  }

  #fillKsym(insn: ProgramInstruction, ext: ExternSpec, ctx: ObjectErrorContext): void {
    const spec = this.#spec;
    const zero = (): void => {
      insn.src = 0;
      insn.imm = 0;
      insn.imm2 = 0;
    };
    if (ext.kind === 'kfunc') {
      const k = this.#resolver.kfunc(ext.name, spec.btf!, ext.typeId!, ext.weak);
      if (k === undefined) {
        if (!ext.weak) throw new ObjectError(`kfunc ${ext.name} is not in the kernel's BTF`, ctx, 'ENOENT');
        zero();
        return;
      }
      insn.src = BPF_PSEUDO_BTF_ID;
      insn.imm = k.id;
      insn.imm2 = k.btfFd;
      return;
    }
    if (ext.kind !== 'ksym') throw new ObjectError(`a 64-bit load of ${ext.kind} extern ${ext.name}`, ctx);
    if (ext.typed !== false) {
      const k = this.#resolver.ksym(ext.name, spec.btf!, ext.typeId!, ext.weak);
      if (k === undefined) {
        if (!ext.weak) throw new ObjectError(`kernel variable ${ext.name} is not in the kernel's BTF`, ctx, 'ENOENT');
        zero();
        return;
      }
      insn.src = BPF_PSEUDO_BTF_ID;
      insn.imm = k.id;
      insn.imm2 = k.btfFd;
      return;
    }
    const addr = this.#resolver.kallsymsAddress(ext.name);
    if (addr === undefined) {
      if (ext.weak) {
        zero();
        return;
      }
      const hint = this.#resolver.kallsymsHint();
      throw new ObjectError(`kernel symbol ${ext.name} is not in /proc/kallsyms${hint !== undefined ? `: ${hint}` : ''}`, ctx, 'ENOENT');
    }
    insn.src = 0;
    insn.imm = Number(BigInt.asIntN(32, addr & 0xffffffffn));
    insn.imm2 = Number(BigInt.asIntN(32, addr >> 32n));
  }

  /** A struct_ops program attaches to the member of the kernel struct that points to it. */
  #structOpsTarget(name: string): { attachBtfId: number; expectedAttachType: number } {
    const ctx = this.#context({ program: name });
    const uses: { type: string; member: string }[] = [];
    for (const ms of Object.values(this.#spec.maps)) {
      for (const [member, program] of Object.entries(ms.structOps?.programs ?? {})) if (program === name) uses.push({ type: ms.structOps!.type, member });
    }
    const first = uses[0];
    if (first === undefined) throw new ObjectError('a struct_ops program that no .struct_ops map points to', ctx, 'ENOENT');
    if (uses.some((u) => u.type !== first.type || u.member !== first.member)) {
      throw new ObjectError(`one struct_ops program for several members (${uses.map((u) => `${u.type}.${u.member}`).join(', ')})`, ctx, 'EINVAL');
    }
    return structOpsAttach(this.#kernelStructOps(first.type, { program: name }), first.member, ctx);
  }

  #attachTarget(name: string, ps: ProgramSpec): { attachBtfId?: number; attachBtfObjFd?: number; attachProgFd?: FdLike; expectedAttachType?: number } {
    const kind = ps.attachBtf;
    if (kind === undefined) return {};
    const ctx = this.#context({ program: name });
    const override = this.#opts.programs?.[name];
    const target = override?.attachTo ?? ps.attachTo;
    if (kind === 'struct_ops') return this.#structOpsTarget(name);
    if (target === undefined || target === '') {
      throw new ObjectError(`section ${ps.sectionName} needs a target (${ps.sectionName}/<name>)`, ctx, 'EINVAL');
    }
    if (kind === 'ext') {
      const prog = override?.attachProgram;
      if (prog === undefined) throw new ObjectError('an extension program needs programs[name].attachProgram in the load options', ctx, 'EINVAL');
      return { attachProgFd: prog, attachBtfId: extensionTarget(prog, target, ctx) };
    }
    const lookup =
      kind === 'raw_tp'
        ? this.#resolver.attachTarget('TYPEDEF', prefixName('btf_trace_', target))
        : kind === 'lsm'
          ? this.#resolver.attachTarget('FUNC', prefixName('bpf_lsm_', target))
          : kind === 'iter'
            ? this.#resolver.attachTarget('FUNC', prefixName('bpf_iter_', target))
            : this.#resolver.attachTarget('FUNC', target);
    if (lookup === undefined) {
      throw new ObjectError(`attach target ${target} of section ${ps.sectionName} is not in the kernel's BTF`, ctx, 'ENOENT');
    }
    return { attachBtfId: lookup.id, ...(lookup.btfFd !== undefined ? { attachBtfObjFd: lookup.btfFd } : {}) };
  }
}


/** A struct_ops map the collection filled: registered at load, or on attach for `link` ones. */
interface StructOpsMap {
  readonly name: string;
  readonly type: string;
  readonly map: CollectionMap;
  readonly link: boolean;
}

/**
 * Unregisters the `.struct_ops` maps registered at load (deleting their one element), except
 * those pinned to outlive the process, as `bpftool struct_ops register` leaves them.
 */
function unregisterStructOps(maps: readonly StructOpsMap[]): void {
  for (const s of maps) {
    if (s.link || s.map.closed || s.map.pinnedPath !== undefined) continue;
    tryDelete(s.map, encodeKey(0, 4));
  }
}

/** Registers a `.struct_ops.link` map with BPF_LINK_CREATE; closing the link unregisters it. */
function attachStructOps(s: StructOpsMap): Link {
  const fd = linkCreate({ progFd: s.map.fd, targetFd: 0, attachType: AttachType.STRUCT_OPS }, `struct_ops ${s.type} ${s.name}`);
  return new Link({ hook: 'struct_ops', target: `${s.type} ${s.name}`, mechanism: 'bpf_link', fd });
}
