// What decoders look names up in: kernel symbols, cgroup paths, interfaces, devices, PCI ids.
// Each is read on first use and read again when a lookup misses (at most once a scrape), so a
// cgroup or interface made after the exporter started still gets its name.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupsById, findCgroup2Root } from '../common/cgroups.js';

/** Where the sources are; tests point them at fixtures. */
export interface SourcePaths {
  kallsyms: string;
  /** The cgroup v2 mount, or undefined to find it in /proc/self/mounts. */
  cgroupRoot?: string;
  netClass: string;
  sysDev: string;
  pciIds: readonly string[];
  /** The node's /var/log: pods/<namespace>_<pod>_<uid>/<container>/ and containers/*.log. */
  kubeLogDir: string;
}

export const DEFAULT_PATHS: SourcePaths = {
  kallsyms: '/proc/kallsyms',
  netClass: '/sys/class/net',
  sysDev: '/sys/dev',
  pciIds: ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'],
  kubeLogDir: '/var/log',
};

/** A lookup table read again on a miss, no more than once a scrape. */
class Refreshing<K, V> {
  #table: Map<K, V> | undefined;
  #readIn = -1;
  constructor(
    readonly load: () => Map<K, V>,
    readonly scrape: () => number,
  ) {}

  get(key: K): V | undefined {
    if (this.#table === undefined) this.#reload();
    const v = this.#table!.get(key);
    if (v !== undefined || this.#readIn === this.scrape()) return v;
    this.#reload();
    return this.#table!.get(key);
  }

  entries(): IterableIterator<[K, V]> {
    this.#reload();
    return this.#table!.entries();
  }

  #reload(): void {
    this.#table = this.load();
    this.#readIn = this.scrape();
  }
}

/** Kernel symbols sorted by address, for the symbol an address falls in. */
export class Kallsyms {
  readonly #addrs: bigint[] = [];
  readonly #names: string[] = [];

  constructor(text: string) {
    const rows: Array<[bigint, string]> = [];
    for (const line of text.split('\n')) {
      const [addr, type, name, module] = line.split(/\s+/);
      // Functions, and data where the kernel lists it (CONFIG_KALLSYMS_ALL), for kaddrs.
      if (!addr || !name || !type || !'tTwWdDbBrR'.includes(type)) continue;
      const a = BigInt(`0x${addr}`);
      if (a === 0n) continue;
      rows.push([a, module ? `${name}\t${module}` : name]);
    }
    rows.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    for (const [a, n] of rows) {
      this.#addrs.push(a);
      this.#names.push(n);
    }
  }

  get size(): number {
    return this.#addrs.length;
  }

  /** The function `addr` is in, or undefined below the first symbol. */
  symbol(addr: bigint): string | undefined {
    let lo = 0;
    let hi = this.#addrs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#addrs[mid]! <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? undefined : this.#names[found];
  }

  /** The address of symbol `name` (the first of that name). */
  address(name: string): bigint | undefined {
    const i = this.#names.indexOf(name);
    return i < 0 ? undefined : this.#addrs[i];
  }
}

/** PCI vendor, device, class and subclass names from a pci.ids file. */
export class PciIds {
  readonly vendors = new Map<number, string>();
  /** vendor << 16 | device */
  readonly devices = new Map<number, string>();
  readonly classes = new Map<number, string>();
  /** class << 8 | subclass */
  readonly subclasses = new Map<number, string>();

  constructor(text: string) {
    let vendor = -1;
    let cls = -1;
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      let m = /^C ([0-9a-f]{2})\s+(.*)$/.exec(line);
      if (m) {
        cls = Number.parseInt(m[1]!, 16);
        vendor = -1;
        this.classes.set(cls, m[2]!);
        continue;
      }
      m = /^([0-9a-f]{4})\s+(.*)$/.exec(line);
      if (m) {
        vendor = Number.parseInt(m[1]!, 16);
        cls = -1;
        this.vendors.set(vendor, m[2]!);
        continue;
      }
      m = /^\t([0-9a-f]{2,4})\s+(.*)$/.exec(line);
      if (!m) continue;
      const id = Number.parseInt(m[1]!, 16);
      if (vendor >= 0 && m[1]!.length === 4) this.devices.set(((vendor << 16) | id) >>> 0, m[2]!);
      else if (cls >= 0 && m[1]!.length === 2) this.subclasses.set((cls << 8) | id, m[2]!);
    }
  }
}

/** The sources of one exporter, each read lazily. */
export class Sources {
  readonly paths: SourcePaths;
  #kallsyms: Kallsyms | undefined;
  #pci: PciIds | undefined;
  readonly #cgroups: Refreshing<bigint, string>;
  readonly #ifnames: Refreshing<number, string>;
  /** Counts scrapes: a name missing from a table read in this scrape is not looked for again. */
  scrape = 0;
  /** Set when a lookup found no name: the label holds a number, and is decoded again later. */
  missed = false;

  constructor(paths: Partial<SourcePaths> = {}) {
    this.paths = { ...DEFAULT_PATHS, ...paths };
    this.#cgroups = new Refreshing(() => this.#scanCgroups(), () => this.scrape);
    this.#ifnames = new Refreshing(() => this.#scanInterfaces(), () => this.scrape);
  }

  kallsyms(): Kallsyms {
    this.#kallsyms ??= new Kallsyms(readFileSync(this.paths.kallsyms, 'utf8'));
    return this.#kallsyms;
  }

  /** The pci.ids file that exists, or undefined. */
  pciIdsFile(): string | undefined {
    return this.paths.pciIds.find((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
  }

  pci(): PciIds {
    if (this.#pci === undefined) {
      const file = this.pciIdsFile();
      if (file === undefined) throw new Error(`no pci.ids (looked for ${this.paths.pciIds.join(', ')})`);
      this.#pci = new PciIds(readFileSync(file, 'utf8'));
    }
    return this.#pci;
  }

  cgroupRoot(): string {
    const root = this.paths.cgroupRoot ?? findCgroup2Root();
    if (root === undefined) throw new Error('no cgroup v2 hierarchy is mounted');
    return root;
  }

  /** The path of the cgroup whose id (its directory's inode) is `id`. */
  cgroupPath(id: bigint): string | undefined {
    return this.#missing(this.#cgroups.get(id));
  }

  #missing<T>(v: T | undefined): T | undefined {
    if (v === undefined) this.missed = true;
    return v;
  }

  /** Every cgroup id and path, read afresh. */
  cgroups(): IterableIterator<[bigint, string]> {
    return this.#cgroups.entries();
  }

  ifname(index: number): string | undefined {
    return this.#missing(this.#ifnames.get(index));
  }

  /** The /dev name of a block (or else character) device, from its uevent. */
  deviceName(major: number, minor: number): string | undefined {
    for (const kind of ['block', 'char']) {
      try {
        const uevent = readFileSync(join(this.paths.sysDev, kind, `${major}:${minor}`, 'uevent'), 'utf8');
        const m = /^DEVNAME=(.*)$/m.exec(uevent);
        if (m) return m[1];
      } catch {
        // Not a device of this kind.
      }
    }
    return undefined;
  }

  // ebpf_exporter's cgroup labels are the directories' absolute paths.
  #scanCgroups(): Map<bigint, string> {
    const root = this.cgroupRoot();
    const out = new Map<bigint, string>();
    for (const [id, rel] of cgroupsById(root, Number.POSITIVE_INFINITY)) out.set(id, rel === '/' ? root : join(root, rel));
    return out;
  }


  #scanInterfaces(): Map<number, string> {
    const out = new Map<number, string>();
    let names: string[] = [];
    try {
      names = readdirSync(this.paths.netClass);
    } catch {
      return out;
    }
    for (const n of names) {
      try {
        out.set(Number(readFileSync(join(this.paths.netClass, n, 'ifindex'), 'utf8').trim()), n);
      } catch {
        // Gone since the directory was read.
      }
    }
    return out;
  }
}
