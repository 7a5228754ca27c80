// Prints items in the chosen output format. The lines of one batch (a drain of the ring, one
// message from a server) go out in one write: a write per flow made a system call per line,
// the largest part of observe's cost at tens of thousands of flows a second.
import type { FlowItem } from './flow.js';
import { formatItem, TABLE_HEADER, tableRow, type OutputFormat } from './format.js';

const TABLE_WIDTHS = [19, 28, 28, 22, 10];
/** The size of the buffers lines are encoded into; a batch past it is written then. */
const CHUNK = 1 << 18;

function row(cells: string[]): string {
  return cells
    .map((c, i) => (i < TABLE_WIDTHS.length ? c.padEnd(TABLE_WIDTHS[i]!) : c))
    .join(' ')
    .trimEnd();
}

/**
 * Formats items as they come and writes them at the end of the current task (a microtask
 * after the batch that printed them), or by flush(); a table's header once, before the first
 * row. Each line is encoded as UTF-8 into a buffer as it is printed, which costs less than
 * joining a batch's lines into one string to encode.
 */
export class Printer {
  readonly #format: OutputFormat;
  readonly #out: NodeJS.WritableStream;
  #header = false;
  #buffer: Buffer | undefined;
  #used = 0;
  #scheduled = false;
  broken = false;

  constructor(format: OutputFormat, out: NodeJS.WritableStream) {
    this.#format = format;
    this.#out = out;
  }

  print(item: FlowItem): void {
    if (this.broken) return;
    if (this.#format !== 'table') this.#add(formatItem(item, this.#format));
    else {
      if (!this.#header) {
        this.#header = true;
        this.#add(row(TABLE_HEADER));
      }
      this.#add('lost_events' in item ? `EVENTS LOST: ${item.lost_events.num_events_lost}` : row(tableRow(item.flow)));
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  #add(line: string): void {
    // A UTF-16 unit takes at most 3 bytes in UTF-8.
    const most = 3 * line.length + 1;
    if (this.#buffer !== undefined && this.#used + most > this.#buffer.length) this.#write();
    this.#buffer ??= Buffer.allocUnsafe(Math.max(CHUNK, most));
    this.#used += this.#buffer.write(line, this.#used, 'utf8');
    this.#buffer[this.#used++] = 0x0a;
  }

  #write(): void {
    const buffer = this.#buffer;
    if (buffer === undefined || this.#used === 0) return;
    // The stream may hold the bytes past the write: the buffer is theirs now.
    this.#out.write(buffer.subarray(0, this.#used));
    this.#buffer = undefined;
    this.#used = 0;
  }

  /** Writes what was printed and not written yet. */
  flush(): void {
    this.#scheduled = false;
    if (this.broken) {
      this.#buffer = undefined;
      this.#used = 0;
      return;
    }
    this.#write();
  }
}
