// The help of `tsbpf feature`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf feature probe [kernel] [options]

Probes the running kernel for eBPF features by loading minimal programs and creating minimal
maps: program types, map types, helpers per program type, attach types, and kernel facts
(BTF, kprobes, uprobes, fentry, ring buffers, TCX, XDP links). Needs CAP_BPF (root).

Options:
  -j, --json       one JSON document:
                   { "system", "programTypes": {"xdp": true, ...}, "mapTypes", "helpers":
                     {"xdp": ["map_lookup_elem", ...]}, "attachTypes", "kernel", "notes" }
                   where null means the probe could not decide (see "notes")
  -p, --pretty     indented JSON (implies --json)
      --full       also probe helpers whose use the kernel logs (trace_printk, probe_write_user)
      --no-helpers skip the helper probes
  -h, --help       this help
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = { probe: HELP };
