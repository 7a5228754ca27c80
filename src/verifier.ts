// Reading the verifier log: which instruction failed, and the lines that say why.

/** What a verifier log says about a failed load. */
export interface VerifierFailure {
  /** The lines that explain the failure: the source line if known, the instruction, the error. */
  readonly reason: string[];
  /** The index of the instruction the verifier stopped at, when the log names one. */
  readonly failedInstruction?: number | undefined;
  /** The `; ... @ file.c:12` source annotation the log gave for the failing instruction. */
  readonly source?: string;
}

// `12: (79) r1 = *(u64 *)(r1 +0)`: an instruction as the verifier walks it. State lines
// (`12: R1=ctx()`) and the indented liveness dump of log level 2 do not match.
const INSN_LINE = /^(\d+): \([0-9a-f]{2}\) /;
// Lines the verifier prints after the outcome is decided; they explain nothing.
const TRAILER = [/^processed \d+ insns/, /^verification time \d+ usec/, /^stack depth /, /^max_states_per_insn /, /^-- END/];
// Errors that name the instruction in prose rather than on an instruction line.
const INSN_IN_PROSE = /\binsn #?(\d+)\b/;
const MAX_ERROR_LINES = 12;

function isTrailer(line: string): boolean {
  return TRAILER.some((re) => re.test(line));
}

/** The log's lines without the trailing summary the verifier adds to every log. */
export function logLines(log: string): string[] {
  const lines = log.split('\n');
  let end = lines.length;
  while (end > 0) {
    const line = lines[end - 1] ?? '';
    if (line.trim() === '' || isTrailer(line)) end--;
    else break;
  }
  return lines.slice(0, end);
}

/**
 * Finds the failure in a verifier log: the last instruction the verifier reached, the error
 * lines printed after it, and the source annotation just before it.
 */
export function parseVerifierLog(log: string): VerifierFailure {
  const lines = logLines(log);
  if (lines.length === 0) return { reason: [] };

  let at = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (INSN_LINE.test(lines[i] ?? '')) {
      at = i;
      break;
    }
  }

  const errors = lines.slice(at + 1).filter((l) => l.trim() !== '');
  if (at < 0 || errors.length === 0) {
    // The verifier failed before walking instructions (CFG checks, BTF, attach target), or the
    // log ended on an instruction: the last line is the message.
    const last = lines[lines.length - 1] ?? '';
    const prose = INSN_IN_PROSE.exec(last);
    const insn = at >= 0 && errors.length === 0 ? insnIndex(last) : prose ? Number(prose[1]) : undefined;
    return { reason: [last], ...(insn !== undefined ? { failedInstruction: insn } : {}) };
  }

  const insnLine = lines[at] ?? '';
  const before = at > 0 ? (lines[at - 1] ?? '') : '';
  const source = before.startsWith('; ') ? before : undefined;
  const shown = errors.length > MAX_ERROR_LINES ? errors.slice(-MAX_ERROR_LINES) : errors;
  return {
    reason: [...(source ? [source] : []), stripState(insnLine), ...shown],
    ...(insnIndex(insnLine) !== undefined ? { failedInstruction: insnIndex(insnLine) } : {}),
    ...(source ? { source } : {}),
  };
}

function insnIndex(line: string): number | undefined {
  const m = INSN_LINE.exec(line);
  return m ? Number(m[1]) : undefined;
}

// `0: (b7) r0 = 0    ; R0=0`: the register state after `;` belongs to the walk, not the failure.
function stripState(line: string): string {
  const i = line.indexOf(' ; ');
  return i < 0 ? line : line.slice(0, i).trimEnd();
}
