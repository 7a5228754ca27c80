// The address the web view listens on: HOST:PORT, [IPv6]:PORT, or a bare PORT on the loopback
// address (the page has no login, so it is not offered to the network unless asked).
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../../../index.js';

export interface UiAddress {
  host: string;
  port: number;
}

export function parseUiAddress(s: string): UiAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([\w.-]*)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) throw new InvalidArgumentError(`invalid address '${s}' (HOST:PORT, [IPv6]:PORT or PORT; port 0 picks a free one)`);
  const bracketed = m[1];
  if (bracketed !== undefined && bracketed !== '' && isIP(bracketed) !== 6) throw new InvalidArgumentError(`invalid address '${s}': '${bracketed}' is not an IPv6 address`);
  const host = bracketed || m[2] || '127.0.0.1';
  return { host, port };
}

/** "http://HOST:PORT/" for what the listener bound. */
export function uiUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`;
}
