// One life cycle run on every kind of bpf_link this kernel can make: pin, open the pin, update
// (or the error the kind gives), info, close, and then neither the fd nor the id is left.
import assert from 'node:assert/strict';
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { Assembler, R0 } from '../src/asm/index.js';
import { readKernelBtf } from '../src/btf/index.js';
import { ClosedError, NotSupportedError } from '../src/errors.js';
import {
  attachCgroup,
  attachIter,
  attachKprobe,
  attachNetfilter,
  attachNetkit,
  attachRawTracepoint,
  attachSkLookup,
  attachTcx,
  attachTracepoint,
  attachTracing,
  attachUprobe,
  attachXdp,
  Link,
  LinkOperationError,
  type LinkDetails,
  TargetNotFoundError,
} from '../src/link/index.js';
import { Program } from '../src/program.js';
import { AttachType, ProgramType } from '../src/sys/types.js';
import { assertErrno, cgroup2Root, kernelTest, openFds, sh, uniqueName } from './helpers/kernel.js';

interface Loaded {
  type: ProgramType;
  expectedAttachType?: AttachType;
  attachBtfId?: number;
  ret?: number;
}

function load(p: Loaded, name: string): Program {
  return Program.load({
    type: p.type,
    instructions: new Assembler()
      .mov64Imm(R0, p.ret ?? 0)
      .exit()
      .assemble(),
    license: 'GPL',
    name,
    ...(p.expectedAttachType !== undefined ? { expectedAttachType: p.expectedAttachType } : {}),
    ...(p.attachBtfId !== undefined ? { attachBtfId: p.attachBtfId } : {}),
  });
}

let kernelBtf: ReturnType<typeof readKernelBtf> | undefined;
function btfId(name: string, kind: 'FUNC' | 'TYPEDEF'): number {
  kernelBtf ??= readKernelBtf();
  return kernelBtf.typeByName(name, kind).id;
}

/** What a kind of link is made on, made and removed around each case. */
interface Target {
  name: string;
  remove(): void;
}

/** One end of a veth pair (this kernel has no dummy devices); deleting it removes both. */
function vethInterface(): Target {
  const name = uniqueName('tbconf');
  sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', uniqueName('tbconfp')]);
  return { name, remove: () => sh('ip', ['link', 'del', name], { allowFail: true }) };
}

function netkitInterface(): Target {
  const name = uniqueName('tbnk');
  sh('ip', ['link', 'add', name, 'type', 'netkit']);
  return { name, remove: () => sh('ip', ['link', 'del', name], { allowFail: true }) };
}

function cgroup(): Target {
  const root = cgroup2Root();
  if (root === undefined) throw new Error('no cgroup v2 hierarchy is mounted');
  const name = join(root, uniqueName('tsbpf-conf-', 40));
  mkdirSync(name);
  return { name, remove: () => rmdirSync(name) };
}

function netns(): Target {
  const name = uniqueName('tbconfns', 30);
  sh('ip', ['netns', 'add', name]);
  return { name, remove: () => sh('ip', ['netns', 'del', name], { allowFail: true }) };
}

const none = (): Target => ({ name: '', remove: () => {} });

interface Case {
  /** The kind, as bpftool names it. */
  name: string;
  program: () => Loaded;
  target?: () => Target;
  attach: (program: Program, target: string) => Link;
  /** The link types info() may report (tp_btf links are raw_tracepoint links). */
  typeNames: string[];
  /** Checks the kind's own fields of info().details. */
  details: (d: LinkDetails, target: string) => void;
  /**
   * True when LINK_UPDATE swaps the program; otherwise the error update() gives: the kernel
   * answers EOPNOTSUPP (LinkOperationError) or, for kinds without an update_prog at all, EINVAL.
   */
  update: true | 'LinkOperationError' | 'EINVAL';
  /** For kinds the kernel may refuse to everyone: the feature to name when it does. */
  feature?: (err: unknown) => string | undefined;
}

const show = (d: LinkDetails): string => JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
const ifindexOf = (name: string): number => Number(sh('cat', [`/sys/class/net/${name}/ifindex`]).trim());

const CASES: Case[] = [
  {
    name: 'xdp',
    program: () => ({ type: ProgramType.XDP, ret: 2 }),
    target: vethInterface,
    attach: (program, iface) => attachXdp({ program, interface: iface, mode: 'generic' }),
    typeNames: ['xdp'],
    details: (d, iface) => assert.ok(d.kind === 'xdp' && d.ifindex === ifindexOf(iface), show(d)),
    update: true,
  },
  {
    name: 'tcx',
    program: () => ({ type: ProgramType.SCHED_CLS, ret: -1 }),
    target: vethInterface,
    attach: (program, iface) => attachTcx({ program, interface: iface, direction: 'ingress' }),
    typeNames: ['tcx'],
    details: (d, iface) => assert.ok(d.kind === 'tcx' && d.ifindex === ifindexOf(iface) && d.direction === 'ingress', show(d)),
    update: true,
  },
  {
    name: 'netkit',
    program: () => ({ type: ProgramType.SCHED_CLS, ret: -1 }),
    target: netkitInterface,
    attach: (program, iface) => attachNetkit({ program, interface: iface, side: 'primary' }),
    typeNames: ['netkit'],
    details: (d, iface) => assert.ok(d.kind === 'netkit' && d.ifindex === ifindexOf(iface) && d.attachType === AttachType.NETKIT_PRIMARY, show(d)),
    update: true,
    // `ip link add type netkit` fails so on kernels built without CONFIG_NETKIT.
    feature: (err) => (err instanceof Error && /Unknown device type/.test(err.message) ? 'netkit devices (CONFIG_NETKIT)' : undefined),
  },
  {
    name: 'cgroup',
    program: () => ({ type: ProgramType.CGROUP_SKB, expectedAttachType: AttachType.CGROUP_INET_EGRESS, ret: 1 }),
    target: cgroup,
    attach: (program, path) => attachCgroup({ program, cgroup: path, attachType: AttachType.CGROUP_INET_EGRESS, mechanism: 'link' }),
    typeNames: ['cgroup'],
    details: (d) => assert.ok(d.kind === 'cgroup' && d.cgroupId > 0n && d.attachType === AttachType.CGROUP_INET_EGRESS, show(d)),
    update: true,
  },
  {
    name: 'perf_event (tracepoint)',
    program: () => ({ type: ProgramType.TRACEPOINT }),
    attach: (program) => attachTracepoint({ program, group: 'sched', name: 'sched_process_exec' }),
    typeNames: ['perf_event'],
    details: (d) => assert.ok(d.kind === 'perf_event' && d.event === 'tracepoint' && d.name?.includes('sched_process_exec'), show(d)),
    update: 'EINVAL',
  },
  {
    name: 'perf_event (uprobe)',
    program: () => ({ type: ProgramType.KPROBE }),
    attach: (program) => attachUprobe({ program, path: 'libc.so.6', symbol: 'getpid', mechanism: 'pmu' }),
    typeNames: ['perf_event'],
    details: (d) => assert.ok(d.kind === 'perf_event' && d.event === 'uprobe' && d.offset !== undefined && d.offset > 0, show(d)),
    update: 'EINVAL',
  },
  {
    name: 'raw_tracepoint',
    program: () => ({ type: ProgramType.RAW_TRACEPOINT }),
    attach: (program) => attachRawTracepoint({ program, name: 'sched_process_exec' }),
    typeNames: ['raw_tracepoint'],
    details: (d) => assert.deepEqual(d, { kind: 'raw_tracepoint', tracepoint: 'sched_process_exec', cookie: 0n }),
    update: 'EINVAL',
  },
  {
    name: 'tracing (tp_btf)',
    program: () => ({ type: ProgramType.TRACING, expectedAttachType: AttachType.TRACE_RAW_TP, attachBtfId: btfId('btf_trace_sched_process_exec', 'TYPEDEF') }),
    attach: (program) => attachTracing({ program }),
    typeNames: ['raw_tracepoint', 'tracing'],
    details: (d) => assert.ok(d.kind === 'raw_tracepoint' || d.kind === 'tracing', show(d)),
    update: 'EINVAL',
  },
  {
    name: 'tracing (fentry)',
    program: () => ({ type: ProgramType.TRACING, expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: btfId('do_sys_openat2', 'FUNC') }),
    attach: (program) => attachTracing({ program }),
    typeNames: ['tracing'],
    details: (d) => assert.ok(d.kind === 'tracing' && d.attachType === AttachType.TRACE_FENTRY, show(d)),
    update: 'EINVAL',
    // Without ftrace trampolines the kernel refuses fentry programs at load or at attach.
    feature: (err) =>
      (err instanceof NotSupportedError && err.feature.startsWith('fentry')) || (err instanceof Error && 'code' in err && ['EPERM', 'ENOTSUPP', 'EOPNOTSUPP', 'ESRCH'].includes(String(err.code)))
        ? 'fentry (ftrace trampolines)'
        : undefined,
  },
  {
    name: 'perf_event (kprobe)',
    program: () => ({ type: ProgramType.KPROBE }),
    attach: (program) => attachKprobe({ program, symbol: 'do_sys_openat2' }),
    typeNames: ['perf_event'],
    details: (d) => assert.ok(d.kind === 'perf_event' && d.event === 'kprobe', show(d)),
    update: 'EINVAL',
    feature: (err) => (err instanceof NotSupportedError && err.feature === 'kprobes' ? 'kprobes' : undefined),
  },
  {
    name: 'netfilter',
    program: () => ({ type: ProgramType.NETFILTER, expectedAttachType: AttachType.NETFILTER, ret: 1 }),
    attach: (program) => attachNetfilter({ program, pf: 'ipv4', hooknum: 'output', priority: 1000 + (process.pid % 10000) }),
    typeNames: ['netfilter'],
    details: (d) => assert.ok(d.kind === 'netfilter' && d.pf === 2 && d.hooknum === 3 && d.priority === 1000 + (process.pid % 10000), show(d)),
    update: 'LinkOperationError',
  },
  {
    name: 'netns (sk_lookup)',
    program: () => ({ type: ProgramType.SK_LOOKUP, expectedAttachType: AttachType.SK_LOOKUP, ret: 1 }),
    target: netns,
    attach: (program, ns) => attachSkLookup({ program, netns: ns }),
    typeNames: ['netns'],
    details: (d) => assert.ok(d.kind === 'netns' && d.netnsIno > 0 && d.attachType === AttachType.SK_LOOKUP, show(d)),
    update: true,
  },
  {
    name: 'iter (task)',
    program: () => ({ type: ProgramType.TRACING, expectedAttachType: AttachType.TRACE_ITER, attachBtfId: btfId('bpf_iter_task', 'FUNC') }),
    attach: (program) => attachIter({ program }),
    typeNames: ['iter'],
    details: (d) => assert.ok(d.kind === 'iter' && d.target === 'task', show(d)),
    update: true,
  },
];

/** Polls, for the kernel frees a link's id once its last reference goes, not always at close(2). */
async function gone(id: number): Promise<boolean> {
  for (let i = 0; i < 150; i++) {
    try {
      Link.fromId(id).close();
    } catch (err) {
      if (err instanceof TargetNotFoundError) return true;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('link conformance', () => {
  for (const c of CASES) {
    kernelTest(c.name, async (t) => {
      const fdsBefore = openFds();
      let target: Target;
      let first: Program;
      let second: Program;
      let link: Link;
      const made: Array<{ close(): void }> = [];
      try {
        target = (c.target ?? none)();
        made.push({ close: () => target.remove() });
        const spec = c.program();
        first = load(spec, 'conf_a');
        made.push(first);
        second = load(spec, 'conf_b');
        made.push(second);
        link = c.attach(first, target.name);
      } catch (err) {
        for (const m of made.reverse()) m.close();
        const feature = c.feature?.(err);
        if (feature !== undefined) return t.skip(`this kernel refuses ${feature} to everyone`);
        throw err;
      }
      const pin = join('/sys/fs/bpf', uniqueName('tsbpf_conf_', 60));
      try {
        assert.ok(link.fd, `${c.name} is a bpf_link`);
        const info = link.info();
        const id = link.id;
        assert.ok(id > 0);
        assert.equal(info.id, id);
        assert.ok(c.typeNames.includes(info.typeName), `type ${info.typeName}`);
        assert.equal(info.progId, first.info().id);
        c.details(info.details, target.name);

        link.pin(pin);
        const opened = Link.openPinned(pin);
        try {
          assert.equal(opened.id, id);
          assert.equal(opened.pinnedPath, pin);
          assert.equal(opened.info().progId, first.info().id);
        } finally {
          opened.close();
        }

        if (c.update === true) {
          link.update(second);
          assert.equal(link.info().progId, second.info().id, 'the link runs the new program');
          link.update(first, { expected: second });
          assert.equal(link.info().progId, first.info().id);
        } else if (c.update === 'LinkOperationError') {
          assert.throws(() => link.update(second), LinkOperationError);
          assert.equal(link.info().progId, first.info().id, 'a refused update leaves the program');
        } else {
          assertErrno(() => link.update(second), c.update);
          assert.equal(link.info().progId, first.info().id, 'a refused update leaves the program');
        }

        link.close();
        assert.throws(() => link.info(), ClosedError);
        // The pin holds the link after close; removing it lets the kernel free it.
        const reopened = Link.openPinned(pin);
        assert.equal(reopened.id, id, 'the pin keeps the link');
        reopened.close();
        rmSync(pin);
        assert.ok(await gone(id), `link ${id} is gone`);
      } finally {
        link.close();
        rmSync(pin, { force: true });
        for (const m of made.reverse()) m.close();
      }
      assert.equal(openFds(), fdsBefore, 'no fd is left open');
    });
  }
});
