/**
 * @module
 * Hand-written example payloads (`data`) of the main realtime events and acks, from
 * docs/PROTOCOL.md's own examples, for /api/asyncapi.json and the docs page.
 * Events not listed get an example generated from their schema
 * (routes/json_schema.ts `exampleOf`). tests/asyncapi_test.ts checks every
 * example against its event's schema.
 */

const MESSAGE = {
  id: "01JQ8Z6V9N2W3X4Y5Z6A7B8C9D",
  seq: 42,
  status: "sent",
  timestamp: "2026-05-04T09:30:00.000Z",
  roomId: "visit:visit-123",
  senderId: "patient-1",
  visitId: "visit-123",
  message: "Hello, doctor!",
  clientMessageId: "c-42",
};

/** Client events' `data`. */
export const CLIENT_EXAMPLES: Readonly<Record<string, unknown>> = {
  "auth": { token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwYXRpZW50LTEifQ.signature" },
  "auth:refresh": { token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwYXRpZW50LTEifQ.signature" },
  "ping": {},
  "room:join": { roomId: "visit:visit-123", since: 41 },
  "room:leave": { roomId: "visit:visit-123" },
  "message:send": { visitId: "visit-123", message: "Hello, doctor!", clientMessageId: "c-42" },
  "message:history": { roomId: "visit:visit-123", limit: 50 },
  "message:read": { roomId: "visit:visit-123", seq: 42 },
  "message:edit": { roomId: "visit:visit-123", seq: 42, message: "Hello, Dr. Lee!" },
  "typing:start": { roomId: "visit:visit-123" },
  "presence:subscribe": { userIds: ["doctor-1"] },
  "presence:setStatus": { status: "away", customStatus: "Back at 2" },
  "notification:list": { limit: 20, unreadOnly: true },
  "call:initiate": { recipientId: "doctor-1", callType: "video", visitId: "visit-123" },
  "call:signal": {
    callId: "call_01JQ8Z6V9N2W3X4Y5Z6A7B8C9D",
    type: "offer",
    payload: { type: "offer", sdp: "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n..." },
  },
};

/** Success acks' `data`, by client event. */
export const ACK_EXAMPLES: Readonly<Record<string, unknown>> = {
  "auth:refresh": { success: true, expiresAt: "2026-05-04T10:30:00.000Z" },
  "ping": { success: true, time: "2026-05-04T09:30:00.000Z" },
  "room:join": {
    success: true,
    roomId: "visit:visit-123",
    participants: [{ userId: "patient-1", role: "patient" }, {
      userId: "doctor-1",
      role: "doctor",
    }],
  },
  "message:send": { success: true, message: MESSAGE, duplicate: false },
  "notification:getUnreadCount": { success: true, unreadCount: 2 },
  "call:initiate": { success: true, callId: "call_01JQ8Z6V9N2W3X4Y5Z6A7B8C9D", status: "ringing" },
};

/** Server events' `data`. */
export const SERVER_EXAMPLES: Readonly<Record<string, unknown>> = {
  "connected": { socketId: "01M869ZZ9PZ32MZ2VMBZDG8TED", userId: "patient-1", role: "patient" },
  "connect_error": { message: "Authentication error: Invalid token" },
  "error": {
    success: false,
    error: 'Join room "call:visit-123" before typing in it',
    code: "FORBIDDEN",
    event: "typing:start",
  },
  "message:new": MESSAGE,
  "message:sent": MESSAGE,
  "typing:start": { roomId: "visit:visit-123", userId: "doctor-1", role: "doctor" },
  "presence:changed": { userId: "doctor-1", status: "online" },
  "call:incoming": {
    callId: "call_01JQ8Z6V9N2W3X4Y5Z6A7B8C9D",
    callerId: "doctor-1",
    callType: "video",
    visitId: "visit-123",
  },
  "call:ended": { callId: "call_01JQ8Z6V9N2W3X4Y5Z6A7B8C9D", duration: 312, reason: "hangup" },
};
