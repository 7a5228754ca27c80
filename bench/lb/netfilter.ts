// The references: service load balancing as kube-proxy writes it, in the balancer's namespace.
// iptables mode: KUBE-SERVICES matches the service's address and port and jumps to its
// KUBE-SVC chain, which picks an endpoint with `statistic --mode random` rules (probability
// 1/n, then 1/(n-1), ..., then the last unconditionally), each KUBE-SEP chain DNATing to its
// endpoint. nftables mode: a verdict map from address . protocol . port to the service chain,
// which picks with `numgen random mod n` into endpoint chains that DNAT. Other services come
// before the measured one, as a node with N services has them (the measured one last is the
// worst case for iptables' linear KUBE-SERVICES and the same for nftables' map).
import { execFileSync } from 'node:child_process';

export interface Service {
  vip: string;
  port: number;
  proto: 'tcp' | 'udp';
  endpoints: Array<{ addr: string; port: number }>;
}

function inNs(ns: string, cmd: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

/** Services 10.201.x.y:80/tcp with one endpoint each, that no traffic of the run matches. */
export function fillerServices(n: number): Service[] {
  return Array.from({ length: n }, (_, i) => ({ vip: `10.201.${(i >> 8) & 255}.${i & 255}`, port: 80, proto: 'tcp' as const, endpoints: [{ addr: `10.202.${(i >> 8) & 255}.${i & 255}`, port: 8080 }] }));
}

export function iptablesRules(services: Service[]): string {
  const chains: string[] = [':KUBE-SERVICES - [0:0]'];
  const rules: string[] = ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'];
  services.forEach((s, i) => {
    const svc = `KUBE-SVC-${String(i).padStart(8, '0')}`;
    chains.push(`:${svc} - [0:0]`);
    rules.push(`-A KUBE-SERVICES -d ${s.vip}/32 -p ${s.proto} -m ${s.proto} --dport ${s.port} -j ${svc}`);
    s.endpoints.forEach((e, j) => {
      const sep = `KUBE-SEP-${String(i).padStart(8, '0')}${j}`;
      chains.push(`:${sep} - [0:0]`);
      const left = s.endpoints.length - j;
      rules.push(left > 1 ? `-A ${svc} -m statistic --mode random --probability ${(1 / left).toFixed(11)} -j ${sep}` : `-A ${svc} -j ${sep}`);
      rules.push(`-A ${sep} -p ${s.proto} -m ${s.proto} -j DNAT --to-destination ${e.addr}:${e.port}`);
    });
  });
  return `*nat\n${chains.join('\n')}\n${rules.join('\n')}\nCOMMIT\n`;
}

export function setupIptables(ns: string, services: Service[]): { backend: string; teardown: () => void } {
  inNs(ns, 'iptables-restore', ['--noflush'], iptablesRules(services));
  const backend = /\((\w+)\)/.exec(inNs(ns, 'iptables', ['-V']))?.[1] ?? 'unknown';
  return {
    backend,
    teardown: () => {
      inNs(ns, 'iptables', ['-t', 'nat', '-F']);
      inNs(ns, 'iptables', ['-t', 'nat', '-X']);
    },
  };
}

export function nftRules(services: Service[]): string {
  const elements: string[] = [];
  const chains: string[] = [];
  services.forEach((s, i) => {
    const svc = `service-${i}`;
    elements.push(`${s.vip} . ${s.proto} . ${s.port} : goto ${svc}`);
    const picks = s.endpoints.map((_, j) => `${j} : goto endpoint-${i}-${j}`).join(', ');
    chains.push(`  chain ${svc} {\n    numgen random mod ${s.endpoints.length} vmap { ${picks} }\n  }`);
    s.endpoints.forEach((e, j) => chains.push(`  chain endpoint-${i}-${j} {\n    meta l4proto ${s.proto} dnat to ${e.addr}:${e.port}\n  }`));
  });
  return `table ip tsbpf-kube-proxy {
  map service-ips {
    type ipv4_addr . inet_proto . inet_service : verdict
    elements = { ${elements.join(',\n      ')} }
  }
  chain services {
    ip daddr . meta l4proto . th dport vmap @service-ips
  }
  chain nat-prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump services
  }
${chains.join('\n')}
}
`;
}

export function setupNft(ns: string, services: Service[]): { teardown: () => void } {
  inNs(ns, 'nft', ['-f', '-'], nftRules(services));
  return { teardown: () => inNs(ns, 'nft', ['delete', 'table', 'ip', 'tsbpf-kube-proxy']) };
}
