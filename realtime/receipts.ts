/**
 * @module
 * A message's `status` in history and resume replies, derived from read
 * cursors: `read` once every other user with access to the room has read up
 * to its seq, else `sent`. Topic rooms have no fixed audience and stay `sent`.
 * The cursors themselves come back as `reads` so clients can show who read what.
 */

import type { Message, Page } from "../store/messages.ts";
import { readCursors } from "../store/receipts.ts";
import { type Grant, roomAudience } from "./access.ts";

export async function withReadStatus(
  kv: Deno.Kv,
  grant: Grant,
  page: Page,
): Promise<Page & { reads: Record<string, number> }> {
  const audience = roomAudience(grant);
  if (audience.length === 0 || page.messages.length === 0) return { ...page, reads: {} };
  const cursors = await readCursors(kv, grant.room.id, audience);
  const messages = page.messages.map((m): Message => {
    const others = audience.filter((u) => u !== m.senderId);
    const read = others.length > 0 && others.every((u) => (cursors.get(u) ?? 0) >= m.seq);
    return read ? { ...m, status: "read" } : m;
  });
  return { ...page, messages, reads: Object.fromEntries(cursors) };
}
