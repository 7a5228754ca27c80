// Decoding a kernel map's keys and values through the BTF it was created with, as bpftool's
// `map dump` prints them: the map's BTF object read back by id and a codec per type.
import { parseBtf } from '../btf/parse.js';
import { btfCodec, type BtfCodec } from '../btfcodec.js';
import { getFdById } from '../sys/attrs.js';
import { btfInfo, type MapInfo } from '../sys/info.js';
import { Cmd } from '../sys/types.js';

export interface MapCodecs {
  /** Undefined when the map has no key type (then keys stay bytes). */
  key?: BtfCodec | undefined;
  value: BtfCodec;
}

/**
 * Codecs for the map's key and value types, or undefined when the map has no BTF value type or
 * its BTF cannot be read or decoded (maps created without BTF, or by tools that give none).
 */
export function mapCodecs(info: MapInfo): MapCodecs | undefined {
  if (info.btfId === 0 || info.btfValueTypeId === 0) return undefined;
  try {
    const fd = getFdById(Cmd.BTF_GET_FD_BY_ID, info.btfId);
    let data: Uint8Array | undefined;
    try {
      data = btfInfo(fd.value, true).data;
    } finally {
      fd.close();
    }
    if (data === undefined) return undefined;
    const btf = parseBtf(data, { section: `BTF of map ${info.name || info.id}` });
    const value = btfCodec(btf, info.btfValueTypeId);
    if (value.size !== info.valueSize) return undefined;
    const key = info.btfKeyTypeId === 0 ? undefined : btfCodec(btf, info.btfKeyTypeId);
    return key === undefined || key.size === info.keySize ? { key, value } : { value };
  } catch {
    return undefined;
  }
}
