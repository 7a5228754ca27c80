// The help of `tsbpf observe`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf observe [options]

Observes network flows on this host, as \`hubble observe\` does on Cilium, with no Cilium: every
packet at TCX (or tc) ingress and egress of the interfaces asked for, with its addresses, ports,
TCP flags or ICMP type, direction, whether it is a reply (from a connection table in the
kernel) and the local process at either end where a socket tells it; packets the kernel drops
(skb:kfree_skb) as DROPPED with the kernel's drop reason; DNS and HTTP/1.x requests and
responses, paired, from the first bytes of their payload. Needs root.

Flows:
  -f, --follow              follow the live flows until Ctrl-C
      --first N             stop after N flows
      --last N              the last N flows of --input-file; live, the first N (default 20
                            without --follow, --first or --until)
      --since TIME          flows from TIME on (RFC 3339, or a duration ago: 5m, 1h)
      --until TIME          flows until TIME; live, stop then
      --input-file FILE|-   replay flows written by -o json (JSON lines) instead of observing

Filters (a flag repeated ORs its values; different flags AND; --not negates the next flag):
      --ip CIDR             either end's address in CIDR (an address is a /32 or /128)
      --from-ip CIDR        the source address     --to-ip CIDR     the destination address
      --port PORT           either end's port      --from-port, --to-port
      --protocol PROTO      tcp, udp, icmp, icmpv4, icmpv6, http, dns
      --verdict VERDICT     FORWARDED or DROPPED
      --drop-reason-desc R  the kernel's drop reason (NETFILTER_DROP, NO_SOCKET, ...)
      --tcp-flags FLAGS     flags all set: SYN, SYN,ACK, FIN, RST, PSH, URG, ECE, CWR
      --http-method M       --http-status CODE (200, 5+, 40+)   --http-path REGEX
      --dns-query REGEX     the DNS query name
  -4, --ipv4 / -6, --ipv6   one address family
  -t, --type TYPE           trace, drop or l7
      --pod [NS/]POD        --namespace NS  (from kubepods cgroups)
      --pid PID             a local process at either end
      --interface NAME      where the packet was seen
      --reply               replies only (with --not: requests only)
      --not                 negate the next filter flag

Server:
  tsbpf observe serve [options]   keep the datapath and the last flows; serve them (see --help)
  tsbpf observe status            what a server holds (Hubble's ServerStatus)
      --server ADDR             read flows from a server (unix:PATH or HOST:PORT) instead of
                                attaching here; filters run in the server

Output:
  -o, --output FORMAT       compact (default), dict, table, json, jsonpb (json: one Hubble
                            GetFlowsResponse object per line; jsonpb is the same)
  -j, --json                the same as -o json

Datapath:
  -i, --iface NAME          observe this interface (repeatable; default: every interface)
      --netns NAME          observe in a network namespace (a name in /run/netns, or a path)
      --snap-len BYTES      payload bytes copied per packet for DNS/HTTP (0-512; default 256)
      --ring-size KIB       the ring buffer's size in KiB, a power of two (default 4096)
      --no-drops            do not trace drops (skb:kfree_skb)
      --monitor-aggregation LEVEL
                            medium (default, as Cilium's): per connection, only packets with
                            a TCP flag not seen before from their side, the first of each
                            payload turn (each request, each response) and one every 5 s;
                            none: every packet
  -h, --help                this help

Lost records (the ring was full) are counted in the kernel and printed at most once a second:
"EVENTS LOST: N" in compact, {"lost_events": {...}} in JSON.

Examples:
  tsbpf observe -f                                  every flow on every interface
  tsbpf observe -f -i eth0 --protocol http          HTTP requests and responses on eth0
  tsbpf observe -f --verdict DROPPED -o json        drops, as JSON lines
  tsbpf observe -f --ip 10.0.0.0/8 --not --port 22  10/8 but not SSH
  tsbpf observe --input-file flows.json --last 50 --protocol dns

See docs/observe.md.
`;

export const SERVE_HELP = `Usage: tsbpf observe serve [options]

Keeps the datapath attached and the last flows in memory, and serves them over Hubble's
Observer gRPC API (GetFlows with number/first/follow/whitelist/blacklist/since/until,
ServerStatus, GetNodes), so that \`tsbpf observe --server ADDR\` and Hubble's own clients share
one datapath. Runs until Ctrl-C or SIGTERM.

Options:
  -l, --listen ADDR       unix:PATH, /PATH or HOST:PORT (repeatable; default unix:/run/tsbpf/observe.sock;
                          port 0 picks a free one)
      --buffer-size N     flows kept (default 4095)
  -i, --iface NAME        observe this interface (repeatable; default: every interface)
      --netns NAME        observe in a network namespace
      --snap-len BYTES    payload bytes per packet for DNS/HTTP (0-512; default 256)
      --ring-size KIB     the kernel ring's size in KiB (default 4096)
      --no-drops          do not trace drops
      --monitor-aggregation LEVEL   medium (default) or none, as for tsbpf observe
      --export-file FILE  also write every flow to FILE as JSON lines (as -o json prints them)
      --export-max-size-mb N        rotate FILE to FILE.1, FILE.2, ... past N MiB (default 10)
      --export-max-backups N        rotated files kept (default 5)
      --ui ADDR           serve a live web page of the flows on HOST:PORT (or PORT on 127.0.0.1):
                          the flow table with the same filters, a service map, drop reasons
  -h, --help              this help
`;

export const STATUS_HELP = `Usage: tsbpf observe status [--server ADDR] [--json]

Asks a running \`tsbpf observe serve\` (default unix:/run/tsbpf/observe.sock) for its status:
flows held, the buffer's size, flows seen and uptime.
`;
