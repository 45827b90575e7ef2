/**
 * Retention and legal holds (issue 11): MESSAGE_RETENTION_DAYS removes old
 * messages in every room not on hold; heads and cursors stay valid and
 * history says where a room now begins; holds are admin-only and stop both
 * the sweep and redaction by anyone but an admin.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { startServer, type TestServer } from "./harness.ts";
import { createVisit } from "../store/visits.ts";

const DAY = 86_400_000;

async function api(srv: TestServer, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("retention sweeps old messages outside holds; heads, cursors and history stay coherent", async () => {
  const clock = new FakeClock(Date.now());
  const srv = await startServer({ clock, env: { MESSAGE_RETENTION_DAYS: "30" } });
  try {
    await createVisit(srv.kv, {
      id: "visit-held",
      patientId: "patient-1",
      clinicianIds: ["doctor-1"],
      createdBy: "doctor-1",
      createdAt: new Date(clock.now()).toISOString(),
    });
    let admin = await srv.login(await srv.addUser("admin-1", "admin"));
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    for (const room of ["visit:visit-123", "visit:visit-held"]) {
      for (let i = 0; i < 3; i++) {
        const r = await patient.request("message:send", { roomId: room, message: `old ${i}` });
        assert.equal(r.success, true, JSON.stringify(r));
      }
    }
    await doctor.request("message:read", { roomId: "visit:visit-123", seq: 2 });
    const held = await api(srv, "POST", "/api/v1/holds", admin, {
      visitId: "visit-held",
      reason: "litigation",
    });
    assert.equal(held.status, 201, JSON.stringify(held.body));
    // Patients and clinicians cannot manage holds.
    const token = await srv.login("doctor@example.com");
    assert.equal(
      (await api(srv, "POST", "/api/v1/holds", token, { roomId: "visit:x" })).status,
      403,
    );

    clock.advance(31 * DAY);
    // A month later: new sessions (the old tokens expired with the clock).
    const patientNow = await srv.connect("patient@example.com");
    const doctorNow = await srv.connect("doctor@example.com");
    const fresh = await patientNow.request("message:send", {
      roomId: "visit:visit-123",
      message: "new",
    });
    await srv.app.retention.sweep();

    const h = await doctorNow.request("message:history", { roomId: "visit:visit-123" });
    assert.deepEqual((h.messages as { message: string }[]).map((m) => m.message), ["new"]);
    assert.equal(h.startsAt, 4, "history says where the room begins");
    assert.equal((h.reads as Record<string, number>)["doctor-1"], 2, "cursors untouched");
    assert.equal((fresh.message as { seq: number }).seq, 4, "seqs go on");
    const next = await patientNow.request("message:send", {
      roomId: "visit:visit-123",
      message: "n2",
    });
    assert.equal((next.message as { seq: number }).seq, 5);
    const resumed = await doctorNow.request("room:join", { roomId: "visit:visit-123", since: 1 });
    assert.equal(resumed.recovered, true);
    assert.equal(resumed.startsAt, 4);
    // The held visit keeps everything.
    const kept = await doctorNow.request("message:history", { roomId: "visit:visit-held" });
    assert.equal((kept.messages as unknown[]).length, 3);
    assert.equal(kept.startsAt, 1);

    // A second sweep changes nothing; lifting the hold lets the next one remove the old ones.
    await srv.app.retention.sweep();
    admin = await srv.login("admin-1@example.com");
    const lifted = await api(srv, "DELETE", `/api/v1/holds/${held.body.hold.id}`, admin);
    assert.equal(lifted.status, 200);
    assert.equal(
      (await api(srv, "DELETE", `/api/v1/holds/${held.body.hold.id}`, admin)).status,
      404,
    );
    await srv.app.retention.sweep();
    const gone = await doctorNow.request("message:history", { roomId: "visit:visit-held" });
    assert.deepEqual(gone.messages, []);
  } finally {
    await srv.close();
  }
});

Deno.test("a held room's messages are redacted by admins only", async () => {
  const srv = await startServer();
  try {
    const adminEmail = await srv.addUser("admin-1", "admin");
    const admin = await srv.login(adminEmail);
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const sent = await patient.request("message:send", { roomId: "visit:visit-123", message: "m" });
    const seq = (sent.message as { seq: number }).seq;
    const hold = await api(srv, "POST", "/api/v1/holds", admin, { roomId: "visit:visit-123" });
    assert.equal(hold.status, 201);
    const list = await api(srv, "GET", "/api/v1/holds", admin);
    assert.deepEqual(list.body.holds.map((h: { id: string }) => h.id), [hold.body.hold.id]);
    for (const c of [patient, doctor]) {
      const r = await c.request("message:delete", { roomId: "visit:visit-123", seq });
      assert.equal(r.code, "FORBIDDEN");
      assert.match(String(r.error), /legal hold/);
    }
    const adminSocket = await srv.connect(adminEmail);
    const r = await adminSocket.request("message:delete", { roomId: "visit:visit-123", seq });
    assert.equal(r.success, true, JSON.stringify(r));
    const bad = await api(srv, "POST", "/api/v1/holds", admin, { roomId: "nope" });
    assert.equal(bad.status, 400);
    const both = await api(srv, "POST", "/api/v1/holds", admin, {
      roomId: "visit:a",
      visitId: "a",
    });
    assert.equal(both.status, 400);
  } finally {
    await srv.close();
  }
});

Deno.test("NOTIFICATION_RETENTION_DAYS removes old notifications and takes unread ones off the count", async () => {
  const clock = new FakeClock(Date.now());
  const srv = await startServer({ clock, env: { NOTIFICATION_RETENTION_DAYS: "7" } });
  try {
    const old = [];
    for (let i = 0; i < 3; i++) {
      old.push(await srv.app.realtime.notifyUser("patient-1", { title: `old ${i}`, message: "m" }));
    }
    clock.advance(8 * DAY);
    await srv.app.realtime.notifyUser("patient-1", { title: "new", message: "m" });
    const patient = await srv.connect("patient@example.com");
    // One old one is read first: only the two unread old ones come off the count.
    assert.equal(
      (await patient.request("notification:read", { notificationId: old[0].id })).success,
      true,
    );
    assert.equal((await patient.request("notification:getUnreadCount")).unreadCount, 3);
    await srv.app.retention.sweep();
    const list = await patient.request("notification:list", {});
    assert.deepEqual(
      (list.notifications as { title: string }[]).map((n) => n.title),
      ["new"],
    );
    assert.equal((await patient.request("notification:getUnreadCount")).unreadCount, 1);
    await srv.app.retention.sweep();
    assert.equal((await patient.request("notification:getUnreadCount")).unreadCount, 1);
  } finally {
    await srv.close();
  }
});
