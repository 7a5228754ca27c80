// The help of `tsbpf xdp-filter`, apart from its implementation so that `--help` loads no
// library code.

const VERB_LINES: Record<string, string> = {
  load: `  load <iface> [--mode native|generic] [--policy deny|allow] [--no-ssh-guard] [--json]
                        attach the filter (deny: drop what matches; allow: drop what doesn't).
                        Native mode by default, generic where the device has no native XDP.
                        The allow list always admits the peer of the current SSH session`,
  unload: `  unload <iface>... | --all [--keep-rules] [--forget]
                        detach it and remove its pins (--keep-rules keeps the rules and their
                        policy for the next load; --forget also drops rules kept earlier)`,
  block: `  block <ip|cidr>... [-f FILE] [--dst] [--iface IF] [--force]
                        add address rules (source by default); all or none are added.
                        FILE: one address or prefix per line, optionally followed by dst`,
  unblock: `  unblock <ip|cidr>... [-f FILE] [--dst] [--iface IF] [--force]
                        remove them; a rule that is not there is an error`,
  port: `  port <port>... [--proto tcp|udp] [--src] [--remove] [--iface IF] [--force]
                        add (or remove) destination port rules (source ports with --src;
                        both protocols unless --proto names one)`,
  ether: `  ether <mac>... [--dst] [--remove] [--iface IF] [--force]
                        add (or remove) MAC address rules (source by default); they match
                        every frame of that station, ARP included`,
  list: `  list [--iface IF] [--json]                rules with their hit counts`,
  stats: `  stats [--watch [DURATION]] [--iface IF] [--json]
                        packets and bytes per verdict: total, passed, dropped, invalid;
                        --watch (every 1s by default, at least 100ms) adds rates in pps and bit/s`,
  status: `  status [--iface IF] [--json]
                        interfaces (attached, removed, kept rules, run sessions), mode,
                        policy, program, stats and rules of each`,
  run: `  run <iface> [--mode M] [--policy P] [--pin] [--interval DURATION] [--no-ssh-guard]
                        interactive prompt (block, unblock, port, ether, list, stats, help, quit);
                        prints stats every 5s (--interval, at least 100ms) and at exit;
                        detaches at exit unless --pin`,
};

export const HELP = `Usage: tsbpf xdp-filter <command> [options]

Drops packets in XDP by source or destination address (IPv4/IPv6, CIDR prefixes), MAC address
and TCP/UDP port, with a deny-list or allow-list policy. The filter's state is pinned under
/sys/fs/bpf/tsbpf/xdp-filter/<iface>/, so it keeps running after each command exits.

Commands:
${Object.values(VERB_LINES).join('\n')}

Rule commands act on every loaded interface unless --iface names one. Under the deny policy,
rules that would drop every packet or this SSH session are refused unless --force is given.
Commands are matched by unique prefix (\`li\` is list, \`statu\` status). Durations: 500ms, 2s, 1m, 1h.
Exit status: 0 on success, 1 on failure, 2 on usage errors.
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(VERB_LINES).map(([verb, lines]) => [verb, `Usage: tsbpf xdp-filter ${verb} ...\n\n${lines}\n`]),
);
