// The help of `tsbpf lb`, apart from its implementation so that `--help` loads no library code.

const VERB_LINES: Record<string, string> = {
  load: `  load <iface> [--mode driver|generic] [--src4 ADDR] [--src6 ADDR] [--json]
                        attach the balancer (driver mode, generic where the device has none);
                        --src4/--src6: outer source of DSR packets (the interface's address)`,
  unload: `  unload [<iface>]      detach it and remove every pin (VIPs, reals, flows, counters)`,
  vip: `  vip add <vip> [--mode nat|dsr] [--hash 5tuple|3tuple] [--ring PRIME]
          [--check tcp|http:PATH] [--interval D] [--timeout D] [--rise N] [--fall N] [--check-port P]
  vip del <vip>         VIPs are ADDR:PORT/PROTO: 10.0.0.1:80/tcp, [fd00::1]:53/udp, 10.0.0.1:*/tcp`,
  real: `  real add <vip> <real> [--weight N]
  real del <vip> <real>
  real weight <vip> <real> --weight N
                        reals of a VIP and their weights (1 to 65535) in its Maglev table`,
  status: `  status [--json]       VIPs, their mode, hash, health check and reals (weight, share, up)`,
  stats: `  stats [--watch [D]] [--json]
                        packets, bytes, new connections, LRU misses and replies per VIP and real`,
  apply: `  apply <file.yaml> [--dry-run] [--json]
                        make the VIPs and reals those the file declares, changing only the difference`,
  health: `  health [--json]       run the health checks of every VIP until interrupted, logging each
                        real taken out of its table or put back`,
  decap: `  decap <iface> <vip-addr>... [--mode driver|generic]
  decap <iface> --unload
                        on a DSR real: strip the IP-in-IP header of packets to these VIPs.
                        With no VIPs it passes every packet: on veth, the peer of a balancer's
                        interface needs an XDP program to take the frames the balancer sends`,
};

export const HELP = `Usage: tsbpf lb <command> [options]

An XDP layer-4 load balancer in the model of Katran: VIPs (IPv4 or IPv6, TCP or UDP, one port
or all) spread over real servers by Maglev consistent hashing, with a connection table that
keeps each flow on its real. NAT mode rewrites the destination to the real and the replies back;
DSR mode encapsulates in IP-in-IP and the real answers the client itself (\`lb decap\` on the
real). State is pinned under /sys/fs/bpf/tsbpf/lb/<iface>/, so it keeps running between commands.

Commands:
${Object.values(VERB_LINES).join('\n')}

Every command but load, unload and decap takes --iface IF when more than one interface has a
balancer. See docs/lb.md for a lab of network namespaces. Durations: 500ms, 2s, 1m.
Exit status: 0 on success, 1 on failure, 2 on usage errors.
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(VERB_LINES).map(([verb, lines]) => [verb, `Usage: tsbpf lb ${verb} ...\n\n${lines}\n`]),
);
