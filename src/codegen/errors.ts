// Errors of code generation and of compiling BPF C.
import { TsbpfError } from '../errors.js';

/**
 * Generation failed. Codes: `ENOENT` (a named type, tool or file does not exist), `EINVAL`
 * (the object or a type cannot be represented), `ECOMPILE` (clang rejected the source).
 */
export class GenError extends TsbpfError {
  constructor(message: string, code = 'EINVAL', options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** clang rejected the source; `diagnostics` is its output, with file:line locations. */
export class CompileError extends GenError {
  readonly diagnostics: string;
  constructor(source: string, diagnostics: string) {
    const text = diagnostics.trimEnd();
    super(`${source}: compilation failed${text ? `\n${text}` : ''}`, 'ECOMPILE');
    this.diagnostics = text;
  }
}
