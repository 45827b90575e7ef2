/**
 * @module
 * Background work a service starts and must not lose: each promise is
 * tracked until it settles, a failure is logged (never thrown into nobody),
 * and `idle()` waits for everything started so far, including work started
 * while waiting (tests and shutdown).
 */

import type { Logger } from "./log.ts";

export class Background {
  #pending = new Set<Promise<void>>();

  /** `failed` names the log event for a failure ("presence.failed"). */
  constructor(readonly log: Logger, readonly failed: string) {}

  /** Tracks `p`; the returned promise settles with it and never rejects. */
  track(p: Promise<unknown>): Promise<void> {
    const guarded = p.then(() => {}, (err) => {
      this.log.error(this.failed, { error: err instanceof Error ? err : String(err) });
    });
    this.#pending.add(guarded);
    return guarded.finally(() => this.#pending.delete(guarded));
  }

  /** Resolves when the promises tracked so far have settled (not those tracked later). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }

  /** Resolves when every tracked promise has settled, also those tracked meanwhile. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}
