// What one ring record becomes: its L3/L4 flow and, where its payload starts a request or a
// response, the L7 flow of it. Kept apart from the ring so that it runs without a kernel.
//
// Under monitor aggregation the datapath makes a record for a packet that opens a payload turn
// even when the packet shows nothing new (no new TCP flag, interval not passed), only so that
// its payload reaches the L7 parsers; Cilium's "medium" makes no trace event for such a packet.
// Its L7 flow (http-request, dns-response...) stands for it; its own L3/L4 flow is shown only
// when the payload is nothing the parsers know, so that every turn still shows once.
import type { Aggregation } from './datapath.js';
import { decodeRecord, flowOf, type Flow, type FlowContext } from './flow.js';
import { L7Parser } from './l7.js';

const NONE: readonly Flow[] = [];

/** Turns the record at `data[at]` into flows, handed to `out` in order. */
export type RecordHandler = (data: Uint8Array, at: number) => void;

const INGRESS = 1;
const EGRESS = 2;

export function recordHandler(ctx: FlowContext, clockOffsetNs: bigint, out: (flow: Flow) => void, aggregation: Aggregation): RecordHandler {
  const l7 = new L7Parser();
  // A loopback packet passes the hooks twice, leaving and arriving; its payload is read once.
  // Without aggregation both make a record: the arriving one is read. Under aggregation only
  // the leaving one opens the turn, and the arriving one shows nothing new: the leaving one.
  const loopbackRead = aggregation === 'none' ? INGRESS : EGRESS;
  return (data, at) => {
    const raw = decodeRecord(data, at, clockOffsetNs);
    const flow = flowOf(raw, ctx);
    const layer7 = raw.payload.length > 0 && !(raw.direction !== loopbackRead && flow.interface?.name === 'lo') ? l7.parse(flow, raw.payload, raw.timeNs) : NONE;
    if (!raw.turnOnly || layer7.length === 0) out(flow);
    for (const f of layer7) out(f);
  };
}
