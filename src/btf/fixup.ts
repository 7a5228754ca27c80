import type { Btf } from './btf.js';
import { BtfError } from './errors.js';

export interface DatasecLayout {
  /** ELF section name → section size in bytes. */
  readonly sectionSizes: ReadonlyMap<string, number>;
  /** Symbol name → offset of the symbol within its section (`st_value` in a relocatable object). */
  readonly symbolOffsets: ReadonlyMap<string, number>;
}

/**
 * Fills in what clang leaves for the loader: DATASEC sizes (emitted as 0)
 * and VAR offsets within their section (only the symbol table has them).
 * Variables are then sorted by offset, as the kernel requires. Mutates the
 * DATASEC types of `btf` in place.
 *
 * A DATASEC without an entry in `sectionSizes` is left alone if it holds
 * only extern variables and functions (`.kconfig`, `.ksyms`: the loader
 * resolves those); otherwise it is an error, as is a non-extern variable
 * without a symbol.
 */
export function fixupDatasecs(btf: Btf, layout: DatasecLayout): void {
  for (const t of btf.types()) {
    if (t.kind !== 'DATASEC') continue;
    const size = layout.sectionSizes.get(t.name);
    const isExtern = (type: number): boolean => {
      const v = btf.type(type);
      return (v.kind === 'VAR' || v.kind === 'FUNC') && v.linkage === 'extern';
    };
    if (size === undefined) {
      if (t.vars.every((s) => isExtern(s.type))) continue;
      throw new BtfError('ENOENT', `no ELF section '${t.name}' for its DATASEC`, { typeId: t.id, section: t.name });
    }
    t.size = size;
    for (const s of t.vars) {
      if (isExtern(s.type)) continue;
      const v = btf.type(s.type);
      const offset = layout.symbolOffsets.get(v.name);
      if (offset === undefined) {
        throw new BtfError('ENOENT', `no symbol for variable '${v.name}'`, { typeId: v.id, section: t.name });
      }
      if (offset + s.size > size) {
        const message = `variable '${v.name}' (offset ${offset}, size ${s.size}) exceeds the section size ${size}`;
        throw new BtfError('EBADBTF', message, {
          typeId: v.id,
          section: t.name,
        });
      }
      s.offset = offset;
    }
    t.vars.sort((a, b) => a.offset - b.offset);
  }
}
