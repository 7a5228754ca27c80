// tsbpf: the everyday API, every name chosen (api/tsbpf.api.md lists them). Areas have their
// own entry points: 'tsbpf/asm' (instruction set), 'tsbpf/btf' (BTF types and codecs),
// 'tsbpf/elf' (ELF reader), 'tsbpf/link' (every attach function and link helper), 'tsbpf/gen'
// (the runtime of generated modules).

// Errors
export { BpfError, ClosedError, InvalidArgumentError, NotSupportedError, TsbpfError, VerifierError, type SourceLocation } from './errors.js';
export { BatchError, BpffsError, IterationAbortedError } from './map/errors.js';
export { LinkOperationError, MissingTargetError, ProgramTypeError, TargetNotFoundError, type TargetKind } from './link/errors.js';
export { CompileError } from './codegen/errors.js';

// Kernel enums and flags
export { AttachFlags, AttachType, LinkType, MapFlags, MapType, OpenFlags, ProgFlags, ProgramType, UpdateFlags } from './sys/types.js';
export { FD } from './sys/fd.js';
export type { BtfInfo, MapInfo, ProgInfo } from './sys/info.js';
export type { LinkInfo as KernelLinkInfo } from './sys/linkinfo.js';

// Specs: an object file read, before anything is loaded
export {
  CollectionSpec,
  ObjectError,
  ProgramLoadError,
  ProgramNotSupportedError,
  ProgramVerifierError,
  VariableSpec,
  resizeMap,
  type AttachBtfKind,
  type ExternSpec,
  type FailureContext,
  type InternalMapKind,
  type LineRef,
  type LoadProblem,
  type MapEntry,
  type MapEntryValue,
  type MapSizes,
  type MapSpec,
  type ObjectErrorContext,
  type PinType,
  type ProgramInstruction,
  type ProgramSpec,
  type ReadObjectOptions,
} from './object/index.js';

// Live objects
export {
  Collection,
  CollectionLinks,
  Variable,
  type AttachTarget,
  type CollectionAttachOptions,
  type CollectionLoadOptions,
  type CollectionMap,
  type ProgramLoadOverrides,
  type RelocatedProgram,
  type SkippedProgram,
} from './collection.js';
export { BpfMap, BatchChunk, possibleCpus, type BatchOptions, type MapBtf, type MapCreateOptions, type MapOpenOptions, type PerCpuMapType, type UpdateBatchOptions } from './map.js';
export { Map } from './deprecated.js';
export { pinName } from './map/pinname.js';
export { BPFFS_ROOT, ensureBpffs, removePin } from './map/bpffs.js';
export { errnoName } from './sys/errno.js';
export { enableStats, Program, type FdLike, type ProgramBtfOptions, type ProgramInfo, type ProgramLoadOptions, type TestRunOptions, type TestRunResult } from './program.js';
export { parseVerifierLog, type VerifierFailure } from './verifier.js';
export { compile, compileToObject, type RuntimeCompileOptions } from './compile.js';

// Codecs for keys, values and records
export {
  array,
  atOffset,
  bytes,
  chars,
  f32,
  f64,
  isOffsetCodec,
  perCpu,
  s16,
  s32,
  s64,
  s8,
  struct,
  u16,
  u16be,
  u32,
  u32be,
  u64,
  u64be,
  u8,
  type Codec,
  type CodecValue,
  type FieldSpec,
  type OffsetCodec,
  type StructCodec,
  type StructField,
  type StructOptions,
  type StructValue,
} from './codec/index.js';

// Links: the attach function of every hook (helpers and their types are in 'tsbpf/link')
export {
  Link,
  attachCgroup,
  attachFlowDissector,
  attachIter,
  attachKprobe,
  attachKprobeMulti,
  attachKsyscall,
  attachNetfilter,
  attachNetkit,
  attachPerfEvent,
  attachRawTracepoint,
  attachSkLookup,
  attachSkMsg,
  attachSkSkb,
  attachSockOps,
  attachSocketFilter,
  attachTc,
  attachTcx,
  attachTracepoint,
  attachTracing,
  attachUprobe,
  attachUsdt,
  attachXdp,
  HardwareEvent,
  interfaceName,
  resolveInterface,
  tracepointId,
  SoftwareEvent,
  readAllIter,
  readIter,
  type SectionTargets,
  type UpdateOptions,
} from './link/index.js';

// Readers and writers of event rings
export { PerfReader, type PerfLost, type PerfRawCallback, type PerfReaderOptions, type PerfRecord, type PerfRecordCallback, type PerfSample } from './perf/index.js';
export {
  MapTypeError,
  RingBufReader,
  RingBufSet,
  UserRingBufWriter,
  type MapSource,
  type RawRecordCallback,
  type RecordCallback,
  type RingBufReaderOptions,
  type RingBufSetOptions,
  type TaggedRecord,
  type TaggedRecordCallback,
  type WaitOptions,
} from './ringbuf/index.js';

// Opens and execs decided before they happen (fanotify permission events)
export {
  FanotifyError,
  PermissionWatcher,
  type PermissionDecision,
  type PermissionKind,
  type PermissionRequest,
  type PermissionStats,
  type PermissionWatcherOptions,
  type WatchKinds,
} from './fanotify.js';

// Kernel features
export {
  features,
  haveAttachType,
  haveBtf,
  haveFentry,
  haveFtrace,
  haveHelper,
  haveKprobes,
  haveMapType,
  haveProgramType,
  haveRingbuf,
  haveTcx,
  haveUprobes,
  haveXdpLink,
  probeAll,
  probeFentry,
  requireFeature,
  requireHelper,
  requireMapType,
  requireProgramType,
  supportedHelpers,
  type FeatureReport,
  type ProbeResult,
  type ReportOptions,
} from './features/index.js';
