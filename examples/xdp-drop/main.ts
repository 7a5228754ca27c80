// Drops UDP datagrams to one port on an interface and prints what passed and what was dropped.
//   sudo npx tsx examples/xdp-drop/main.ts <interface> [--port 53] [--seconds N]
import { parseArgs } from 'node:util';
import { loadXdpDrop, type Counters } from './xdp_drop.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { port: { type: 'string' }, seconds: { type: 'string' } } });
const ifname = positionals[0];
if (ifname === undefined) {
  process.stderr.write('usage: main.ts <interface> [--port 53] [--seconds N]\n');
  process.exit(2);
}
const port = values.port !== undefined ? Number(values.port) : 53;
const seconds = values.seconds !== undefined ? Number(values.seconds) : Infinity;

using xdp = await loadXdpDrop({ config: { blocked_port: port } });
xdp.programs.xdp_drop_udp.attach({ interface: ifname });
process.stderr.write(`dropping UDP to port ${port} on ${ifname}; Ctrl-C to stop\n`);

const total = (perCpu: Counters[] | undefined): { packets: bigint; bytes: bigint } =>
  (perCpu ?? []).reduce((sum, c) => ({ packets: sum.packets + c.packets, bytes: sum.bytes + c.bytes }), { packets: 0n, bytes: 0n });

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
for (let elapsed = 0; elapsed < seconds && !stop.signal.aborted; elapsed++) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const passed = total(xdp.maps.stats.get('VERDICT_PASS'));
  const dropped = total(xdp.maps.stats.get('VERDICT_DROP'));
  process.stdout.write(`passed ${passed.packets} packets (${passed.bytes} bytes), dropped ${dropped.packets} (${dropped.bytes} bytes)\n`);
}
