// Errors of rule files: where (file, line, column, rule) and why.
import { TsbpfError } from '../../index.js';

/** A syntax error at an offset of a condition or output; the loader adds where that is. */
export class RuleSyntaxError extends Error {
  readonly pos: number;

  constructor(message: string, pos: number) {
    super(message);
    this.name = 'RuleSyntaxError';
    this.pos = pos;
  }
}

/** A rule file that cannot be loaded: "FILE:LINE:COL: rule 'NAME': why". */
export class RuleError extends TsbpfError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The rule, macro or list the error is in, as "rule 'X'", "macro 'Y'". */
  readonly item: string | undefined;
  readonly reason: string;

  constructor(file: string, line: number, column: number, item: string | undefined, reason: string) {
    super('EINVAL', `${file}:${line}:${column}: ${item !== undefined ? `${item}: ` : ''}${reason}`);
    this.name = 'RuleError';
    this.file = file;
    this.line = line;
    this.column = column;
    this.item = item;
    this.reason = reason;
  }
}
