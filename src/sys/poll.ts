// Readiness of kernel fds (ring buffers, perf rings) on the event loop, through the addon's uv_poll.
import { native } from './native.js';

/** Starts watching `fd` for `events`; a handle, or -errno. */
export function pollStart(fd: number, events: number, callback: (status: number, events: number) => void): object | number {
  return native.pollStart(fd, events, callback);
}

export function pollStop(handle: object): void {
  native.pollStop(handle);
}

/** Whether the watch keeps the event loop alive. */
export function pollRef(handle: object, ref: boolean): void {
  native.pollRef(handle, ref);
}
