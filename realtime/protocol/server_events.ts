/**
 * @module
 * The payload (`data`) of every event the server sends, as zod schemas: one
 * per name in `SERVER_EVENTS` (static/protocol.js), written from the code that
 * emits them (realtime/calls.ts, realtime/handlers/*, realtime/presence.ts,
 * realtime/topics.ts, realtime/notify.ts, realtime/visit_cache.ts, the session
 * and codecs) and checked against docs/PROTOCOL.md §6. Objects are not strict:
 * a field added later does not make old payloads invalid.
 *
 * - {@linkcode SERVER_EVENT_SCHEMAS}: name -> schema, frozen.
 * - {@linkcode ServerEventData}: the payload type of one event, for a typed emitter.
 * - {@linkcode serverEventJsonSchemas}: the same as JSON Schema, for `/api/docs`.
 * - {@linkcode checkServerEvent}: validates one payload (tests, debugging).
 */

import { z } from "zod";
import { ERROR_CODES } from "../../lib/errors.ts";
import { roleSchema } from "../../store/users.ts";

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** Ids (users, sockets, rooms, calls, messages, notifications): any string, never narrowed. */
export const id = z.string();

/** ISO-8601 UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
export const isoTime = z.iso.datetime();

/** A positive integer position in a room (1, 2, 3, ...). */
const seq = z.number().int().min(1);

/** `audio` or `video`, as given to `call:initiate`. */
export const callTypeSchema = z.enum(["audio", "video"]);

/** Every presence status a subscriber can be told (store/presence.ts `Status`). */
export const presenceStatusSchema = z.enum(["online", "offline", "away", "busy", "in_call"]);

/** Why a call ended, in `call:ended` (docs/PROTOCOL.md §5.15.12). */
export const callEndReasonSchema = z.enum([
  "answered_elsewhere",
  "rejected",
  "cancelled",
  "declined",
  "hangup",
  "missed",
  "connection_lost",
]);

/** One validation problem: where, and what is wrong. */
export const issueSchema = z.object({ path: z.string(), message: z.string() });

/**
 * A failed request, as a failure ack carries it and as the `error` event starts
 * (realtime/events.ts `errorReply`).
 */
export const failureSchema = z.object({
  success: z.literal(false),
  error: z.string(),
  code: z.enum(ERROR_CODES),
  issues: z.array(issueSchema).optional(),
  retryable: z.literal(true).optional(),
});

/** A message attachment, as sent (unknown keys removed). */
export const attachmentSchema = z.object({
  url: z.string(),
  name: z.string().optional(),
  type: z.string().optional(),
  size: z.number().int().min(0).optional(),
});

/**
 * The message object (docs/PROTOCOL.md §7, store/messages.ts `Message`). A
 * newly stored message (`message:new`, `message:sent`) is always `sent`; `read`
 * appears in history and resume results; `delivered` is in the stored type but
 * never used.
 */
export const messageSchema = z.object({
  id,
  seq,
  status: z.enum(["sent", "delivered", "read"]),
  timestamp: isoTime,
  roomId: id,
  senderId: id,
  /** Only in `chat:` rooms: the other user. */
  recipientId: id.optional(),
  /** Only in `visit:` and `call:` rooms. */
  visitId: id.optional(),
  message: z.string(),
  attachments: z.array(attachmentSchema).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  clientMessageId: z.string().optional(),
  /** The last edit (`message:edit`). */
  editedAt: isoTime.optional(),
  /** A tombstone (`message:delete`): `message` is "" and attachments and metadata are gone. */
  deletedAt: isoTime.optional(),
  deletedBy: id.optional(),
});

/** The notification object without its owner (realtime/notify.ts `notificationView`). */
export const notificationSchema = z.object({
  id,
  title: z.string(),
  message: z.string(),
  type: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  createdAt: isoTime,
  /** Absent while unread. */
  readAt: isoTime.optional(),
});

/** A user in a room: typing indicators and membership announcements. */
export const roomMemberSchema = z.object({ roomId: id, userId: id, role: roleSchema });

/** A `{callId}` call event. */
const callRef = z.object({ callId: id });

/** What a ringing device shows (realtime/calls.ts `incomingView`). */
export const callIncomingSchema = z.object({
  callId: id,
  callerId: id,
  callType: callTypeSchema,
  /** Only when the call was started about a visit. */
  visitId: id.optional(),
});

// ---------------------------------------------------------------------------------------------
// One schema per event

/** `connected`: this socket authenticated (auth frame, Authorization header or socket.io CONNECT). */
export const connectedSchema = z.object({ socketId: id, userId: id, role: roleSchema });

/** `connect_error`: authentication failed or the user has too many sockets; the close follows. */
export const connectErrorSchema = z.object({ message: z.string() });

/**
 * `error`: a frame without an ack id failed (`event` names it: `unknown` when
 * undecodable, `binary` for binary frames); on socket.io also the notice before
 * a server close, which has `closeCode` and no `event`.
 */
export const errorEventSchema = failureSchema.extend({
  event: z.string().optional(),
  closeCode: z.number().int().optional(),
});

/** `message:new`: a message was stored; the room's audience except the sending socket. */
export const messageNewSchema = messageSchema;

/** `message:sent`: the sending socket's own message, just before the `message:send` ack. */
export const messageSentSchema = messageSchema;

/** `room:unread`: the user's unread count in a room changed (a message came, or they read). */
export const roomUnreadSchema = z.object({ roomId: id, unreadCount: z.number().int().min(0) });

/** `message:updated`: a message was edited or redacted; the new message object (or tombstone). */
export const messageUpdatedSchema = messageSchema;

/** `message:status`: a user's cursor in a room moved forward (`message:read`, `message:delivered`). */
export const messageStatusSchema = z.object({
  roomId: id,
  userId: id,
  seq,
  /** `delivered`: one of the user's devices received up to `seq`; `read`: the user read it. */
  status: z.enum(["delivered", "read"]),
  at: isoTime,
});

/** `typing:start`: relayed to the room's subscribed sockets except the typist's. */
export const typingStartSchema = roomMemberSchema;

/** `typing:stop`: relayed like `typing:start`. */
export const typingStopSchema = roomMemberSchema;

/** `room:userJoined`: a user became a participant of the room (first join). */
export const roomUserJoinedSchema = roomMemberSchema;

/**
 * `room:userLeft`: a `room:leave` removed a participant; in a topic also when
 * the user's last socket there closed or its membership expired.
 */
export const roomUserLeftSchema = roomMemberSchema;

/** `room:removed`: this socket was taken out of a visit or call room (its user left the visit). */
export const roomRemovedSchema = z.object({
  roomId: id,
  reason: z.literal("access_revoked"),
});

/** `presence:changed`: a real transition of a user this socket subscribed to. */
export const presenceChangedSchema = z.object({
  userId: id,
  status: presenceStatusSchema,
  /** Only when set. */
  customStatus: z.string().optional(),
});

/** `notification:new`: a notification was stored for the user (also to `notifications:<userId>`). */
export const notificationNewSchema = notificationSchema;

/** `notification:read`: another socket of the user marked a notification read. */
export const notificationReadSchema = z.object({
  notificationId: id,
  unreadCount: z.number().int().min(0),
});

/** `call:incoming`: a call rings, to every socket of the callee (and to one connecting late). */
export const callIncomingEventSchema = callIncomingSchema;

/** `call:accepted`: the callee answered; to every socket of the caller and the answering one. */
export const callAcceptedSchema = callRef;

/** `call:rejected`: the callee refused; to every socket of the caller. */
export const callRejectedSchema = callRef;

/** `call:missed`: the ring deadline passed; to every socket of both users, before `call:ended`. */
export const callMissedSchema = z.object({
  callId: id,
  callerId: id,
  calleeId: id,
  callType: callTypeSchema,
});

/** `call:ended`: the call is over (or, `answered_elsewhere`/`rejected`, over on this device). */
export const callEndedSchema = z.object({
  callId: id,
  /** Seconds from acceptance to the end, rounded; 0 if never accepted. */
  duration: z.number().int().min(0),
  reason: callEndReasonSchema,
});

/** `call:signal`: WebRTC signalling relayed to the other party's call socket only. */
export const callSignalSchema = z.object({
  callId: id,
  type: z.enum(["offer", "answer", "ice-candidate"]),
  /** Exactly as sent: an SDP string or an RTCSessionDescriptionInit / RTCIceCandidateInit. */
  payload: z.union([z.string(), z.record(z.string(), z.unknown())]),
  /** The sender's user id. */
  from: id,
});

/** `call:active`: a socket connected while its user's call is answered (take it over with `call:connected`). */
export const callActiveSchema = callIncomingSchema.extend({
  calleeId: id,
  status: z.enum(["accepted", "in_progress"]),
});

// ---------------------------------------------------------------------------------------------
// The table

/**
 * Every server event's payload schema, keyed by event name. Its keys are
 * exactly `SERVER_EVENTS` (checked by server_events_test.ts: that frozen JS
 * array types as `string[]`, so the name union comes from these keys).
 */
export const SERVER_EVENT_SCHEMAS = Object.freeze(
  {
    "connected": connectedSchema,
    "connect_error": connectErrorSchema,
    "error": errorEventSchema,
    "message:new": messageNewSchema,
    "message:sent": messageSentSchema,
    "message:status": messageStatusSchema,
    "message:updated": messageUpdatedSchema,
    "room:unread": roomUnreadSchema,
    "typing:start": typingStartSchema,
    "typing:stop": typingStopSchema,
    "room:userJoined": roomUserJoinedSchema,
    "room:userLeft": roomUserLeftSchema,
    "room:removed": roomRemovedSchema,
    "presence:changed": presenceChangedSchema,
    "notification:new": notificationNewSchema,
    "notification:read": notificationReadSchema,
    "call:incoming": callIncomingEventSchema,
    "call:accepted": callAcceptedSchema,
    "call:rejected": callRejectedSchema,
    "call:missed": callMissedSchema,
    "call:ended": callEndedSchema,
    "call:signal": callSignalSchema,
    "call:active": callActiveSchema,
  } as const satisfies Record<string, z.ZodType>,
);

/** The name of an event the server sends (the same set as `SERVER_EVENTS`). */
export type ServerEventName = keyof typeof SERVER_EVENT_SCHEMAS;

/** The payload of server event `E`. */
export type ServerEventData<E extends ServerEventName> = z.infer<(typeof SERVER_EVENT_SCHEMAS)[E]>;

/** Whether `name` is one of the server's own event names. */
export function isServerEventName(name: string): name is ServerEventName {
  return Object.hasOwn(SERVER_EVENT_SCHEMAS, name);
}

/**
 * Every payload schema as JSON Schema, keyed by event name. Written in zod's
 * "input" mode, which (unlike "output") leaves objects open to fields added later.
 */
export function serverEventJsonSchemas(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(SERVER_EVENT_SCHEMAS).map((
      [name, schema],
    ) => [name, z.toJSONSchema(schema, { unrepresentable: "any", io: "input" })]),
  );
}

/** Checks `data` against the schema of server event `event`; unknown names fail. */
export function checkServerEvent(
  event: string,
  data: unknown,
): { ok: true } | { ok: false; issues: string[] } {
  if (!isServerEventName(event)) {
    return { ok: false, issues: [`"${event}" is not a server event`] };
  }
  const parsed = SERVER_EVENT_SCHEMAS[event].safeParse(data);
  if (parsed.success) return { ok: true };
  return {
    ok: false,
    issues: parsed.error.issues.map((i) =>
      `${i.path.map(String).join(".") || "data"}: ${i.message}`
    ),
  };
}
