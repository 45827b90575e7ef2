/**
 * @module
 * Token buckets and a keyed window counter, both driven by an injected clock.
 * In-memory and per isolate: they protect this process, not a global quota.
 */

import type { Clock } from "./clock.ts";

/** Allows `burst` actions at once, refilling `perSecond` tokens each second. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    readonly burst: number,
    readonly perSecond: number,
    readonly clock: Clock,
  ) {
    this.#tokens = burst;
    this.#last = clock.now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.clock.now();
    // A wall clock stepped back (NTP) must not drain the bucket: never count negative time.
    const elapsed = Math.max(0, now - this.#last);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed / 1000) * this.perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** Counts events per key in a fixed window; `hit` says whether the key is now over `limit`. */
export class WindowCounter {
  #windows = new Map<string, { start: number; count: number }>();
  #lastSweep: number;
  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly clock: Clock,
    readonly maxKeys = 100_000,
  ) {
    this.#lastSweep = clock.now();
  }

  /** Keys currently held (expired ones go at the next sweep, at most one window later). */
  get size(): number {
    return this.#windows.size;
  }

  hit(key: string): boolean {
    const now = this.clock.now();
    // Keys expire with their window: once a window, drop the ones that ended, so memory follows
    // the keys active recently, not every key ever seen.
    if (now - this.#lastSweep >= this.windowMs) {
      this.#lastSweep = now;
      this.#evictExpired(now);
    }
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.windowMs || now < w.start) {
      if (this.#windows.size >= this.maxKeys) this.#evictExpired(now);
      w = { start: now, count: 0 };
      this.#windows.set(key, w);
    }
    w.count++;
    return w.count > this.limit;
  }

  /** Whether the key is over its limit, without counting a new event. */
  blocked(key: string): boolean {
    const w = this.#windows.get(key);
    return !!w && this.clock.now() - w.start < this.windowMs && w.count >= this.limit;
  }

  /** Takes back one counted event (an attempt that turned out fine). */
  forgive(key: string): void {
    const w = this.#windows.get(key);
    if (w && w.count > 0) w.count--;
  }

  reset(key: string): void {
    this.#windows.delete(key);
  }

  #evictExpired(now: number): void {
    for (const [k, w] of this.#windows) if (now - w.start >= this.windowMs) this.#windows.delete(k);
    // Still full of live keys: drop the oldest rather than grow without bound.
    if (this.#windows.size >= this.maxKeys) {
      const first = this.#windows.keys().next();
      if (!first.done) this.#windows.delete(first.value);
    }
  }
}
