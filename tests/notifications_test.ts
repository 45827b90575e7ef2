import assert from "node:assert/strict";
import * as api from "../realtime/api.ts";
import { listNotifications, unreadCount } from "../store/notifications.ts";
import { createUser } from "../store/users.ts";
import { startServer, type TestServer } from "./harness.ts";

async function serviceToken(srv: TestServer, role: "service" | "admin" = "service") {
  const email = `${role}@clinic.test`;
  await createUser(srv.kv, {
    id: `${role}-1`,
    email,
    name: `${role} account`,
    role,
    password: "service-password-123",
  }, new Date());
  return await srv.login(email, "service-password-123");
}

function post(srv: TestServer, path: string, token: string, body: unknown) {
  return fetch(`${srv.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

Deno.test("a notification sent over HTTP reaches every device; reads sync the count across devices", async () => {
  const srv = await startServer();
  try {
    const token = await serviceToken(srv);
    const phone = await srv.connect("patient@example.com");
    const laptop = await srv.connect("patient@example.com");

    const res = await post(srv, "/api/v1/notifications", token, {
      userId: "patient-1",
      title: "New Message",
      message: "You have a new message",
      type: "message",
      data: { visitId: "visit-123" },
    });
    assert.equal(res.status, 201);
    const { notification } = await res.json();
    assert.match(notification.id, /^ntf_/);
    for (const device of [phone, laptop]) {
      assert.deepEqual(await device.event("notification:new"), notification);
    }
    assert.deepEqual(Object.keys(notification).sort(), [
      "createdAt",
      "data",
      "id",
      "message",
      "title",
      "type",
    ]);

    assert.deepEqual(await phone.request("notification:getUnreadCount"), {
      success: true,
      unreadCount: 1,
    });
    const read = await phone.request("notification:read", { notificationId: notification.id });
    assert.deepEqual(read, { success: true, notificationId: notification.id, unreadCount: 0 });
    assert.deepEqual(await laptop.event("notification:read"), {
      notificationId: notification.id,
      unreadCount: 0,
    });
    const again = await laptop.request("notification:read", { notificationId: notification.id });
    assert.equal(again.unreadCount, 0, "reading twice changes nothing");
    const missing = await laptop.request("notification:read", { notificationId: "ntf_nope" });
    assert.equal(missing.code, "NOT_FOUND");
    // Someone else's notification is simply not found for this user.
    const doctor = await srv.connect("doctor@example.com");
    const foreign = await doctor.request("notification:read", { notificationId: notification.id });
    assert.equal(foreign.code, "NOT_FOUND");
  } finally {
    await srv.close();
  }
});

Deno.test("the unread count stays exact under concurrent reads from two devices and new notifications", async () => {
  const srv = await startServer();
  try {
    const phone = await srv.connect("patient@example.com");
    const laptop = await srv.connect("patient@example.com");
    const first = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => srv.app.realtime.notifyUser("patient-1", { title: `n${i}`, message: "m" }),
      ),
    );
    // Both devices mark all 20 read at once while 10 more arrive.
    const reads = [phone, laptop].flatMap((device) =>
      first.map((n) => device.request("notification:read", { notificationId: n.id }))
    );
    const more = Array.from(
      { length: 10 },
      (_, i) => srv.app.realtime.notifyUser("patient-1", { title: `late${i}`, message: "m" }),
    );
    const acks = await Promise.all(reads);
    await Promise.all(more);
    assert.ok(acks.every((a) => a.success === true), JSON.stringify(acks.find((a) => !a.success)));
    assert.ok(acks.every((a) => (a.unreadCount as number) >= 0));

    assert.equal(await unreadCount(srv.kv, "patient-1"), 10);
    const unread = await listNotifications(srv.kv, "patient-1", { limit: 100, unreadOnly: true });
    assert.equal(unread.notifications.length, 10);
    assert.equal(
      (await phone.request("notification:getUnreadCount")).unreadCount,
      10,
    );
  } finally {
    await srv.close();
  }
});

Deno.test("notification:list pages newest first and filters unread", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push(await srv.app.realtime.notifyUser("patient-1", { title: `t${i}`, message: "m" }));
    }
    await patient.request("notification:read", { notificationId: made[3].id });
    const page1 = await patient.request("notification:list", { limit: 2 });
    assert.deepEqual(
      (page1.notifications as { title: string }[]).map((n) => n.title),
      ["t4", "t3"],
    );
    assert.equal(page1.hasMore, true);
    assert.ok((page1.notifications as { readAt?: string }[])[1].readAt);
    const page2 = await patient.request("notification:list", { limit: 10, before: made[3].id });
    assert.deepEqual(
      (page2.notifications as { title: string }[]).map((n) => n.title),
      ["t2", "t1", "t0"],
    );
    assert.equal(page2.hasMore, false);
    const unread = await patient.request("notification:list", { unreadOnly: true });
    assert.deepEqual(
      (unread.notifications as { title: string }[]).map((n) => n.title),
      ["t4", "t2", "t1", "t0"],
    );
    const bad = await patient.request("notification:list", { limit: 101 });
    assert.equal(bad.code, "INVALID_PAYLOAD");
  } finally {
    await srv.close();
  }
});

Deno.test("HTTP emit reaches a connected user, a room, or everyone (system:* only)", async () => {
  const srv = await startServer();
  try {
    const token = await serviceToken(srv, "admin");
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    await doctor.request("room:join", { roomId: "topic:appointments" });

    const toUser = await post(srv, "/api/v1/realtime/emit", token, {
      target: { userId: "patient-1" },
      event: "appointment:reminder",
      data: { at: "2026-12-01T10:00:00Z" },
    });
    assert.equal(toUser.status, 202);
    await toUser.body?.cancel();
    assert.deepEqual(await patient.event("appointment:reminder"), { at: "2026-12-01T10:00:00Z" });

    const toRoom = await post(srv, "/api/v1/realtime/emit", token, {
      target: { roomId: "topic:appointments" },
      event: "topic:update",
      data: { n: 1 },
    });
    assert.equal(toRoom.status, 202);
    await toRoom.body?.cancel();
    assert.deepEqual(await doctor.event("topic:update"), { n: 1 });

    const all = await post(srv, "/api/v1/realtime/emit", token, {
      target: { all: true },
      event: "system:maintenance",
      data: { message: "Scheduled maintenance in 10 minutes" },
    });
    assert.equal(all.status, 202);
    await all.body?.cancel();
    for (const c of [patient, doctor]) {
      assert.equal(
        (await c.event("system:maintenance")).message,
        "Scheduled maintenance in 10 minutes",
      );
    }
    await patient.sync();
    assert.equal(patient.pending("topic:update").length, 0);

    for (
      const body of [
        { target: { all: true }, event: "chat:spam", data: {} },
        { target: { userId: "patient-1" }, event: "connected", data: {} },
        { target: { userId: "patient-1" }, event: "message:new", data: { message: "fake" } },
        { target: { userId: "patient-1" }, event: "notification:new", data: { title: "fake" } },
        { target: { roomId: "visit:visit-123" }, event: "call:incoming", data: {} },
        { target: { userId: "patient-1" }, event: "user:profiles", data: { users: [] } },
        { target: { roomId: "lobby" }, event: "system:x", data: {} },
        { target: {}, event: "system:x" },
        { target: { userId: "patient-1" }, event: "Bad Name" },
      ]
    ) {
      const res = await post(srv, "/api/v1/realtime/emit", token, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal((await res.json()).code, "INVALID_PAYLOAD");
    }
  } finally {
    await srv.close();
  }
});

Deno.test("emit and notification APIs are forbidden for patient and clinician tokens", async () => {
  const srv = await startServer();
  try {
    for (const email of ["patient@example.com", "doctor@example.com"]) {
      const token = await srv.login(email);
      const emit = await post(srv, "/api/v1/realtime/emit", token, {
        target: { all: true },
        event: "system:x",
      });
      assert.equal(emit.status, 403, email);
      await emit.body?.cancel();
      const note = await post(srv, "/api/v1/notifications", token, {
        userId: "patient-1",
        title: "t",
        message: "m",
      });
      assert.equal(note.status, 403, email);
      await note.body?.cancel();
    }
    const anon = await fetch(`${srv.url}/api/v1/notifications`, { method: "POST", body: "{}" });
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    const service = await serviceToken(srv);
    const unknown = await post(srv, "/api/v1/notifications", service, {
      userId: "nobody",
      title: "t",
      message: "m",
    });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    assert.equal(await unreadCount(srv.kv, "patient-1"), 0);
  } finally {
    await srv.close();
  }
});

Deno.test("the seed's module functions emitToUser / emitToRoom / broadcast / notifyUser work", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    await patient.request("room:join", { roomId: "visit:visit-123" });
    api.emitToUser("patient-1", "notification:new", { title: "New Message", message: "hi" });
    assert.equal((await patient.event("notification:new")).title, "New Message");
    api.emitToRoom("visit:visit-123", "visit:updated", { id: "visit-123" });
    assert.deepEqual(await patient.event("visit:updated"), { id: "visit-123" });
    api.broadcast("system:maintenance", { message: "soon" });
    assert.equal((await patient.event("system:maintenance")).message, "soon");
    const n = await api.notifyUser("patient-1", { title: "Lab results", message: "ready" });
    assert.equal((await patient.event("notification:new")).id, n.id);
    assert.equal(await unreadCount(srv.kv, "patient-1"), 1);
  } finally {
    await srv.close();
  }
  assert.throws(() => api.broadcast("system:x", {}), /not running/);
});
