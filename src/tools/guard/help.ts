// The help of `tsbpf guard`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf guard [options]
       tsbpf guard status [--socket PATH] [--json]

Runtime security with Falco's rule language: system calls and process events from tsbpf's own
BPF programs (tracepoints only: sys_enter/sys_exit, sched_process_exec/fork/exit), the
system calls narrowed in the kernel to those the loaded rules name, evaluated against the
rules, alerts as Falco prints them. With --enforce, rules with an \`action\` stop the offending
process in the kernel. Without -r, the default rules shipped with tsbpf are loaded. Needs root.

Options:
  -r, --rules FILE        a rules file (repeatable; later files append to and override
                          earlier ones)
  -o, --output FORMAT     text (default): "TIME Priority Rule: output"; json: one Falco alert
                          object per line (time, rule, priority, output, output_fields,
                          source, tags, hostname)
  -j, --json              the same as -o json
      --priority LEVEL    only alerts of LEVEL or more severe (emergency, alert, critical,
                          error, warning, notice, informational, debug)
  -M, --duration TIME     stop after TIME (10s, 2m; a bare number is seconds)
      --enforce           apply the rules' actions: \`action: kill\` (or a signal name) stops an
                          exec of a path or a connect to an address/port in the kernel;
                          \`action: deny\` refuses an open of files or an exec of a path
                          (fanotify); a rule that cannot be enforced exactly is refused, with
                          the reason
      --dry-run           with --enforce: check and report the enforcement, enforce nothing
      --pid PID           only events of this process
      --file FILE         also append alerts to FILE
      --program CMD       also pipe alerts to CMD's stdin (run with sh -c)
      --http URL          also POST each alert's JSON to URL (retried 3 times)
  -L, --list              list the rules (name, priority, system calls) and exit
  -l, --describe RULE     describe one rule and exit
  -V, --validate FILE     check a rules file (repeatable) and exit: 0 if valid, else 1 with
                          "FILE:LINE:COL: rule 'NAME': reason"
      --list-fields       list the fields conditions and outputs can use, and exit
      --list-syscalls     print the system calls the rules need traced, and exit
      --socket PATH       answer \`tsbpf guard status\` on this unix socket (default
                          /run/tsbpf/guard.sock; '' for none)
  -v, --verbose           say on stderr what is traced and enforced, and the counts at the end
      --stats             count the BPF programs' runs and run time (BPF_ENABLE_STATS: every
                          program of the machine is timed while guard runs) and print them at
                          the end
  -h, --help              this help

\`tsbpf guard status\` asks the running guard for its counts: events, alerts, drops, alerts
per rule, what is traced and enforced (--json: one object).

Lost events are counted exactly in the kernel (per CPU) and reported as an alert
("N events dropped in the last second") at most once a second.

Examples:
  sudo tsbpf guard                          the default rules, text alerts
  sudo tsbpf guard -r my_rules.yaml -j      the default rules are replaced by mine, JSON
  tsbpf guard -V my_rules.yaml              validate a file (no root needed)
  sudo tsbpf guard -r deny.yaml --enforce   kill what the rules forbid

See docs/guard.md.
`;
