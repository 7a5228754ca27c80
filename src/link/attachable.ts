// What an attach function needs from a program, and the checks every hook makes on it.
import { getFdById } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';
import { progInfo } from '../sys/info.js';
import { Cmd, type AttachType, type ProgramType } from '../sys/types.js';
import { ProgramTypeError } from './errors.js';

/**
 * A loaded program as the attach functions see it. `Program` fits; so does any object with an
 * fd (a number or an owning FD), its type and a name for messages.
 */
export interface AttachableProgram {
  readonly fd: number | FD;
  readonly type: ProgramType;
  readonly name: string;
  /** The expected attach type it was loaded with, where the hook needs to know it. */
  readonly expectedAttachType?: AttachType;
}

/** The program's raw fd; throws ClosedError when an owning FD was closed. */
export function programFd(p: AttachableProgram): number {
  return p.fd instanceof FD ? p.fd.value : p.fd;
}

/** A name for messages: the program's own, else its kernel id. */
export function programLabel(p: AttachableProgram): string {
  if (p.name) return `program ${p.name}`;
  try {
    return `program id ${progInfo(programFd(p)).id}`;
  } catch {
    return 'program';
  }
}

/** Throws ProgramTypeError unless the program is one of the types the hook takes. */
export function requireType(hook: string, p: AttachableProgram, ...types: ProgramType[]): void {
  if (!types.includes(p.type)) throw new ProgramTypeError(hook, programLabel(p), p.type, types);
}

/** The program's kernel id. */
export function programId(p: AttachableProgram): number {
  const known = (p as { id?: unknown }).id;
  return typeof known === 'number' && known > 0 ? known : progInfo(programFd(p)).id;
}

/**
 * A reference of the attachment's own to the program, for detaching it later even when the
 * caller has closed the program by then.
 */
export function holdProgram(p: AttachableProgram): { fd: FD; id: number } {
  const id = programId(p);
  return { fd: getFdById(Cmd.PROG_GET_FD_BY_ID, id), id };
}
