/**
 * @module
 * room:join and room:leave. Joining authorizes, subscribes this socket, records
 * the user as a participant (once per user, so a second tab is not news) and,
 * with `since`, returns the messages the client missed.
 *
 * Privacy: a patient never learns that another patient exists. Participant
 * lists shown to a patient hold only staff (and the patient), and a patient's
 * join or leave is announced to staff only. Topic memberships are per socket
 * (store/topics.ts) and end with the user's last socket there. Every join,
 * leave and resume read is in the audit trail.
 */

import { roomFloor } from "../../store/retention.ts";
import { z } from "zod";
import { invalid } from "../../lib/errors.ts";
import type { Participant } from "../../store/rooms.ts";
import { getUsers } from "../../store/users.ts";
import { joinTopic, leaveTopic, listTopicMembers } from "../../store/topics.ts";
import { getHead, listSince } from "../../store/messages.ts";
import {
  authorizeRoom,
  authorizeRoomCached,
  type Grant,
  requireRoom,
  ROOM_KINDS,
  roomAudience,
  type RoomRef,
} from "../access.ts";
import { auditActor, defineEvent, type HandlerContext } from "../events.ts";
import { announceMembership } from "../topics.ts";
import { withReadStatus } from "../receipts.ts";
import { auditRead, roomTarget } from "../audit.ts";
import { int, jsonObject, text } from "../payload.ts";

const RESUME_LIMIT = 100;

const roomIdSchema = text(200);

/** Whether this user may also publish where they may join (checked once, at join). */
async function publishGrant(ctx: HandlerContext, room: RoomRef): Promise<boolean> {
  try {
    await authorizeRoomCached(ctx.services.kv, ctx.services.visits, ctx, room, "publish");
    return true;
  } catch {
    return false;
  }
}

/** The participants this user may see: patients see staff and themselves only. */
function visibleTo(ctx: HandlerContext, list: Participant[]) {
  return list
    .filter((p) => ctx.role !== "patient" || p.role !== "patient" || p.userId === ctx.userId)
    .map((p) => ({ userId: p.userId, role: p.role }));
}

/**
 * Records this socket in the room's live memberships (store/topics.ts: one row
 * per socket, refreshed while it beats, gone when it leaves or closes). `added`
 * when it is the user's first live socket there: news to the room.
 */
async function join(ctx: HandlerContext, room: RoomRef): Promise<{ added: boolean }> {
  const { kv, clock, topics } = ctx.services;
  return await joinTopic(kv, room.id, {
    userId: ctx.userId,
    role: ctx.role,
    joinedAt: new Date(clock.now()).toISOString(),
    socketId: ctx.socketId,
    expiresAt: topics.expiry(),
  }, clock.now());
}

/** The users with a live socket in the room, once each. */
async function participants(ctx: HandlerContext, room: RoomRef): Promise<Participant[]> {
  const { kv, clock } = ctx.services;
  return await listTopicMembers(kv, room.id, clock.now());
}

/** Every user with access to a visit, call or chat room (topics have no fixed list). */
async function members(ctx: HandlerContext, grant: Grant): Promise<Participant[] | undefined> {
  const ids = roomAudience(grant);
  if (ids.length === 0) return undefined;
  const users = await getUsers(ctx.services.kv, ids);
  return users.flatMap((u) => u ? [{ userId: u.id, role: u.role, joinedAt: "" }] : []);
}

export const roomEvents = {
  "room:join": defineEvent({
    ack: true,
    schema: z.object({
      roomId: roomIdSchema,
      roomType: z.enum(ROOM_KINDS).optional(),
      metadata: jsonObject(4096).optional(),
      since: int(0).optional(),
    }),
    async handler(ctx, input) {
      const room = requireRoom(input.roomId);
      if (input.roomType && input.roomType !== room.kind) {
        throw invalid(`roomType "${input.roomType}" does not match room "${room.id}"`, [
          { path: "roomType", message: `expected "${room.kind}"` },
        ]);
      }
      const { kv, emitter, audit, visits } = ctx.services;
      // A resume returns stored messages: decided on the stored visit. A plain join may use the
      // cache (a visit change anywhere takes removed users out within about a second).
      const grant = input.since === undefined
        ? await authorizeRoomCached(kv, visits, ctx, room, "join")
        : await authorizeRoom(kv, ctx, room, "join");
      const target = roomTarget(room);
      // Over the socket's cap nothing is joined or stored.
      ctx.rooms.reserve([room.id]);
      ctx.rooms.join(room.id, { publish: await publishGrant(ctx, room) });
      const { added } = await join(ctx, room);
      audit.record({ ...auditActor(ctx), action: "room.join", target, outcome: "success" });
      if (added) {
        announceMembership(emitter, "room:userJoined", {
          roomId: room.id,
          userId: ctx.userId,
          role: ctx.role,
        });
      }
      const shown = visibleTo(ctx, await participants(ctx, room));
      const everyone = await members(ctx, grant);
      const listed = everyone ? { members: visibleTo(ctx, everyone) } : {};
      if (input.since === undefined) return { roomId: room.id, participants: shown, ...listed };
      // A cursor past the head belongs to another room or another store: fail closed.
      const head = await getHead(kv, room.id);
      if (input.since > (head?.seq ?? 0)) {
        return {
          roomId: room.id,
          participants: shown,
          ...listed,
          recovered: false,
          messages: [],
          hasMore: false,
        };
      }
      const page = await listSince(kv, room.id, { since: input.since, limit: RESUME_LIMIT });
      const result = await withReadStatus(kv, grant, page);
      auditRead(ctx, "room.resume", target, result.messages);
      // Retention may have removed the oldest messages: the room now begins at `startsAt`.
      const startsAt = await roomFloor(kv, room.id);
      return {
        roomId: room.id,
        participants: shown,
        ...listed,
        recovered: true,
        ...result,
        startsAt,
      };
    },
  }),

  "room:leave": defineEvent({
    ack: true,
    schema: z.object({ roomId: roomIdSchema }),
    async handler(ctx, input) {
      const room = requireRoom(input.roomId);
      const { kv, clock, emitter, audit } = ctx.services;
      ctx.rooms.leave(room.id);
      const { removed } = await leaveTopic(kv, room.id, ctx.userId, ctx.socketId, clock.now());
      audit.record({
        ...auditActor(ctx),
        action: "room.leave",
        target: roomTarget(room),
        outcome: "success",
      });
      if (removed) {
        announceMembership(emitter, "room:userLeft", {
          roomId: room.id,
          userId: ctx.userId,
          role: ctx.role,
        });
      }
      return { roomId: room.id };
    },
  }),
};
