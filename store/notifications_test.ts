import assert from "node:assert/strict";
import { createNotification, listNotifications, markRead, unreadCount } from "./notifications.ts";
import { withKv } from "./testing.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");

function make(kv: Deno.Kv, i: number, userId = "u1") {
  return createNotification(kv, { userId, title: `t${i}`, message: "m" }, {
    id: `ntf_${String(i).padStart(4, "0")}`,
    now: NOW,
  });
}

Deno.test("createNotification counts unread in the same commit; ids are unique", async () => {
  await withKv(async (kv) => {
    await make(kv, 1);
    await make(kv, 2);
    assert.equal(await unreadCount(kv, "u1"), 2);
    assert.equal(await unreadCount(kv, "u2"), 0);
    await assert.rejects(() => make(kv, 1), { code: "CONFLICT" });
    assert.equal(await unreadCount(kv, "u1"), 2, "a failed create counts nothing");
  });
});

Deno.test("markRead: idempotent, per user, NOT_FOUND for unknown ids", async () => {
  await withKv(async (kv) => {
    const n = await make(kv, 1);
    assert.deepEqual(await markRead(kv, "u1", n.id, NOW), { changed: true, unreadCount: 0 });
    assert.deepEqual(await markRead(kv, "u1", n.id, NOW), { changed: false, unreadCount: 0 });
    await assert.rejects(() => markRead(kv, "u2", n.id, NOW), { code: "NOT_FOUND" });
    await assert.rejects(() => markRead(kv, "u1", "ntf_none", NOW), { code: "NOT_FOUND" });
  });
});

Deno.test("concurrent reads of the same notifications and new ones never drift or go negative", async () => {
  await withKv(async (kv) => {
    const made = await Promise.all(Array.from({ length: 30 }, (_, i) => make(kv, i)));
    const reads = [1, 2, 3].flatMap(() => made.map((n) => markRead(kv, "u1", n.id, NOW)));
    const fresh = Array.from({ length: 15 }, (_, i) => make(kv, 100 + i));
    const results = await Promise.all(reads);
    await Promise.all(fresh);
    assert.equal(results.filter((r) => r.changed).length, 30, "each read counted once");
    assert.ok(results.every((r) => r.unreadCount >= 0));
    assert.equal(await unreadCount(kv, "u1"), 15);
    const unread = await listNotifications(kv, "u1", { limit: 100, unreadOnly: true });
    assert.equal(unread.notifications.length, 15);
  });
});

Deno.test("listNotifications: newest first, before cursor, unread filter", async () => {
  await withKv(async (kv) => {
    for (let i = 0; i < 5; i++) await make(kv, i);
    await markRead(kv, "u1", "ntf_0002", NOW);
    const all = await listNotifications(kv, "u1", { limit: 3 });
    assert.deepEqual(all.notifications.map((n) => n.id), ["ntf_0004", "ntf_0003", "ntf_0002"]);
    assert.equal(all.hasMore, true);
    const rest = await listNotifications(kv, "u1", { limit: 3, before: "ntf_0002" });
    assert.deepEqual(rest.notifications.map((n) => n.id), ["ntf_0001", "ntf_0000"]);
    assert.equal(rest.hasMore, false);
    const unread = await listNotifications(kv, "u1", { limit: 3, unreadOnly: true });
    assert.deepEqual(unread.notifications.map((n) => n.id), ["ntf_0004", "ntf_0003", "ntf_0001"]);
    assert.equal(unread.hasMore, true);
  });
});

Deno.test("createNotification: one too large to store is refused and counts nothing", async () => {
  await withKv(async (kv) => {
    // notifyUser callers inside the server have no schema; "€" makes V8 store two bytes a char.
    const input = {
      userId: "u1",
      title: "Report",
      message: "m",
      data: { text: "€".repeat(40_000) },
    };
    await assert.rejects(() => createNotification(kv, input, { id: "ntf_1", now: NOW }), {
      code: "PAYLOAD_TOO_LARGE",
      retryable: false,
      message: /^Notification too large to store: 8\d{4} bytes, the limit is 65536 bytes$/,
    });
    assert.equal(await unreadCount(kv, "u1"), 0);
    assert.deepEqual((await listNotifications(kv, "u1", { limit: 10 })).notifications, []);
  });
});
