// tsbpf/link: attaching programs to hooks (one module per hook, each returning a Link) and the
// helpers that find targets. Internals (attr encoders, section planning) stay unexported.
export { Link, type UpdateOptions } from './link.js';
export type { AttachableProgram } from './attachable.js';
export { LinkOperationError, MissingTargetError, ProgramTypeError, TargetNotFoundError, type TargetKind } from './errors.js';
export { bpfLinkInfo, describeDetails, linkTypeName, type LinkDetails, type LinkInfo, type LinkMechanism, type PerfEventKind } from './info.js';
export { interfaceName, resolveInterface, xdpState, type Interface, type InterfaceRef, type XdpAttachMode, type XdpState } from './interfaces.js';
export { attachXdp, type XdpMode, type XdpOptions } from './xdp.js';
export { attachNetkit, attachTcx, type NetkitOptions, type NetkitSide, type TcDirection, type TcxAnchor, type TcxOptions, type TcxRelative } from './tcx.js';
export { attachTc, type TcOptions } from './tc.js';
export { attachTracepoint, type TracepointOptions } from './tracepoint.js';
export { tracepointId } from './tracefs.js';
export { attachRawTracepoint, type RawTracepointOptions } from './rawTracepoint.js';
export { attachTracing, type TracingOptions } from './tracing.js';
export {
  attachKprobe,
  attachKprobeMulti,
  attachKsyscall,
  matchKernelFunctions,
  syscallSymbol,
  type KprobeMultiOptions,
  type KprobeOptions,
  type KsyscallOptions,
} from './kprobe.js';
export { attachUprobe, type UprobeOptions } from './uprobe.js';
export { attachUsdt, usdtSites, type UsdtOptions, type UsdtSite } from './usdt.js';
export { resolveBinary, resolveLibrary, symbolOffset } from './binaries.js';
export { attachCgroup, attachSockOps, type CgroupAttachMode, type CgroupOptions, type SockOpsOptions } from './cgroup.js';
export { attachFlowDissector, attachSkLookup, type NetnsOptions } from './skLookup.js';
export { attachSocketFilter, type SocketFilterOptions } from './socketFilter.js';
export { attachSkMsg, attachSkSkb, type SkSkbAttach, type SkSkbOptions, type SockmapOptions } from './sockmap.js';
export { attachNetfilter, type NetfilterFamily, type NetfilterHook, type NetfilterOptions } from './netfilter.js';
export { attachPerfEvent, HardwareEvent, SoftwareEvent, type PerfEventOptions, type PerfEventType } from './perfEvent.js';
export { attachIter, readAllIter, readIter, type CgroupIterOrder, type IterOptions } from './iter.js';
export type { SectionTargets } from './section.js';
export type { MapLike } from './maps.js';
