/**
 * @module
 * Receipts: how far each user has read, and has received, each room.
 *
 * Keys:
 * - `["room_reads", roomId, userId]` -> {@linkcode ReadCursor}: the highest seq the user has read
 * - `["room_delivered", roomId, userId]` -> {@linkcode ReadCursor}: the highest seq one of the
 *   user's devices has received (`message:delivered`)
 *
 * A cursor only moves forward (checked on its versionstamp), so receipts from
 * several devices, or arriving out of order, never move it back.
 */

import type { RoomHead } from "./messages.ts";
import { ownBetween, ownTotalKey } from "./unread.ts";

/** The two receipts a user's devices send. */
export type CursorKind = "read" | "delivered";

const PREFIX: Record<CursorKind, string> = { read: "room_reads", delivered: "room_delivered" };

export interface ReadCursor {
  seq: number;
  at: string;
  /**
   * Read cursors only: how many of the user's own messages had a seq at or
   * below `seq` when it moved (store/unread.ts). Absent on older cursors.
   */
  own?: number;
}

/**
 * Moves the user's cursor to `seq` if that is further than it was. Returns the
 * cursor after the call and whether this call moved it.
 */
export function markReadUpTo(
  kv: Deno.Kv,
  roomId: string,
  userId: string,
  seq: number,
  now: Date,
): Promise<{ changed: boolean; cursor: ReadCursor }> {
  return markUpTo(kv, "read", roomId, userId, seq, now);
}

/** {@linkcode markReadUpTo} for either cursor. */
export async function markUpTo(
  kv: Deno.Kv,
  kind: CursorKind,
  roomId: string,
  userId: string,
  seq: number,
  now: Date,
): Promise<{ changed: boolean; cursor: ReadCursor }> {
  const key = [PREFIX[kind], roomId, userId];
  for (let attempt = 0; attempt < 20; attempt++) {
    if (kind === "delivered") {
      const current = await kv.get<ReadCursor>(key);
      if (current.value && current.value.seq >= seq) {
        return { changed: false, cursor: current.value };
      }
      const cursor: ReadCursor = { seq, at: now.toISOString() };
      if ((await kv.atomic().check(current).set(key, cursor).commit()).ok) {
        return { changed: true, cursor };
      }
      continue;
    }
    // A read cursor also records the user's own messages up to it, checked against their total
    // (a send from another device retries this), so unread counts stay exact (store/unread.ts).
    const [current, head, own] = await kv.getMany<[ReadCursor, RoomHead, Deno.KvU64]>([
      key,
      ["room_heads", roomId],
      ownTotalKey(roomId, userId),
    ]);
    if (current.value && current.value.seq >= seq) {
      return { changed: false, cursor: { seq: current.value.seq, at: current.value.at } };
    }
    const total = Number(own.value?.value ?? 0n);
    const after = await ownBetween(kv, roomId, userId, seq, head.value?.seq ?? 0);
    const cursor: ReadCursor = { seq, at: now.toISOString(), own: total - after };
    if ((await kv.atomic().check(current).check(own).set(key, cursor).commit()).ok) {
      return { changed: true, cursor: { seq, at: cursor.at } };
    }
  }
  // Only other forward moves can beat us twenty times: report where the cursor is now.
  const latest = (await kv.get<ReadCursor>(key)).value;
  return {
    changed: false,
    cursor: latest ? { seq: latest.seq, at: latest.at } : { seq: 0, at: now.toISOString() },
  };
}

/** The read cursors of the given users in a room (0 for users who never read it). */
export function readCursors(
  kv: Deno.Kv,
  roomId: string,
  userIds: string[],
): Promise<Map<string, number>> {
  return cursorsOf(kv, "read", roomId, userIds);
}

/** Either cursor of the given users in a room (0 where there is none). */
export async function cursorsOf(
  kv: Deno.Kv,
  kind: CursorKind,
  roomId: string,
  userIds: string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < userIds.length; i += 10) {
    const batch = userIds.slice(i, i + 10);
    const entries = await kv.getMany<ReadCursor[]>(batch.map((u) => [PREFIX[kind], roomId, u]));
    entries.forEach((e, j) => out.set(batch[j], e.value?.seq ?? 0));
  }
  return out;
}
