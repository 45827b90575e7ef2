/**
 * @module
 * Per-user notifications and their unread count.
 *
 * Keys:
 * - `["notifications", userId, notificationId]` -> {@linkcode Notification} (ids are ULIDs:
 *   listing in reverse gives newest first)
 * - `["notifications_unread", userId, notificationId]` -> notificationId (index of unread ones)
 * - `["notification_unread_count", userId]` -> Deno.KvU64
 *
 * The count changes only in the same atomic commit as the notification it
 * counts: a new one adds 1 with `sum`; marking read checks that the
 * notification is still unread and the count's versionstamp, then writes
 * count - 1. Concurrent reads from several devices therefore decrement once
 * per notification, and the count never drifts or goes negative.
 */

import { type AuditEntry, auditMutations } from "./audit.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { backoff, oneAtATime } from "./serial.ts";
import { assertStorable } from "./value_size.ts";

export interface Notification {
  id: string;
  userId: string;
  title: string;
  message: string;
  type?: string;
  data?: Record<string, unknown>;
  createdAt: string;
  readAt?: string;
}

export type NewNotification = Pick<Notification, "userId" | "title" | "message" | "type" | "data">;

const MAX_ATTEMPTS = 30;

const countKey = (userId: string) => ["notification_unread_count", userId];

function toNumber(v: Deno.KvU64 | null): number {
  return v === null ? 0 : Number(v.value);
}

/**
 * The stored notification; PAYLOAD_TOO_LARGE if it cannot fit one KV value.
 * POST /api/v1/notifications cannot get there (its limits allow about 23 KB
 * stored), but `notifyUser` callers inside the server pass any size.
 */
export function buildNotification(
  input: NewNotification,
  opts: { id: string; now: Date },
): Notification {
  const n: Notification = { id: opts.id, ...input, createdAt: opts.now.toISOString() };
  assertStorable(n, "Notification");
  return n;
}

/**
 * Adds a notification's writes to an atomic operation, so another aggregate
 * (a call that was missed) can notify in the same commit as its own change.
 */
export function addNotification(op: Deno.AtomicOperation, n: Notification): Deno.AtomicOperation {
  const key = ["notifications", n.userId, n.id];
  return op
    .check({ key, versionstamp: null })
    .set(key, n)
    .set(["notifications_unread", n.userId, n.id], n.id)
    .sum(countKey(n.userId), 1n);
}

/** Stores a notification and counts it as unread (and its audit entry), in one commit. */
export async function createNotification(
  kv: Deno.Kv,
  input: NewNotification,
  opts: { id: string; now: Date; audit?: (n: Notification) => AuditEntry },
): Promise<Notification> {
  const n = buildNotification(input, opts);
  const op = addNotification(kv.atomic(), n);
  if (opts.audit) auditMutations(op, opts.audit(n));
  const res = await op.commit();
  if (!res.ok) throw new AppError("CONFLICT", `Notification "${n.id}" already exists`);
  return n;
}

/**
 * Marks one notification read. Idempotent: reading a read notification
 * changes nothing (`changed: false`). NOT_FOUND if the user has no such one.
 */
export function markRead(
  kv: Deno.Kv,
  userId: string,
  notificationId: string,
  now: Date,
): Promise<{ changed: boolean; unreadCount: number }> {
  // Reads by one user's devices all check the same count: let this isolate's go one at a time.
  return oneAtATime(kv, `unread:${userId}`, () => commitRead(kv, userId, notificationId, now));
}

async function commitRead(
  kv: Deno.Kv,
  userId: string,
  notificationId: string,
  now: Date,
): Promise<{ changed: boolean; unreadCount: number }> {
  const key = ["notifications", userId, notificationId];
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const [note, count] = await kv.getMany<[Notification, Deno.KvU64]>([key, countKey(userId)]);
    if (note.value === null) throw notFound(`Notification "${notificationId}" not found`);
    if (note.value.readAt) return { changed: false, unreadCount: toNumber(count.value) };
    const unread = toNumber(count.value);
    const next = Math.max(0, unread - 1);
    const res = await kv.atomic()
      .check(note)
      .check(count)
      .set(key, { ...note.value, readAt: now.toISOString() })
      .delete(["notifications_unread", userId, notificationId])
      .set(countKey(userId), new Deno.KvU64(BigInt(next)))
      .commit();
    if (res.ok) return { changed: true, unreadCount: next };
    await backoff(attempt);
  }
  throw new AppError("CONFLICT", "Too many concurrent updates; retry", { retryable: true });
}

export async function unreadCount(kv: Deno.Kv, userId: string): Promise<number> {
  return toNumber((await kv.get<Deno.KvU64>(countKey(userId))).value);
}

export interface NotificationPage {
  notifications: Notification[];
  hasMore: boolean;
}

/** Newest first; `before` is a notification id (the last one of the previous page). */
export async function listNotifications(
  kv: Deno.Kv,
  userId: string,
  opts: { before?: string; limit: number; unreadOnly?: boolean },
): Promise<NotificationPage> {
  const prefix = opts.unreadOnly ? ["notifications_unread", userId] : ["notifications", userId];
  const selector = opts.before === undefined
    ? { prefix }
    : { prefix, end: [...prefix, opts.before] };
  const ids: string[] = [];
  const found: Notification[] = [];
  for await (
    const e of kv.list<Notification | string>(selector, {
      reverse: true,
      limit: opts.limit + 1,
    })
  ) {
    if (opts.unreadOnly) ids.push(e.value as string);
    else found.push(e.value as Notification);
  }
  // The unread index stores ids only: fetch the notifications, ten keys per read.
  for (let i = 0; i < ids.length; i += 10) {
    const batch = await kv.getMany<Notification[]>(
      ids.slice(i, i + 10).map((id) => ["notifications", userId, id]),
    );
    for (const e of batch) if (e.value) found.push(e.value);
  }
  return { notifications: found.slice(0, opts.limit), hasMore: found.length > opts.limit };
}

/** Notifications removed per commit by a retention sweep. */
const SWEEP_BATCH = 50;

/**
 * Deletes every notification created before `before` (ms), oldest first, in
 * small commits that also take the unread ones off their user's count
 * (checked on its versionstamp, so a concurrent read or a new notification
 * makes the batch go again: the count never drifts). `pause` runs between
 * batches. Resolves with how many it deleted.
 */
export async function sweepNotifications(
  kv: Deno.Kv,
  before: number,
  pause: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0)),
): Promise<number> {
  let deleted = 0;
  // Every user who ever got a notification has a count (createNotification sums it).
  for await (const c of kv.list({ prefix: ["notification_unread_count"] })) {
    const userId = c.key[1] as string;
    for (let attempt = 0; attempt < MAX_ATTEMPTS;) {
      const old: Deno.KvEntry<Notification>[] = [];
      const iter = kv.list<Notification>({ prefix: ["notifications", userId] }, {
        limit: SWEEP_BATCH,
      });
      // Ids are ULIDs: ascending is oldest first.
      for await (const e of iter) {
        if (Date.parse(e.value.createdAt) >= before) break;
        old.push(e);
      }
      if (old.length === 0) break;
      const count = await kv.get<Deno.KvU64>(countKey(userId));
      const unread = old.filter((e) => !e.value.readAt).length;
      const op = kv.atomic().check(count);
      for (const e of old) {
        op.check(e).delete(e.key);
        if (!e.value.readAt) op.delete(["notifications_unread", userId, e.value.id]);
      }
      op.set(countKey(userId), new Deno.KvU64(BigInt(Math.max(0, toNumber(count.value) - unread))));
      if (!(await op.commit()).ok) {
        await backoff(attempt++);
        continue;
      }
      deleted += old.length;
      if (old.length < SWEEP_BATCH) break;
      await pause();
    }
  }
  return deleted;
}
