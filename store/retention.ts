/**
 * @module
 * Message retention and legal holds.
 *
 * Keys:
 * - `["holds", holdId]` -> {@linkcode Hold}
 * - `["holds_by_target", target, holdId]` -> holdId, target `room:<roomId>` or `visit:<visitId>`
 *   (a visit's hold covers its `visit:` and `call:` rooms)
 * - `["holds_epoch", target]` -> holdId: rewritten by every new hold on the target, so a sweep's
 *   commit can check that no hold was placed while it read (KV cannot check that a prefix is empty)
 * - `["room_floor", roomId]` -> number: the lowest seq the room still stores after a sweep (a
 *   room never swept has none: it begins at 1)
 *
 * A sweep deletes the messages (and their versions) older than the cut-off, oldest first, at
 * most {@linkcode SWEEP_BATCH} per commit, and skips held rooms. Heads, seqs and read cursors are
 * untouched, so cursors stay valid; history says where a swept room now begins.
 */

import type { Message } from "./messages.ts";

export interface Hold {
  id: string;
  roomId?: string;
  visitId?: string;
  reason?: string;
  createdBy: string;
  createdAt: string;
}

/** Messages deleted per commit (each with its version keys), well under KV's 1,000 mutations. */
export const SWEEP_BATCH = 100;

const targetOf = (h: { roomId?: string; visitId?: string }) =>
  h.roomId !== undefined ? `room:${h.roomId}` : `visit:${h.visitId}`;

export async function createHold(kv: Deno.Kv, hold: Hold): Promise<void> {
  await kv.atomic()
    .check({ key: ["holds", hold.id], versionstamp: null })
    .set(["holds", hold.id], hold)
    .set(["holds_by_target", targetOf(hold), hold.id], hold.id)
    .set(["holds_epoch", targetOf(hold)], hold.id)
    .commit();
}

/** Removes a hold; false when there is none with that id. */
export async function deleteHold(kv: Deno.Kv, id: string): Promise<Hold | null> {
  const entry = await kv.get<Hold>(["holds", id]);
  if (!entry.value) return null;
  const res = await kv.atomic()
    .check(entry)
    .delete(["holds", id])
    .delete(["holds_by_target", targetOf(entry.value), id])
    .commit();
  return res.ok ? entry.value : null;
}

export async function listHolds(kv: Deno.Kv, limit = 1000): Promise<Hold[]> {
  const out: Hold[] = [];
  for await (const e of kv.list<Hold>({ prefix: ["holds"] }, { limit })) out.push(e.value);
  return out;
}

/** The visit a `visit:` or `call:` room belongs to. */
function visitOf(roomId: string): string | undefined {
  return /^(?:visit|call):(.+)$/.exec(roomId)?.[1];
}

function targetsOf(roomId: string): string[] {
  const targets = [`room:${roomId}`];
  const visitId = visitOf(roomId);
  if (visitId !== undefined) targets.push(`visit:${visitId}`);
  return targets;
}

/** Whether a hold covers the room (on the room itself, or on its visit). */
export async function isHeld(kv: Deno.Kv, roomId: string): Promise<boolean> {
  for (const t of targetsOf(roomId)) {
    for await (const _ of kv.list({ prefix: ["holds_by_target", t] }, { limit: 1 })) return true;
  }
  return false;
}

/** The lowest seq the room still stores after a sweep (1 for a room never swept). */
export async function roomFloor(kv: Deno.Kv, roomId: string): Promise<number> {
  return (await kv.get<number>(["room_floor", roomId])).value ?? 1;
}

/**
 * Deletes messages sent before `before` (ms) in every room not on hold, in
 * batches; `pause` runs between batches so the sweep yields to the message
 * path. Resolves with how many messages it deleted.
 */
export async function sweepMessages(
  kv: Deno.Kv,
  before: number,
  pause: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0)),
): Promise<number> {
  let deleted = 0;
  for await (const head of kv.list({ prefix: ["room_heads"] })) {
    const roomId = head.key[1] as string;
    while (true) {
      // Read before the hold check: a hold placed after it changes these, and the commit fails.
      const epochs = await kv.getMany(targetsOf(roomId).map((t) => ["holds_epoch", t]));
      if (await isHeld(kv, roomId)) break;
      const old: Message[] = [];
      const iter = kv.list<Message>({ prefix: ["messages", roomId] }, { limit: SWEEP_BATCH });
      for await (const e of iter) {
        if (Date.parse(e.value.timestamp) >= before) break;
        old.push(e.value);
      }
      if (old.length === 0) break;
      const op = kv.atomic();
      for (const e of epochs) op.check(e);
      for (const m of old) {
        op.delete(["messages", roomId, m.seq]);
        for await (const v of kv.list({ prefix: ["message_versions", roomId, m.seq] })) {
          op.delete(v.key);
        }
      }
      op.set(["room_floor", roomId], old[old.length - 1].seq + 1);
      // A hold placed meanwhile wins: nothing of this batch is deleted.
      if (!(await op.commit()).ok) break;
      deleted += old.length;
      if (old.length < SWEEP_BATCH) break;
      await pause();
    }
  }
  return deleted;
}
