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

Deno.test("typing:start / typing:stop reach the room's other users, not the typist", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    await patient.request("room:join", { roomId: VISIT_ROOM });
    await doctor.request("room:join", { roomId: VISIT_ROOM });

    patient.emit("typing:start", { roomId: VISIT_ROOM });
    const expected = { roomId: VISIT_ROOM, userId: "patient-1", role: "patient" };
    assert.deepEqual(await doctor.event("typing:start"), expected);
    patient.emit("typing:stop", { roomId: VISIT_ROOM });
    assert.deepEqual(await doctor.event("typing:stop"), expected);
    await patient.sync();
    assert.equal(patient.pending("typing:start").length, 0);

    // Typing in a room this socket has not joined is refused, as an `error` event.
    const denied = await srv.connect("patient2@example.com");
    denied.emit("typing:start", { roomId: VISIT_ROOM });
    const err = await denied.event("error");
    assert.equal(err.code, "FORBIDDEN");
    assert.equal(err.event, "typing:start");
    await doctor.sync();
    assert.equal(doctor.pending("typing:start").length, 0);
  } finally {
    await srv.close();
  }
});

Deno.test("patient2 is refused the visit room, its history and sends, and learns nothing", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    await patient.request("room:join", { roomId: VISIT_ROOM });
    await patient.request("message:send", { visitId: "visit-123", message: "private" });
    const intruder = await srv.connect("patient2@example.com");

    for (
      const [event, data] of [
        ["room:join", { roomId: VISIT_ROOM }],
        ["room:join", { roomId: "call:visit-123" }],
        ["room:join", { roomId: "visit:no-such-visit" }],
        ["message:history", { visitId: "visit-123" }],
        ["message:history", { roomId: "call:visit-123" }],
        ["message:send", { visitId: "visit-123", message: "let me in" }],
        ["room:join", { roomId: "notifications:patient-1" }],
        ["message:history", { userId: "patient-1" }],
        ["message:send", { recipientId: "patient-1", message: "hi" }],
        ["message:send", { recipientId: "doctor-1", message: "hi" }],
      ] as const
    ) {
      const ack = await intruder.request(event, data);
      assert.deepEqual(
        ack,
        { success: false, error: "Room access denied", code: "FORBIDDEN" },
        `${event} ${JSON.stringify(data)}`,
      );
    }
    await patient.sync();
    assert.equal(patient.pending("room:userJoined").length, 0);
    assert.equal(patient.pending("message:new").length, 0);
    const history = await patient.request("message:history", { visitId: "visit-123" });
    assert.equal((history.messages as unknown[]).length, 1);
  } finally {
    await srv.close();
  }
});

Deno.test("forged room ids are refused and the connection stays open", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    for (
      const roomId of [
        "chat:patient-1:doctor-1", // unsorted
        "chat:patient-1:patient-1",
        "chat:a:b:c",
        "visit:../x",
        "visit:visit-123\u0000",
        "x".repeat(10_000),
        "__proto__",
        "topic:",
        "visit:",
        "lobby:main",
      ]
    ) {
      const ack = await patient.request("room:join", { roomId });
      assert.equal(ack.success, false, roomId);
      assert.ok(
        ack.code === "INVALID_PAYLOAD" || ack.code === "FORBIDDEN",
        `${roomId}: ${ack.code}`,
      );
    }
    const other = await patient.request("room:join", { roomId: "notifications:doctor-1" });
    assert.equal(other.code, "FORBIDDEN");
    assert.equal((await patient.request("room:join", { roomId: VISIT_ROOM })).success, true);
  } finally {
    await srv.close();
  }
});

Deno.test("direct chat by recipientId: both users get it, patient-to-patient is refused", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const ack = await doctor.request("message:send", {
      recipientId: "patient-1",
      message: "Lab results are in",
    });
    assert.equal(ack.success, true);
    const message = ack.message as Record<string, unknown>;
    assert.equal(message.roomId, "chat:doctor-1:patient-1");
    assert.equal(message.recipientId, "patient-1");
    assert.deepEqual(await patient.event("message:new"), message);
    const history = await patient.request("message:history", { userId: "doctor-1" });
    assert.deepEqual(history.messages, [message]);
    const joined = await patient.request("room:join", {
      roomId: "chat:doctor-1:patient-1",
      roomType: "chat",
    });
    assert.equal(joined.success, true);

    const p2 = await srv.connect("patient2@example.com");
    const denied = await p2.request("message:send", { recipientId: "patient-1", message: "hi" });
    assert.equal(denied.code, "FORBIDDEN");
    const self = await p2.request("message:send", { recipientId: "patient-2", message: "hi" });
    assert.equal(self.code, "INVALID_PAYLOAD");
    assert.equal((self.issues as { path: string }[])[0].path, "recipientId");
    const selfHistory = await p2.request("message:history", { userId: "patient-2" });
    assert.equal((selfHistory.issues as { path: string }[])[0].path, "userId");
  } finally {
    await srv.close();
  }
});

Deno.test("a resent clientMessageId returns the same message and is stored and broadcast once, also after reconnecting", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    await doctor.request("room:join", { roomId: VISIT_ROOM });
    let patient = await srv.connect("patient@example.com");
    const send = { visitId: "visit-123", message: "Took my meds", clientMessageId: "c-1" };
    const first = await patient.request("message:send", send);
    const again = await patient.request("message:send", send);
    assert.equal(first.success, true);
    assert.deepEqual(again.message, first.message);
    assert.equal(again.duplicate, true);
    await patient.close();
    patient = await srv.connect("patient@example.com");
    const afterReconnect = await patient.request("message:send", send);
    assert.deepEqual(afterReconnect.message, first.message);

    await doctor.sync();
    assert.equal(doctor.pending("message:new").length, 1);
    const history = await doctor.request("message:history", { roomId: VISIT_ROOM });
    assert.equal((history.messages as unknown[]).length, 1);
  } finally {
    await srv.close();
  }
});

Deno.test("room:join with since returns exactly the missed messages; a bad cursor fails closed", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    for (const text of ["one", "two", "three"]) {
      await doctor.request("message:send", { visitId: "visit-123", message: text });
    }
    const resumed = await patient.request("room:join", { roomId: VISIT_ROOM, since: 1 });
    assert.equal(resumed.recovered, true);
    assert.deepEqual((resumed.messages as { message: string }[]).map((m) => m.message), [
      "two",
      "three",
    ]);
    const future = await patient.request("room:join", { roomId: VISIT_ROOM, since: 99 });
    assert.equal(future.recovered, false);
    assert.deepEqual(future.messages, []);
    for (const since of ["-1", '"3"', "1.5", "1e400", "-0", "12345678901234567890"]) {
      const bad = await patient.requestRaw(
        "room:join",
        `{"roomId":"${VISIT_ROOM}","since":${since}}`,
      );
      assert.equal(bad.code, "INVALID_PAYLOAD", since);
    }
  } finally {
    await srv.close();
  }
});

Deno.test("read receipts: message:read moves a cursor forward, tells the others, and history shows status read", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const patientTab2 = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    await patient.request("room:join", { roomId: VISIT_ROOM });
    for (const text of ["one", "two", "three"]) {
      await patient.request("message:send", { visitId: "visit-123", message: text });
    }
    const before = await patient.request("message:history", { roomId: VISIT_ROOM });
    assert.deepEqual((before.messages as { status: string }[]).map((m) => m.status), [
      "sent",
      "sent",
      "sent",
    ]);

    const ack = await doctor.request("message:read", { roomId: VISIT_ROOM, seq: 2 });
    assert.deepEqual(ack, { success: true, roomId: VISIT_ROOM, seq: 2 });
    for (const c of [patient, patientTab2]) {
      const status = await c.event("message:status");
      assert.equal(status.roomId, VISIT_ROOM);
      assert.equal(status.userId, "doctor-1");
      assert.equal(status.seq, 2);
      assert.equal(status.status, "read");
    }
    const after = await patient.request("message:history", { roomId: VISIT_ROOM });
    assert.deepEqual((after.messages as { status: string }[]).map((m) => m.status), [
      "read",
      "read",
      "sent",
    ]);
    assert.deepEqual(after.reads, { "patient-1": 0, "doctor-1": 2 });

    // Cursors only move forward; a stale receipt changes nothing and tells nobody.
    const back = await doctor.request("message:read", { roomId: VISIT_ROOM, seq: 1 });
    assert.equal(back.seq, 2);
    await patient.sync();
    assert.equal(patient.pending("message:status").length, 0);
    const future = await doctor.request("message:read", { roomId: VISIT_ROOM, seq: 4 });
    assert.equal(future.code, "INVALID_PAYLOAD");
    const resumed = await doctor.request("room:join", { roomId: VISIT_ROOM, since: 1 });
    assert.deepEqual((resumed.messages as { status: string }[]).map((m) => m.status), [
      "read",
      "sent",
    ]);
    const p2 = await srv.connect("patient2@example.com");
    const denied = await p2.request("message:read", { roomId: VISIT_ROOM, seq: 1 });
    assert.equal(denied.code, "FORBIDDEN");
  } finally {
    await srv.close();
  }
});
