/** Numeric kind values as encoded in `btf_type.info` (`BTF_KIND_*`). */
export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

/** Kind names as the kernel and bpftool spell them; `VOID` is type id 0. */
export type BtfKind = Exclude<keyof typeof BTF_KIND, 'UNKN'> | 'VOID';

/** `BTF_INT_ENCODING`: at most one of signed, char, bool. */
export type BtfIntEncoding = 'NONE' | 'SIGNED' | 'CHAR' | 'BOOL';

/** `btf_func_linkage` for FUNC, `BTF_VAR_*` for VAR (`global` = allocated global). */
export type BtfLinkage = 'static' | 'global' | 'extern';

/** Type id 0: `void`, never stored in the type section. */
export interface BtfVoid {
  kind: 'VOID';
  id: 0;
  name: '';
}

export interface BtfInt {
  kind: 'INT';
  id: number;
  name: string;
  size: number;
  encoding: BtfIntEncoding;
  bitsOffset: number;
  nrBits: number;
}

export interface BtfPtr {
  kind: 'PTR';
  id: number;
  name: string;
  type: number;
}

export interface BtfArray {
  kind: 'ARRAY';
  id: number;
  name: string;
  /** Element type. */
  type: number;
  indexType: number;
  nelems: number;
}

export interface BtfMember {
  /** Empty for anonymous struct/union members. */
  name: string;
  type: number;
  /** Offset from the start of the containing struct/union, in bits. */
  bitOffset: number;
  /** Width of a bitfield member; 0 for a member that is not a bitfield. */
  bitfieldSize: number;
}

export interface BtfStruct {
  kind: 'STRUCT';
  id: number;
  name: string;
  size: number;
  members: BtfMember[];
}

export interface BtfUnion {
  kind: 'UNION';
  id: number;
  name: string;
  size: number;
  members: BtfMember[];
}

export interface BtfEnumValue {
  name: string;
  /** Interpreted as signed or unsigned 32-bit according to the enum's `signed`. */
  value: number;
}

export interface BtfEnum {
  kind: 'ENUM';
  id: number;
  name: string;
  size: number;
  /** kind_flag: values are signed. */
  signed: boolean;
  values: BtfEnumValue[];
}

export interface BtfEnum64Value {
  name: string;
  value: bigint;
}

export interface BtfEnum64 {
  kind: 'ENUM64';
  id: number;
  name: string;
  size: number;
  signed: boolean;
  values: BtfEnum64Value[];
}

export interface BtfFwd {
  kind: 'FWD';
  id: number;
  name: string;
  /** kind_flag: a forward declaration of a union rather than a struct. */
  fwdKind: 'struct' | 'union';
}

export interface BtfTypedef {
  kind: 'TYPEDEF';
  id: number;
  name: string;
  type: number;
}

export interface BtfVolatile {
  kind: 'VOLATILE';
  id: number;
  name: string;
  type: number;
}

export interface BtfConst {
  kind: 'CONST';
  id: number;
  name: string;
  type: number;
}

export interface BtfRestrict {
  kind: 'RESTRICT';
  id: number;
  name: string;
  type: number;
}

export interface BtfFunc {
  kind: 'FUNC';
  id: number;
  name: string;
  /** The FUNC_PROTO. */
  type: number;
  linkage: BtfLinkage;
}

export interface BtfParam {
  name: string;
  /** 0 with an empty name in the last position marks a variadic function. */
  type: number;
}

export interface BtfFuncProto {
  kind: 'FUNC_PROTO';
  id: number;
  name: string;
  returnType: number;
  params: BtfParam[];
}

export interface BtfVar {
  kind: 'VAR';
  id: number;
  name: string;
  type: number;
  linkage: BtfLinkage;
}

export interface BtfVarSecinfo {
  /** A VAR (or, in `.ksyms`, a FUNC). */
  type: number;
  offset: number;
  size: number;
}

export interface BtfDatasec {
  kind: 'DATASEC';
  id: number;
  name: string;
  size: number;
  vars: BtfVarSecinfo[];
}

export interface BtfFloat {
  kind: 'FLOAT';
  id: number;
  name: string;
  size: number;
}

export interface BtfDeclTag {
  kind: 'DECL_TAG';
  id: number;
  /** The tag value. */
  name: string;
  type: number;
  /** -1: the tag applies to `type` itself; otherwise a member or parameter index. */
  componentIdx: number;
  /** kind_flag: `name` is the text of a C `__attribute__` rather than a btf_decl_tag. */
  attribute: boolean;
}

export interface BtfTypeTag {
  kind: 'TYPE_TAG';
  id: number;
  name: string;
  type: number;
  /** kind_flag: `name` is the text of a C type `__attribute__` rather than a btf_type_tag. */
  attribute: boolean;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfStruct
  | BtfUnion
  | BtfEnum
  | BtfFwd
  | BtfTypedef
  | BtfVolatile
  | BtfConst
  | BtfRestrict
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag
  | BtfTypeTag
  | BtfEnum64;

/** The type of a given kind. */
export type BtfTypeOf<K extends BtfKind> = Extract<BtfType, { kind: K }>;

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A type description without its id, as passed to {@link Btf.add}. */
export type BtfTypeInit = WithoutId<Exclude<BtfType, BtfVoid>>;

/** Kinds that only qualify the type they point at. */
export type BtfQualifier = BtfVolatile | BtfConst | BtfRestrict | BtfTypeTag;

export type BtfComposite = BtfStruct | BtfUnion;

export function isComposite(t: BtfType): t is BtfComposite {
  return t.kind === 'STRUCT' || t.kind === 'UNION';
}

export function isQualifier(t: BtfType): t is BtfQualifier {
  return t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG';
}

export function isEnum(t: BtfType): t is BtfEnum | BtfEnum64 {
  return t.kind === 'ENUM' || t.kind === 'ENUM64';
}
