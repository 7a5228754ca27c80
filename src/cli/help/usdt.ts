// The help of `tsbpf usdt`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf usdt list (FILE | --pid PID) [--json] [--pretty]

The USDT probes (<sys/sdt.h> DTRACE_PROBE sites) of an executable or library, or of every file
a running process maps. FILE is a path, or a library or program name to look up ('libc.so.6',
'python3'). Each probe is listed once with its number of sites, its semaphore (the file offset
of the counter its code checks; '-' for none) and the arguments of its first site.

A program attaches to every site of a probe with SEC("usdt/FILE:PROVIDER:NAME"), or with
attachUsdt() in the library.

Options:
      --pid PID  the files mapped by this process
  -j, --json     one JSON document
  -p, --pretty   indented JSON (implies --json)
  -h, --help     this help
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = { list: HELP };

/** Other names of verbs. */
export const aliases: Readonly<Record<string, string>> = { ls: 'list' };
