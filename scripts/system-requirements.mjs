// What the kernel tests need from the system, as Debian and Ubuntu package it: the commands (or
// files) each package gives, and what for. scripts/setup-system.mjs installs what is missing.
const MULTIARCH = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'arm-linux-gnueabihf', 'i386-linux-gnu', 's390x-linux-gnu', 'powerpc64le-linux-gnu', 'riscv64-linux-gnu'];

export const REQUIREMENTS = [
  { package: 'clang-19', commands: ['clang-19'], usedFor: 'BPF C: tsbpf gen and compile, the test corpus, the vmlinux.h compile test' },
  { package: 'llvm-19', commands: ['llvm-strip-19', 'llvm-objdump-19'], usedFor: 'stripping DWARF from BPF objects, the disassembler comparison' },
  { package: 'libbpf-dev', commands: [], files: [['/usr/include/bpf/bpf_helpers.h']], usedFor: "libbpf's headers, which BPF C includes" },
  { package: 'bpftool', commands: ['bpftool'], usedFor: 'the reference loader and BTF dumper the tests compare with' },
  { package: 'iproute2', commands: ['ip', 'tc'], usedFor: 'network namespaces, veth pairs and tc qdiscs of the network tests' },
  { package: 'iputils-ping', commands: ['ping'], usedFor: 'ICMP traffic through the xdp-filter tests' },
  { package: 'nftables', commands: ['nft'], usedFor: "the tcptrack connect-timeout test's dropped SYNs" },
  { package: 'procps', commands: ['sysctl'], usedFor: 'network namespace settings' },
  { package: 'gcc', commands: ['cc'], usedFor: 'the uprobe and USDT target programs' },
  { package: 'libc6-dev', commands: [], files: [['/usr/include/stdio.h']], usedFor: 'the C headers of the uprobe and USDT target programs' },
  { package: 'systemtap-sdt-dev', commands: [], files: [['/usr/include/sys/sdt.h', ...MULTIARCH.map((m) => `/usr/include/${m}/sys/sdt.h`)]], usedFor: 'the USDT target program' },
  { package: 'python3', commands: ['python3'], usedFor: 'the HTTP servers of the observe and lb tests (python3 -m http.server)' },
  { package: 'ethtool', commands: ['ethtool'], usedFor: 'TX checksum offload off on the veth ends of the lb lab, whose addresses XDP rewrites' },
  { package: 'curl', commands: ['curl'], usedFor: "the commands of docs/lb.md's lab, which the lb-lab test runs" },
  { package: 'nginx-light', commands: ['nginx'], usedFor: 'the HTTP server of the lb benchmark and the observe L7 tests' },
  { package: 'dnsmasq-base', commands: ['dnsmasq'], usedFor: 'the DNS resolver in a namespace for the observe DNS tests' },
  { package: 'iperf3', commands: ['iperf3'], usedFor: 'TCP throughput between namespaces in the observe and lb benchmarks' },
  { package: 'wrk', commands: ['wrk'], usedFor: 'HTTP request rate and latency in the observe and lb benchmarks' },
  { package: 'iptables', commands: ['iptables'], usedFor: "kube-proxy's iptables DNAT chains in the lb benchmark" },
  { package: 'prometheus', commands: ['prometheus'], usedFor: 'the real Prometheus server that scrapes the exporter in its tests' },
  { package: 'chromium', commands: ['chromium'], usedFor: "the real browser that the observe web view's tests drive through playwright-core" },
];
