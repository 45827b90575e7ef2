import assert from "node:assert/strict";
import { startServer } from "./harness.ts";

const VISIT_ROOM = "visit:visit-123";

Deno.test("patient and doctor chat in visit:visit-123: join, send, receive, history", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");

    const joined = await patient.request("room:join", { roomId: VISIT_ROOM, roomType: "visit" });
    assert.equal(joined.success, true);
    assert.equal(joined.roomId, VISIT_ROOM);
    assert.deepEqual(joined.participants, [{ userId: "patient-1", role: "patient" }]);

    const doctorJoin = await doctor.request("room:join", { roomId: VISIT_ROOM });
    assert.equal(doctorJoin.success, true);
    assert.deepEqual(
      (doctorJoin.participants as { userId: string }[]).map((p) => p.userId).sort(),
      ["doctor-1", "patient-1"],
    );
    assert.deepEqual(await patient.event("room:userJoined"), {
      roomId: VISIT_ROOM,
      userId: "doctor-1",
      role: "doctor",
    });

    const ack = await patient.request("message:send", {
      visitId: "visit-123",
      message: "Hello, doctor!",
    });
    assert.equal(ack.success, true);
    const message = ack.message as Record<string, unknown>;
    assert.match(String(message.id), /^msg_/);
    assert.equal(message.senderId, "patient-1");
    assert.equal(message.visitId, "visit-123");
    assert.equal(message.roomId, VISIT_ROOM);
    assert.equal(message.seq, 1);
    assert.equal(message.status, "sent");
    assert.equal(message.message, "Hello, doctor!");
    assert.ok(!Number.isNaN(Date.parse(String(message.timestamp))));

    assert.deepEqual(await doctor.event("message:new"), message);
    assert.deepEqual(await patient.event("message:sent"), message);

    const reply = await doctor.request("message:send", { roomId: VISIT_ROOM, message: "Hi!" });
    assert.equal((reply.message as { seq: number }).seq, 2);
    assert.equal((await patient.event("message:new")).message, "Hi!");

    const history = await doctor.request("message:history", { roomId: VISIT_ROOM });
    assert.equal(history.success, true);
    assert.equal(history.hasMore, false);
    assert.deepEqual(
      (history.messages as { message: string }[]).map((m) => m.message),
      ["Hello, doctor!", "Hi!"],
    );

    const paged = await patient.request("message:history", {
      visitId: "visit-123",
      limit: 1,
    });
    assert.equal(paged.hasMore, true);
    assert.equal((paged.messages as { seq: number }[])[0].seq, 2);
    const older = await patient.request("message:history", {
      visitId: "visit-123",
      before: 2,
      limit: 1,
    });
    assert.equal(older.hasMore, false);
    assert.equal((older.messages as { seq: number }[])[0].seq, 1);

    await doctor.request("room:leave", { roomId: VISIT_ROOM });
    assert.deepEqual(await patient.event("room:userLeft"), {
      roomId: VISIT_ROOM,
      userId: "doctor-1",
      role: "doctor",
    });
  } finally {
    await srv.close();
  }
});
