// Loading an object's BTF into the kernel, with what older kernels lack rewritten.
import type { Btf } from '../btf/btf.js';
import { marshalBtf } from '../btf/marshal.js';
import type { BtfFeatures } from '../btf/sanitize.js';
import { BpfError } from '../errors.js';
import { btfLoadRaw } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';
import { EACCES, EPERM } from '../sys/errno.js';

const LOG_SIZE = 1 << 20;

/**
 * Steps from "the kernel has everything" to "the kernel has BTF and little else", tried in order
 * until the kernel accepts the blob: kinds added in later kernels are rewritten into ones it has.
 */
const FALLBACKS: readonly BtfFeatures[] = [
  {},
  { enum64: false, typeTag: false, declTag: false },
  { enum64: false, typeTag: false, declTag: false, float: false },
  { enum64: false, typeTag: false, declTag: false, float: false, funcGlobal: false },
  { enum64: false, typeTag: false, declTag: false, float: false, funcGlobal: false, datasec: false },
];

/** Loads the object's BTF; the returned FD is the caller's. Throws a BpfError with the kernel's log. */
export function loadObjectBtf(btf: Btf, name: string): FD {
  let first: { errno: number; log: string } | undefined;
  for (const features of FALLBACKS) {
    const blob = marshalBtf(btf, Object.keys(features).length > 0 ? { features } : {});
    const r = btfLoadRaw({ btf: blob });
    if (r.result >= 0) return new FD(r.result, `BTF of ${name}`);
    const errno = -r.result;
    if (first === undefined) {
      const logBuf = new Uint8Array(LOG_SIZE);
      btfLoadRaw({ btf: blob, logBuf, logLevel: 1 });
      const end = logBuf.indexOf(0);
      first = { errno, log: new TextDecoder().decode(logBuf.subarray(0, end < 0 ? logBuf.length : end)).trim() };
    }
    if (errno === EPERM || errno === EACCES) break;
  }
  const log = first?.log ?? '';
  const lastLines = log.split('\n').slice(-3).join('; ');
  throw new BpfError('BPF_BTF_LOAD', first?.errno ?? 22, `BTF of ${name}${lastLines ? `: ${lastLines}` : ''}`);
}
