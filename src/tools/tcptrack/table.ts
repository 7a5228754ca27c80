// The text tables of tcptrack: the event table and the per-connection (tcplife-shaped) table,
// laid out for a terminal's width, in a fixed layout for a pipe, or wide with nothing shortened.
import { errnoName } from '../../index.js';
import { formatBytes, type ConnEvent } from './event.js';

/** Which table: one row per event, or one row per closed connection (as bcc's tcplife). */
export type TableKind = 'events' | 'life';

export interface LayoutOptions {
  kind: TableKind;
  /** Close events are among the rows: STATE needs room for what they carry. */
  close?: boolean;
  /**
   * The terminal's width in columns: columns are dropped and shortened so that no row is wider.
   * Undefined (output to a pipe or file): the fixed layout, whatever the values' lengths.
   */
  width?: number | undefined;
  /** Every column, NETNS too, and addresses never shortened; rows as long as they need. */
  wide?: boolean;
}

export interface TableLayout {
  readonly header: string;
  /** The columns in use, by header. */
  readonly columns: readonly string[];
  /** The row of an event; `remoteName` (-d) stands in RADDR for the remote address. */
  row(e: ConnEvent, remoteName?: string): string;
}

interface Column {
  header: string;
  /** The column's width in the fixed layout, and on a terminal with room for it. */
  width: number;
  /** Narrower, on a terminal too narrow for the columns always shown. */
  min?: number;
  /** How wide it may grow when there is room (addresses: a full IPv6 address), and the wide width. */
  max?: number;
  right?: boolean;
  /**
   * How much the column is worth keeping on a narrow terminal: the higher, the longer it
   * stays; columns without one are always shown.
   */
  keep?: number;
  /** Only in the wide layout. */
  wideOnly?: boolean;
  /**
   * How a value too long for the column is shortened on a terminal: at the end (names) or in
   * the middle (addresses). Numbers are never shortened: they push the rest of the row right.
   */
  cut?: 'end' | 'middle';
  /** The cell's text. `room` is the width the cell has, for values with a short form. */
  cell(e: ConnEvent, room: number, remoteName: string | undefined): string;
}

/** The longest IPv6 address in RFC 5952 text. */
const IPV6_TEXT = 39;
const IPV4_TEXT = 15;
/** The longest task name (TASK_COMM_LEN without its NUL). */
const COMM_TEXT = 15;

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));
const three = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

function clock(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${three(d.getMilliseconds())}`;
}

const inbound = (e: ConnEvent): boolean => e.direction === 'in';
const localAddr = (e: ConnEvent): string => (inbound(e) ? e.daddr : e.saddr);
const localPort = (e: ConnEvent): number => (inbound(e) ? e.dport : e.sport);
const remoteAddr = (e: ConnEvent): string => (inbound(e) ? e.saddr : e.daddr);
const remotePort = (e: ConnEvent): number => (inbound(e) ? e.sport : e.dport);

/** 950ms, 3.02s, 12.5m, 2.0h: a duration in at most six characters. */
export function shortDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

/** 1000, 2.3K, 15M, 1.1G: bytes in at most four characters. */
export function shortBytes(n: number): string {
  if (n < 1000) return String(n);
  for (const [unit, size] of [['K', 1024], ['M', 1024 ** 2], ['G', 1024 ** 3], ['T', 1024 ** 4]] as const) {
    const v = n / size;
    if (v < 9.95) return `${v.toFixed(1)}${unit}`;
    if (v < 999.5) return `${Math.round(v)}${unit}`;
  }
  return `${Math.round(n / 1024 ** 5)}P`;
}

/** The STATE cell: the outcome, "accepted", or what a close carried, as long as `room` allows. */
export function stateText(e: ConnEvent, room = Infinity): string {
  const forms: string[] = [];
  if (e.event === 'accept') forms.push('accepted');
  else if (e.event === 'close') {
    const dir = inbound(e) ? ' (in)' : '';
    const ms = e.durationMs ?? 0;
    const tx = e.txBytes ?? 0;
    const rx = e.rxBytes ?? 0;
    forms.push(`closed${dir} after ${(ms / 1000).toFixed(3)}s, tx ${formatBytes(tx)}, rx ${formatBytes(rx)}`);
    forms.push(`closed${dir} ${shortDuration(ms)} tx ${shortBytes(tx)} rx ${shortBytes(rx)}`);
    forms.push(`closed${dir} ${shortDuration(ms)} ${shortBytes(tx)}/${shortBytes(rx)}`);
    forms.push(`closed${dir}`);
  } else if (e.state === 'failed' && e.error !== 0) forms.push(`failed (${errnoName(e.error)})`, 'failed');
  else forms.push(e.state);
  return forms.find((f) => f.length <= room) ?? forms[forms.length - 1]!;
}

const TIME: Column = { header: 'TIME', width: 12, keep: 3, cell: (e) => clock(e.timeMs) };
const PID: Column = { header: 'PID', width: 7, right: true, cell: (e) => (e.pid === 0 ? '-' : String(e.pid)) };
const UID: Column = { header: 'UID', width: 6, right: true, keep: 2, cell: (e) => (inbound(e) && e.pid === 0 ? '-' : String(e.uid)) };
// bcc's tcplife gives COMM 10 characters: the width it shrinks to on a narrow terminal.
const COMM: Column = { header: 'COMM', width: COMM_TEXT, min: 10, cut: 'end', cell: (e) => e.comm };
const NETNS: Column = { header: 'NETNS', width: 10, right: true, wideOnly: true, cell: (e) => String(e.netns) };
const LADDR: Column = { header: 'LADDR', width: IPV4_TEXT, max: IPV6_TEXT, cut: 'middle', keep: 4, cell: localAddr };
const LPORT: Column = { header: 'LPORT', width: 5, keep: 5, cell: (e) => String(localPort(e)) };
const RADDR: Column = { header: 'RADDR', width: IPV4_TEXT, max: IPV6_TEXT, cut: 'middle', cell: (e, _room, name) => name ?? remoteAddr(e) };
const RPORT: Column = { header: 'RPORT', width: 5, cell: (e) => String(remotePort(e)) };
const LAT: Column = { header: 'LAT(ms)', width: 8, right: true, keep: 1, cell: (e) => (e.latencyMs === null ? '-' : e.latencyMs.toFixed(3)) };
const STATE: Column = { header: 'STATE', width: 11, cell: stateText };
/** The width of the short form of a close: `closed (in) 59.9m 999K/999K`. */
const CLOSE_STATE: Column = { ...STATE, width: 27 };
// tcplife's columns: whole KiB, rounded down, and milliseconds with two decimals.
const TX_KB: Column = { header: 'TX_KB', width: 5, right: true, cell: (e) => String(Math.floor((e.txBytes ?? 0) / 1024)) };
const RX_KB: Column = { header: 'RX_KB', width: 5, right: true, cell: (e) => String(Math.floor((e.rxBytes ?? 0) / 1024)) };
const MS: Column = { header: 'MS', width: 7, right: true, cell: (e) => (e.durationMs ?? 0).toFixed(2) };

function columns(options: LayoutOptions): readonly Column[] {
  if (options.kind === 'life') return [TIME, PID, UID, COMM, NETNS, LADDR, LPORT, RADDR, RPORT, TX_KB, RX_KB, MS];
  return [TIME, PID, UID, COMM, NETNS, LADDR, LPORT, RADDR, RPORT, LAT, options.close === true ? CLOSE_STATE : STATE];
}

/** `s` in at most `width` characters: cut at the end, or in the middle for addresses. */
function shorten(s: string, width: number, cut: 'end' | 'middle'): string {
  if (s.length <= width) return s;
  if (width <= 1) return s.slice(0, width);
  if (cut === 'end') return `${s.slice(0, width - 1)}…`;
  const tail = Math.floor((width - 1) / 2);
  return `${s.slice(0, width - 1 - tail)}…${s.slice(s.length - tail)}`;
}

/** The columns that fit `width`, most worth keeping first, and the width each gets. */
function fit(all: readonly Column[], width: number): Map<Column, number> {
  const widths = new Map<Column, number>();
  const used = (): number => [...widths.values()].reduce((n, w) => n + w + 1, -1);
  for (const c of all) if (c.keep === undefined && !c.wideOnly) widths.set(c, c.width);
  if (used() > width) for (const c of widths.keys()) widths.set(c, c.min ?? c.width);
  const optional = all.filter((c) => c.keep !== undefined && !c.wideOnly).sort((a, b) => b.keep! - a.keep!);
  for (const c of optional) if (used() + c.width + 1 <= width) widths.set(c, c.width);
  // Room left over widens both addresses alike, towards a full IPv6 address.
  let spare = width - used();
  const grow = (c: Column, most: number): void => {
    const w = widths.get(c);
    if (w === undefined || c.max === undefined) return;
    const n = Math.max(0, Math.min(spare, most, c.max - w));
    widths.set(c, w + n);
    spare -= n;
  };
  const half = Math.ceil(spare / (widths.has(LADDR) ? 2 : 1));
  grow(RADDR, half);
  grow(LADDR, half);
  return widths;
}

/**
 * The layout of a table. With a width, every row (header included) is at most that wide: the
 * columns least worth keeping go first (LAT, then UID, TIME, LADDR, LPORT), addresses too long
 * for their column are shortened in the middle, and the last column takes what is left.
 */
export function tableLayout(options: LayoutOptions): TableLayout {
  const all = columns(options);
  const wide = options.wide === true;
  let widths: Map<Column, number>;
  if (wide) widths = new Map(all.map((c) => [c, c.max ?? c.width]));
  else if (options.width === undefined) widths = new Map(all.filter((c) => !c.wideOnly).map((c) => [c, c.width]));
  else widths = fit(all, options.width);
  // In the order of `all`, whatever order they were chosen in.
  const cols = all.filter((c) => widths.has(c));
  const limit = wide ? undefined : options.width;
  const last = cols[cols.length - 1]!;

  const line = (cells: (col: Column, room: number) => string): string => {
    let out = '';
    for (const c of cols) {
      if (out !== '') out += ' ';
      const w = widths.get(c)!;
      if (c === last) {
        // The last column is not padded; on a terminal it gets what is left of the line.
        const room = limit === undefined ? Infinity : Math.max(limit - out.length, 0);
        const text = cells(c, room);
        out += c.right ? text.padStart(w) : text;
        break;
      }
      let text = cells(c, w);
      if (limit !== undefined && c.cut !== undefined) text = shorten(text, w, c.cut);
      out += c.right ? text.padStart(w) : text.padEnd(w);
    }
    return limit !== undefined && out.length > limit ? shorten(out, limit, 'end') : out;
  };
  return {
    header: line((c) => c.header),
    columns: cols.map((c) => c.header),
    row: (e, remoteName) => line((c, room) => c.cell(e, room, remoteName)),
  };
}
