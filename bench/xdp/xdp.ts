// The XDP side of the drop benchmark: the project's xdp-filter program, denying one source.
import { join } from 'node:path';
import { loadFilter } from '../../src/tools/xdp-filter/lifecycle.js';
import { addressRule } from '../../src/tools/xdp-filter/rules.js';

export type XdpBenchMode = 'native' | 'generic';

/** A filter in place on the interface under test. */
export interface DropFilter {
  /** Packets the filter has dropped since it was set up. */
  dropped(): Promise<number>;
  teardown(): Promise<void>;
}

const BPFFS = '/sys/fs/bpf';

/** Where setupXdp pins the program and maps of process `pid` for `iface`, so a parent can clean up. */
export function xdpPinDir(pid: number, iface: string): string {
  return join(BPFFS, `tsbpf-bench-xdp-${pid}-${iface}`);
}

/**
 * Loads the xdp-filter program with tsbpf's loader (the same path as `tsbpf xdp-filter load`),
 * blocks `blockedSrc`/32 (deny policy: a match is dropped) and attaches it to `iface` in this
 * process's network namespace, in driver (native) or generic (skb) mode. `objectFile` is
 * accepted for the harness's signature; the tool's committed object is what runs.
 */
export async function setupXdp(iface: string, mode: XdpBenchMode, blockedSrc: string, _objectFile: string): Promise<DropFilter> {
  const f = loadFilter(iface, { mode, policy: 'deny', initialRules: [addressRule(`${blockedSrc}/32`, 'src')] });
  return {
    dropped: async () => f.maps.stats().dropped,
    teardown: async () => {
      f.maps.close();
      f.link.close();
      f.collection.close();
    },
  };
}
