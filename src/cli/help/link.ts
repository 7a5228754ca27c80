// The help of `tsbpf link`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf link <verb> [arguments] [options]

The bpf_links in the kernel: programs attached to hooks.

Verbs:
  list                    every link (also: show with no argument)
  show LINK               one link
  detach LINK             remove the link's program from its hook (LINK_DETACH)

LINK is an id or a pinned path: 12, id 12, /sys/fs/bpf/l, pinned /sys/fs/bpf/l.

Options:
  -j, --json     one JSON document (field names as bpftool's)
  -p, --pretty   indented JSON (implies --json)
  -h, --help     this help; \`tsbpf link <verb> --help\` for a verb
`;

export const LIST_HELP = `Usage: tsbpf link list [--json] [--pretty]

Every bpf_link in the kernel: id, type, program id, and what it is attached to.
`;

export const SHOW_HELP = `Usage: tsbpf link show [LINK] [--json] [--pretty]

One link by id (12, id 12) or pinned path (/sys/fs/bpf/l, pinned /sys/fs/bpf/l).
Without LINK: every link.
`;

export const DETACH_HELP = `Usage: tsbpf link detach LINK

Removes the link's program from its hook now. The link object stays (as do its pins and
open fds) but no longer runs anything. Links of some types cannot be detached this way.
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = { list: LIST_HELP, show: SHOW_HELP, detach: DETACH_HELP };

/** Other names of verbs, as bpftool takes them. */
export const aliases: Readonly<Record<string, string>> = { ls: 'list' };
