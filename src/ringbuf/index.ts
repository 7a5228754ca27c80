// Ring buffers: reading BPF_MAP_TYPE_RINGBUF and writing BPF_MAP_TYPE_USER_RINGBUF in place.
export { RingBufReader, type RingBufReaderOptions, type RecordCallback, type RawRecordCallback } from './reader.js';
export { RingBufSet, type RingBufSetOptions, type TaggedRecord, type TaggedRecordCallback } from './set.js';
export { UserRingBufWriter, type WaitOptions } from './user.js';
export { MapTypeError, type MapSource } from './map-source.js';
