// What observe's tests share: a flow context with no kernel behind it, addresses as the
// datapath stores them, and an HTTP GET on a connection of its own.
import { request } from 'node:http';
import type { FlowContext } from '../../src/tools/observe/flow.js';

/** Interface 2 is eth0, pid 0 has no process; drop reasons are named by `dropReasonName`. */
export function testContext(dropReasonName: (reason: number) => string = String): FlowContext {
  return {
    nodeName: 'node1',
    interfaceName: (i) => (i === 2 ? 'eth0' : undefined),
    dropReasonName,
    endpoint: (p) => (p.pid === 0 ? undefined : { pid: p.pid, comm: p.comm }),
  };
}

/** An IPv4 address as a record holds it: IPv4-mapped IPv6, 16 bytes. */
export function mapped(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ip.split('.').map(Number), 12);
  return out;
}

/** A GET with a connection of its own; the status and the client's local port. */
export function httpGet(host: string, port: number, path = '/'): Promise<{ status: number; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, localPort: req.socket?.localPort ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}
