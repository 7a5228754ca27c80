// The series of one metric across scrapes: which are exported, which expired (their value has
// not changed for `expireMs`) and which were refused because the config reached its series cap.

export interface SeriesLimits {
  /** Hide a series whose value has not changed for this long (0: never). */
  expireMs: number;
  /** The most series one config exports (0: no cap). */
  maxSeries: number;
}

/** Counts one config's series across its metrics: the cap is per config. */
export class ConfigSeries {
  active = 0;
  refused = 0;
  expired = 0;
  decoderErrors = 0;
  constructor(readonly limits: SeriesLimits) {}
}

interface State {
  /** What the value was when it last changed (a histogram's count and sum). */
  fingerprint: number | string;
  changedAt: number;
  expired: boolean;
  generation: number;
}

/** A metric's series by their label values joined with NUL (no label value holds one). */
export class SeriesTracker {
  readonly #states = new Map<string, State>();
  readonly #refused = new Set<string>();
  #generation = 0;

  constructor(readonly owner: ConfigSeries) {}

  /** Starts a scrape. */
  begin(): void {
    this.#generation++;
  }

  /**
   * Whether the series `id`, now at `fingerprint`, is exported this scrape. A new series past
   * the cap is refused (and counted once); an unchanged one past its expiry is hidden until it
   * changes again.
   */
  admit(id: string, fingerprint: number | string, now: number): boolean {
    const { limits } = this.owner;
    let s = this.#states.get(id);
    if (s === undefined) {
      if (limits.maxSeries > 0 && this.owner.active >= limits.maxSeries) {
        if (!this.#refused.has(id)) {
          this.#refused.add(id);
          this.owner.refused++;
        }
        return false;
      }
      this.#refused.delete(id);
      s = { fingerprint, changedAt: now, expired: false, generation: this.#generation };
      this.#states.set(id, s);
      this.owner.active++;
      return true;
    }
    s.generation = this.#generation;
    if (s.fingerprint !== fingerprint) {
      s.fingerprint = fingerprint;
      s.changedAt = now;
      if (s.expired) {
        s.expired = false;
        this.owner.active++;
      }
    } else if (!s.expired && limits.expireMs > 0 && now - s.changedAt >= limits.expireMs) {
      s.expired = true;
      this.owner.active--;
      this.owner.expired++;
    }
    return !s.expired;
  }

  /** Ends a scrape: series whose key left the map are forgotten. */
  end(): void {
    for (const [id, s] of this.#states) {
      if (s.generation === this.#generation) continue;
      if (!s.expired) this.owner.active--;
      this.#states.delete(id);
    }
  }

  /** Forgets every series (the metric's map is closed). */
  clear(): void {
    for (const s of this.#states.values()) if (!s.expired) this.owner.active--;
    this.#states.clear();
    this.#refused.clear();
  }
}
