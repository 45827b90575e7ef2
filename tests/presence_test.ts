import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { putConnection, reconcile } from "../store/presence.ts";
import { startServer, waitFor } from "./harness.ts";

Deno.test("two tabs: presence changes exactly once per real transition", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const sub = await doctor.request("presence:subscribe", { userIds: ["patient-1"] });
    assert.equal(sub.success, true);
    assert.deepEqual(sub.presences, [
      { userId: "patient-1", status: "offline", lastSeen: null },
    ]);

    const tab1 = await srv.connect("patient@example.com");
    assert.deepEqual(await doctor.event("presence:changed"), {
      userId: "patient-1",
      status: "online",
    });
    const tab2 = await srv.connect("patient@example.com");
    await doctor.sync();
    assert.equal(doctor.pending("presence:changed").length, 0, "second tab is not news");

    await tab1.close();
    await waitFor(() => srv.app.hub.userConnectionCount("patient-1") === 1, "tab1 closed");
    await srv.app.presence.idle();
    await doctor.sync();
    assert.equal(
      doctor.pending("presence:changed").length,
      0,
      "one of two tabs closing is not news",
    );

    await tab2.close();
    assert.deepEqual(await doctor.event("presence:changed"), {
      userId: "patient-1",
      status: "offline",
    });
    const got = await doctor.request("presence:get", { userIds: ["patient-1"] });
    const [p] = got.presences as { status: string; lastSeen: string }[];
    assert.equal(p.status, "offline");
    assert.ok(Date.parse(p.lastSeen) <= Date.now());

    await doctor.request("presence:unsubscribe", { userIds: ["patient-1"] });
    const again = await srv.connect("patient@example.com");
    await again.sync();
    await doctor.sync();
    assert.equal(doctor.pending("presence:changed").length, 0, "unsubscribed");
  } finally {
    await srv.close();
  }
});

Deno.test("an explicit status is announced, survives reconnects, and offline cannot be set", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    await doctor.request("presence:subscribe", { userIds: ["patient-1"] });
    let patient = await srv.connect("patient@example.com");
    await doctor.event("presence:changed");

    patient.emit("presence:setStatus", { status: "busy", customStatus: "In a meeting" });
    assert.deepEqual(await doctor.event("presence:changed"), {
      userId: "patient-1",
      status: "busy",
      customStatus: "In a meeting",
    });
    const same = await patient.request("presence:setStatus", {
      status: "busy",
      customStatus: "In a meeting",
    });
    assert.equal(same.success, true);
    await doctor.sync();
    assert.equal(doctor.pending("presence:changed").length, 0, "no change, no event");

    const offline = await patient.request("presence:setStatus", { status: "offline" });
    assert.equal(offline.code, "INVALID_PAYLOAD");
    const inCall = await patient.request("presence:setStatus", { status: "in_call" });
    assert.equal(inCall.code, "INVALID_PAYLOAD");

    await patient.close();
    assert.equal((await doctor.event("presence:changed")).status, "offline");
    patient = await srv.connect("patient@example.com");
    assert.deepEqual(await doctor.event("presence:changed"), {
      userId: "patient-1",
      status: "busy",
      customStatus: "In a meeting",
    });
    await patient.request("presence:setStatus", { status: "online", customStatus: null });
    assert.deepEqual(await doctor.event("presence:changed"), {
      userId: "patient-1",
      status: "online",
    });
  } finally {
    await srv.close();
  }
});

Deno.test("a connection that vanished without closing expires: read at once, announced by the sweep", async () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 24, 9, 0, 0));
  const srv = await startServer({ clock, env: { PRESENCE_TTL_S: "45" } });
  try {
    const doctor = await srv.connect("doctor@example.com");
    // A connection written by another process that then died: nobody will remove or refresh it.
    await putConnection(srv.kv, "patient-2", "ghost", clock.now() + 45_000, clock.now());
    await reconcile(srv.kv, "patient-2", clock.now());
    const sub = await doctor.request("presence:subscribe", { userIds: ["patient-2"] });
    assert.equal((sub.presences as { status: string }[])[0].status, "online");

    // The doctor's own socket stays alive through heartbeats; the ghost does not.
    clock.advance(30_000);
    await srv.app.presence.heartbeat();
    await srv.app.presence.sweep();
    await doctor.sync();
    assert.equal(doctor.pending("presence:changed").length, 0, "not expired yet");

    clock.advance(15_001);
    const read = await doctor.request("presence:get", { userIds: ["patient-2", "doctor-1"] });
    assert.deepEqual(
      (read.presences as { userId: string; status: string }[]).map((p) => [p.userId, p.status]),
      [["patient-2", "offline"], ["doctor-1", "online"]],
      "expiresAt is checked on read, before any sweep",
    );
    await srv.app.presence.sweep();
    assert.deepEqual(await doctor.event("presence:changed"), {
      userId: "patient-2",
      status: "offline",
    });
    const after = await doctor.request("presence:get", { userIds: ["patient-2"] });
    assert.equal(
      (after.presences as { lastSeen: string }[])[0].lastSeen,
      new Date(clock.now() - 45_001).toISOString(),
      "last seen when the dead process last wrote its entry, not when the sweep noticed",
    );
    await srv.app.presence.sweep();
    await doctor.sync();
    assert.equal(doctor.pending("presence:changed").length, 0, "announced once");
  } finally {
    await srv.close();
  }
});

Deno.test("presence privacy: patients see only their care team; staff see everyone", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const ok = await patient.request("presence:get", { userIds: ["doctor-1", "patient-1"] });
    assert.equal(ok.success, true);

    for (const userIds of [["patient-2"], ["doctor-1", "patient-2"], ["ghost-user"]]) {
      const denied = await patient.request("presence:get", { userIds });
      assert.equal(denied.code, "FORBIDDEN", JSON.stringify(userIds));
      assert.equal(denied.error, "Presence access denied");
      assert.deepEqual(
        (denied.issues as { path: string }[]).map((i) => i.path),
        [`userIds.${userIds.length - 1}`],
      );
      const sub = await patient.request("presence:subscribe", { userIds });
      assert.equal(sub.code, "FORBIDDEN");
    }
    const p2 = await srv.connect("patient2@example.com");
    assert.equal(
      (await p2.request("presence:get", { userIds: ["doctor-1"] })).code,
      "FORBIDDEN",
      "patient2 shares no visit with doctor-1",
    );
    const doctor = await srv.connect("doctor@example.com");
    assert.equal(
      (await doctor.request("presence:get", { userIds: ["patient-2", "patient-1"] })).success,
      true,
    );
    const bad = await doctor.request("presence:get", { userIds: [] });
    assert.equal(bad.code, "INVALID_PAYLOAD");
    const dup = await doctor.request("presence:get", { userIds: ["a", "a"] });
    assert.equal(dup.code, "INVALID_PAYLOAD");
  } finally {
    await srv.close();
  }
});
