/**
 * @module
 * A message's `status` in history and resume replies, derived from receipt
 * cursors: `read` once every other user with access to the room has read up
 * to its seq, `delivered` once every other user has received it (a device
 * sent `message:delivered` past it, or the user read it), else `sent`. Topic
 * rooms have no fixed audience and stay `sent`. The cursors come back as
 * `reads` and `delivered` so clients can show who has what.
 */

import type { Message, Page } from "../store/messages.ts";
import { cursorsOf } from "../store/receipts.ts";
import { type Grant, roomAudience } from "./access.ts";

export async function withReadStatus(
  kv: Deno.Kv,
  grant: Grant,
  page: Page,
): Promise<Page & { reads: Record<string, number>; delivered: Record<string, number> }> {
  const audience = roomAudience(grant);
  if (audience.length === 0 || page.messages.length === 0) {
    return { ...page, reads: {}, delivered: {} };
  }
  const [reads, received] = await Promise.all([
    cursorsOf(kv, "read", grant.room.id, audience),
    cursorsOf(kv, "delivered", grant.room.id, audience),
  ]);
  // Reading implies receiving.
  const delivered = new Map(
    audience.map((u) => [u, Math.max(reads.get(u) ?? 0, received.get(u) ?? 0)]),
  );
  const messages = page.messages.map((m): Message => {
    const others = audience.filter((u) => u !== m.senderId);
    if (others.length === 0) return m;
    if (others.every((u) => (reads.get(u) ?? 0) >= m.seq)) return { ...m, status: "read" };
    if (others.every((u) => (delivered.get(u) ?? 0) >= m.seq)) return { ...m, status: "delivered" };
    return m;
  });
  return {
    ...page,
    messages,
    reads: Object.fromEntries(reads),
    delivered: Object.fromEntries(delivered),
  };
}
