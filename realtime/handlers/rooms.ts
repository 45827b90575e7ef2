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
import {
  addParticipant,
  listParticipants,
  type Participant,
  removeParticipant,
} from "../../store/rooms.ts";
import { joinTopic, leaveTopic, listTopicMembers } from "../../store/topics.ts";
import { getHead, listSince } from "../../store/messages.ts";
import {
  authorizeRoom,
  authorizeRoomCached,
  requireRoom,
  ROOM_KINDS,
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

async function join(ctx: HandlerContext, room: RoomRef): Promise<{ added: boolean }> {
  const { kv, clock, topics } = ctx.services;
  const member = {
    userId: ctx.userId,
    role: ctx.role,
    joinedAt: new Date(clock.now()).toISOString(),
  };
  if (room.kind !== "topic") return await addParticipant(kv, room.id, member);
  return await joinTopic(
    kv,
    room.id,
    { ...member, socketId: ctx.socketId, expiresAt: topics.expiry() },
    clock.now(),
  );
}

async function participants(ctx: HandlerContext, room: RoomRef): Promise<Participant[]> {
  const { kv, clock } = ctx.services;
  return room.kind === "topic"
    ? await listTopicMembers(kv, room.id, clock.now())
    : await listParticipants(kv, room.id);
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
      if (input.since === undefined) return { roomId: room.id, participants: shown };
      // A cursor past the head belongs to another room or another store: fail closed.
      const head = await getHead(kv, room.id);
      if (input.since > (head?.seq ?? 0)) {
        return {
          roomId: room.id,
          participants: shown,
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
      return { roomId: room.id, participants: shown, recovered: true, ...result, startsAt };
    },
  }),

  "room:leave": defineEvent({
    ack: true,
    schema: z.object({ roomId: roomIdSchema }),
    async handler(ctx, input) {
      const room = requireRoom(input.roomId);
      const { kv, clock, emitter, audit } = ctx.services;
      ctx.rooms.leave(room.id);
      const { removed } = room.kind === "topic"
        ? await leaveTopic(kv, room.id, ctx.userId, ctx.socketId, clock.now())
        : await removeParticipant(kv, room.id, ctx.userId);
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
