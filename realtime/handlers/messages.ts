/**
 * @module
 * message:send and message:history. A send names its room one of three ways
 * (roomId, visitId for `visit:V`, recipientId for the direct chat), is
 * authorized, committed with the room's next seq, acknowledged, and only then
 * delivered: message:new to every other socket of the room's audience and
 * message:sent to the sender's socket. A retried clientMessageId returns the
 * stored message and delivers nothing again.
 */

import { z } from "zod";
import { conflict, invalid } from "../../lib/errors.ts";
import { appendMessage, getHead, listHistory } from "../../store/messages.ts";
import { StaleGuardError } from "../../store/message_batch.ts";
import { type CursorKind, markUpTo } from "../../store/receipts.ts";
import { roomFloor } from "../../store/retention.ts";
import { idSchema } from "../../store/ids.ts";
import {
  audienceOf,
  authorizeRoom,
  authorizeRoomCached,
  chatRoomId,
  type Grant,
  requireRoom,
} from "../access.ts";
import { defineEvent, type HandlerContext } from "../events.ts";
import { withReadStatus } from "../receipts.ts";
import { auditRead, roomTarget } from "../audit.ts";
import { messageNewId, naming } from "../emit.ts";
import { int, jsonObject, text } from "../payload.ts";

/** Longest message text, in UTF-8 bytes (a stored message must fit KV's 64 KiB value limit). */
export const MAX_MESSAGE_BYTES = 16 * 1024;
const MAX_ATTACHMENTS = 10;

const attachmentSchema = z.object({
  url: text(2048).refine((u) => /^(https:\/\/|\/)/.test(u), "must be an https:// or /path URL"),
  name: text(255).optional(),
  type: text(127).optional(),
  size: int(0).optional(),
});

/** Exactly one of roomId, visitId and recipientId. */
const target = {
  roomId: text(200).optional(),
  visitId: idSchema.optional(),
  recipientId: idSchema.optional(),
};

function oneTarget(v: { roomId?: string; visitId?: string; recipientId?: string }): boolean {
  return [v.roomId, v.visitId, v.recipientId].filter((x) => x !== undefined).length === 1;
}

const ONE_TARGET = {
  message: "exactly one of roomId, visitId and recipientId is required",
  path: ["roomId"],
};

/** Resolves the target to a room and checks the caller may `action` it. */
export async function resolve(
  ctx: HandlerContext,
  input: { roomId?: string; visitId?: string; recipientId?: string },
  action: "read" | "publish",
  userField: "recipientId" | "userId",
): Promise<Grant> {
  if (input.recipientId === ctx.userId) {
    throw invalid("There is no direct chat with yourself", [
      { path: userField, message: "is your own id" },
    ]);
  }
  const room = requireRoom(
    input.recipientId !== undefined
      ? chatRoomId(ctx.userId, input.recipientId)
      : input.roomId ?? `visit:${input.visitId}`,
  );
  const visitRoom = room.kind === "visit" || room.kind === "call";
  const cached = action === "publish" ? ctx.rooms.canPublish(room.id) : ctx.rooms.has(room.id);
  if (cached && !visitRoom) return { room };
  // A visit room's audience needs the visit record: sends take it from the cache, with a guard.
  if (visitRoom && action === "publish") {
    return await authorizeRoomCached(ctx.services.kv, ctx.services.visits, ctx, room, action);
  }
  return await authorizeRoom(ctx.services.kv, ctx, room, action);
}

export const messageEvents = {
  "message:send": defineEvent({
    ack: true,
    limit: "message",
    schema: z.object({
      ...target,
      message: text(MAX_MESSAGE_BYTES),
      attachments: z.array(attachmentSchema).max(MAX_ATTACHMENTS).optional(),
      metadata: jsonObject(4096).optional(),
      clientMessageId: text(64).optional(),
    }).refine(oneTarget, ONE_TARGET),
    async handler(ctx, input) {
      const { kv, clock, newId, emitter, visits } = ctx.services;
      const id = `msg_${newId()}`;
      const send = async () => {
        const grant = await resolve(ctx, input, "publish", "recipientId");
        const { room } = grant;
        if (room.kind === "notifications") {
          throw invalid("Messages cannot be sent to notification rooms");
        }
        const recipientId = room.kind === "chat"
          ? room.users.find((u) => u !== ctx.userId)
          : undefined;
        const visitId = room.kind === "visit" || room.kind === "call" ? room.visitId : undefined;
        const stored = await appendMessage(kv, {
          roomId: room.id,
          senderId: ctx.userId,
          recipientId,
          visitId,
          message: input.message,
          attachments: input.attachments,
          metadata: input.metadata,
          clientMessageId: input.clientMessageId,
        }, {
          id,
          now: new Date(clock.now()),
          guard: grant.guard,
          // Its message:new goes into the bus log in the message's own commit (other processes).
          announce: { to: audienceOf(grant), exceptSocket: ctx.socketId },
        });
        return { grant, ...stored };
      };
      let sent;
      try {
        sent = await send();
      } catch (err) {
        if (!(err instanceof StaleGuardError)) throw err;
        // The visit changed since it was cached: decide again on the stored record.
        visits.invalidate(String(err.key[1]));
        sent = await send().catch((again) => {
          if (!(again instanceof StaleGuardError)) throw again;
          throw conflict("The visit is changing; retry the send", true);
        });
      }
      const { grant, message, created } = sent;
      const { room } = grant;
      if (created) {
        emitter.emit(audienceOf(grant), "message:new", message, {
          exceptSocket: ctx.socketId,
          id: messageNewId(room.id, message.seq),
          logged: true,
        });
        emitter.emit({ sockets: [ctx.socketId] }, "message:sent", message);
      }
      return { message, duplicate: !created };
    },
  }),

  "message:history": defineEvent({
    ack: true,
    schema: z.object({
      roomId: text(200).optional(),
      visitId: idSchema.optional(),
      userId: idSchema.optional(),
      before: int(1).optional(),
      limit: int(1, 100).default(50),
    }).refine(
      (v) => [v.roomId, v.visitId, v.userId].filter((x) => x !== undefined).length === 1,
      { message: "exactly one of roomId, visitId and userId is required", path: ["roomId"] },
    ),
    async handler(ctx, input) {
      const grant = await resolve(
        ctx,
        {
          roomId: input.roomId,
          visitId: input.visitId,
          recipientId: input.userId,
        },
        "read",
        "userId",
      );
      const { room } = grant;
      const page = await listHistory(ctx.services.kv, room.id, {
        before: input.before,
        limit: input.limit,
      });
      const result = await withReadStatus(ctx.services.kv, grant, page);
      auditRead(ctx, "message.history", roomTarget(room), result.messages);
      // Retention may have removed the oldest messages: the room now begins at `startsAt`.
      const startsAt = await roomFloor(ctx.services.kv, room.id);
      return { roomId: room.id, ...result, startsAt };
    },
  }),

  "message:read": cursorEvent("read"),
  "message:delivered": cursorEvent("delivered"),
};

/**
 * message:read and message:delivered: move the user's cursor forward (never
 * back, never past the room's last message) and tell the room's other users
 * with `message:status`. A device sends `delivered` for what it received,
 * `read` for what the user saw.
 */
function cursorEvent(kind: CursorKind) {
  return defineEvent({
    ack: true,
    schema: z.object({ roomId: text(200), seq: int(1) }),
    async handler(ctx, input) {
      const grant = await resolve(ctx, { roomId: input.roomId }, "read", "userId");
      const { kv, clock, emitter } = ctx.services;
      const head = await getHead(kv, grant.room.id);
      if (input.seq > (head?.seq ?? 0)) {
        throw invalid(`seq ${input.seq} is past the last message of "${grant.room.id}"`, [
          { path: "seq", message: "past the room's last message" },
        ]);
      }
      const { changed, cursor } = await markUpTo(
        kv,
        kind,
        grant.room.id,
        ctx.userId,
        input.seq,
        new Date(clock.now()),
      );
      if (changed) {
        emitter.emit(audienceOf(grant), "message:status", {
          roomId: grant.room.id,
          userId: ctx.userId,
          seq: cursor.seq,
          status: kind,
          at: cursor.at,
        }, {
          exceptSocket: ctx.socketId,
          ...naming(ctx),
        });
        // Reading changes the reader's unread count: all of their devices hear it.
        if (kind === "read") await ctx.services.unread.read(ctx.userId, grant.room.id);
      }
      return { roomId: grant.room.id, seq: cursor.seq };
    },
  });
}
