// Old names kept for one release, so that code written against 0.1 still runs while it moves to
// the new ones; each goes in the release after it was renamed.
import { BpfMap } from './map.js';

/**
 * @deprecated Renamed `BpfMap`: importing `Map` shadowed JavaScript's `Map` in every module that
 * did. This alias goes in the next release.
 */
export const Map = BpfMap;
/** @deprecated Renamed `BpfMap`; this alias goes in the next release. */
export type Map<K = Uint8Array, V = Uint8Array> = BpfMap<K, V>;
