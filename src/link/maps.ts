// Maps as the attach functions take them: an fd, an owning FD, or an object with one.
import { getFdById } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';
import { mapInfo } from '../sys/info.js';
import { Cmd } from '../sys/types.js';

export type MapLike = number | FD | { readonly fd: number | FD; readonly name?: string };

export function mapFd(m: MapLike): number {
  if (typeof m === 'number') return m;
  if (m instanceof FD) return m.value;
  return m.fd instanceof FD ? m.fd.value : m.fd;
}

export function mapLabel(m: MapLike): string {
  const name = typeof m === 'object' && !(m instanceof FD) ? m.name : undefined;
  if (name) return `map ${name}`;
  try {
    const info = mapInfo(mapFd(m));
    return info.name ? `map ${info.name}` : `map id ${info.id}`;
  } catch {
    return 'map';
  }
}

/** A reference of the attachment's own to the map, to detach from it later. */
export function holdMap(m: MapLike): { fd: FD; id: number } {
  const id = mapInfo(mapFd(m)).id;
  return { fd: getFdById(Cmd.MAP_GET_FD_BY_ID, id), id };
}
