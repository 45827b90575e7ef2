/**
 * @module
 * Room ids and who may use them. Parsing is strict (one format per kind, ids
 * from store/ids.ts, sorted pair for chats), so a forged id fails here before
 * any KV read. Access follows docs/ARCHITECTURE.md: chats for their two users,
 * visit and call rooms for the visit's patient and clinicians, notification
 * rooms for their owner, topics readable by anyone signed in and writable by
 * staff; admins may join and read any room. Also who may see whom (presence,
 * profiles), who may chat and who may call.
 */

import { AppError, forbidden, invalid, ROOM_ACCESS_DENIED } from "../lib/errors.ts";
import { getUser, isStaff, type Role } from "../store/users.ts";
import { careTeam, getVisit, isVisitParticipant, shareVisit, type Visit } from "../store/visits.ts";
import { isId } from "../store/ids.ts";
import type { Guard } from "../store/message_batch.ts";
import type { VisitCache } from "./visit_cache.ts";

export type RoomRef =
  | { kind: "chat"; id: string; users: [string, string] }
  | { kind: "visit"; id: string; visitId: string }
  | { kind: "call"; id: string; visitId: string }
  | { kind: "notifications"; id: string; userId: string }
  | { kind: "topic"; id: string; topic: string };

export const ROOM_KINDS = ["chat", "visit", "call", "notifications", "topic"] as const;
export type RoomKind = typeof ROOM_KINDS[number];

/** Longest room id: "chat:" plus two 64-character ids and a separator. */
export const MAX_ROOM_ID_LENGTH = 140;

/** Parses a room id, or returns null if it is not exactly one of the documented formats. */
export function parseRoomId(id: string): RoomRef | null {
  if (id.length > MAX_ROOM_ID_LENGTH) return null;
  const parts = id.split(":");
  const [kind, a, b] = parts;
  if (kind === "chat" && parts.length === 3 && isId(a) && isId(b) && a < b) {
    return { kind, id, users: [a, b] };
  }
  if (parts.length !== 2 || !isId(a)) return null;
  switch (kind) {
    case "visit":
    case "call":
      return { kind, id, visitId: a };
    case "notifications":
      return { kind, id, userId: a };
    case "topic":
      return { kind, id, topic: a };
  }
  return null;
}

/** The id of the direct chat between two users (ids sorted, as the seed requires). */
export function chatRoomId(a: string, b: string): string {
  return a < b ? `chat:${a}:${b}` : `chat:${b}:${a}`;
}

/** Parses or throws INVALID_PAYLOAD naming the expected formats. */
export function requireRoom(id: string): RoomRef {
  const room = parseRoomId(id);
  if (!room) {
    throw invalid(
      "Invalid roomId: expected chat:<a>:<b> (sorted, distinct), visit:<id>, call:<id>, " +
        "notifications:<userId> or topic:<name>",
      [{ path: "roomId", message: "unknown room id format" }],
    );
  }
  return room;
}

export interface Actor {
  userId: string;
  role: Role;
}

export type RoomAction = "join" | "read" | "publish";

/** What a room grant found out, so callers need not read the visit again. */
export interface Grant {
  room: RoomRef;
  visit?: Visit;
  /** Set when the visit came from the cache: what a commit on this grant must check. */
  guard?: Guard;
}

/**
 * Checks that `actor` may `action` the room; throws FORBIDDEN "Room access
 * denied" otherwise. Every refusal looks the same, whether the visit exists
 * or not, so ids cannot be probed.
 */
export async function authorizeRoom(
  kv: Deno.Kv,
  actor: Actor,
  room: RoomRef,
  action: RoomAction,
): Promise<Grant> {
  const admin = actor.role === "admin";
  const adminPass = admin && action !== "publish";
  switch (room.kind) {
    case "chat": {
      if (adminPass) return { room };
      if (!room.users.includes(actor.userId)) throw forbidden();
      const other = room.users[0] === actor.userId ? room.users[1] : room.users[0];
      await assertMayChat(kv, actor, other);
      return { room };
    }
    case "visit":
    case "call":
      return visitGrant(actor, room, action, await getVisit(kv, room.visitId));
    case "notifications":
      if (adminPass || room.userId === actor.userId) return { room };
      throw forbidden();
    case "topic":
      if (action !== "publish" || isStaff(actor.role)) return { room };
      throw forbidden("Only staff may publish to topic rooms");
  }
}

/**
 * {@linkcode authorizeRoom}, with visit and call rooms decided from the visit
 * cache. For joins: a change made in another process reaches this one within
 * about a second, and then takes users no longer on the visit out of its rooms
 * (realtime/visit_cache.ts), so a join decided on a visit that just changed is
 * undone then. For sends, the grant carries a guard (the visit's key and
 * versionstamp) that the commit checks, so a visit changed anywhere since it
 * was cached stores nothing. Reads of stored messages use {@linkcode authorizeRoom}.
 */
export async function authorizeRoomCached(
  kv: Deno.Kv,
  visits: VisitCache,
  actor: Actor,
  room: RoomRef,
  action: RoomAction,
): Promise<Grant> {
  if (room.kind !== "visit" && room.kind !== "call") {
    return await authorizeRoom(kv, actor, room, action);
  }
  const cached = await visits.get(room.visitId);
  const grant = visitGrant(actor, room, action, cached?.visit ?? null);
  return { ...grant, guard: { key: ["visits", room.visitId], versionstamp: cached!.versionstamp } };
}

/**
 * Visit and call rooms: the visit's participants; admins may also join and
 * read (not publish). A missing visit is refused like any other.
 */
function visitGrant(actor: Actor, room: RoomRef, action: RoomAction, visit: Visit | null): Grant {
  if (actor.role === "admin" && action !== "publish" && visit) return { room, visit };
  if (!visit || !isVisitParticipant(visit, actor.userId)) throw forbidden();
  return { room, visit };
}

/** Every user with access to the room (chat: both users; visit and call: its participants). */
export function roomAudience(grant: Grant): string[] {
  if (grant.room.kind === "chat") return grant.room.users;
  if (grant.visit) return [grant.visit.patientId, ...grant.visit.clinicianIds];
  return [];
}

/** Who hears of the room's messages: its subscribed sockets and every user with access. */
export function audienceOf(grant: Grant): { rooms: string[]; users: string[] } {
  return { rooms: [grant.room.id], users: roomAudience(grant) };
}

/**
 * Direct chats: both users must exist and be enabled; a patient may chat only
 * with a clinician they share a visit with (never with another patient).
 */
export async function assertMayChat(kv: Deno.Kv, actor: Actor, otherId: string): Promise<void> {
  if (otherId === actor.userId) throw new AppError("INVALID_PAYLOAD", "Cannot chat with yourself");
  const other = await getUser(kv, otherId);
  if (!other || other.disabled || other.role === "service") throw forbidden(ROOM_ACCESS_DENIED);
  const patientInvolved = actor.role === "patient" || other.role === "patient";
  if (!patientInvolved) return;
  if (actor.role === "patient" && other.role === "patient") throw forbidden();
  if (!await shareVisit(kv, actor.userId, otherId)) throw forbidden();
}

/**
 * Who `actor` may see (presence, profiles): staff and services see everyone; a
 * patient sees themselves and the clinicians they share a visit with. Reads
 * KV once, for a patient's visits, and answers with a test for each id; ids
 * are not looked up, so an unknown id and another patient are refused alike.
 */
export async function userVisibility(
  kv: Deno.Kv,
  actor: Actor,
): Promise<(userId: string) => boolean> {
  if (isStaff(actor.role) || actor.role === "service") return () => true;
  const visible = actor.role === "patient" ? await careTeam(kv, actor.userId) : new Set<string>();
  visible.add(actor.userId);
  return (userId) => visible.has(userId);
}

/**
 * Presence privacy ({@linkcode userVisibility}), all or nothing. Throws
 * FORBIDDEN naming the refused ids (by position, not by anything learned
 * about them).
 */
export async function assertMaySeePresence(
  kv: Deno.Kv,
  actor: Actor,
  userIds: string[],
): Promise<void> {
  const maySee = await userVisibility(kv, actor);
  const refused = userIds.flatMap((id, i) => (maySee(id) ? [] : [i]));
  if (refused.length === 0) return;
  throw new AppError("FORBIDDEN", "Presence access denied", {
    issues: refused.map((i) => ({ path: `userIds.${i}`, message: "not visible to you" })),
  });
}

export const CALL_ACCESS_DENIED = "Call access denied";

/**
 * Calls: between users who share a visit, or between two staff members; with
 * a `visitId`, both must be on that visit. Services and disabled accounts
 * cannot be called.
 */
export async function assertMayCall(
  kv: Deno.Kv,
  actor: Actor,
  calleeId: string,
  visitId?: string,
): Promise<void> {
  const callee = await getUser(kv, calleeId);
  if (!callee || callee.disabled || callee.role === "service") throw forbidden(CALL_ACCESS_DENIED);
  if (visitId !== undefined) {
    const visit = await getVisit(kv, visitId);
    if (
      !visit || !isVisitParticipant(visit, actor.userId) || !isVisitParticipant(visit, calleeId)
    ) {
      throw forbidden(CALL_ACCESS_DENIED);
    }
    return;
  }
  if (isStaff(actor.role) && isStaff(callee.role)) return;
  if (!await shareVisit(kv, actor.userId, calleeId)) throw forbidden(CALL_ACCESS_DENIED);
}
