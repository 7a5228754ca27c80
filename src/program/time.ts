// Kernel timestamps on CLOCK_BOOTTIME, as wall-clock dates.
import { readFileSync } from 'node:fs';

/** The wall-clock time of a CLOCK_BOOTTIME timestamp in nanoseconds (as bpf_prog_info's load_time). */
export function bootTimeToDate(ns: bigint): Date {
  // /proc/uptime is CLOCK_BOOTTIME in centiseconds; good enough for "loaded at".
  const uptimeSeconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const bootMs = Date.now() - uptimeSeconds * 1000;
  return new Date(Math.round(bootMs + Number(ns / 1_000_000n)));
}
