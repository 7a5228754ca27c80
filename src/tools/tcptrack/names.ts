// -d: the names of remote addresses, by reverse DNS lookups that never block the event loop.
// Rows wait (in order) for the lookups of their addresses, a second at most, so that they are
// printed with names; each address is looked up once.
import { Resolver } from 'node:dns/promises';
import type { ConnEvent } from './event.js';

/** The names of an address (PTR records), as dns.promises.Resolver#reverse gives them. */
export type ReverseLookup = (address: string) => Promise<string[]>;

/** How long a lookup may take before its address is shown as it is. */
export const LOOKUP_TIMEOUT_MS = 1000;

/** Rows that may wait for names at once; beyond that the oldest is printed with its address. */
export const MAX_WAITING_ROWS = 10_000;

/** c-ares lookups (the resolver of /etc/resolv.conf and /etc/hosts), one try each. */
export function dnsReverse(timeoutMs = LOOKUP_TIMEOUT_MS): ReverseLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  return (address) => resolver.reverse(address);
}

/** Names of addresses, each looked up once; an address without a name is its own name. */
export class NameCache {
  readonly #lookup: ReverseLookup;
  readonly #timeoutMs: number;
  readonly #limit: number;
  readonly #names = new Map<string, string>();
  readonly #pending = new Map<string, Promise<void>>();

  constructor(lookup: ReverseLookup, options: { timeoutMs?: number; limit?: number } = {}) {
    this.#lookup = lookup;
    this.#timeoutMs = options.timeoutMs ?? LOOKUP_TIMEOUT_MS;
    this.#limit = options.limit ?? 4096;
  }

  /** The address's name, or undefined while it is looked up. */
  get(address: string): string | undefined {
    return this.#names.get(address);
  }

  /** Settles once the address has a name (or is known to have none); starts its lookup. */
  known(address: string): Promise<void> {
    if (this.#names.has(address)) return Promise.resolve();
    let p = this.#pending.get(address);
    if (p === undefined) {
      p = this.#resolve(address);
      this.#pending.set(address, p);
    }
    return p;
  }

  async #resolve(address: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    // The resolver has its own timeout; this one also bounds a resolver that keeps trying.
    const late = new Promise<string[]>((resolve) => {
      timer = setTimeout(() => resolve([]), this.#timeoutMs + 100);
    });
    let name = address;
    try {
      name = (await Promise.race([this.#lookup(address), late]))[0] ?? address;
    } catch {
      // No name (NXDOMAIN, no server, a timeout): the address stands for itself.
    } finally {
      clearTimeout(timer);
    }
    if (this.#names.size >= this.#limit) this.#names.clear();
    this.#names.set(address, name);
    this.#pending.delete(address);
  }
}

/** The remote end of an event: the peer of inbound connections, the destination of outbound. */
export function remoteAddress(e: ConnEvent): string {
  return e.direction === 'in' ? e.saddr : e.daddr;
}

/**
 * Table rows in the order their events came, each printed once its remote address's name is
 * known. `print` gets the event and the name.
 */
export class NamedRows {
  readonly #names: NameCache;
  readonly #print: (e: ConnEvent, name: string) => void;
  readonly #waiting: ConnEvent[] = [];

  constructor(names: NameCache, print: (e: ConnEvent, name: string) => void) {
    this.#names = names;
    this.#print = print;
  }

  /** Rows not printed yet. */
  get waiting(): number {
    return this.#waiting.length;
  }

  push(e: ConnEvent): void {
    const address = remoteAddress(e);
    const name = this.#waiting.length === 0 ? this.#names.get(address) : undefined;
    if (name !== undefined) {
      this.#print(e, name);
      return;
    }
    this.#waiting.push(e);
    void this.#names.known(address).then(() => this.#drain());
    if (this.#waiting.length > MAX_WAITING_ROWS) this.#printFirst();
  }

  /** Settles once the lookups of every waiting row have (each takes a second at most). */
  async settled(): Promise<void> {
    await Promise.all(this.#waiting.map((e) => this.#names.known(remoteAddress(e))));
  }

  /** Prints every waiting row, with the addresses whose names are not known yet. */
  flush(): void {
    while (this.#waiting.length > 0) this.#printFirst();
  }

  #drain(): void {
    while (this.#waiting.length > 0 && this.#names.get(remoteAddress(this.#waiting[0]!)) !== undefined) this.#printFirst();
  }

  #printFirst(): void {
    const e = this.#waiting.shift()!;
    const address = remoteAddress(e);
    this.#print(e, this.#names.get(address) ?? address);
  }
}
