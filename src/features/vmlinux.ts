// Finding a few named types in the kernel's BTF, as the probes need (fentry targets, LSM hooks).
// A full walk of the type section that decodes only the names it is asked for.
import { readFileSync } from 'node:fs';

const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';
const BTF_MAGIC = 0xeb9f;

/** BTF kinds the probes look up (include/uapi/linux/btf.h). */
export const BtfKind = { STRUCT: 4, TYPEDEF: 8, FUNC: 12 } as const;

// Bytes that follow struct btf_type for each kind, fixed and per vlen entry.
const FIXED: Record<number, number> = { 1: 4, 3: 12, 14: 4, 17: 4 };
const PER_VLEN: Record<number, number> = { 4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12 };

let blob: Uint8Array | null | undefined;
const found = new Map<string, number | undefined>();

function vmlinux(): Uint8Array | null {
  if (blob === undefined) {
    try {
      blob = new Uint8Array(readFileSync(VMLINUX_BTF));
    } catch {
      blob = null;
    }
  }
  return blob;
}

/** True when the kernel exposes its own BTF. */
export function haveVmlinuxBtf(): boolean {
  return vmlinux() !== null;
}

/**
 * The ids of the named types of the given kinds in vmlinux BTF (undefined where absent, or when
 * the kernel has no BTF). Results are cached.
 */
export function vmlinuxTypeIds(wanted: ReadonlyArray<{ name: string; kind: number }>): Array<number | undefined> {
  const key = (w: { name: string; kind: number }): string => `${w.kind}:${w.name}`;
  const missing = wanted.filter((w) => !found.has(key(w)));
  if (missing.length > 0) scan(missing, key);
  return wanted.map((w) => found.get(key(w)));
}

export function vmlinuxTypeId(name: string, kind: number): number | undefined {
  return vmlinuxTypeIds([{ name, kind }])[0];
}

function scan(wanted: ReadonlyArray<{ name: string; kind: number }>, key: (w: { name: string; kind: number }) => string): void {
  for (const w of wanted) found.set(key(w), undefined);
  const b = vmlinux();
  if (b === null || b.byteLength < 24) return;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint16(0, true) !== BTF_MAGIC) return;
  const hdrLen = v.getUint32(4, true);
  const typeStart = hdrLen + v.getUint32(8, true);
  const typeEnd = typeStart + v.getUint32(12, true);
  const strStart = hdrLen + v.getUint32(16, true);
  const enc = new TextEncoder();
  const targets = wanted.map((w) => ({ bytes: enc.encode(w.name), kind: w.kind, key: key(w) }));
  let left = targets.length;

  let off = typeStart;
  for (let id = 1; off + 12 <= typeEnd && left > 0; id++) {
    const nameOff = v.getUint32(off, true);
    const info = v.getUint32(off + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    for (const t of targets) {
      if (t.kind === kind && found.get(t.key) === undefined && nameAt(b, strStart + nameOff, t.bytes)) {
        found.set(t.key, id);
        left--;
      }
    }
    off += 12 + (FIXED[kind] ?? 0) + vlen * (PER_VLEN[kind] ?? 0);
  }
}

function nameAt(b: Uint8Array, at: number, name: Uint8Array): boolean {
  if (at + name.length >= b.length || b[at + name.length] !== 0) return false;
  for (let i = 0; i < name.length; i++) if (b[at + i] !== name[i]) return false;
  return true;
}
