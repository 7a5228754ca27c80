// Addresses, prefixes and ports as the tools read and print them.
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../../index.js';

export type Family = 4 | 6;

/** An address prefix with host bits cleared: 10.0.0.0/24, fd00::/64, 192.0.2.7/32. */
export interface Prefix {
  family: Family;
  /** 4 or 16 bytes, network order. */
  addr: Uint8Array;
  prefixLen: number;
}

function parseV4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

function parseV6(s: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = s;
  // A trailing dotted quad (::ffff:192.0.2.1) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const b = parseV4(v4[1]);
    text = `${text.slice(0, -v4[1].length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** Parses an IPv4 or IPv6 address; throws InvalidArgumentError naming the input. */
export function parseAddress(s: string): { family: Family; addr: Uint8Array } {
  if (isIPv4(s)) return { family: 4, addr: parseV4(s) };
  if (isIPv6(s) && !s.includes('%')) return { family: 6, addr: parseV6(s) };
  throw new InvalidArgumentError(`invalid IP address '${s}'`);
}

/** Parses "ADDR" or "ADDR/LEN"; host bits beyond the prefix are cleared. */
export function parsePrefix(s: string): Prefix {
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  let parsed: { family: Family; addr: Uint8Array };
  try {
    parsed = parseAddress(addrText);
  } catch {
    throw new InvalidArgumentError(`invalid IP address or CIDR '${s}'`);
  }
  const max = parsed.family === 4 ? 32 : 128;
  let prefixLen = max;
  if (slash >= 0) {
    const lenText = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      throw new InvalidArgumentError(`invalid prefix length in '${s}' (0-${max} for IPv${parsed.family})`);
    }
    prefixLen = Number(lenText);
  }
  const addr = parsed.addr;
  for (let bit = prefixLen; bit < max; bit++) addr[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family: parsed.family, addr, prefixLen };
}

/** Formats 4 or 16 network-order bytes; v4-mapped IPv6 addresses print as IPv4. */
export function formatAddress(addr: Uint8Array, family: Family): string {
  if (family === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  if (isV4Mapped(addr)) return `${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((addr[i]! << 8) | addr[i + 1]!);
  // The longest run of two or more zero groups collapses to '::' (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function isV4Mapped(addr: Uint8Array): boolean {
  if (addr.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (addr[i] !== 0) return false;
  return addr[10] === 0xff && addr[11] === 0xff;
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.addr, p.family)}/${p.prefixLen}`;
}

/** Parses a TCP/UDP port number 1-65535. */
export function parsePort(s: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) {
    throw new InvalidArgumentError(`invalid port '${s}' (1-65535)`);
  }
  return Number(s);
}

/** Parses "80,443,8080". */
export function parsePortList(s: string): number[] {
  if (s.trim() === '') throw new InvalidArgumentError('empty port list');
  return s.split(',').map((p) => parsePort(p.trim()));
}
