// sk_msg and sk_skb programs on a sockmap or sockhash: a bpf_link on Linux 6.10+, else
// BPF_PROG_ATTACH with the map as the target.
import { BpfError, InvalidArgumentError } from '../errors.js';
import { attachTypeName } from '../program/names.js';
import { linkCreate, progAttach, progDetach } from '../sys/attrs.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { holdProgram, programFd, requireType, type AttachableProgram } from './attachable.js';
import { kernelAtLeast } from './kernel.js';
import { Link } from './link.js';
import { holdMap, mapFd, mapLabel, type MapLike } from './maps.js';
import { EINVAL } from '../sys/errno.js';

export interface SockmapOptions {
  program: AttachableProgram;
  /** The SOCKMAP or SOCKHASH. */
  map: MapLike;
  /** 'link' (the default; PROG_ATTACH before 6.10) or 'attach'. */
  mechanism?: 'link' | 'attach';
}

export type SkSkbAttach = 'stream_parser' | 'stream_verdict' | 'verdict';

export interface SkSkbOptions extends SockmapOptions {
  attachType: SkSkbAttach | AttachType;
}

const SK_SKB_TYPES: Record<SkSkbAttach, AttachType> = {
  stream_parser: AttachType.SK_SKB_STREAM_PARSER,
  stream_verdict: AttachType.SK_SKB_STREAM_VERDICT,
  verdict: AttachType.SK_SKB_VERDICT,
};

function attachToMap(opts: SockmapOptions, hook: string, attachType: AttachType): Link {
  const target = `${attachTypeName(attachType)} on ${mapLabel(opts.map)}`;
  if (opts.mechanism !== 'attach') {
    try {
      const fd = linkCreate({ progFd: programFd(opts.program), targetFd: mapFd(opts.map), attachType }, `${hook} ${target}`);
      return new Link({ hook, target, mechanism: 'bpf_link', program: opts.program, fd });
    } catch (err) {
      if (!(err instanceof BpfError && err.errno === EINVAL && !kernelAtLeast(6, 10) && opts.mechanism === undefined)) throw err;
    }
  }
  const prog = holdProgram(opts.program);
  let map;
  try {
    map = holdMap(opts.map);
    progAttach({ targetFd: map.fd.value, attachBpfFd: prog.fd.value, attachType }, `${hook} ${target}`);
  } catch (err) {
    map?.fd.close();
    prog.fd.close();
    throw err;
  }
  const m = map;
  return new Link({
    hook,
    target,
    mechanism: 'prog_attach',
    program: opts.program,
    progId: prog.id,
    detach: () => progDetach({ targetFd: m.fd.value, attachBpfFd: prog.fd.value, attachType }, `${hook} ${target}`),
    holds: [prog.fd, m.fd],
    describe: () => ({ kind: 'sockmap', mapId: m.id, attachType, attachTypeName: attachTypeName(attachType) }),
  });
}

/** Attaches an SK_MSG program to a sockmap: it runs on every sendmsg of the sockets in it. */
export function attachSkMsg(opts: SockmapOptions): Link {
  requireType('sk_msg', opts.program, ProgramType.SK_MSG);
  return attachToMap(opts, 'sk_msg', AttachType.SK_MSG_VERDICT);
}

/** Attaches an SK_SKB program (stream parser, stream verdict or verdict) to a sockmap. */
export function attachSkSkb(opts: SkSkbOptions): Link {
  requireType('sk_skb', opts.program, ProgramType.SK_SKB);
  const type = typeof opts.attachType === 'string' ? SK_SKB_TYPES[opts.attachType] : opts.attachType;
  if (type === undefined || !Object.values(SK_SKB_TYPES).includes(type)) {
    throw new InvalidArgumentError(`sk_skb attach type must be stream_parser, stream_verdict or verdict, not ${String(opts.attachType)}`);
  }
  return attachToMap(opts, 'sk_skb', type);
}
