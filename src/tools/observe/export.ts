// The server's export file for log shippers: one JSON line per item (as -o json prints it),
// renamed to FILE.1, FILE.2, ... when it would pass its size, keeping a bounded number of backups.
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import type { FlowItem } from './flow.js';

export interface ExportOptions {
  path: string;
  /** Bytes a file may hold before it rotates. */
  maxBytes: number;
  /** Rotated files kept (FILE.1 the newest). */
  maxBackups: number;
}

export class FlowExporter {
  readonly #o: ExportOptions;
  #fd: number;
  #size: number;

  constructor(o: ExportOptions) {
    this.#o = o;
    this.#fd = openSync(o.path, 'a', 0o600);
    this.#size = statSync(o.path).size;
  }

  write(item: FlowItem): void {
    const line = Buffer.from(`${JSON.stringify(item)}\n`);
    if (this.#size > 0 && this.#size + line.length > this.#o.maxBytes) this.#rotate();
    writeSync(this.#fd, line);
    this.#size += line.length;
  }

  #rotate(): void {
    closeSync(this.#fd);
    const { path, maxBackups } = this.#o;
    if (maxBackups === 0) rmSync(path, { force: true });
    else {
      rmSync(`${path}.${maxBackups}`, { force: true });
      for (let i = maxBackups - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
      renameSync(path, `${path}.1`);
    }
    this.#fd = openSync(path, 'a', 0o600);
    this.#size = 0;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
