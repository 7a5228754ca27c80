// What one ring record becomes: its L3/L4 flow and, where its payload starts a request or a
// response, the L7 flow of it. Kept apart from the ring so that it runs without a kernel.
import { decodeRecord, flowOf, type Flow, type FlowContext } from './flow.js';
import { L7Parser } from './l7.js';

/** Turns the record at `data[at]` into flows, handed to `out` in order. */
export type RecordHandler = (data: Uint8Array, at: number) => void;

export function recordHandler(ctx: FlowContext, clockOffsetNs: bigint, out: (flow: Flow) => void): RecordHandler {
  const l7 = new L7Parser();
  return (data, at) => {
    const raw = decodeRecord(data, at, clockOffsetNs);
    const flow = flowOf(raw, ctx);
    out(flow);
    // A loopback packet is seen leaving and arriving: its payload is read once, arriving.
    if (raw.payload.length > 0 && !(raw.direction === 2 && flow.interface?.name === 'lo')) for (const f of l7.parse(flow, raw.payload, raw.timeNs)) out(f);
  };
}
