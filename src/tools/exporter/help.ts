// The help of `tsbpf exporter`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf exporter --config.dir DIR --config.names NAME[,...] [options]
       tsbpf exporter --tools TOOL[,...] [options]

Exports kernel metrics to Prometheus, reading ebpf_exporter's configs: each <name>.yaml beside
<name>.bpf.o in DIR says which maps become which counters and histograms and how their keys
decode into labels. Every program of an object is attached by its section. Metrics are named
ebpf_exporter_<name>, with ebpf_exporter's built-in metrics beside them, so dashboards carry
over. Needs root (CAP_BPF and CAP_PERFMON; CAP_SYSLOG for ksym and kaddrs).

Options:
  --config.dir DIR             where the configs and their objects are
  --config.names A,B           the configs to load (repeatable)
  --config.check               check the configs against their objects and exit (loads nothing;
                               needs no privileges): each error names the file, the key and why
  --config.strict              refuse keys ebpf_exporter's format does not have
  --web.listen-address ADDR    where to serve (default :9435; :0 picks a free port)
  --web.telemetry-path PATH    the metrics path (default /metrics)
  --btf.path FILE              BTF to relocate against instead of /sys/kernel/btf/vmlinux
  --tools T,U                  export the metrics of tsbpf's tools: tcptrack, xdp-filter,
                               observe (Hubble's metric names), guard
  --observe.iface IF           observe these interfaces (default: every one; repeatable)
  --guard.rules FILE           guard's Falco rule files (default: its own rules)
  --series.expire TIME         hide a series whose value has not changed for TIME (30m, 1h)
  --series.max N               export at most N series per config; the rest are counted in
                               ebpf_exporter_series_refused_total
  --kube.log-dir DIR           the node's kubelet log directory, for the pod and container
                               names of the cgroup decoder's kubernetes labels (default /var/log)
  -h, --help                   this help

It prints the URL it serves on stderr once every config is loaded and attached. SIGINT and
SIGTERM detach everything and exit 0. A config that cannot be loaded stops the exporter before
it serves, with nothing left attached.

Examples:
  tsbpf exporter --config.dir examples/exporter --config.names execs,sleep_latency
  tsbpf exporter --config.dir examples/exporter --config.names execs --config.check --config.strict
  tsbpf exporter --tools tcptrack --web.listen-address 127.0.0.1:9435

See docs/exporter.md.
`;
