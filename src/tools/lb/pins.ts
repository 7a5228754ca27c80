// Where the balancer and the decapsulator keep their state in bpffs: one directory per
// interface (its name with the characters bpffs refuses escaped), holding the maps and the XDP
// link, so each command is a process of its own and the datapath outlives it.
import { readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pinName } from '../../index.js';

export const PIN_ROOT = '/sys/fs/bpf/tsbpf/lb';
export const DECAP_ROOT = '/sys/fs/bpf/tsbpf/lb-decap';

export function pinDir(iface: string, root = PIN_ROOT): string {
  return join(root, pinName(iface));
}

export function pinExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes the interface's directory and the tool's roots when nothing is left in them. */
export function removeEmptyDirs(dir: string): void {
  for (const d of [dir, join(dir, '..'), join(dir, '..', '..')]) {
    try {
      if (pinExists(d) && readdirSync(d).length === 0) rmdirSync(d);
    } catch {
      return;
    }
  }
}
