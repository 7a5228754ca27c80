// The live flows of this host: the datapath's ring, xdp-filter's drops and the L7 parsers,
// turned into Hubble-shaped items, unfiltered. The command line filters and prints them; the
// server keeps them for its clients.
import { RingBufReader } from '../../index.js';
import { cgroup2Root, createContext } from './context.js';
import { openDatapath, type Aggregation, type Datapath } from './datapath.js';
import type { KernelFilter } from './filter.js';
import { flowOf, monotonicOffsetNs, rfc3339Nano, type Flow, type FlowItem } from './flow.js';
import { recordHandler } from './records.js';
import { XdpFilterDrops, type XdpDrop } from './xdpdrops.js';

export interface SourceOptions {
  interfaces: readonly string[];
  filter: KernelFilter;
  snapLen: number;
  drops: boolean;
  aggregation: Aggregation;
  ringBytes?: number;
}

/** Cilium's drop reason for a packet a policy refused. */
const POLICY_DENIED = 133;

/** Hubble's words for a policy drop, with the xdp-filter rule that made it. */
function xdpDropFlow(flow: Flow, rule: string | undefined): Flow {
  const by = rule === undefined ? 'xdp-filter: not in the allow list' : `xdp-filter rule: deny ${rule}`;
  return {
    ...flow,
    drop_reason: POLICY_DENIED,
    drop_reason_desc: 'POLICY_DENIED',
    event_type: { type: 1, sub_type: POLICY_DENIED },
    traffic_direction: 'INGRESS',
    ingress_denied_by: [{ name: rule ?? 'allow list', kind: 'XdpFilter' }],
    Summary: `${flow.Summary ?? ''}; ${by}`,
  };
}

export class FlowSource {
  readonly datapath: Datapath;
  readonly nodeName: string;
  readonly #reader: RingBufReader;
  readonly #xdp: XdpFilterDrops[];
  readonly #onRecord: (data: Uint8Array, at: number) => void;
  readonly #onXdpDrop: (d: XdpDrop) => void;
  readonly #offset = monotonicOffsetNs();
  #reported = 0;
  #closed = false;

  private constructor(datapath: Datapath, xdp: XdpFilterDrops[], aggregation: Aggregation, emit: (item: FlowItem) => void) {
    this.datapath = datapath;
    this.#xdp = xdp;
    this.#reader = new RingBufReader(datapath.object.collection.maps.events!);
    const ctx = createContext(cgroup2Root(), new Map(datapath.interfaces.map((i) => [i.ifindex, i.name])));
    this.nodeName = ctx.nodeName;
    const out = (flow: Flow): void => emit({ flow, node_name: ctx.nodeName, time: flow.time });
    this.#onRecord = recordHandler(ctx, this.#offset, out, aggregation);
    // Woken by the datapath only when its ring is filling (see wake_flags in observe.bpf.c);
    // the owner's drain() timer hands out the rest within its period.
    this.#reader.startRaw(this.#onRecord);
    this.#onXdpDrop = (d) => out(xdpDropFlow(flowOf(d.raw, ctx), d.rule));
    this.#emitLost = (n) => {
      const time = rfc3339Nano(BigInt(Date.now()) * 1_000_000n);
      emit({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: String(n) }, node_name: ctx.nodeName, time });
    };
  }

  readonly #emitLost: (n: number) => void;

  /** Loads and attaches everything; `emit` gets every item as drain() and checkLost() find it. */
  static async open(o: SourceOptions, emit: (item: FlowItem) => void): Promise<FlowSource> {
    const dp = await openDatapath({ interfaces: o.interfaces, filter: o.filter, snapLen: o.snapLen, drops: o.drops, aggregation: o.aggregation, cgroupRoot: cgroup2Root(), ...(o.ringBytes !== undefined ? { ringBytes: o.ringBytes } : {}) });
    const xdp: XdpFilterDrops[] = [];
    try {
      if (o.drops) for (const i of dp.interfaces) {
        const x = XdpFilterDrops.open(i.name);
        if (x !== undefined) xdp.push(x);
      }
      return new FlowSource(dp, xdp, o.aggregation, emit);
    } catch (err) {
      for (const x of xdp) x.close();
      dp.close();
      throw err;
    }
  }

  /**
   * Hands out what the rings hold now. The datapath's ring also hands out its records by itself
   * when it fills past an eighth; drain() on a timer bounds how late the others come.
   */
  drain(): void {
    if (this.#closed) return;
    this.#reader.drainRaw(this.#onRecord);
    for (const x of this.#xdp) x.drain(this.#offset, this.#onXdpDrop);
  }

  /** Emits a lost_events item when the kernel lost records since the last call; the total. */
  checkLost(): number {
    if (this.#closed) return this.#reported;
    const lost = this.datapath.lost();
    if (lost > this.#reported) {
      this.#emitLost(lost - this.#reported);
      this.#reported = lost;
    }
    return this.#reported;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const x of this.#xdp) x.close();
    this.#reader.close();
    this.datapath.close();
  }
}
