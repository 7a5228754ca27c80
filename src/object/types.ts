// The plain data a BPF object is read into: map, program, extern and variable specs.
import type { Instruction } from '../asm/instruction.js';
import type { BtfType } from '../btf/types.js';
import type { CoreRelocation } from '../core/relocate.js';
import type { AttachType, MapType, ProgramType } from '../sys/types.js';
import type { AttachBtfKind } from './sections.js';
import type { StructOpsSpec } from './structops.js';

/**
 * `byName` (libbpf's LIBBPF_PIN_BY_NAME) maps are pinned as `<pinPath>/<name>` and reused from
 * there; `globalNs` (iproute2's PIN_GLOBAL_NS) ones likewise in `<globalNsPinPath>/<name>`,
 * /sys/fs/bpf/tc/globals as tc has them.
 */
export type PinType = 'none' | 'byName' | 'globalNs';

/** What a global data or kconfig map holds. */
export type InternalMapKind = 'data' | 'rodata' | 'bss' | 'kconfig';

/** A value given before load: raw bytes, or a program or map of the collection by name. */
export type MapEntryValue = Uint8Array | { readonly program: string } | { readonly map: string };

/**
 * Why a map or program cannot be loaded as the object has it, found when the object was read.
 * Reading goes on (the rest of the object can be inspected, and loaded without it); loading it
 * fails with this message and code (an errno name, as TsbpfError.code).
 */
export interface LoadProblem {
  readonly code: string;
  readonly message: string;
}

/** One element written into a map after it is created. */
export interface MapEntry {
  /** An index (4-byte key) or the raw key bytes. */
  key: number | Uint8Array;
  value: MapEntryValue;
}

export interface MapSpec {
  /** The name in the object; kernel map names are cut to 15 characters. */
  name: string;
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** map_flags (MapFlags). */
  flags: number;
  numaNode?: number;
  pinning: PinType;
  /** map_extra: the hash count of a bloom filter, the address of an arena. */
  mapExtra: bigint;
  /** The template of the maps an ARRAY_OF_MAPS or HASH_OF_MAPS holds. */
  innerMap?: MapSpec;
  /** The key's BTF type in the object's BTF. */
  keyType?: BtfType;
  /** The value's BTF type in the object's BTF (a DATASEC for global data). */
  valueType?: BtfType;
  /** Elements written after creation: `.values` of prog arrays and maps of maps, global data. */
  values: MapEntry[];
  /** For global data and kconfig maps: the ELF section they hold and what kind it is. */
  section?: string;
  internal?: InternalMapKind;
  /** Freeze after writing `values` (read-only data), so the verifier can trust its contents. */
  freeze: boolean;
  /** Set when the definition cannot be loaded as it is; creating the map fails with it. */
  problem?: LoadProblem;
  /** For `.struct_ops` maps: the kernel struct they fill and the programs they point to. */
  structOps?: StructOpsSpec;
}

/** bpf_line_info of an instruction, with offsets into the object's BTF string section. */
export interface LineRef {
  readonly fileNameOff: number;
  readonly lineOff: number;
  /** line << 10 | column, as the kernel stores it. */
  readonly lineCol: number;
}

/**
 * An instruction of a program spec. Besides what the assembler knows (`symbol`, `reference`,
 * `source`), it carries what the object said about it: the BTF function that starts here, the
 * raw line info, and a CO-RE relocation to apply at load.
 */
export interface ProgramInstruction extends Instruction {
  /** The FUNC type (object BTF) of the function that starts at this instruction. */
  func?: number;
  line?: LineRef;
  core?: CoreRelocation;
}

export interface ProgramSpec {
  /** The function's symbol name. */
  name: string;
  /** The ELF section, e.g. `tp_btf/sched_process_exec`. */
  sectionName: string;
  type: ProgramType;
  expectedAttachType?: AttachType;
  /** The target named by the section: a function, tracepoint, `path:function`, ... */
  attachTo?: string;
  /** How attach_btf_id is found for `attachTo` (tracing, LSM, iterators, extensions). */
  attachBtf?: AttachBtfKind;
  sleepable: boolean;
  /** prog_flags (ProgFlags). */
  flags: number;
  /**
   * The program linked with every subprogram it calls (appended after it), offsets of calls and
   * function references resolved. Map, global data and kernel symbol references are filled in
   * at load (`reference` names them), as are CO-RE relocations (`core`).
   */
  instructions: ProgramInstruction[];
  license: string;
  kernelVersion: number;
  /** Set when the program cannot be loaded as it is (delete it to load the rest); load fails with it. */
  problem?: LoadProblem;
}

/** An `extern` the object needs from the kernel. */
export interface ExternSpec {
  readonly name: string;
  /**
   * `kconfig`: a `__kconfig` value (CONFIG_*, LINUX_KERNEL_VERSION, ...); `ksym`: a `__ksym`
   * variable; `kfunc`: a `__ksym` function, called or taken the address of.
   */
  readonly kind: 'kconfig' | 'ksym' | 'kfunc';
  readonly weak: boolean;
  /** The VAR or FUNC in the object's BTF. */
  readonly typeId?: number;
  /**
   * For `ksym`: declared with a type, resolved by BTF id in the kernel's BTF; false for `void`
   * ones (`extern const void sym __ksym`), resolved to an address through /proc/kallsyms.
   */
  readonly typed?: boolean;
  /** For kconfig externs: where in the `.kconfig` map the value goes. */
  readonly offset?: number;
  readonly size?: number;
}
