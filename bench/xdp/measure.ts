// One measurement, run as a process inside the receiver's network namespace (so the XDP loader,
// iptables and nft all act on the interface under test as a local one): set the filter up, flood
// from the sender namespace for a fixed time, read how many packets the filter dropped.
//
// Traffic is either skbs (AF_PACKET: what a local application or a bridge hands a veth) or
// XDP-redirected frames (what reaches a NIC driver's XDP hook: no skb until the stack needs one);
// see sender.c.
//
//   nsenter --net=/run/netns/<rx> node measure.js '<MeasureRequest as JSON>'
import { fileURLToPath } from 'node:url';
import { sh, shIn } from './exec.js';
import { setupIptables, setupNftIngress } from './netfilter.js';
import { BLOCKED_SRC, RECEIVER_ADDR, type Topology } from './topology.js';
import { setupXdp, type DropFilter } from './xdp.js';

export type CaseId = 'xdp-native' | 'xdp-generic' | 'iptables-legacy' | 'iptables-nft' | 'nft-ingress';
export type Traffic = 'skb' | 'frames';

export interface MeasureRequest {
  caseId: CaseId;
  traffic: Traffic;
  topology: Topology;
  senderPath: string;
  groPath: string;
  objectFile: string;
  seconds: number;
  threads: number;
  batch: number;
}

/** What sender.c prints: /proc/stat "cpu" field deltas (USER_HZ ticks) over its sending window. */
export interface SenderReport {
  mode: 'packet' | 'xdp';
  sent: number;
  failedCalls: number;
  threads: number;
  batch: number;
  frameLen: number;
  ns: number;
  netRx: number;
  userHz: number;
  /** user nice system idle iowait irq softirq steal guest guest_nice */
  cpu: number[];
  /** CPU time of the ksoftirqd threads, in USER_HZ ticks. */
  ksoftirqd: number;
  utimeNs: number;
  stimeNs: number;
}

export interface Measurement {
  caseId: CaseId;
  traffic: Traffic;
  dropped: number;
  sender: SenderReport;
}

// Frames still in a veth ring or a backlog when the sender stops are handled within
// microseconds; this is a wide margin before reading the counters.
const SETTLE_MS = 100;

function setupFilter(req: MeasureRequest): Promise<DropFilter> {
  const { rxIf } = req.topology;
  switch (req.caseId) {
    case 'xdp-native':
      return setupXdp(rxIf, 'native', BLOCKED_SRC, req.objectFile);
    case 'xdp-generic':
      return setupXdp(rxIf, 'generic', BLOCKED_SRC, req.objectFile);
    case 'iptables-legacy':
      return setupIptables('legacy', BLOCKED_SRC);
    case 'iptables-nft':
      return setupIptables('nft', BLOCKED_SRC);
    case 'nft-ingress':
      return setupNftIngress(rxIf, BLOCKED_SRC);
  }
}

export async function measure(req: MeasureRequest, onFilter: (f: DropFilter | undefined) => void = () => {}): Promise<Measurement> {
  const { txNs, txIf, rxIf, rxMac } = req.topology;
  // The same receive path for every case of a traffic kind: NAPI and GRO on for frames.
  if (req.traffic === 'frames') await sh(req.groPath, [rxIf]);
  const filter = await setupFilter(req);
  onFilter(filter);
  try {
    const before = await filter.dropped();
    const out = await shIn(txNs, req.senderPath, [
      '-i', txIf, '-d', rxMac, '-s', BLOCKED_SRC, '-D', RECEIVER_ADDR, '-m', req.traffic === 'frames' ? 'xdp' : 'packet',
      '-t', String(req.seconds), '-n', String(req.threads), '-b', String(req.batch),
    ]);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const after = await filter.dropped();
    return { caseId: req.caseId, traffic: req.traffic, dropped: after - before, sender: JSON.parse(out.trim()) as SenderReport };
  } finally {
    onFilter(undefined);
    await filter.teardown();
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg) {
    process.stderr.write('usage: measure.js <MeasureRequest as JSON>\n');
    process.exit(2);
  }
  let current: DropFilter | undefined;
  const stop = (signal: NodeJS.Signals): void => {
    const f = current;
    current = undefined;
    void (f ? f.teardown() : Promise.resolve()).catch(() => {}).finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const result = await measure(JSON.parse(arg) as MeasureRequest, (f) => (current = f));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
