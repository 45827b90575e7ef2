import assert from "node:assert/strict";
import { SERVER_EVENTS } from "../../static/protocol.js";
import { AppError, invalid } from "../../lib/errors.ts";
import { memoryLogger } from "../../lib/log.ts";
import type { Message } from "../../store/messages.ts";
import { buildNotification } from "../../store/notifications.ts";
import type { Status } from "../../store/presence.ts";
import type { CallType } from "../../store/calls.ts";
import type { Role } from "../../store/users.ts";
import { errorReply } from "../events.ts";
import { notificationView } from "../notify.ts";
import { socketIoCodec } from "./socketio.ts";
import {
  checkServerEvent,
  SERVER_EVENT_SCHEMAS,
  type ServerEventData,
  serverEventJsonSchemas,
  type ServerEventName,
} from "./server_events.ts";

/** The stored message an edit or a redaction changes (message:updated). */
const UPDATED = {
  id: "msg_01M86BM1WJB9ASTG0GFPBVSRNW",
  seq: 3,
  status: "sent" as const,
  timestamp: "2026-11-24T09:40:00.000Z",
  roomId: "visit:visit-123",
  senderId: "patient-1",
};
const EDITED_AT = "2026-11-24T09:41:00.000Z";

/** One realistic payload per event (from docs/PROTOCOL.md where it gives one) and a wrong one. */
const EXAMPLES: { [E in ServerEventName]: { good: ServerEventData<E>[]; bad: unknown[] } } = {
  // §3.2
  "connected": {
    good: [{ socketId: "01M869ZZ9PZ32MZ2VMBZDG8TED", userId: "patient-1", role: "patient" }],
    bad: [{ socketId: "01M869ZZ9PZ32MZ2VMBZDG8TED", role: "patient" }, {
      socketId: "s",
      userId: "u",
      role: "superuser",
    }],
  },
  "connect_error": {
    good: [
      { message: "Authentication error: Invalid token" },
      { message: "Too many connections for this user" },
    ],
    bad: [{}, { message: 4401 }],
  },
  // §6.7, §4.2, §4.3, and the socket.io close notice (realtime/protocol/socketio.ts)
  "error": {
    good: [
      { success: false, error: "Room access denied", code: "FORBIDDEN", event: "message:send" },
      {
        success: false,
        error: 'Join room "call:visit-123" before typing in it',
        code: "FORBIDDEN",
        event: "typing:start",
      },
      {
        success: false,
        error: "Invalid frame: id must be a non-negative safe integer",
        code: "INVALID_PAYLOAD",
        issues: [{ path: "id", message: "expected a non-negative safe integer" }],
        event: "unknown",
      },
      {
        success: false,
        error: "Too many requests; slow down",
        code: "RATE_LIMITED",
        retryable: true,
        event: "typing:start",
      },
      {
        success: false,
        code: "UNAUTHENTICATED",
        error: "Authentication error: Token expired",
        closeCode: 4401,
      },
    ],
    bad: [
      { success: true, error: "x", code: "FORBIDDEN", event: "message:send" },
      { success: false, code: "FORBIDDEN", event: "message:send" },
      { success: false, error: "x", code: "NOPE", event: "message:send" },
    ],
  },
  // §7
  "message:new": {
    good: [
      {
        id: "msg_01M86A0B93K0J0P1G7QH8EZNN3",
        seq: 1,
        status: "sent",
        timestamp: "2026-11-24T08:15:53.635Z",
        roomId: "visit:visit-123",
        senderId: "patient-1",
        visitId: "visit-123",
        message: "Hello, doctor!",
        attachments: [{
          url: "https://files.example.com/y.png",
          name: "y.png",
          type: "image/png",
          size: 12,
        }],
        metadata: { k: 1 },
        clientMessageId: "c-1",
      },
      {
        id: "msg_01M86A0C9QHX1X8FZDXWXAX9RD",
        seq: 1,
        status: "sent",
        timestamp: "2026-11-24T08:15:54.679Z",
        roomId: "chat:doctor-1:patient-1",
        senderId: "patient-1",
        recipientId: "doctor-1",
        message: "direct",
      },
    ],
    bad: [
      {
        seq: 1,
        status: "sent",
        timestamp: "2026-11-24T08:15:54.679Z",
        roomId: "chat:doctor-1:patient-1",
        senderId: "patient-1",
        message: "no id",
      },
      {
        id: "msg_1",
        seq: 0,
        status: "sent",
        timestamp: "2026-11-24T08:15:54.679Z",
        roomId: "r",
        senderId: "u",
        message: "seq 0",
      },
    ],
  },
  "message:sent": {
    good: [{
      id: "msg_01M86A0C9QHX1X8FZDXWXAX9RD",
      seq: 1,
      status: "sent",
      timestamp: "2026-11-24T08:15:54.679Z",
      roomId: "chat:doctor-1:patient-1",
      senderId: "patient-1",
      recipientId: "doctor-1",
      message: "direct",
    }],
    bad: [{
      id: "msg_1",
      seq: 1,
      status: "sent",
      timestamp: "yesterday",
      roomId: "r",
      senderId: "u",
      message: "bad time",
    }],
  },
  // §5.6a
  "room:unread": {
    good: [{ roomId: "visit:visit-123", unreadCount: 0 }, { roomId: "chat:a:b", unreadCount: 7 }],
    bad: [{ roomId: "visit:visit-123", unreadCount: -1 }, { unreadCount: 1 }],
  },
  // §5.6b
  "message:updated": {
    good: [
      { ...UPDATED, visitId: "visit-123", message: "corrected text", editedAt: EDITED_AT },
      { ...UPDATED, message: "", deletedAt: "2026-11-24T09:42:00.000Z", deletedBy: "doctor-1" },
    ],
    bad: [{ seq: 3, roomId: "visit:visit-123", message: "no id" }],
  },
  "message:status": {
    good: [{
      roomId: "visit:visit-123",
      userId: "doctor-1",
      seq: 2,
      status: "read",
      at: "2026-11-24T09:40:00.000Z",
    }, {
      roomId: "visit:visit-123",
      userId: "patient-1",
      seq: 3,
      status: "delivered",
      at: "2026-11-24T09:40:01.000Z",
    }],
    bad: [{ roomId: "visit:visit-123", userId: "doctor-1", status: "read", at: "x" }, {
      roomId: "visit:visit-123",
      userId: "doctor-1",
      seq: 2,
      status: "sent",
      at: "2026-11-24T09:40:00.000Z",
    }],
  },
  // §6.3
  "typing:start": {
    good: [{ roomId: "visit:visit-123", userId: "patient-1", role: "patient" }],
    bad: [{ userId: "patient-1", role: "patient" }],
  },
  "typing:stop": {
    good: [{ roomId: "visit:visit-123", userId: "patient-1", role: "patient" }],
    bad: [{ roomId: "visit:visit-123", role: "patient" }],
  },
  // §6.5, §6.6
  "room:userJoined": {
    good: [{ roomId: "visit:visit-123", userId: "doctor-1", role: "doctor" }],
    bad: [{ roomId: "visit:visit-123", userId: "doctor-1" }],
  },
  "room:userLeft": {
    good: [{ roomId: "visit:visit-123", userId: "patient-1", role: "patient" }],
    bad: [{ userId: "patient-1", role: "patient" }],
  },
  // §6 table, §2.5.1
  "room:removed": {
    good: [{ roomId: "visit:visit-123", reason: "access_revoked" }],
    bad: [{ reason: "access_revoked" }, { roomId: "visit:visit-123", reason: "kicked" }],
  },
  // §6.8
  "presence:changed": {
    good: [
      { userId: "patient-1", status: "busy", customStatus: "In a meeting" },
      { userId: "patient-1", status: "offline" },
      { userId: "doctor-1", status: "in_call" },
    ],
    bad: [{ status: "online" }, { userId: "patient-1", status: "invisible" }],
  },
  // §6.9, §5.15.8
  "notification:new": {
    good: [
      {
        id: "ntf_01M86BM1WJB9ASTG0GFPBVSRNW",
        title: "Lab results",
        message: "Your lab results are ready",
        type: "lab",
        data: { visitId: "visit-123" },
        createdAt: "2026-11-24T08:44:07.954Z",
      },
      {
        id: "ntf_01M86DA6MQ112BBKBM34GWCX53",
        title: "Missed call",
        message: "You missed an audio call",
        type: "call:missed",
        data: {
          callId: "call_01M86DA4KS5XS1CXGYJP5E52CR",
          callerId: "doctor-1",
          callType: "audio",
        },
        createdAt: "2026-11-24T09:13:42.295Z",
      },
    ],
    bad: [{ title: "Lab results", message: "m", createdAt: "2026-11-24T08:44:07.954Z" }],
  },
  // §6.10
  "notification:read": {
    good: [{ notificationId: "ntf_01M86BM1WJB9ASTG0GFPBVSRNW", unreadCount: 0 }],
    bad: [{ unreadCount: 0 }, { notificationId: "ntf_1", unreadCount: -1 }],
  },
  // §5.15.3
  "call:incoming": {
    good: [
      {
        callId: "call_01M86DA0DC40FVV1E0VFF0GC2X",
        callerId: "doctor-1",
        callType: "video",
        visitId: "visit-123",
      },
      { callId: "call_01M86DA0DC40FVV1E0VFF0GC2X", callerId: "doctor-1", callType: "audio" },
    ],
    bad: [{ callerId: "doctor-1", callType: "video" }, {
      callId: "call_1",
      callerId: "doctor-1",
      callType: "hologram",
    }],
  },
  // §5.15.4
  "call:accepted": {
    good: [{ callId: "call_01M86DA0DC40FVV1E0VFF0GC2X" }],
    bad: [{}],
  },
  "call:rejected": {
    good: [{ callId: "call_01M86DA0DC40FVV1E0VFF0GC2X" }],
    bad: [{ callId: 7 }],
  },
  // §5.15.8
  "call:missed": {
    good: [{
      callId: "call_01M86DA4KS5XS1CXGYJP5E52CR",
      callerId: "doctor-1",
      calleeId: "patient-1",
      callType: "audio",
    }],
    bad: [{ callId: "call_1", callerId: "doctor-1", callType: "audio" }],
  },
  // §5.15.4, §5.15.5, §5.15.12
  "call:ended": {
    good: [
      { callId: "call_01M86DA0DC40FVV1E0VFF0GC2X", duration: 0, reason: "answered_elsewhere" },
      { callId: "call_01M86DA0DC40FVV1E0VFF0GC2X", duration: 4, reason: "hangup" },
      { callId: "call_01M86DA0DC40FVV1E0VFF0GC2X", duration: 0, reason: "missed" },
    ],
    bad: [{ duration: 0, reason: "hangup" }, {
      callId: "call_1",
      duration: 1.5,
      reason: "hangup",
    }, { callId: "call_1", duration: 0, reason: "bored" }],
  },
  // §5.15.7
  "call:signal": {
    good: [
      {
        callId: "call_01M86DA0DC40FVV1E0VFF0GC2X",
        type: "offer",
        payload: { type: "offer", sdp: "v=0\r\n..." },
        from: "doctor-1",
      },
      {
        callId: "call_01M86DA0DC40FVV1E0VFF0GC2X",
        type: "ice-candidate",
        payload: "candidate:1 1 UDP 2122252543 192.0.2.1 54321 typ host",
        from: "patient-1",
      },
    ],
    bad: [
      { callId: "call_1", type: "offer", payload: { sdp: "v=0" } },
      { callId: "call_1", type: "offer", payload: 42, from: "doctor-1" },
    ],
  },
  // §5.15.9, §6.12
  "call:active": {
    good: [{
      callId: "call_01M86DA0DC40FVV1E0VFF0GC2X",
      callerId: "doctor-1",
      calleeId: "patient-1",
      callType: "video",
      visitId: "visit-123",
      status: "in_progress",
    }],
    bad: [{
      callId: "call_1",
      callerId: "doctor-1",
      callType: "video",
      status: "accepted",
    }, {
      callId: "call_1",
      callerId: "doctor-1",
      calleeId: "patient-1",
      callType: "video",
      status: "ringing",
    }],
  },
};

// Compile-time: the stored types the emitters send fit the payload types.
type Assignable<From, To> = [From] extends [To] ? true : false;
const STORED_TYPES_FIT: true[] = [
  true satisfies Assignable<Message, ServerEventData<"message:new">>,
  true satisfies Assignable<Message, ServerEventData<"message:sent">>,
  true satisfies Assignable<Status, ServerEventData<"presence:changed">["status"]>,
  true satisfies Assignable<CallType, ServerEventData<"call:incoming">["callType"]>,
  true satisfies Assignable<Role, ServerEventData<"connected">["role"]>,
  true satisfies Assignable<
    { roomId: string; userId: string; role: Role },
    ServerEventData<"typing:start">
  >,
];

Deno.test("server events: the schema table has exactly the names of SERVER_EVENTS", () => {
  const keys = Object.keys(SERVER_EVENT_SCHEMAS);
  assert.deepEqual([...keys].sort(), [...SERVER_EVENTS].sort());
  assert.equal(keys.length, SERVER_EVENTS.length);
  assert.deepEqual(Object.keys(EXAMPLES).sort(), [...SERVER_EVENTS].sort());
  assert.ok(Object.isFrozen(SERVER_EVENT_SCHEMAS));
  assert.ok(STORED_TYPES_FIT.every((t) => t));
});

Deno.test("server events: each schema accepts the documented payloads and refuses wrong ones", () => {
  for (const [event, { good, bad }] of Object.entries(EXAMPLES)) {
    assert.ok(good.length > 0 && bad.length > 0, event);
    for (const data of good) {
      assert.deepEqual(checkServerEvent(event, data), { ok: true }, `${event} accepts`);
    }
    for (const data of bad) {
      const result = checkServerEvent(event, data);
      assert.equal(result.ok, false, `${event} refuses ${JSON.stringify(data)}`);
      if (!result.ok) assert.ok(result.issues.length > 0);
    }
  }
});

Deno.test("server events: extra fields are tolerated (schemas are not strict)", () => {
  assert.deepEqual(
    checkServerEvent("call:accepted", { callId: "call_1", later: true }),
    { ok: true },
  );
});

Deno.test("server events: what the server code builds passes its schema", () => {
  const log = memoryLogger();
  const failures = [
    errorReply(new AppError("FORBIDDEN", "Room access denied"), log, {}),
    errorReply(invalid("Invalid payload", [{ path: "roomId", message: "bad" }]), log, {}),
    errorReply(new AppError("RATE_LIMITED", "slow down", { retryable: true }), log, {}),
    errorReply(new Error("boom"), log, {}),
  ];
  for (const reply of failures) {
    assert.deepEqual(checkServerEvent("error", { ...reply, event: "typing:start" }), { ok: true });
  }
  for (const code of [1001, 4401, 4403, 4429]) {
    for (const frame of socketIoCodec.closing!(code, "Server shutting down")) {
      if (!frame.startsWith("42")) continue;
      const [event, data] = JSON.parse(frame.slice(2));
      assert.equal(event, "error");
      assert.deepEqual(checkServerEvent(event, data), { ok: true }, `close ${code}`);
    }
  }
  const note = buildNotification(
    {
      userId: "patient-1",
      title: "Missed call",
      message: "You missed a video call",
      type: "call:missed",
      data: { callId: "call_1", callerId: "doctor-1", callType: "video" },
    },
    { id: "ntf_01M86DA6MQ112BBKBM34GWCX53", now: new Date("2026-11-24T09:13:42.295Z") },
  );
  assert.deepEqual(checkServerEvent("notification:new", notificationView(note)), { ok: true });
});

Deno.test("server events: serverEventJsonSchemas gives an object schema per event", () => {
  const schemas = serverEventJsonSchemas();
  assert.deepEqual(Object.keys(schemas).sort(), [...SERVER_EVENTS].sort());
  for (const [event, schema] of Object.entries(schemas)) {
    const s = schema as { type?: unknown; properties?: Record<string, unknown> };
    assert.equal(s.type, "object", event);
    assert.ok(s.properties && Object.keys(s.properties).length > 0, event);
    assert.notEqual((s as { additionalProperties?: unknown }).additionalProperties, false, event);
  }
  const ended = schemas["call:ended"] as { required: string[] };
  assert.deepEqual([...ended.required].sort(), ["callId", "duration", "reason"]);
});

Deno.test("server events: checkServerEvent refuses unknown names and explains failures", () => {
  const unknown = checkServerEvent("system:maintenance", { message: "hi" });
  assert.equal(unknown.ok, false);
  assert.equal(checkServerEvent("toString", {}).ok, false);
  assert.equal(checkServerEvent("__proto__", {}).ok, false);
  const bad = checkServerEvent("call:ended", { duration: 0, reason: "hangup" });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.ok(bad.issues.some((i) => i.startsWith("callId:")), bad.issues.join("; "));
  const notObject = checkServerEvent("connected", "x");
  assert.equal(notObject.ok, false);
  if (!notObject.ok) assert.ok(notObject.issues[0].startsWith("data:"));
});
