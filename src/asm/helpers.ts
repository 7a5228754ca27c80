import { BPF_FUNC } from './helper-table.js';

export { BPF_FUNC, BPF_FUNC_MAX_ID } from './helper-table.js';

/** A helper's name as in enum bpf_func_id, e.g. 'map_lookup_elem'. */
export type HelperName = Exclude<keyof typeof BPF_FUNC, 'unspec'>;

/** The accepted spellings: 'map_lookup_elem', 'bpf_map_lookup_elem' (as in C) or 'BPF_FUNC_map_lookup_elem'. */
export type HelperSpelling = HelperName | `bpf_${HelperName}` | `BPF_FUNC_${HelperName}`;

const NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, id] of Object.entries(BPF_FUNC)) names[id] = name;
  return names;
})();

const IDS: ReadonlyMap<string, number> = new Map(Object.entries(BPF_FUNC).filter(([, id]) => id !== 0));

/** The id of a helper by any accepted spelling, or undefined if the kernel has none such. */
export function helperId(name: string): number | undefined {
  const bare = name.startsWith('BPF_FUNC_') ? name.slice(9) : name.startsWith('bpf_') ? name.slice(4) : name;
  return IDS.get(bare);
}

/** The name of a helper id (without prefix), or undefined for an unknown id or 0 (unspec). */
export function helperName(id: number): HelperName | undefined {
  return id === 0 ? undefined : (NAMES[id] as HelperName | undefined);
}
