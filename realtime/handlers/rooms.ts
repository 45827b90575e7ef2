/**
 * @module
 * room:join and room:leave. Joining authorizes, subscribes this socket, records
 * the user as a participant (once per user, so a second tab is not news) and,
 * with `since`, returns the messages the client missed.
 */

import { z } from "zod";
import { invalid } from "../../lib/errors.ts";
import { addParticipant, listParticipants, removeParticipant } from "../../store/rooms.ts";
import { getHead, listSince } from "../../store/messages.ts";
import { authorizeRoom, requireRoom, ROOM_KINDS, type RoomRef } from "../access.ts";
import { defineEvent, type HandlerContext } from "../events.ts";
import { withReadStatus } from "../receipts.ts";
import { int, jsonObject, text } from "../payload.ts";

const RESUME_LIMIT = 100;

const roomIdSchema = text(200);

/** Whether this user may also publish where they may join (checked once, at join). */
async function publishGrant(ctx: HandlerContext, room: RoomRef): Promise<boolean> {
  try {
    await authorizeRoom(ctx.services.kv, ctx, room, "publish");
    return true;
  } catch {
    return false;
  }
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
      const { kv, clock, emitter } = ctx.services;
      const grant = await authorizeRoom(kv, ctx, room, "join");
      ctx.rooms.join(room.id, { publish: await publishGrant(ctx, room) });
      const { added } = await addParticipant(kv, room.id, {
        userId: ctx.userId,
        role: ctx.role,
        joinedAt: new Date(clock.now()).toISOString(),
      });
      if (added) {
        emitter.emitToRoom(room.id, "room:userJoined", {
          roomId: room.id,
          userId: ctx.userId,
          role: ctx.role,
        }, { exceptUser: ctx.userId });
      }
      const participants = (await listParticipants(kv, room.id)).map((p) => ({
        userId: p.userId,
        role: p.role,
      }));
      if (input.since === undefined) return { roomId: room.id, participants };
      // A cursor past the head belongs to another room or another store: fail closed.
      const head = await getHead(kv, room.id);
      if (input.since > (head?.seq ?? 0)) {
        return { roomId: room.id, participants, recovered: false, messages: [], hasMore: false };
      }
      const page = await listSince(kv, room.id, { since: input.since, limit: RESUME_LIMIT });
      return {
        roomId: room.id,
        participants,
        recovered: true,
        ...await withReadStatus(kv, grant, page),
      };
    },
  }),

  "room:leave": defineEvent({
    ack: true,
    schema: z.object({ roomId: roomIdSchema }),
    async handler(ctx, input) {
      const room = requireRoom(input.roomId);
      const { kv, emitter } = ctx.services;
      ctx.rooms.leave(room.id);
      const { removed } = await removeParticipant(kv, room.id, ctx.userId);
      if (removed) {
        emitter.emitToRoom(room.id, "room:userLeft", {
          roomId: room.id,
          userId: ctx.userId,
          role: ctx.role,
        }, { exceptUser: ctx.userId });
      }
      return { roomId: room.id };
    },
  }),
};
