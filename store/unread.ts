/**
 * @module
 * Unread counts, derived from seqs and cursors: a user's unread messages in a
 * room are the messages after their read cursor that someone else sent.
 *
 * Keys:
 * - `["room_own_total", roomId, userId]` -> u64: messages the user sent in the room, summed in
 *   the commit that stores them (store/message_batch.ts; a sum never conflicts)
 * - `["user_rooms", userId, roomId]` -> true: the direct chats a user takes part in (visits have
 *   their own index, store/visits.ts), set by the commit of a chat's messages
 *
 * The read cursor (store/receipts.ts) keeps `own`, how many of the user's own messages were at
 * or before it when it moved, so
 *
 *   unread = (head seq - cursor seq) - (own total - own at the cursor)
 *
 * exactly, under concurrent sends and reads from any number of devices: the cursor's move is
 * checked against the own total, and a send only adds to it. Never negative.
 */

import type { Message, RoomHead } from "./messages.ts";
import type { ReadCursor } from "./receipts.ts";

export const ownTotalKey = (roomId: string, userId: string) => ["room_own_total", roomId, userId];
export const userRoomKey = (userId: string, roomId: string) => ["user_rooms", userId, roomId];

/**
 * Messages one count reads at most: a read far behind the head (or an old cursor) costs a
 * bounded scan, not the room's whole history. Beyond it, messages are taken as someone else's,
 * so only a user with more own messages than this after their cursor could see a count too high.
 */
export const OWN_SCAN_MAX = 2000;

/** How many of `userId`'s messages have a seq in (from, to] (scanning the last OWN_SCAN_MAX). */
export async function ownBetween(
  kv: Deno.Kv,
  roomId: string,
  userId: string,
  from: number,
  to: number,
): Promise<number> {
  if (to <= from) return 0;
  let n = 0;
  const iter = kv.list<Message>({
    start: ["messages", roomId, Math.max(from, to - OWN_SCAN_MAX) + 1],
    end: ["messages", roomId, to + 1],
  });
  for await (const e of iter) if (e.value.senderId === userId) n++;
  return n;
}

export interface Unread {
  roomId: string;
  /** The read cursor (0 = nothing read). */
  readSeq: number;
  unreadCount: number;
  head: RoomHead | null;
}

/** The user's unread count in each room, from one consistent read per room. */
export async function unreadCounts(
  kv: Deno.Kv,
  userId: string,
  roomIds: string[],
): Promise<Unread[]> {
  const out: Unread[] = [];
  for (const roomId of roomIds) {
    const [head, cursor, own] = await kv.getMany<[RoomHead, ReadCursor, Deno.KvU64]>([
      ["room_heads", roomId],
      ["room_reads", roomId, userId],
      ownTotalKey(roomId, userId),
    ]);
    const headSeq = head.value?.seq ?? 0;
    const readSeq = cursor.value?.seq ?? 0;
    const ownTotal = Number(own.value?.value ?? 0n);
    // A cursor from before own counts were kept: count the user's messages up to it once.
    const ownAtCursor = cursor.value?.own ??
      (readSeq === 0 ? 0 : await ownBetween(kv, roomId, userId, 0, readSeq));
    const unreadCount = Math.max(0, headSeq - readSeq - (ownTotal - ownAtCursor));
    out.push({ roomId, readSeq, unreadCount, head: head.value });
  }
  return out;
}

/** The direct chats the user takes part in. */
export async function listChatRooms(kv: Deno.Kv, userId: string, limit = 1000): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: ["user_rooms", userId] }, { limit })) {
    out.push(e.key[2] as string);
  }
  return out;
}
