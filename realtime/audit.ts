/**
 * @module
 * The audit writer: entries for reads, refusals, logins and socket events are
 * queued and written together, one KV commit per batch, flushed within
 * {@linkcode FLUSH_MS} and on shutdown, so auditing never adds one fsync per
 * read. Entries that accompany a state change are not written here: their
 * store function adds them to its own commit ({@linkcode Audit.entry} builds
 * them). A failed batch is logged (ids and counts only) and retried once with
 * the next one; the writer never throws into a request.
 */

import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import {
  appendAudit,
  type AuditEntry,
  auditEntry,
  type AuditInput,
  type AuditTarget,
  purgeAudit,
} from "../store/audit.ts";
import type { RoomRef } from "./access.ts";
import { auditActor, type HandlerContext } from "./events.ts";

/** Longest time an entry waits in memory before its batch is committed. */
export const FLUSH_MS = 100;
/** Entries queued beyond this are committed at once rather than waiting for the timer. */
const EAGER_FLUSH = 500;
/** Entries kept while KV is failing, so an outage cannot grow memory without bound. */
const MAX_QUEUED = 50_000;
/** The wire codes whose refusals the trail records (HIPAA: every denied access attempt). */
export const AUDITED_CODES: ReadonlySet<string> = new Set([
  "FORBIDDEN",
  "UNAUTHENTICATED",
  "TOKEN_EXPIRED",
  "RATE_LIMITED",
]);

/** Whose refusals {@linkcode Audit.refusal} counts together: a user once known, else an address. */
export function refusalKey(actorId: string | null, ip: string | undefined): string {
  return actorId ? `user:${actorId}` : `ip:${ip ?? "unknown"}`;
}

/** Refusals recorded one by one per actor and minute; the rest are counted. */
export const REFUSALS_PER_MIN = 60;
/** Actors whose refusal counts are kept at once (more: the oldest minute is summarized early). */
const MAX_REFUSAL_KEYS = 10_000;

/** How often entries past the retention period are deleted (and once at start). */
export const PURGE_EVERY_MS = 3600 * 1000;
const DAY_MS = 86_400_000;

export interface Audit {
  /** Queues an entry for the next batch. */
  record(input: AuditInput): void;
  /**
   * Records a refusal, at most {@linkcode REFUSALS_PER_MIN} per `key` (a user,
   * or an address before sign-in) a minute; the rest of that minute are
   * counted into one `refused.suppressed` entry, so a client cannot grow the
   * trail without bound while every refused actor still shows.
   */
  refusal(input: AuditInput, key: string): void;
  /** Builds an entry (id and time) for a caller that commits it with its own write. */
  entry(input: AuditInput): AuditEntry;
  /** Commits what is queued (a reader of the trail sees everything this isolate recorded). */
  flush(): Promise<void>;
}

export class AuditWriter implements Audit {
  #kv: Deno.Kv;
  #clock: Clock;
  #log: Logger;
  #newId: () => string;
  #queue: AuditEntry[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;
  #retentionDays?: number;
  #purgeTimer?: ReturnType<typeof setInterval>;
  #purging?: Promise<void>;
  #refusals = new Map<string, { start: number; count: number; last: AuditInput }>();
  #rollTimer?: ReturnType<typeof setInterval>;

  constructor(
    deps: { kv: Deno.Kv; clock: Clock; log: Logger; newId: () => string; retentionDays?: number },
  ) {
    this.#kv = deps.kv;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#newId = deps.newId;
    this.#retentionDays = deps.retentionDays;
  }

  /** Enforces the retention period now and every {@linkcode PURGE_EVERY_MS}. */
  start(): void {
    this.#rollTimer = setInterval(() => this.#rollRefusals(false), 60_000);
    if (this.#retentionDays === undefined) return;
    this.purge();
    this.#purgeTimer = setInterval(() => this.purge(), PURGE_EVERY_MS);
  }

  /** Deletes entries older than the retention period; resolves with how many. */
  purge(): Promise<void> {
    if (this.#retentionDays === undefined || this.#purging) {
      return this.#purging ?? Promise.resolve();
    }
    const before = this.#clock.now() - this.#retentionDays * DAY_MS;
    this.#purging = purgeAudit(this.#kv, before)
      .then((deleted) => {
        if (deleted > 0) this.#log.info("audit.purged", { entries: deleted });
      })
      .catch((err) => {
        this.#log.error("audit.purge_failed", { error: err instanceof Error ? err : String(err) });
      })
      .finally(() => this.#purging = undefined);
    return this.#purging;
  }

  entry(input: AuditInput): AuditEntry {
    return auditEntry(input, this.#newId(), this.#clock.now());
  }

  refusal(input: AuditInput, key: string): void {
    const now = this.#clock.now();
    let w = this.#refusals.get(key);
    if (w && now - w.start >= 60_000) {
      this.#summarize(w);
      w = undefined;
    }
    if (!w) {
      if (this.#refusals.size >= MAX_REFUSAL_KEYS) this.#rollRefusals(true);
      w = { start: now, count: 0, last: input };
      this.#refusals.set(key, w);
    }
    w.count++;
    w.last = input;
    if (w.count <= REFUSALS_PER_MIN) this.record(input);
  }

  /** Summarizes the minutes that ended (or, with `all`, every one: shutdown, a full map). */
  #rollRefusals(all: boolean): void {
    const now = this.#clock.now();
    for (const [key, w] of this.#refusals) {
      if (!all && now - w.start < 60_000) continue;
      this.#summarize(w);
      this.#refusals.delete(key);
    }
  }

  #summarize(w: { start: number; count: number; last: AuditInput }): void {
    const suppressed = w.count - REFUSALS_PER_MIN;
    if (suppressed <= 0) return;
    const { actorId, actorRole, ip, socketId } = w.last;
    this.record({
      actorId,
      actorRole,
      ip,
      socketId,
      action: "refused.suppressed",
      target: { status: String(suppressed), event: w.last.target?.event },
      outcome: "refused",
      code: w.last.code,
    });
  }

  record(input: AuditInput): void {
    if (this.#closed) return;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#log.error("audit.dropped", { action: input.action });
      return;
    }
    this.#queue.push(this.entry(input));
    if (this.#queue.length >= EAGER_FLUSH) this.#schedule(0);
    else this.#schedule(FLUSH_MS);
  }

  /** Commits everything queued so far; resolves when it is in KV (or the attempt failed). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  /** Flushes and stops taking entries (shutdown, before KV closes). */
  async close(): Promise<void> {
    clearInterval(this.#purgeTimer);
    clearInterval(this.#rollTimer);
    this.#rollRefusals(true);
    await this.#purging;
    await this.flush();
    this.#closed = true;
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined && ms > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, ms);
  }

  async #write(): Promise<void> {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    try {
      await appendAudit(this.#kv, batch);
    } catch (err) {
      this.#log.error("audit.write_failed", {
        entries: batch.length,
        error: err instanceof Error ? err : String(err),
      });
      // Keep them for the next batch; a second failure of the same entries drops nothing yet.
      if (!this.#closed) {
        this.#queue = batch.concat(this.#queue).slice(0, MAX_QUEUED);
        this.#schedule(FLUSH_MS * 10);
      }
    }
  }
}

/** An audit that records nothing (unit tests of modules that need one). */
export const noAudit: Audit = {
  record() {},
  refusal() {},
  flush: () => Promise.resolve(),
  entry: (input) => auditEntry(input, crypto.randomUUID(), Date.now()),
};

/** The audit target naming a room (and its visit, for visit and call rooms). */
export function roomTarget(room: RoomRef): AuditTarget {
  const target: AuditTarget = { roomId: room.id };
  if (room.kind === "visit" || room.kind === "call") target.visitId = room.visitId;
  if (room.kind === "notifications") target.userId = room.userId;
  return target;
}

/** Records a history or resume read: which room, and the range of seqs returned. */
export function auditRead(
  ctx: HandlerContext,
  action: "message.history" | "room.resume",
  target: AuditTarget,
  messages: { seq: number }[],
): void {
  const range = messages.length === 0
    ? {}
    : { seqFrom: messages[0].seq, seqTo: messages[messages.length - 1].seq };
  ctx.services.audit.record({
    ...auditActor(ctx),
    action,
    target: { ...target, ...range },
    outcome: "success",
  });
}
