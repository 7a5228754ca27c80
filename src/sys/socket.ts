// Sockets below Node's net module: netlink, and socket options that take a BPF program fd.
import { native } from './native.js';

/** socket(2): the fd, or -errno. */
export function socket(domain: number, type: number, protocol: number): number {
  return native.socket(domain, type, protocol);
}

/** bind(2) to the sockaddr bytes `addr`; 0 or -errno. */
export function bind(fd: number, addr: ArrayBufferView): number {
  return native.bind(fd, addr);
}

/** send(2); the bytes sent, or -errno. */
export function send(fd: number, data: ArrayBufferView, flags = 0): number {
  return native.send(fd, data, flags);
}

/** recv(2) into `data`; the bytes received, or -errno. */
export function recv(fd: number, data: ArrayBufferView, flags = 0): number {
  return native.recv(fd, data, flags);
}

/** setsockopt(2) with `value` as the option's bytes; 0 or -errno. */
export function setsockopt(fd: number, level: number, name: number, value: ArrayBufferView): number {
  return native.setsockopt(fd, level, name, value);
}
