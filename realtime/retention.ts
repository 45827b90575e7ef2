/**
 * @module
 * Retention: with `MESSAGE_RETENTION_DAYS` (or `NOTIFICATION_RETENTION_DAYS`)
 * set, every process sweeps messages (notifications) older than that at start
 * and then hourly (store/retention.ts:
 * oldest first, in small commits that yield to the message path, held rooms
 * skipped). The sweep keeps no state of its own: a restart, or two processes
 * sweeping at once, only repeat idempotent deletes.
 */

import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import { sweepMessages } from "../store/retention.ts";
import { sweepNotifications } from "../store/notifications.ts";

const DAY_MS = 86_400_000;
export const SWEEP_EVERY_MS = 3_600_000;

export class RetentionService {
  #kv: Deno.Kv;
  #clock: Clock;
  #log: Logger;
  #days?: number;
  #notificationDays?: number;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;

  constructor(deps: {
    kv: Deno.Kv;
    clock: Clock;
    log: Logger;
    messageRetentionDays?: number;
    notificationRetentionDays?: number;
  }) {
    this.#kv = deps.kv;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#days = deps.messageRetentionDays;
    this.#notificationDays = deps.notificationRetentionDays;
  }

  start(): void {
    if (this.#days === undefined && this.#notificationDays === undefined) return;
    this.sweep();
    this.#timer = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
  }

  /** Deletes what is past retention now; resolves when done (one sweep at a time). */
  sweep(): Promise<void> {
    if (this.#running) return this.#running;
    const now = this.#clock.now();
    const days = this.#days;
    const notificationDays = this.#notificationDays;
    this.#running = (async () => {
      const messages = days === undefined ? 0 : await sweepMessages(this.#kv, now - days * DAY_MS);
      const notifications = notificationDays === undefined
        ? 0
        : await sweepNotifications(this.#kv, now - notificationDays * DAY_MS);
      if (messages + notifications > 0) {
        this.#log.info("retention.swept", { messages, notifications });
      }
    })()
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
