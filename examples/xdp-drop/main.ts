// Drops UDP datagrams to one port on an interface and prints what passed and what was dropped.
//   sudo npx tsx examples/xdp-drop/main.ts <interface> [--port 53] [--seconds N]
import { integer, parseOptions, run, stopSignal, wait, type Program } from '../cli.js';
import { loadXdpDrop, type Counters } from './xdp_drop_bpf.js';

const program: Program = { name: 'xdp-drop', usage: 'main.ts <interface> [--port 53] [--seconds N]' };
const { values, positionals } = parseOptions(program, { port: { type: 'string' }, seconds: { type: 'string' } }, { min: 1, max: 1, what: 'an interface' });
const ifname = positionals[0]!;
const port = values.port !== undefined ? integer(program, '--port', values.port, 0, 65535) : 53;
const seconds = values.seconds !== undefined ? integer(program, '--seconds', values.seconds, 1, 2_000_000) : Infinity;

const total = (perCpu: Counters[] | undefined): { packets: bigint; bytes: bigint } =>
  (perCpu ?? []).reduce((sum, c) => ({ packets: sum.packets + c.packets, bytes: sum.bytes + c.bytes }), { packets: 0n, bytes: 0n });

await run(program, async () => {
  using xdp = await loadXdpDrop({ config: { blocked_port: port } });
  xdp.programs.xdp_drop_udp.attach({ interface: ifname });
  const stop = stopSignal();
  process.stderr.write(`dropping UDP to port ${port} on ${ifname}; Ctrl-C to stop\n`);
  for (let elapsed = 0; elapsed < seconds && (await wait(1000, stop)); elapsed++) {
    const passed = total(xdp.maps.stats.get('VERDICT_PASS'));
    const dropped = total(xdp.maps.stats.get('VERDICT_DROP'));
    process.stdout.write(`passed ${passed.packets} packets (${passed.bytes} bytes), dropped ${dropped.packets} (${dropped.bytes} bytes)\n`);
  }
});
