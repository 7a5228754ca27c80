// Attaching every program of a collection where its section says, as a libbpf skeleton's
// attach does: all or nothing, with the programs that cannot be attached listed and why.
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { AttachableProgram } from '../link/attachable.js';
import { MissingTargetError } from '../link/errors.js';
import type { Link } from '../link/link.js';
import { attachBySection, parseSection, type SectionPlan, type SectionTargets } from '../link/section.js';
import { parseSectionName } from '../object/sections.js';

/** A target a section cannot name: `interface`, `cgroup`, `netns`, `socket`... */
export type AttachTarget = keyof SectionTargets;

export interface CollectionAttachOptions {
  /**
   * Throw MissingTargetError, before anything is attached, when a program's hook needs a target
   * that was not given: `true` for every target, or only for the targets listed. Otherwise
   * such programs are skipped and listed in `skipped`.
   */
  strict?: boolean | readonly AttachTarget[];
}

/** A program attach() left alone, and why. */
export interface SkippedProgram {
  readonly program: string;
  readonly section: string;
  readonly reason: string;
  /** The target its hook needs and was not given; absent when its section names no attach point. */
  readonly missing?: AttachTarget;
}

/** What attach() will do with one program. */
export type AttachStep = { readonly program: string; readonly section: string; readonly skip?: undefined } | { readonly program: string; readonly section: string; readonly skip: SkippedProgram };

/** Iterators over the elements of a map, which need the map. */
const MAP_ITERATORS = new Set(['bpf_map_elem', 'bpf_sk_storage_map', 'sockmap']);

/**
 * The targets a hook cannot attach without. sk_lookup and flow_dissector programs could take
 * this process's network namespace, but they take over socket lookup or flow dissection for
 * everything in it: attaching them in bulk needs the namespace named.
 */
function neededTargets(plan: SectionPlan): AttachTarget[] {
  switch (plan.hook) {
    case 'xdp':
    case 'netkit':
      return ['interface'];
    case 'tc':
      return plan.direction === undefined ? ['interface', 'direction'] : ['interface'];
    case 'cgroup':
      return ['cgroup'];
    case 'sk_lookup':
    case 'flow_dissector':
      return ['netns'];
    case 'socket_filter':
      return ['socket'];
    case 'sk_msg':
    case 'sk_skb':
      return ['map'];
    case 'iter':
      return MAP_ITERATORS.has(plan.target) ? ['map'] : [];
    case 'perf_event':
      return ['perfEvent'];
    case 'netfilter':
      return ['netfilter'];
    default:
      return [];
  }
}

const TARGET_WORDS: Partial<Record<AttachTarget, string>> = {
  interface: 'a network interface',
  cgroup: 'a cgroup',
  netns: 'a network namespace',
  socket: 'a socket',
  map: 'a map',
  direction: 'a tc direction (ingress or egress)',
  perfEvent: 'a perf event',
  netfilter: 'a netfilter hook',
};

/** Words for a target in messages: 'a network interface'. */
export function describeTarget(target: AttachTarget): string {
  return TARGET_WORDS[target] ?? `targets.${target}`;
}

function missingSkip(program: string, section: string, missing: AttachTarget): SkippedProgram {
  return { program, section, missing, reason: `section ${section} attaches to ${describeTarget(missing)}, and targets.${missing} was not given` };
}

/** What attach() would do with each program (by name, with its section), in order, attaching nothing. */
export function planAttach(sections: Readonly<Record<string, string>>, targets: SectionTargets = {}): AttachStep[] {
  const steps: AttachStep[] = [];
  for (const [program, section] of Object.entries(sections)) {
    if (parseSectionName(section)?.attachBtf === 'struct_ops') {
      const reason = 'a struct_ops program runs through the .struct_ops map that points to it, registered at load (or, for .struct_ops.link, by its own link)';
      steps.push({ program, section, skip: { program, section, reason } });
      continue;
    }
    let plan: SectionPlan;
    try {
      plan = parseSection(section);
    } catch (err) {
      if (!(err instanceof InvalidArgumentError || err instanceof NotSupportedError)) throw err;
      steps.push({ program, section, skip: { program, section, reason: err.message } });
      continue;
    }
    const missing = neededTargets(plan).find((t) => targets[t] === undefined || targets[t] === null);
    steps.push(missing === undefined ? { program, section } : { program, section, skip: missingSkip(program, section, missing) });
  }
  return steps;
}

function isStrictAbout(strict: CollectionAttachOptions['strict'], target: AttachTarget): boolean {
  return strict === true || (Array.isArray(strict) && strict.includes(target));
}

/**
 * The links attach() made, by program name. close() (or `using`) detaches every one of them;
 * it is the only owner of the links.
 */
export class CollectionLinks implements Disposable {
  readonly links: Readonly<Record<string, Link>>;
  /** The programs not attached, in program order. */
  readonly skipped: readonly SkippedProgram[];
  #closed = false;

  constructor(links: Record<string, Link>, skipped: SkippedProgram[]) {
    this.links = links;
    this.skipped = skipped;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Detaches every link, last attached first; the first failure is thrown once all were tried. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const failure = closeAll(Object.values(this.links));
    if (failure !== undefined) throw failure.error;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function closeAll(links: Link[]): { error: unknown } | undefined {
  let failure: { error: unknown } | undefined;
  for (const link of links.reverse()) {
    try {
      link.close();
    } catch (error) {
      failure ??= { error };
    }
  }
  return failure;
}

/**
 * Attaches every program whose section names a hook, with `targets` for what sections cannot
 * name. Programs whose section names no attach point, or whose hook needs a target not given,
 * are skipped (see options.strict). If one attach fails, the links already made are closed
 * and the error is thrown.
 */
export function attachPrograms(
  programs: Readonly<Record<string, AttachableProgram>>,
  sections: Readonly<Record<string, string>>,
  targets: SectionTargets = {},
  options: CollectionAttachOptions = {},
): CollectionLinks {
  const steps = planAttach(sections, targets);
  for (const s of steps) {
    if (s.skip?.missing !== undefined && isStrictAbout(options.strict, s.skip.missing)) throw new MissingTargetError(s.section, s.skip.missing);
  }
  const links: Record<string, Link> = {};
  const made: Link[] = [];
  const skipped: SkippedProgram[] = [];
  try {
    for (const s of steps) {
      if (s.skip !== undefined) {
        skipped.push(s.skip);
        continue;
      }
      const program = programs[s.program];
      if (program === undefined) throw new InvalidArgumentError(`program ${s.program} is not in the collection`);
      let link: Link;
      try {
        link = attachBySection(program, s.section, targets);
      } catch (err) {
        // The hook asked for a target before attaching anything: a skip like those planned.
        if (!(err instanceof MissingTargetError) || isStrictAbout(options.strict, err.missing as AttachTarget)) throw err;
        skipped.push(missingSkip(s.program, s.section, err.missing as AttachTarget));
        continue;
      }
      made.push(link);
      links[s.program] = link;
    }
  } catch (err) {
    closeAll(made);
    throw err;
  }
  return new CollectionLinks(links, skipped);
}
