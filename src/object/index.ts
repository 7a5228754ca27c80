// BPF ELF objects: reading them into specs, and the specs themselves.
export { CollectionSpec, type ReadObjectOptions } from './spec.js';
export { VariableSpec } from './variable-spec.js';
export { ObjectError, ProgramLoadError, ProgramNotSupportedError, ProgramVerifierError, formatSource, type ObjectErrorContext, type FailureContext } from './errors.js';
export { parseSectionName, type AttachBtfKind } from './sections.js';
export type { ExternSpec, InternalMapKind, LineRef, LoadProblem, MapEntry, MapEntryValue, MapSpec, PinType, ProgramInstruction, ProgramSpec } from './types.js';
export { readKernelConfig, kernelVersionCode } from './kconfig.js';
export { resizeMap, type MapSizes } from './resize.js';
