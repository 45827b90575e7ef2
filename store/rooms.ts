/**
 * @module
 * Room participants: who has joined a room and not left it. Membership is per
 * user, not per connection, so a second tab joining changes nothing and the
 * participant list is the same in every isolate.
 *
 * Keys:
 * - `["room_members", roomId, userId]` -> {@linkcode Participant}
 */

import { groupFor } from "./group_commit.ts";

export interface Participant {
  userId: string;
  role: string;
  joinedAt: string;
}

/** Most participants a room lists; rooms are conversations, not broadcast lists. */
export const MAX_LISTED_PARTICIPANTS = 500;

/** Adds a participant; `added` is false if the user already was one (nothing changes then). */
export async function addParticipant(
  kv: Deno.Kv,
  roomId: string,
  p: Participant,
): Promise<{ added: boolean }> {
  const key = ["room_members", roomId, p.userId];
  const res = await groupFor(kv).commit({
    checks: [{ key, versionstamp: null }],
    mutations: [{ type: "set", key, value: p }],
  });
  return { added: res.ok };
}

/** Removes a participant; `removed` is false if the user was not one. */
export async function removeParticipant(
  kv: Deno.Kv,
  roomId: string,
  userId: string,
): Promise<{ removed: boolean }> {
  const key = ["room_members", roomId, userId];
  const current = await kv.get(key);
  if (current.versionstamp === null) return { removed: false };
  const res = await groupFor(kv).commit({
    checks: [current],
    mutations: [{ type: "delete", key }],
  });
  return { removed: res.ok };
}

export async function listParticipants(kv: Deno.Kv, roomId: string): Promise<Participant[]> {
  const out: Participant[] = [];
  const iter = kv.list<Participant>({ prefix: ["room_members", roomId] }, {
    limit: MAX_LISTED_PARTICIPANTS,
  });
  for await (const e of iter) out.push(e.value);
  return out;
}
