// Codecs: typed values to and from the bytes of map keys and values.
export type { Codec, OffsetCodec, CodecValue } from './codec.js';
export { atOffset, isOffsetCodec } from './codec.js';
export { bytes } from './bytes.js';
export { u8, s8, u16, s16, u32, s32, u64, s64, f32, f64, u16be, u32be, u64be } from './int.js';
export { struct, array, chars } from './struct.js';
export type { FieldSpec, StructValue, StructOptions, StructField, StructCodec } from './struct.js';
export { perCpu } from './percpu.js';
