/**
 * @module
 * Login throttling that an attacker cannot turn into a lockout. Failures are
 * counted in fixed windows (15 min by default) under three keys:
 *
 * - per (email, client IP): 10 failures, then that pair gets 429 with
 *   Retry-After until its window ends. Only the attacker's own address is
 *   stopped; the account's owner elsewhere is not.
 * - per client IP: 100 failures across all emails, then 429 (spraying).
 * - per email, across IPs: no lock, a slowdown. From the 5th failure in the
 *   window each further attempt first waits 250 ms, doubling per failure, up
 *   to 3 s; the right password still succeeds, only later.
 *
 * An attempt is counted before the password work (parallel guesses cannot
 * slip past) and taken back when it succeeds or was never checked. Refused
 * attempts are not counted, so hammering does not extend a window.
 *
 * Bounds: each of the three maps holds at most `maxKeys` (10,000) keys;
 * expired windows go first, then the oldest live one (an attacker who floods
 * 10,000 fresh keys makes the server forget old counts rather than grow).
 * At most `maxDelayed` (100) attempts wait in a slowdown at once; more get
 * 429, except attempts from a clean address (no failure in the window and no
 * attempt in flight: the account's owner, not a guesser), which also jump the
 * password-hashing queue (`priority`). In memory and per isolate, like the other rate limits. Time comes
 * from the injected clock and waits from the injected sleep, so tests are
 * deterministic.
 */

import type { Clock } from "./clock.ts";

export interface ThrottleLimits {
  windowMs: number;
  /** Failures per (email, IP) per window before 429. */
  perPair: number;
  /** Failures per IP per window before 429. */
  perIp: number;
  /** Failures per email per window before attempts are slowed down. */
  slowAfter: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Keys kept per map. */
  maxKeys: number;
  /** Attempts waiting out a slowdown at once. */
  maxDelayed: number;
}

export const LOGIN_LIMITS: ThrottleLimits = {
  windowMs: 15 * 60 * 1000,
  perPair: 10,
  perIp: 100,
  slowAfter: 5,
  baseDelayMs: 250,
  maxDelayMs: 3000,
  maxKeys: 10_000,
  maxDelayed: 100,
};

export type Admission =
  | { ok: true; delayMs: number; priority: boolean }
  | { ok: false; retryAfterS: number; reason: "pair" | "ip" | "busy" };

/** The wait before an attempt on an email that already failed `failures` times in the window. */
export function slowdownMs(failures: number, limits: ThrottleLimits = LOGIN_LIMITS): number {
  if (failures < limits.slowAfter) return 0;
  const steps = Math.min(failures - limits.slowAfter, 30);
  return Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** steps);
}

/** Counts per key in fixed windows; insertion order is window-start order, so eviction is O(1). */
class Failures {
  #windows = new Map<string, { start: number; count: number }>();
  constructor(readonly limits: ThrottleLimits, readonly clock: Clock) {}

  #live(key: string, now: number): { start: number; count: number } | undefined {
    const w = this.#windows.get(key);
    if (!w) return undefined;
    if (now - w.start >= this.limits.windowMs || now < w.start) {
      this.#windows.delete(key);
      return undefined;
    }
    return w;
  }

  count(key: string): number {
    return this.#live(key, this.clock.now())?.count ?? 0;
  }

  add(key: string): void {
    const now = this.clock.now();
    const w = this.#live(key, now);
    if (w) {
      w.count++;
      return;
    }
    this.#evict(now);
    this.#windows.set(key, { start: now, count: 1 });
  }

  /** Takes back one counted attempt. */
  remove(key: string): void {
    const w = this.#live(key, this.clock.now());
    if (w && w.count > 0) w.count--;
  }

  clear(key: string): void {
    this.#windows.delete(key);
  }

  /** Milliseconds until the key's window ends. */
  retryAfterMs(key: string): number {
    const now = this.clock.now();
    const w = this.#live(key, now);
    return w ? w.start + this.limits.windowMs - now : 0;
  }

  get size(): number {
    return this.#windows.size;
  }

  #evict(now: number): void {
    for (const [k, w] of this.#windows) {
      if (this.#windows.size < this.limits.maxKeys && now - w.start < this.limits.windowMs) break;
      this.#windows.delete(k);
    }
  }
}

function pairKey(email: string, ip: string): string {
  return `${ip}\u0000${email}`;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LoginThrottle {
  readonly limits: ThrottleLimits;
  #pairs: Failures;
  #ips: Failures;
  #emails: Failures;
  #sleep: (ms: number) => Promise<void>;
  #delayed = 0;
  /** Attempts in flight per address; an entry lives only while one is. */
  #inflight = new Map<string, number>();

  constructor(deps: {
    clock: Clock;
    sleep?: (ms: number) => Promise<void>;
    limits?: Partial<ThrottleLimits>;
  }) {
    this.limits = { ...LOGIN_LIMITS, ...deps.limits };
    this.#pairs = new Failures(this.limits, deps.clock);
    this.#ips = new Failures(this.limits, deps.clock);
    this.#emails = new Failures(this.limits, deps.clock);
    this.#sleep = deps.sleep ?? realSleep;
  }

  /**
   * Decides whether a login attempt may check a password, counts it, and
   * waits out the email's slowdown. `email` must be normalized.
   */
  async admit(email: string, ip: string): Promise<Admission> {
    const pair = pairKey(email, ip);
    if (this.#pairs.count(pair) >= this.limits.perPair) {
      return refuse(this.#pairs.retryAfterMs(pair), "pair");
    }
    if (this.#ips.count(ip) >= this.limits.perIp) return refuse(this.#ips.retryAfterMs(ip), "ip");
    const delayMs = slowdownMs(this.#emails.count(email), this.limits);
    const clean = this.#ips.count(ip) === 0 && !this.#inflight.has(ip);
    if (delayMs > 0 && this.#delayed >= this.limits.maxDelayed && !clean) {
      return refuse(delayMs, "busy");
    }
    this.#inflight.set(ip, (this.#inflight.get(ip) ?? 0) + 1);
    this.#pairs.add(pair);
    this.#ips.add(ip);
    this.#emails.add(email);
    if (delayMs > 0) {
      this.#delayed++;
      try {
        await this.#sleep(delayMs);
      } finally {
        this.#delayed--;
      }
    }
    return { ok: true, delayMs, priority: clean };
  }

  /** An admitted attempt is over, whatever its outcome (call once per admitted attempt). */
  finished(ip: string): void {
    const n = (this.#inflight.get(ip) ?? 1) - 1;
    if (n > 0) this.#inflight.set(ip, n);
    else this.#inflight.delete(ip);
  }

  /** An admitted attempt that checked no password (the server was busy): it does not count. */
  cancel(email: string, ip: string): void {
    this.#pairs.remove(pairKey(email, ip));
    this.#ips.remove(ip);
    this.#emails.remove(email);
  }

  /** An admitted attempt succeeded: that address has proved itself for this email. */
  succeeded(email: string, ip: string): void {
    this.cancel(email, ip);
    this.#pairs.clear(pairKey(email, ip));
  }

  /** Keys held, per map (tests and metrics). */
  get sizes(): { pairs: number; ips: number; emails: number } {
    return { pairs: this.#pairs.size, ips: this.#ips.size, emails: this.#emails.size };
  }
}

function refuse(ms: number, reason: "pair" | "ip" | "busy"): Admission {
  return { ok: false, retryAfterS: Math.max(1, Math.ceil(ms / 1000)), reason };
}
