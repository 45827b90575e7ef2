/**
 * Issue 7's privacy findings over real sockets: two patients in one topic
 * never learn of each other (participants, joins and leaves, typing, read
 * receipts), topic memberships end with the last socket, and a socket cannot
 * pile up rooms or presence subscriptions.
 */

import assert from "node:assert/strict";
import { startServer, waitFor } from "./harness.ts";
import { countTopicRows, joinTopic } from "../store/topics.ts";

const TOPIC = "topic:general";

Deno.test("two patients in a topic see staff only; their joins, typing and reads reach staff only", async () => {
  const srv = await startServer();
  try {
    const a = await srv.connect("patient@example.com");
    const b = await srv.connect("patient2@example.com");
    const doctor = await srv.connect("doctor@example.com");

    assert.equal((await doctor.request("room:join", { roomId: TOPIC })).success, true);
    const aJoin = await a.request("room:join", { roomId: TOPIC });
    assert.deepEqual(aJoin.participants, [
      { userId: "doctor-1", role: "doctor" },
      { userId: "patient-1", role: "patient" },
    ]);
    const bJoin = await b.request("room:join", { roomId: TOPIC });
    // B sees the doctor and itself, never patient-1.
    assert.deepEqual(bJoin.participants, [
      { userId: "doctor-1", role: "doctor" },
      { userId: "patient-2", role: "patient" },
    ]);
    // The doctor heard of both patients.
    assert.equal((await doctor.event("room:userJoined")).userId, "patient-1");
    assert.equal((await doctor.event("room:userJoined")).userId, "patient-2");
    // Staff see everyone in the list.
    const doctorView = await doctor.request("room:join", { roomId: TOPIC });
    assert.deepEqual(
      (doctorView.participants as { userId: string }[]).map((p) => p.userId),
      ["doctor-1", "patient-1", "patient-2"],
    );

    b.emit("typing:start", { roomId: TOPIC });
    assert.equal((await doctor.event("typing:start")).userId, "patient-2");

    const post = await doctor.request("message:send", { roomId: TOPIC, message: "Clinic news" });
    const seq = (post.message as { seq: number }).seq;
    assert.equal((await a.event("message:new")).senderId, "doctor-1");
    assert.equal((await b.event("message:new")).senderId, "doctor-1");
    assert.equal((await b.request("message:read", { roomId: TOPIC, seq })).success, true);
    assert.equal((await doctor.event("message:status")).userId, "patient-2");
    const history = await a.request("message:history", { roomId: TOPIC });
    assert.deepEqual(history.reads, {});

    await b.request("room:leave", { roomId: TOPIC });
    assert.equal((await doctor.event("room:userLeft")).userId, "patient-2");

    // Everything patient-1 received in this topic names staff or patient-1, never patient-2.
    await a.sync();
    const leaked = a.frames.filter((f) => JSON.stringify(f).includes("patient-2"));
    assert.deepEqual(leaked, []);
    const events = a.frames.map((f) => f.event).filter((e) => e && e !== "message:new");
    assert.deepEqual(events.filter((e) => e!.startsWith("room:") || e!.startsWith("typing:")), []);
  } finally {
    await srv.close();
  }
});

Deno.test("topic memberships end with the user's last socket: nothing accumulates in KV", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    await doctor.request("room:join", { roomId: TOPIC });
    const tab1 = await srv.connect("patient@example.com");
    const tab2 = await srv.connect("patient@example.com");
    await tab1.request("room:join", { roomId: TOPIC });
    assert.equal((await doctor.event("room:userJoined")).userId, "patient-1");
    await tab2.request("room:join", { roomId: TOPIC });
    assert.equal(await countTopicRows(srv.kv, TOPIC), 3);

    await tab1.close();
    await waitFor(() => srv.app.hub.userConnectionCount("patient-1") === 1, "tab1 closed");
    // Another tab is still in the topic: no one is told the patient left.
    await doctor.sync();
    assert.equal(doctor.pending("room:userLeft").length, 0);

    await tab2.close();
    assert.deepEqual(await doctor.event("room:userLeft"), {
      roomId: TOPIC,
      userId: "patient-1",
      role: "patient",
    });
    await doctor.close();
    await waitFor(() => srv.app.hub.size === 0, "all closed");
    await srv.app.topics.idle();
    assert.equal(await countTopicRows(srv.kv), 0);
  } finally {
    await srv.close();
  }
});

Deno.test("300 topic joins on one socket: over ROOMS_PER_SOCKET is LIMIT_EXCEEDED and nothing is stored", async () => {
  const srv = await startServer({ env: { ROOMS_PER_SOCKET: "100", EVENT_BURST: "1000" } });
  try {
    const patient = await srv.connect("patient@example.com");
    const codes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const r = await patient.request("room:join", { roomId: `topic:t${i}` });
      const code = r.success ? "ok" : String(r.code);
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (!r.success) assert.match(String(r.error), /limit is 100/);
    }
    assert.deepEqual(Object.fromEntries(codes), { ok: 100, LIMIT_EXCEEDED: 200 });
    assert.equal(await countTopicRows(srv.kv), 100);
    // Leaving makes room again.
    await patient.request("room:leave", { roomId: "topic:t0" });
    assert.equal((await patient.request("room:join", { roomId: "topic:extra" })).success, true);
    await patient.close();
    await waitFor(() => srv.app.hub.size === 0, "closed");
    await srv.app.topics.idle();
    assert.equal(await countTopicRows(srv.kv), 0);
  } finally {
    await srv.close();
  }
});

Deno.test("presence subscriptions per socket are capped", async () => {
  const srv = await startServer({ env: { PRESENCE_SUBSCRIPTIONS_PER_SOCKET: "150" } });
  try {
    const doctor = await srv.connect("doctor@example.com");
    const ids = (from: number) => Array.from({ length: 100 }, (_, i) => `user-${from + i}`);
    assert.equal((await doctor.request("presence:subscribe", { userIds: ids(0) })).success, true);
    // Re-subscribing the same users costs nothing.
    assert.equal((await doctor.request("presence:subscribe", { userIds: ids(50) })).success, true);
    const over = await doctor.request("presence:subscribe", { userIds: ids(150) });
    assert.equal(over.code, "LIMIT_EXCEEDED");
    assert.match(String(over.error), /limit is 150/);
    await doctor.request("presence:unsubscribe", { userIds: ids(0) });
    assert.equal((await doctor.request("presence:subscribe", { userIds: ids(150) })).success, true);
  } finally {
    await srv.close();
  }
});

Deno.test("200 id-less frames back to back: in-flight refusals count toward the 4429 close; queued frames are dropped", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    await doctor.request("room:join", { roomId: "visit:visit-123" });
    const frame = JSON.stringify({
      event: "message:send",
      data: { visitId: "visit-123", message: "flood" },
    });
    for (let i = 0; i < 200; i++) doctor.sendRaw(frame);
    const closed = await doctor.closed;
    assert.equal(closed.code, 4429);
    const errors = doctor.frames.filter((f) => f.event === "error");
    assert.ok(errors.length > 50, `expected refusals before the close, got ${errors.length}`);
    // Frames still queued when the socket closed never ran: at most the burst was stored.
    await waitFor(() => srv.app.hub.size === 0, "closed on the server");
    const checker = await srv.connect("doctor@example.com");
    const history = await checker.request("message:history", { visitId: "visit-123", limit: 100 });
    const stored = (history.messages as unknown[]).length;
    assert.ok(stored <= 64 + 20, `stored ${stored}`);
    await checker.sync();
    const again = await checker.request("message:history", { visitId: "visit-123", limit: 100 });
    assert.equal((again.messages as unknown[]).length, stored);
  } finally {
    await srv.close();
  }
});

Deno.test("ring flooding: call:initiate is limited per caller and callee pair", async () => {
  const srv = await startServer({ env: { CALLS_PER_PAIR_PER_MIN: "3", EVENT_BURST: "200" } });
  try {
    await srv.addUser("nurse-1", "nurse", "nurse@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const nurse = await srv.connect("nurse@example.com");
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await doctor.request("call:initiate", {
        recipientId: "nurse-1",
        callType: "audio",
      });
      codes.push(r.success ? "ok" : String(r.code));
      if (r.success) {
        await nurse.event("call:incoming");
        await doctor.request("call:end", { callId: r.callId });
      }
    }
    assert.deepEqual(codes, ["ok", "ok", "ok", "RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    // The limit is per pair: the doctor may still call someone else.
    const other = await doctor.request("call:initiate", {
      recipientId: "patient-1",
      callType: "video",
      visitId: "visit-123",
    });
    assert.equal(other.success, true);
  } finally {
    await srv.close();
  }
});

Deno.test("row 15: sustained rate-limit abuse (1,000 sends/s) closes 4429 and the excess is not stored", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const codes = new Map<string, number>();
    // Ten at a time, each batch acked before the next: the bucket refuses, the in-flight cap never does.
    for (let batch = 0; batch < 20; batch++) {
      const acks = await Promise.all(
        Array.from(
          { length: 10 },
          () =>
            doctor.request("message:send", { visitId: "visit-123", message: "spam" }, 1000)
              .catch((): Record<string, unknown> => ({ code: "NO_ACK" })),
        ),
      );
      for (const a of acks) {
        const code = a.success ? "ok" : String(a.code);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      if (codes.has("NO_ACK")) break;
    }
    const closed = await doctor.closed;
    assert.equal(closed.code, 4429);
    assert.equal(closed.reason, "Rate limit exceeded");
    assert.ok((codes.get("RATE_LIMITED") ?? 0) >= 50, JSON.stringify([...codes]));
    const stored = codes.get("ok") ?? 0;
    assert.ok(stored <= 25, `stored ${stored}`);
    const checker = await srv.connect("doctor@example.com");
    const history = await checker.request("message:history", { visitId: "visit-123", limit: 100 });
    assert.equal((history.messages as unknown[]).length, stored);
  } finally {
    await srv.close();
  }
});

Deno.test("topic memberships a dead process left are swept at start: nothing stays in KV", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/crash.kv`;
  try {
    // What a process killed with kill -9 leaves: rows nobody will refresh any more.
    const kv = await Deno.openKv(kvPath);
    for (const [userId, socketId] of [["patient-1", "dead-1"], ["patient-2", "dead-2"]]) {
      await joinTopic(kv, TOPIC, {
        userId,
        role: "patient",
        joinedAt: new Date(0).toISOString(),
        socketId,
        expiresAt: Date.now() - 1,
      }, 0);
    }
    kv.close();
    const srv = await startServer({ kvPath });
    try {
      await srv.app.topics.idle();
      assert.equal(await countTopicRows(srv.kv), 0);
      const doctor = await srv.connect("doctor@example.com");
      const joined = await doctor.request("room:join", { roomId: TOPIC });
      assert.deepEqual(joined.participants, [{ userId: "doctor-1", role: "doctor" }]);
    } finally {
      await srv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
