import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { NotSupportedError } from '../src/errors.js';
import {
  features,
  haveBtf,
  haveHelper,
  haveKprobes,
  haveMapType,
  haveProgramType,
  haveRingbuf,
  haveTcx,
  haveXdpLink,
  probeAll,
  probeAttachType,
  probeFentry,
  probeHelper,
  probeKprobes,
  probeMapType,
  probeProgramType,
  requireFeature,
  requireHelper,
  requireMapType,
  supportedHelpers,
} from '../src/features/index.js';
import { AttachType, MapType, ProgramType } from '../src/sys/types.js';
import { cliArgv } from './helpers/cli.js';
import { kernelTest } from './helpers/kernel.js';

describe('feature probes on this kernel', () => {
  kernelTest('program types', () => {
    assert.equal(haveProgramType(ProgramType.XDP), true);
    assert.equal(haveProgramType(ProgramType.SOCKET_FILTER), true);
    assert.equal(haveProgramType(ProgramType.SCHED_CLS), true);
    assert.equal(haveProgramType(ProgramType.CGROUP_SOCK_ADDR), true, 'needs its expected attach type to load');
    assert.equal(haveProgramType(ProgramType.SK_LOOKUP), true);
    assert.equal(probeProgramType(ProgramType.UNSPEC).supported, false);
    assert.equal(probeProgramType(ProgramType.XDP), probeProgramType(ProgramType.XDP), 'results are cached');
  });

  kernelTest('map types, including those that need flags or BTF', () => {
    for (const type of [MapType.HASH, MapType.ARRAY, MapType.RINGBUF, MapType.LPM_TRIE, MapType.SK_STORAGE, MapType.TASK_STORAGE, MapType.HASH_OF_MAPS, MapType.QUEUE, MapType.BLOOM_FILTER, MapType.CGROUP_STORAGE, MapType.STRUCT_OPS]) {
      assert.deepEqual(probeMapType(type), { supported: true }, MapType[type]);
    }
    assert.equal(haveRingbuf(), true);
    assert.equal(haveMapType(MapType.UNSPEC), false);
    assert.doesNotThrow(() => requireMapType(MapType.HASH));
  });

  kernelTest('helpers per program type', () => {
    assert.equal(haveHelper(ProgramType.XDP, 'map_lookup_elem'), true);
    assert.equal(haveHelper(ProgramType.XDP, 'bpf_xdp_adjust_head'), true);
    assert.equal(haveHelper(ProgramType.XDP, 'skb_store_bytes'), false);
    assert.equal(haveHelper(ProgramType.SOCKET_FILTER, 'xdp_adjust_head'), false);
    assert.equal(haveHelper(ProgramType.SCHED_CLS, 'skb_store_bytes'), true);
    assert.equal(haveHelper(ProgramType.TRACEPOINT, 'get_current_pid_tgid'), true);
    assert.throws(() => probeHelper(ProgramType.XDP, 'no_such_helper'), /unknown helper/);
    assert.throws(
      () => requireHelper(ProgramType.XDP, 'skb_store_bytes'),
      (err: unknown) => err instanceof NotSupportedError && err.feature === 'helper bpf_skb_store_bytes in xdp programs',
    );
    const xdp = supportedHelpers(ProgramType.XDP);
    assert.ok(xdp.includes('map_lookup_elem') && xdp.includes('redirect_map') && !xdp.includes('skb_load_bytes'));
    assert.ok(!xdp.includes('trace_printk'), 'noisy helpers only with full');
  });

  kernelTest('attach types checked at load', () => {
    assert.equal(probeAttachType(ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT).supported, true);
    assert.equal(probeAttachType(ProgramType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS).supported, true);
    assert.equal(probeAttachType(ProgramType.XDP, AttachType.XDP).supported, undefined, 'not probed for types that do not check');
  });

  kernelTest('kernel facts: BTF, ring buffers, TCX, XDP links', () => {
    assert.equal(haveBtf(), true);
    assert.equal(haveTcx(), true);
    assert.equal(haveXdpLink(), true);
  });

  test('kprobes are reported as the kernel exposes them; their absence is a NotSupportedError', () => {
    const exposed = existsSync('/sys/bus/event_source/devices/kprobe') || existsSync('/sys/kernel/tracing/kprobe_events') || existsSync('/sys/kernel/debug/tracing/kprobe_events');
    assert.equal(haveKprobes(), exposed);
    if (!exposed) {
      assert.throws(
        () => requireFeature('kprobes', probeKprobes),
        (err: unknown) => err instanceof NotSupportedError && err.feature === 'kprobes' && /CONFIG_KPROBES/.test(err.message),
      );
    }
  });

  kernelTest('fentry: an answer with a reason when it is no', () => {
    const r = probeFentry();
    assert.equal(typeof r.supported, 'boolean');
    if (r.supported === false) {
      assert.ok(r.detail && r.detail.length > 0);
      assert.equal(features.haveFentry(), false);
      assert.equal(features.haveFtrace(), false);
      assert.throws(() => requireFeature('fentry', probeFentry), NotSupportedError);
    }
  });

  kernelTest('probeAll collects everything in the report shape', () => {
    const r = probeAll();
    assert.equal(r.programTypes.xdp, true);
    assert.equal(r.mapTypes.ringbuf, true);
    assert.ok(r.helpers.xdp?.includes('map_lookup_elem'));
    assert.equal(r.kernel.ringbuf, true);
    assert.equal(r.kernel.kprobes, haveKprobes());
    assert.ok(r.attachTypes.cgroup_sock_addr?.includes('cgroup_inet4_connect'));
    assert.equal(typeof r.system.statsEnabled, 'boolean');
    for (const [k, v] of Object.entries(r.programTypes)) {
      if (v === null) assert.ok(`programTypes.${k}` in r.notes, `undecided ${k} says why`);
    }
  });
});

describe('tsbpf feature probe without privileges', () => {
  kernelTest('says "could not be probed (needs CAP_BPF)", never "NOT available", for what failed for privilege, and hints once', () => {
    const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, ...cliArgv(['feature', 'probe'])], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const notAvailable = lines.filter((l) => l.includes('NOT available'));
    // What a user can see is missing without bpf(2): kprobes (in sysfs and tracefs), kernel BTF.
    for (const l of notAvailable) assert.match(l, /^(kprobe support|uprobe support|Kernel BTF) /, l);
    for (const fact of ['BTF loading', 'Ring buffer support', 'TCX link support', 'XDP link support', 'fentry/fexit support', 'eBPF map_type hash_of_maps', 'eBPF map_type task_storage', 'eBPF program_type xdp', 'eBPF map_type arena']) {
      assert.ok(lines.includes(`${fact} could not be probed (needs CAP_BPF)`), `${fact}: ${lines.find((l) => l.startsWith(fact))}`);
    }
    assert.equal(lines.filter((l) => /run as root/.test(l)).length, 1);
  });

  kernelTest('as root, the ARENA map type the kernel refuses to everyone is reported NOT available', (t) => {
    const r = probeMapType(MapType.ARENA);
    if (r.supported === true) return t.skip('this kernel creates ARENA maps');
    assert.equal(r.supported, false);
    assert.match(r.detail ?? '', /refused by the kernel \(EPERM\) despite full privileges/);
  });
});
