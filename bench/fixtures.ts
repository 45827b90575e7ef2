/** What the micro-benchmarks send and deliver: a message with the kit's 100-byte body. */
export const MESSAGE = Object.freeze({
  id: "msg_01JD0000000000000000000000",
  roomId: "visit:visit-123",
  seq: 1234,
  senderId: "doctor-1",
  visitId: "visit-123",
  message: "x".repeat(100),
  timestamp: "2026-12-01T00:00:00.000Z",
  status: "sent",
  clientMessageId: "c-1-1",
});
