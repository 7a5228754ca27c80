// The references: the same drop by source address as a netfilter rule in this process's network
// namespace, read back through the rule's own packet counter.
import { sh } from './exec.js';
import type { DropFilter } from './xdp.js';

export type IptablesBackend = 'legacy' | 'nft';

/** `iptables-<backend> -t raw -A PREROUTING -s <blockedSrc> -j DROP`. */
export async function setupIptables(backend: IptablesBackend, blockedSrc: string): Promise<DropFilter> {
  const cmd = `iptables-${backend}`;
  const rule = ['PREROUTING', '-s', `${blockedSrc}/32`, '-j', 'DROP'];
  await sh(cmd, ['-w', '-t', 'raw', '-A', ...rule]);
  return {
    async dropped() {
      const out = await sh(cmd, ['-w', '-t', 'raw', '-n', '-v', '-x', '-L', 'PREROUTING']);
      const line = out.split('\n').find((l) => /\sDROP\s/.test(l) && l.includes(` ${blockedSrc} `));
      const packets = line?.trim().split(/\s+/)[0];
      if (packets === undefined || !/^\d+$/.test(packets)) throw new Error(`${cmd}: no DROP rule for ${blockedSrc} in raw PREROUTING:\n${out}`);
      return Number(packets);
    },
    async teardown() {
      await sh(cmd, ['-w', '-t', 'raw', '-D', ...rule]);
    },
  };
}

/** A netdev table whose ingress chain on `iface` holds `ip saddr <blockedSrc> counter drop`. */
export async function setupNftIngress(iface: string, blockedSrc: string): Promise<DropFilter> {
  const table = 'tsbpf_bench';
  await sh('nft', ['-f', '-'], [
    `table netdev ${table} {`,
    '  chain ingress {',
    `    type filter hook ingress device "${iface}" priority 0; policy accept;`,
    `    ip saddr ${blockedSrc} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n'));
  return {
    async dropped() {
      const out = await sh('nft', ['list', 'chain', 'netdev', table, 'ingress']);
      const m = /counter packets (\d+) bytes/.exec(out);
      if (!m) throw new Error(`nft: no counter in netdev ${table} ingress:\n${out}`);
      return Number(m[1]);
    },
    async teardown() {
      await sh('nft', ['delete', 'table', 'netdev', table]);
    },
  };
}
