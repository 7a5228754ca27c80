// VIPs and reals as users write them: `10.0.0.1:80/tcp`, `[fd00::1]:443/tcp`, `10.0.0.1:*/udp`
// (every port), and a real's address; and their keys in the maps, addresses in 16 bytes.
import { InvalidArgumentError } from '../../index.js';
import { formatAddress, parseAddress, type Family } from '../common/net.js';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const PROTOCOLS = { tcp: 6, udp: 17 } as const;
export type Protocol = keyof typeof PROTOCOLS;

export interface Vip {
  family: Family;
  /** 16 bytes: IPv4 in the first 4, the rest zero, as the datapath keys it. */
  addr: Uint8Array;
  /** 0: every port. */
  port: number;
  proto: Protocol;
}

export interface Real {
  family: Family;
  addr: Uint8Array;
}

function pad16(addr: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out.set(addr);
  return out;
}

export function parseReal(text: string): Real {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const a = parseAddress(bare);
  return { family: a.family, addr: pad16(a.addr) };
}

/** ADDR:PORT/PROTO with PORT a number from 1 to 65535 or `*`; IPv6 addresses in brackets. */
export function parseVip(text: string): Vip {
  const m = /^(\[[^\]]+\]|[^:/[\]]+):(\*|[^/]*)\/(.*)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid VIP '${text}' (ADDR:PORT/PROTO, as 10.0.0.1:80/tcp, [fd00::1]:80/tcp or 10.0.0.1:*/udp)`);
  const [, host, portText, protoText] = m as unknown as [string, string, string, string];
  const proto = protoText.toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') throw new InvalidArgumentError(`invalid protocol '${protoText}' in VIP '${text}' (tcp or udp)`);
  if (!host.startsWith('[') && host.includes(':')) throw new InvalidArgumentError(`invalid VIP '${text}': put an IPv6 address in brackets, as [fd00::1]:80/tcp`);
  const real = parseReal(host);
  let port = 0;
  if (portText !== '*') {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw new InvalidArgumentError(`invalid port '${portText}' in VIP '${text}' (1 to 65535, or * for every port)`);
    port = Number(portText);
  }
  return { family: real.family, addr: real.addr, port, proto };
}

export function formatReal(r: Real): string {
  return formatAddress(r.addr.subarray(0, r.family === 4 ? 4 : 16), r.family);
}

export function formatVip(v: Vip): string {
  const host = formatReal(v);
  return `${v.family === 6 ? `[${host}]` : host}:${v.port === 0 ? '*' : v.port}/${v.proto}`;
}

export function familyCode(f: Family): number {
  return f === 4 ? AF_INET : AF_INET6;
}

export function familyOf(code: number): Family {
  return code === AF_INET ? 4 : 6;
}

export function protocolOf(n: number): Protocol {
  return n === PROTOCOLS.udp ? 'udp' : 'tcp';
}

export function parseWeight(text: string | number): number {
  const n = typeof text === 'number' ? text : /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new InvalidArgumentError(`invalid weight '${text}' (an integer from 1 to 65535)`);
  return n;
}
