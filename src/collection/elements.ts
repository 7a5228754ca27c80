// Element writes and reads that bypass a map's codecs: initial values go in as the raw bytes the
// object holds, whatever codec the map got from BTF.
import type { BpfMap } from '../map.js';
import { mapElemRaw } from '../sys/attrs.js';
import { Cmd } from '../sys/types.js';
import { ObjectError } from '../object/errors.js';

/** The raw value at key 0 (global data maps have one element). */
export function rawLookup(map: BpfMap<unknown, unknown>): Uint8Array {
  const key = encodeKey(0, map.keySize);
  const value = new Uint8Array(Math.max(map.valueStride, 1));
  const r = mapElemRaw(Cmd.MAP_LOOKUP_ELEM, map.fd, key, value);
  if (r < 0) throw new ObjectError(`cannot read ${map.name}: errno ${-r}`, { map: map.name }, 'EIO');
  return value;
}

export function rawUpdate(map: BpfMap<unknown, unknown>, key: Uint8Array, value: Uint8Array, what = `map ${map.name}`): void {
  const r = mapElemRaw(Cmd.MAP_UPDATE_ELEM, map.fd, key, value);
  if (r < 0) throw new ObjectError(`cannot write the initial value of ${what} (errno ${-r})`, { map: map.name }, 'EIO');
}

/** A key as raw bytes: an index becomes a little-endian integer of the key's size. */
export function encodeKey(key: number | Uint8Array, size: number): Uint8Array {
  if (key instanceof Uint8Array) return key;
  const out = new Uint8Array(size);
  let v = key;
  for (let i = 0; i < size && i < 8; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Writes one element; 0 or -errno, for callers that explain failures themselves. */
export function tryUpdate(map: BpfMap<unknown, unknown>, key: Uint8Array, value: Uint8Array): number {
  return mapElemRaw(Cmd.MAP_UPDATE_ELEM, map.fd, key, value);
}

/** Deletes one element; 0 or -errno. */
export function tryDelete(map: BpfMap<unknown, unknown>, key: Uint8Array): number {
  return mapElemRaw(Cmd.MAP_DELETE_ELEM, map.fd, key);
}
