// Resolving the map a reader or writer works on, and checking that it is of the right type.
import { TsbpfError } from '../errors.js';
import { FD } from '../sys/fd.js';
import { mapInfo, type MapInfo } from '../sys/info.js';
import { MapType } from '../sys/types.js';

/** A map given as a raw fd, an owning FD, or an object holding one (a BpfMap). */
export type MapSource = number | FD | { readonly fd: number | FD; readonly closed?: boolean };

/** A map of another type than the reader or writer needs. */
export class MapTypeError extends TsbpfError {
  readonly expected: MapType;
  readonly actual: MapType;
  /** The map's name, '' when it has none. */
  readonly map: string;
  readonly mapId: number;

  constructor(info: MapInfo, expected: MapType, user: string) {
    const name = info.name === '' ? `id ${info.id}` : `"${info.name}" (id ${info.id})`;
    const actual = MapType[info.type] ?? `type ${info.type}`;
    super('EINVAL', `${user} needs a ${MapType[expected]} map, but map ${name} is a ${actual} map`);
    this.expected = expected;
    this.actual = info.type;
    this.map = info.name;
    this.mapId = info.id;
  }
}

export function rawMapFd(source: MapSource): number {
  if (typeof source === 'number') return source;
  if (source instanceof FD) return source.value;
  return rawMapFd(source.fd);
}

/**
 * Whether the map's fd is still open, as far as can be told: an FD (or a BpfMap, by `closed`)
 * knows; a raw number is taken as open.
 */
export function mapFdOpen(source: MapSource): boolean {
  if (typeof source === 'number') return true;
  if (source instanceof FD) return !source.closed;
  if (source.closed !== undefined) return !source.closed;
  return mapFdOpen(source.fd);
}

/** The fd and the kernel's description of `source`, refused unless it is of type `expected`. */
export function openMap(source: MapSource, expected: MapType, user: string): { fd: number; info: MapInfo } {
  const fd = rawMapFd(source);
  const info = mapInfo(fd);
  if (info.type !== expected) throw new MapTypeError(info, expected, user);
  return { fd, info };
}
