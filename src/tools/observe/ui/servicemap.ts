// Who talks to whom, from the flows a page is shown: nodes are pods, processes or addresses,
// edges go from the end that opened the connection to the one that answered, with the
// protocols seen on them, counts, and drops; and drop reasons by count. Bounded: past the caps
// the edges seen least recently go (and the nodes left without one), counted as evicted.
import type { Flow } from '../flow.js';
import { protocolOf } from './row.js';

export const MAX_NODES = 80;
export const MAX_EDGES = 160;
/** Protocol names kept per edge; flows of others still count on the edge. */
const MAX_PROTOCOLS = 8;
const MAX_REASONS = 64;
/** Processes remembered by address and port, to name the end of a packet no socket told. */
const MAX_SOCKETS = 2048;

export interface MapNode {
  id: string;
  kind: 'pod' | 'process' | 'address';
  label: string;
  /** The address, or the pod's namespace. */
  detail: string;
}

export interface MapEdge {
  from: string;
  to: string;
  /** "tcp/80", "http", "icmpv4" ... with their flow counts, most first. */
  protocols: Array<{ name: string; count: number }>;
  flows: number;
  drops: number;
}

export interface MapSnapshot {
  nodes: MapNode[];
  edges: MapEdge[];
  dropReasons: Array<{ reason: string; count: number }>;
  flows: number;
  drops: number;
  /** Edges forgotten to stay within the caps. */
  evicted: number;
}

interface Edge {
  from: MapNode;
  to: MapNode;
  protocols: Map<string, number>;
  flows: number;
  drops: number;
}

function ports(flow: Flow): [number | undefined, number | undefined] {
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP;
  return l4 === undefined ? [undefined, undefined] : [l4.source_port, l4.destination_port];
}

export class ServiceMap {
  /** Insertion order is recency: an edge seen again moves to the end. */
  readonly #edges = new Map<string, Edge>();
  readonly #reasons = new Map<string, number>();
  readonly #sockets = new Map<string, string>();
  /** Edges at each node: a node goes with its last edge. */
  readonly #degree = new Map<string, number>();
  #flows = 0;
  #drops = 0;
  #evicted = 0;
  /** Bumped on every change, so a writer can tell whether there is anything new to send. */
  version = 0;

  #remember(address: string, port: number | undefined, comm: string): void {
    const key = `${address} ${port ?? ''}`;
    this.#sockets.delete(key);
    this.#sockets.set(key, comm);
    if (this.#sockets.size > MAX_SOCKETS) this.#sockets.delete(this.#sockets.keys().next().value!);
  }

  #node(flow: Flow, side: 'source' | 'destination', port: number | undefined): MapNode {
    const e = flow[side];
    const address = side === 'source' ? flow.IP.source : flow.IP.destination;
    if (e?.pod_name !== undefined) return { id: `pod:${e.namespace ?? ''}/${e.pod_name}`, kind: 'pod', label: e.pod_name, detail: e.namespace ?? '' };
    let comm = e?.pid !== undefined && e.pid !== 0 ? e.comm : undefined;
    if (comm !== undefined) this.#remember(address, port, comm);
    else comm = this.#sockets.get(`${address} ${port ?? ''}`);
    if (comm !== undefined) return { id: `process:${comm}@${address}`, kind: 'process', label: comm, detail: address };
    return { id: `address:${address}`, kind: 'address', label: address, detail: '' };
  }

  add(flow: Flow): void {
    const [sport, dport] = ports(flow);
    const source = this.#node(flow, 'source', sport);
    const destination = this.#node(flow, 'destination', dport);
    // A reply goes from the server back: the edge points from the client, as for the request.
    const reply = flow.is_reply === true;
    const [from, to] = reply ? [destination, source] : [source, destination];
    const serverPort = reply ? sport : dport;
    const protocol = protocolOf(flow);
    const name = (protocol === 'tcp' || protocol === 'udp') && serverPort !== undefined ? `${protocol}/${serverPort}` : protocol || 'ip';
    const key = `${from.id}\n${to.id}`;
    let edge = this.#edges.get(key);
    if (edge === undefined) {
      edge = { from, to, protocols: new Map(), flows: 0, drops: 0 };
      this.#link(from.id, 1);
      this.#link(to.id, 1);
    } else this.#edges.delete(key);
    this.#edges.set(key, edge);
    edge.from = from;
    edge.to = to;
    edge.flows++;
    if (edge.protocols.has(name) || edge.protocols.size < MAX_PROTOCOLS) edge.protocols.set(name, (edge.protocols.get(name) ?? 0) + 1);
    this.#flows++;
    if (flow.verdict === 'DROPPED') {
      edge.drops++;
      this.#drops++;
      const reason = flow.drop_reason_desc ?? 'UNKNOWN';
      if (this.#reasons.has(reason) || this.#reasons.size < MAX_REASONS) this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
    }
    this.#evict();
    this.version++;
  }

  #link(node: string, by: 1 | -1): void {
    const n = (this.#degree.get(node) ?? 0) + by;
    if (n === 0) this.#degree.delete(node);
    else this.#degree.set(node, n);
  }

  #evict(): void {
    while (this.#edges.size > MAX_EDGES || this.#degree.size > MAX_NODES) {
      const [key, edge] = this.#edges.entries().next().value!;
      this.#edges.delete(key);
      this.#link(edge.from.id, -1);
      this.#link(edge.to.id, -1);
      this.#evicted++;
    }
  }

  snapshot(): MapSnapshot {
    const nodes = new Map<string, MapNode>();
    const edges: MapEdge[] = [];
    for (const e of this.#edges.values()) {
      nodes.set(e.from.id, e.from);
      nodes.set(e.to.id, e.to);
      const protocols = [...e.protocols].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
      edges.push({ from: e.from.id, to: e.to.id, protocols, flows: e.flows, drops: e.drops });
    }
    const dropReasons = [...this.#reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
    return { nodes: [...nodes.values()], edges, dropReasons, flows: this.#flows, drops: this.#drops, evicted: this.#evicted };
  }
}
