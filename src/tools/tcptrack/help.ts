// The help of `tsbpf tcptrack`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf tcptrack [options]

Traces TCP connections in the kernel: outbound connects with their latency (SYN sent to
established) and outcome (established, refused, timeout, failed), and with --accept inbound
connections with the task that accepted them; --close adds the end of each connection with
its duration and the data bytes sent and received. Filters run in the kernel. At the end
(Ctrl-C, SIGTERM, -t or -n) it prints the Connection Statistics: connections per source,
destination and port. Needs root (CAP_BPF and CAP_PERFMON).

Options:
  -p, --pid PID          only this process (inbound: the process that accepts)
  -u, --uid UID|USER     only tasks running as this user
  -P, --port PORT[,...]  only these ports (up to 16; repeatable): the destination port of
                         outbound, the local port of inbound connections
  -4, --ipv4             only IPv4 (IPv4 peers of dual-stack sockets included)
  -6, --ipv6             only IPv6
      --cgroup PATH      only tasks in this cgroup v2 directory (absolute, or relative to
                         the cgroup v2 mount)
      --netns NS         only sockets of this network namespace: a name in /run/netns, a
                         path (/proc/PID/ns/net), or its inode number
      --accept           include inbound connections (accept events)
      --close            include close events (duration, bytes sent and received) of
                         outbound connections, and with --accept of inbound ones
  -c, --count            print no events, only the statistics at the end
  -t, --duration TIME    stop after TIME (10s, 500ms, 2m; a bare number is seconds)
  -n, --events COUNT     stop after COUNT events
  -o, --output FORMAT    table (default): a row per event; life: a row per closed
                         connection, as bcc's tcplife (implies --close); json: one object
                         per line, then {"stats": ...}
  -j, --json             the same as -o json
      --life             the same as -o life
  -w, --wide             tables: every column (NETNS too), addresses never shortened; without
                         it a table fits the terminal's width (columns dropped as needed)
  -d, --dns              tables: remote addresses by their DNS names (reverse lookups; a row
                         waits for its name a second at most)
      --top N            rows per statistics section (default 10)
  -v, --verbose          say on stderr which hooks are in use, and when tracing starts
  -h, --help             this help

JSON lines have the keys time, pid, tid, uid, comm, netns, family, saddr, sport, daddr, dport,
direction ("out"|"in"), event ("connect"|"accept"|"close"), state ("established"|"refused"|
"timeout"|"failed"|"closed"), latencyMs (connects; else null), and on close durationMs,
txBytes, rxBytes. Lost events are reported on stderr ("N events lost").

Examples:
  tsbpf tcptrack                          outbound connects, as a table
  tsbpf tcptrack --accept --close -j      everything, as JSON lines
  tsbpf tcptrack -p 1234 -P 80,443 -t 30s connects of pid 1234 to ports 80 and 443
  tsbpf tcptrack -c --accept -t 1m        one minute of statistics only
  tsbpf tcptrack --life --accept          a line per connection, as tcplife
  tsbpf tcptrack --netns blue -w          the namespace of \`ip netns add blue\`, all columns

See docs/tcptrack.md.
`;
