// The contents of a collection's maps, decoded through BTF, for a dump at the end of a run.
import type { BtfValue } from '../btfcodec.js';
import { isKeyless } from '../map/kinds.js';
import type { CollectionMap } from './mapcreate.js';
import { MapType } from '../sys/types.js';

export interface MapElement {
  readonly key: BtfValue;
  readonly value: BtfValue;
}

export interface MapContents {
  /** Elements by map name, for every map whose elements can be walked. */
  readonly maps: Record<string, MapElement[]>;
  /** Maps whose walk failed, with the reason (event buffers and keyless maps are left out silently). */
  readonly unreadable: Record<string, string>;
}

/** Maps read by other means than walking their keys. */
const EVENT_BUFFERS = new Set<MapType>([MapType.RINGBUF, MapType.USER_RINGBUF, MapType.PERF_EVENT_ARRAY]);

/** Whether a map's elements can be listed by walking its keys. */
export function isWalkable(type: MapType): boolean {
  return !EVENT_BUFFERS.has(type) && !isKeyless(type);
}

/**
 * Every element of every walkable map, decoded by the maps' codecs (BTF where the object has
 * it). A map whose walk fails (local storage, values user space cannot read) is listed in
 * `unreadable` instead of failing the whole read.
 */
export function readMapContents(maps: Readonly<Record<string, CollectionMap>>): MapContents {
  const out: Record<string, MapElement[]> = {};
  const unreadable: Record<string, string> = {};
  for (const [name, map] of Object.entries(maps)) {
    if (!isWalkable(map.type)) continue;
    const elements: MapElement[] = [];
    try {
      for (const [key, value] of map.entries()) elements.push({ key, value });
    } catch (err) {
      unreadable[name] = err instanceof Error ? err.message : String(err);
      continue;
    }
    out[name] = elements;
  }
  return { maps: out, unreadable };
}
