import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { getCall } from "../store/calls.ts";
import { listNotifications, unreadCount } from "../store/notifications.ts";
import { startServer, type TestServer, waitFor, type WsClient } from "./harness.ts";

type Data = Record<string, unknown>;

async function status(srv: TestServer, callId: string): Promise<string | undefined> {
  return (await getCall(srv.kv, callId))?.call.status;
}

async function presenceOf(c: WsClient, userId: string): Promise<string> {
  const r = await c.request("presence:get", { userIds: [userId] });
  return (r.presences as { status: string }[])[0].status;
}

async function ring(doctor: WsClient, callees: WsClient[]): Promise<string> {
  const ack = await doctor.request("call:initiate", {
    recipientId: "patient-1",
    callType: "video",
    visitId: "visit-123",
  });
  assert.equal(ack.success, true, JSON.stringify(ack));
  assert.equal(ack.status, "ringing");
  for (const c of callees) {
    assert.deepEqual(await c.event("call:incoming"), {
      callId: ack.callId,
      callerId: "doctor-1",
      callType: "video",
      visitId: "visit-123",
    });
  }
  return ack.callId as string;
}

/** A server with a doctor and a patient in an accepted call (the patient's socket answered). */
async function inCall(env: Record<string, string>) {
  const srv = await startServer({ env });
  const doctor = await srv.connect("doctor@example.com");
  const patient = await srv.connect("patient@example.com");
  const callId = await ring(doctor, [patient]);
  assert.equal((await patient.request("call:accept", { callId })).success, true);
  return { srv, doctor, patient, callId };
}

Deno.test("ring, accept on one tab, signal, hang up: every party sees each step once", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const tab1 = await srv.connect("patient@example.com");
    const tab2 = await srv.connect("patient@example.com");
    const callId = await ring(doctor, [tab1, tab2]);

    const accepted = await tab1.request("call:accept", { callId });
    assert.deepEqual(accepted, { success: true, callId, status: "accepted" });
    assert.deepEqual(await doctor.event("call:accepted"), { callId });
    assert.deepEqual(await tab1.event("call:accepted"), { callId });
    assert.deepEqual(await tab2.event("call:ended"), {
      callId,
      duration: 0,
      reason: "answered_elsewhere",
    });
    assert.equal(await presenceOf(doctor, "patient-1"), "in_call");
    assert.equal(await presenceOf(doctor, "doctor-1"), "in_call");

    const offer = { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" };
    doctor.emit("call:signal", { callId, type: "offer", payload: offer });
    assert.deepEqual(await tab1.event("call:signal"), {
      callId,
      type: "offer",
      payload: offer,
      from: "doctor-1",
    });
    assert.equal(await status(srv, callId), "in_progress");
    tab1.emit("call:signal", { callId, type: "answer", payload: "v=0 answer" });
    assert.equal((await doctor.event("call:signal")).payload, "v=0 answer");
    tab1.emit("call:signal", {
      callId,
      type: "ice-candidate",
      payload: { candidate: "candidate:1 1 UDP 1 127.0.0.1 9 typ host", sdpMid: "0" },
    });
    assert.equal((await doctor.event("call:signal")).type, "ice-candidate");
    await tab2.sync();
    assert.equal(tab2.pending("call:signal").length, 0, "signals go to the call's device only");
    // The other tab of the patient may not signal into the call it did not answer.
    const fromTab2 = await tab2.request("call:signal", { callId, type: "answer", payload: "x" });
    assert.equal(fromTab2.code, "FORBIDDEN");

    const ended = await doctor.request("call:end", { callId });
    assert.equal(ended.success, true);
    assert.equal(ended.status, "ended");
    for (const c of [doctor, tab1, tab2]) {
      const e = await c.event("call:ended");
      assert.equal(e.callId, callId);
      assert.equal(typeof e.duration, "number");
      assert.equal(e.reason, "hangup");
    }
    assert.equal(await presenceOf(doctor, "patient-1"), "online");
    const again = await tab1.request("call:end", { callId });
    assert.equal(again.code, "CONFLICT");
  } finally {
    await srv.close();
  }
});

Deno.test("reject, busy, and who may call whom", async () => {
  const srv = await startServer();
  try {
    await srv.addUser("nurse-1", "nurse", "nurse@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const nurse = await srv.connect("nurse@example.com");
    const p2 = await srv.connect("patient2@example.com");

    const callId = await ring(doctor, [patient]);
    const busy = await nurse.request("call:initiate", {
      recipientId: "doctor-1",
      callType: "audio",
    });
    assert.deepEqual(busy, { success: false, error: "User is busy", code: "BUSY" });
    const mine = await doctor.request("call:initiate", {
      recipientId: "nurse-1",
      callType: "audio",
    });
    assert.equal(mine.code, "CONFLICT");

    const rejected = await patient.request("call:reject", { callId });
    assert.deepEqual(rejected, { success: true, callId, status: "rejected" });
    assert.deepEqual(await doctor.event("call:rejected"), { callId });
    assert.equal(await status(srv, callId), "rejected");

    // Staff may call staff; a patient only their own clinicians.
    const staff = await nurse.request("call:initiate", {
      recipientId: "doctor-1",
      callType: "audio",
    });
    assert.equal(staff.success, true);
    await nurse.request("call:end", { callId: staff.callId });
    for (
      const [who, data] of [
        [p2, { recipientId: "doctor-1", callType: "video" }],
        [p2, { recipientId: "patient-1", callType: "video" }],
        [patient, { recipientId: "nurse-1", callType: "audio" }],
        [patient, { recipientId: "doctor-1", callType: "video", visitId: "visit-999" }],
      ] as const
    ) {
      const denied = await who.request("call:initiate", data);
      assert.deepEqual(denied, {
        success: false,
        error: "Call access denied",
        code: "FORBIDDEN",
      }, JSON.stringify(data));
    }
    const self = await patient.request("call:initiate", {
      recipientId: "patient-1",
      callType: "audio",
    });
    assert.equal(self.code, "INVALID_PAYLOAD");
    const badType = await patient.request("call:initiate", {
      recipientId: "doctor-1",
      callType: "fax",
    });
    assert.equal(badType.code, "INVALID_PAYLOAD");
  } finally {
    await srv.close();
  }
});

Deno.test("row 27: a third party or the caller cannot answer; the call keeps ringing", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const p2 = await srv.connect("patient2@example.com");
    const callId = await ring(doctor, [patient]);
    for (const event of ["call:accept", "call:reject", "call:end", "call:connected"]) {
      const r = await p2.request(event, { callId });
      assert.equal(r.code, "FORBIDDEN", event);
    }
    assert.equal((await doctor.request("call:accept", { callId })).code, "FORBIDDEN");
    const signal = await p2.request("call:signal", { callId, type: "offer", payload: "x" });
    assert.equal(signal.code, "FORBIDDEN");
    const early = await doctor.request("call:signal", { callId, type: "offer", payload: "x" });
    assert.equal(early.code, "CONFLICT", "no signalling before the call is accepted");
    assert.equal(await status(srv, callId), "ringing");
    const unknown = await patient.request("call:accept", { callId: "call_nope" });
    assert.equal(unknown.code, "NOT_FOUND");
  } finally {
    await srv.close();
  }
});

Deno.test("row 28: double accept from two tabs and accept racing end settle on one outcome", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const tab1 = await srv.connect("patient@example.com");
    const tab2 = await srv.connect("patient@example.com");
    const callId = await ring(doctor, [tab1, tab2]);
    const [a, b] = await Promise.all([
      tab1.request("call:accept", { callId }),
      tab2.request("call:accept", { callId }),
    ]);
    assert.deepEqual([a.success, b.success].sort(), [false, true]);
    assert.equal((a.success ? b : a).code, "CONFLICT");
    await doctor.event("call:accepted");
    await doctor.request("call:end", { callId });
    await doctor.event("call:ended");
    await doctor.sync();
    assert.equal(doctor.pending("call:accepted").length, 0, "the caller saw one call:accepted");

    const second = await ring(doctor, [tab1, tab2]);
    const [accept, end] = await Promise.all([
      tab1.request("call:accept", { callId: second }),
      doctor.request("call:end", { callId: second }),
    ]);
    assert.equal(end.success, true, "ending is allowed from ringing and from accepted");
    assert.equal(await status(srv, second), "ended");
    if (!accept.success) assert.equal(accept.code, "CONFLICT");
    await doctor.sync();
    assert.ok(doctor.pending("call:accepted").length <= 1);
  } finally {
    await srv.close();
  }
});

Deno.test("glare: two users calling each other at once end up in one call", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const [d, p] = await Promise.all([
      doctor.request("call:initiate", { recipientId: "patient-1", callType: "video" }),
      patient.request("call:initiate", { recipientId: "doctor-1", callType: "video" }),
    ]);
    assert.equal(d.success, true, JSON.stringify(d));
    assert.equal(p.success, true, JSON.stringify(p));
    assert.equal(d.callId, p.callId, "one call");
    assert.deepEqual([d.status, p.status].sort(), ["accepted", "ringing"]);
    assert.equal(await status(srv, d.callId as string), "accepted");
    assert.equal((await doctor.event("call:accepted")).callId, d.callId);
    assert.equal((await patient.event("call:accepted")).callId, d.callId);
  } finally {
    await srv.close();
  }
});

Deno.test("rows 29: an unanswered call ends as missed at its timeout, with one notification", async () => {
  const srv = await startServer({ env: { CALL_RING_TIMEOUT_MS: "300" } });
  try {
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const started = Date.now();
    const callId = await ring(doctor, [patient]);
    for (const c of [doctor, patient]) {
      const missed = await c.event("call:missed");
      assert.equal(missed.callId, callId);
      assert.deepEqual(await c.event("call:ended"), { callId, duration: 0, reason: "missed" });
    }
    assert.ok(Date.now() - started >= 300, "not before the timeout");
    const note = await patient.event("notification:new");
    assert.equal(note.title, "Missed call");
    assert.equal((note.data as Data).callId, callId);
    assert.equal(await status(srv, callId), "missed");
    const late = await patient.request("call:accept", { callId });
    assert.deepEqual(late, { success: false, error: "Call is missed", code: "CONFLICT" });
    assert.equal(await unreadCount(srv.kv, "patient-1"), 1);
    // Redelivery of the same job changes nothing.
    await srv.app.calls.onJob({ kind: "call:ring_timeout", callId, dueAt: 0 });
    assert.equal(await unreadCount(srv.kv, "patient-1"), 1);
  } finally {
    await srv.close();
  }
});

Deno.test("the ring deadline is enforced lazily on read, before any timer or sweep runs", async () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 24, 9));
  const srv = await startServer({
    clock,
    env: { SCHEDULER: "deadline", CALL_RING_TIMEOUT_MS: "30000" },
  });
  try {
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const callId = await ring(doctor, [patient]);
    clock.advance(30_000);
    // The real timer is 30 s away; the fake clock says the deadline passed.
    const late = await patient.request("call:accept", { callId });
    assert.equal(late.code, "CONFLICT");
    assert.equal(await status(srv, callId), "missed");
    assert.equal((await patient.event("notification:new")).title, "Missed call");
    const again = await doctor.request("call:initiate", {
      recipientId: "patient-1",
      callType: "audio",
    });
    assert.equal(again.success, true, "the missed call no longer holds either user");
    const notes = await listNotifications(srv.kv, "patient-1", { limit: 10 });
    assert.equal(notes.notifications.length, 1);
  } finally {
    await srv.close();
  }
});

Deno.test("a party whose every connection drops mid-call: after the grace period the call fails", async () => {
  const { srv, doctor, patient, callId } = await inCall({ CALL_GRACE_MS: "200" });
  try {
    await patient.close();
    const ended = await doctor.event("call:ended", 5000);
    assert.equal(ended.callId, callId);
    assert.equal(ended.reason, "connection_lost");
    assert.equal(await status(srv, callId), "failed");
    await waitFor(() => srv.app.hub.userConnectionCount("patient-1") === 0, "patient gone");
    assert.equal(await presenceOf(doctor, "doctor-1"), "online");
  } finally {
    await srv.close();
  }
});

Deno.test("a dropped device can rejoin within the grace period with call:connected", async () => {
  const call = await inCall({ CALL_GRACE_MS: "300" });
  const { srv, doctor, callId } = call;
  try {
    await call.patient.close();
    const patient = await srv.connect("patient@example.com");
    const rejoined = await patient.request("call:connected", { callId });
    assert.deepEqual(rejoined, { success: true, callId, status: "in_progress" });
    doctor.emit("call:signal", { callId, type: "offer", payload: "v=0" });
    assert.equal((await patient.event("call:signal")).payload, "v=0");
    // The grace job still fires, finds the call taken over, and leaves it alone.
    await srv.app.calls.onJob({ kind: "call:grace", callId, socketId: "old-socket", dueAt: 0 });
    assert.equal(await status(srv, callId), "in_progress");
  } finally {
    await srv.close();
  }
});

Deno.test("the watchdog fails a call whose socket vanished without a close (killed process)", async () => {
  const { srv, doctor, callId } = await inCall({ CALL_GRACE_MS: "200" });
  try {
    const call = (await getCall(srv.kv, callId))!.call;
    // As if the patient's server process died: its connection entry stops being alive, no close.
    await srv.kv.delete(["presence_conn", "patient-1", call.calleeSocketId!]);
    await srv.app.calls.onJob({ kind: "call:watch", callId, dueAt: 0 });
    const ended = await doctor.event("call:ended", 5000);
    assert.equal(ended.reason, "connection_lost");
    assert.equal(await status(srv, callId), "failed");
  } finally {
    await srv.close();
  }
});

Deno.test("a call socket lost while another tab stays open still fails after the grace period", async () => {
  const srv = await startServer({ env: { CALL_GRACE_MS: "200" } });
  try {
    const doctor = await srv.connect("doctor@example.com");
    const tab1 = await srv.connect("patient@example.com");
    const tab2 = await srv.connect("patient@example.com");
    const callId = await ring(doctor, [tab1, tab2]);
    await tab1.request("call:accept", { callId });
    await tab1.close();
    assert.equal((await doctor.event("call:ended", 5000)).reason, "connection_lost");
    const e = await tab2.event("call:ended", 5000);
    assert.equal(e.callId, callId);
  } finally {
    await srv.close();
  }
});

Deno.test("the caller's socket lost while ringing: once answered, the call fails after the grace period", async () => {
  const srv = await startServer({ env: { CALL_GRACE_MS: "200" } });
  try {
    const caller = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const callId = await ring(caller, [patient]);
    await caller.close();
    assert.equal((await patient.request("call:accept", { callId })).success, true);
    const ended = await patient.event("call:ended", 5000);
    assert.equal(ended.reason, "connection_lost");
    assert.equal(await status(srv, callId), "failed");
  } finally {
    await srv.close();
  }
});

Deno.test("a device that connects late rings; one that connects during a call hears call:active", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const first = await srv.connect("patient@example.com");
    const callId = await ring(doctor, [first]);
    const late = await srv.connect("patient@example.com");
    assert.equal((await late.event("call:incoming")).callId, callId);
    await late.request("call:accept", { callId });
    const other = await srv.connect("doctor@example.com");
    assert.deepEqual(await other.event("call:active"), {
      callId,
      callerId: "doctor-1",
      calleeId: "patient-1",
      callType: "video",
      visitId: "visit-123",
      status: "accepted",
    });
    // Calling the person you are already talking to is "already in a call", from either side.
    for (const [c, to] of [[first, "doctor-1"], [doctor, "patient-1"]] as const) {
      const r = await c.request("call:initiate", { recipientId: to, callType: "audio" });
      assert.deepEqual(r, { success: false, error: "You are already in a call", code: "CONFLICT" });
    }
  } finally {
    await srv.close();
  }
});
