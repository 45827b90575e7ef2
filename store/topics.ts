/**
 * @module
 * Topic room memberships. Unlike visits and chats, a topic has no fixed
 * audience, so a membership lasts only as long as a socket holds it: one row
 * per (room, user, socket), deleted when the socket leaves or closes, and
 * otherwise alive only until `expiresAt`, which the server's heartbeat moves
 * forward. A process that dies leaves rows that stop counting at once and are
 * deleted by KV's expiry later, so memberships never accumulate.
 *
 * Keys:
 * - `["topic_members", roomId, userId, socketId]` -> {@linkcode TopicMember}
 */

import { oneAtATime } from "./serial.ts";

import { MAX_LISTED_PARTICIPANTS, type Participant } from "./rooms.ts";

export interface TopicMember extends Participant {
  socketId: string;
  /** Ms since the epoch; the row no longer counts after this. */
  expiresAt: number;
}

/** KV deletes a row this long after its last refresh: a backstop for rows a dead process left. */
const BACKSTOP_MS = 24 * 3600 * 1000;

const prefix = (roomId: string, userId: string) => ["topic_members", roomId, userId];

/**
 * One user's joins and leaves of one topic run one at a time in this process:
 * two tabs closing together would otherwise each see the other's row and
 * neither announce that the user left.
 */
const memberLock = (roomId: string, userId: string) => `topic_member\u0000${roomId}\u0000${userId}`;

/** The user's membership rows in the topic, live or not. */
async function rowsOf(kv: Deno.Kv, roomId: string, userId: string): Promise<TopicMember[]> {
  const out: TopicMember[] = [];
  for await (const e of kv.list<TopicMember>({ prefix: prefix(roomId, userId) })) out.push(e.value);
  return out;
}

/**
 * Records that `socketId` joined the topic. `added` is true when the user had
 * no other live socket in it (so this is news to the room).
 */
export function joinTopic(
  kv: Deno.Kv,
  roomId: string,
  member: TopicMember,
  now: number,
): Promise<{ added: boolean }> {
  return oneAtATime(kv, memberLock(roomId, member.userId), async () => {
    const rows = await rowsOf(kv, roomId, member.userId);
    const had = rows.some((r) => r.socketId === member.socketId);
    const others = rows.some((r) => r.socketId !== member.socketId && r.expiresAt > now);
    await kv.set([...prefix(roomId, member.userId), member.socketId], member, {
      expireIn: BACKSTOP_MS,
    });
    return { added: !others && !had };
  });
}

/**
 * Ends one socket's membership. `removed` is true when it was the user's last
 * live socket in the topic (so the room should hear they left).
 */
export function leaveTopic(
  kv: Deno.Kv,
  roomId: string,
  userId: string,
  socketId: string,
  now: number,
): Promise<{ removed: boolean }> {
  return oneAtATime(kv, memberLock(roomId, userId), async () => {
    const rows = await rowsOf(kv, roomId, userId);
    if (!rows.some((r) => r.socketId === socketId)) return { removed: false };
    await kv.delete([...prefix(roomId, userId), socketId]);
    return { removed: !rows.some((r) => r.socketId !== socketId && r.expiresAt > now) };
  });
}

/**
 * Moves the expiry of the given memberships (this process's live sockets)
 * forward: read in getMany batches of 10 (its limit), written in commits of
 * up to 500. A row deleted meanwhile (the socket left) is not brought back.
 */
export async function refreshTopics(
  kv: Deno.Kv,
  rows: { roomId: string; userId: string; socketId: string }[],
  expiresAt: number,
): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const reads = [];
    for (let j = 0; j < chunk.length; j += 10) {
      const keys = chunk.slice(j, j + 10).map((r) => [...prefix(r.roomId, r.userId), r.socketId]);
      reads.push(kv.getMany<TopicMember[]>(keys));
    }
    const live = (await Promise.all(reads)).flat().filter((e) => e.value !== null);
    const refresh = (op: Deno.AtomicOperation, e: Deno.KvEntry<TopicMember>) =>
      op.check(e).set(e.key, { ...e.value, expiresAt }, { expireIn: BACKSTOP_MS });
    const op = kv.atomic();
    for (const e of live) refresh(op, e as Deno.KvEntry<TopicMember>);
    if ((await op.commit()).ok) continue;
    // A socket left between the read and the commit: refresh the others one by one.
    await Promise.all(
      live.map((e) => refresh(kv.atomic(), e as Deno.KvEntry<TopicMember>).commit()),
    );
  }
}

/** The topic's members at `now`, one entry per user (earliest join), in user id order. */
export async function listTopicMembers(
  kv: Deno.Kv,
  roomId: string,
  now: number,
): Promise<Participant[]> {
  const byUser = new Map<string, Participant>();
  const iter = kv.list<TopicMember>({ prefix: ["topic_members", roomId] }, { batchSize: 500 });
  for await (const e of iter) {
    const m = e.value;
    if (m.expiresAt <= now) continue;
    const seen = byUser.get(m.userId);
    if (!seen || m.joinedAt < seen.joinedAt) {
      byUser.set(m.userId, { userId: m.userId, role: m.role, joinedAt: m.joinedAt });
    }
    if (byUser.size >= MAX_LISTED_PARTICIPANTS && !seen) break;
  }
  return [...byUser.values()];
}

/**
 * Deletes membership rows whose `expiresAt` passed (left by a process that
 * died), at most `limit` per call. Returns the memberships that ended with
 * them: users with no live socket left in that topic, whose departure this
 * call committed (so among racing isolates one announces it).
 */
export async function sweepExpiredTopics(
  kv: Deno.Kv,
  now: number,
  limit = 1000,
): Promise<(Participant & { roomId: string })[]> {
  const expired: Deno.KvEntry<TopicMember>[] = [];
  const live = new Set<string>();
  const key = (roomId: unknown, userId: unknown) => `${roomId}\u0000${userId}`;
  for await (const e of kv.list<TopicMember>({ prefix: ["topic_members"] }, { batchSize: 500 })) {
    if (e.value.expiresAt > now) live.add(key(e.key[1], e.key[2]));
    else if (expired.length < limit) expired.push(e);
  }
  const ended = new Map<string, Participant & { roomId: string }>();
  for (let i = 0; i < expired.length; i += 100) {
    const batch = expired.slice(i, i + 100);
    const op = kv.atomic();
    for (const e of batch) op.check(e).delete(e.key);
    // Lost to a heartbeat that revived one, or to another sweeper: the next sweep looks again.
    if (!(await op.commit()).ok) continue;
    for (const e of batch) {
      const k = key(e.key[1], e.key[2]);
      if (live.has(k)) continue;
      const { userId, role, joinedAt } = e.value;
      ended.set(k, { roomId: e.key[1] as string, userId, role, joinedAt });
    }
  }
  return [...ended.values()];
}

/** How many membership rows (live or not yet purged) a topic has: for tests and operators. */
export async function countTopicRows(kv: Deno.Kv, roomId?: string): Promise<number> {
  let n = 0;
  const sel = { prefix: roomId ? ["topic_members", roomId] : ["topic_members"] };
  for await (const _ of kv.list(sel)) n++;
  return n;
}
