export { Btf, cloneType, type BtfInit, type BtfRawTypes } from './btf.js';
export { btfCodec, typeLabel, type BtfCodec, type BtfCodecOptions, type BtfValue } from '../btfcodec.js';
export { BtfError, type BtfErrorCode, type BtfErrorContext } from './errors.js';
export {
  CoreReloKind,
  coreReloKindName,
  parseBtfExt,
  type BtfExt,
  type CoreRelo,
  type FuncInfo,
  type LineInfo,
} from './ext.js';
export { fixupDatasecs, type DatasecLayout } from './fixup.js';
export { formatC, type FormatCOptions } from './format-c.js';
export { formatRaw, formatRawJson, formatRawType, rawTypeJson, type RawTypeJson } from './format-raw.js';
export { KERNEL_BTF_DIR, readKernelBtf, readModuleBtf } from './kernel.js';
export { marshalBtf, type MarshalOptions } from './marshal.js';
export { parseBtf, type ParseBtfOptions } from './parse.js';
export {
  BtfLayout,
  MAX_RESOLVE_DEPTH,
  alignOf,
  essentialName,
  findMember,
  parseAccessString,
  resolveType,
  sizeOf,
  skipQualifiers,
  typesByEssentialName,
  walkAccessPath,
  type AccessStep,
  type FoundMember,
  type LayoutOptions,
} from './query.js';
export { ENUM64_PLACEHOLDER, sanitizeBtf, type BtfFeatures } from './sanitize.js';
export { BtfStrings } from './strings.js';
export {
  BTF_KIND,
  isComposite,
  isEnum,
  isQualifier,
  type BtfArray,
  type BtfComposite,
  type BtfConst,
  type BtfDatasec,
  type BtfDeclTag,
  type BtfEnum,
  type BtfEnum64,
  type BtfEnum64Value,
  type BtfEnumValue,
  type BtfFloat,
  type BtfFunc,
  type BtfFuncProto,
  type BtfFwd,
  type BtfInt,
  type BtfIntEncoding,
  type BtfKind,
  type BtfLinkage,
  type BtfMember,
  type BtfParam,
  type BtfPtr,
  type BtfQualifier,
  type BtfRestrict,
  type BtfType,
  type BtfTypeInit,
  type BtfTypeOf,
  type BtfTypedef,
  type BtfTypeTag,
  type BtfUnion,
  type BtfVar,
  type BtfVarSecinfo,
  type BtfVoid,
  type BtfVolatile,
} from './types.js';
