/**
 * @module
 * The `data` of a successful ack, for every client event (docs/PROTOCOL.md §5):
 * `{success: true, ...}` plus what the event's handler returns
 * (realtime/handlers/*, realtime/calls.ts). Written from those handlers for
 * the AsyncAPI document (routes/asyncapi.ts), not used to build replies;
 * tests/asyncapi_test.ts checks that every event of the live table has one
 * and that real acks fit them. A failed
 * ack is `failureSchema` (./server_events.ts) for every event alike.
 * Objects are not strict: a field added later keeps old clients valid.
 */

import { z } from "zod";
import { roleSchema } from "../../store/users.ts";
import {
  id,
  isoTime,
  messageSchema,
  notificationSchema,
  presenceStatusSchema,
} from "./server_events.ts";

const count = z.number().int().min(0);

/** `{success: true, ...fields}`. */
function ack<T extends z.ZodRawShape>(fields: T) {
  return z.object({ success: z.literal(true), ...fields });
}

/** A participant as a join shows it (realtime/handlers/rooms.ts `visibleTo`). */
const participantSchema = z.object({ userId: id, role: roleSchema });

/** A user's presence (store/presence.ts `getPresences`). */
const presenceSchema = z.object({
  userId: id,
  status: presenceStatusSchema,
  customStatus: z.string().optional(),
  lastSeen: isoTime.nullable().meta({ description: "Now when online; null if never seen" }),
});

/** A page of messages with the room's read and delivery cursors (realtime/receipts.ts). */
const pageFields = {
  messages: z.array(messageSchema),
  hasMore: z.boolean(),
  reads: z.record(z.string(), z.number().int()),
  delivered: z.record(z.string(), z.number().int()),
  startsAt: z.number().int().min(1).optional()
    .meta({ description: "The room's first kept seq (retention removed those before)" }),
};

const callAck = ack({ callId: id, status: z.string() });

/** Success ack `data` per client event name (auth:refresh included; auth is never acked). */
export const ACK_SCHEMAS: Readonly<Record<string, z.ZodType>> = Object.freeze({
  "auth:refresh": ack({ expiresAt: isoTime }),
  "ping": ack({ time: isoTime }),
  "room:join": ack({
    roomId: id,
    participants: z.array(participantSchema),
    members: z.array(participantSchema).optional()
      .meta({ description: "Everyone who may use the room (visit and chat rooms)" }),
    recovered: z.boolean().optional().meta({ description: "Only with `since` (a resume)" }),
    ...Object.fromEntries(Object.entries(pageFields).map(([k, v]) => [k, v.optional()])),
  }),
  "room:leave": ack({ roomId: id }),
  "message:send": ack({
    message: messageSchema,
    duplicate: z.boolean().meta({ description: "The clientMessageId was already stored" }),
  }),
  "message:history": ack({ roomId: id, ...pageFields }),
  "message:read": ack({ roomId: id, seq: z.number().int().min(0) }),
  "message:delivered": ack({ roomId: id, seq: z.number().int().min(0) }),
  "message:edit": ack({ message: messageSchema, changed: z.boolean() }),
  "message:delete": ack({ message: messageSchema }),
  "message:versions": ack({ message: messageSchema, versions: z.array(z.unknown()) }),
  "room:list": ack({
    rooms: z.array(z.object({
      roomId: id,
      kind: z.string(),
      lastMessage: messageSchema.optional(),
      readSeq: z.number().int().min(0),
      unreadCount: count,
    })),
    nextOffset: z.number().int().min(0).nullable(),
  }),
  "typing:start": ack({}),
  "typing:stop": ack({}),
  "presence:get": ack({ presences: z.array(presenceSchema) }),
  "presence:setStatus": ack({
    status: z.enum(["online", "away", "busy"]),
    customStatus: z.string().optional(),
  }),
  "presence:subscribe": ack({ presences: z.array(presenceSchema) }),
  "presence:unsubscribe": ack({ userIds: z.array(id) }),
  "user:profiles": ack({
    users: z.array(z.object({ userId: id, name: z.string(), role: roleSchema })),
  }),
  "notification:read": ack({ notificationId: id, unreadCount: count }),
  "notification:getUnreadCount": ack({ unreadCount: count }),
  "notification:list": ack({ notifications: z.array(notificationSchema), hasMore: z.boolean() }),
  "call:initiate": callAck,
  "call:accept": callAck,
  "call:reject": callAck,
  "call:end": ack({ callId: id, status: z.string(), duration: count }),
  "call:connected": callAck,
  "call:signal": ack({}),
});
