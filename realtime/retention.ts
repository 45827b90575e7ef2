/**
 * @module
 * Message retention: with `MESSAGE_RETENTION_DAYS` set, every process sweeps
 * messages older than that at start and then hourly (store/retention.ts:
 * oldest first, in small commits that yield to the message path, held rooms
 * skipped). The sweep keeps no state of its own: a restart, or two processes
 * sweeping at once, only repeat idempotent deletes.
 */

import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import { sweepMessages } from "../store/retention.ts";

const DAY_MS = 86_400_000;
export const SWEEP_EVERY_MS = 3_600_000;

export class RetentionService {
  #kv: Deno.Kv;
  #clock: Clock;
  #log: Logger;
  #days?: number;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;

  constructor(deps: { kv: Deno.Kv; clock: Clock; log: Logger; messageRetentionDays?: number }) {
    this.#kv = deps.kv;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#days = deps.messageRetentionDays;
  }

  start(): void {
    if (this.#days === undefined) return;
    this.sweep();
    this.#timer = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
  }

  /** Deletes what is past retention now; resolves when done (one sweep at a time). */
  sweep(): Promise<void> {
    if (this.#days === undefined) return Promise.resolve();
    if (this.#running) return this.#running;
    const before = this.#clock.now() - this.#days * DAY_MS;
    this.#running = sweepMessages(this.#kv, before)
      .then((n) => {
        if (n > 0) this.#log.info("retention.swept", { messages: n });
      })
      .catch((err) => {
        this.#log.error("retention.sweep_failed", {
          error: err instanceof Error ? err : String(err),
        });
      })
      .finally(() => this.#running = undefined);
    return this.#running;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
