/**
 * The access audit trail end to end: a scripted session (login, sockets,
 * joins, history and resume reads, refusals, a call, a service notification),
 * read back by an admin over GET /api/v1/audit and exported with
 * `deno task audit export`; never any message text or token.
 */

import assert from "node:assert/strict";
import { startServer, type TestServer } from "./harness.ts";
import type { AuditEntry } from "../store/audit.ts";

const SECRET_TEXT = "my blood test results are worrying";

async function readAudit(
  srv: TestServer,
  token: string,
  query: string,
): Promise<{ status: number; body: { entries: AuditEntry[]; nextCursor: string | null } }> {
  const res = await fetch(`${srv.url}/api/v1/audit?${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("audit trail: every join, read and refusal of a scripted session, ids only", async () => {
  const srv = await startServer();
  try {
    await srv.addUser("admin-1", "admin");
    await srv.addUser("service-1", "service");
    const badLogin = await fetch(`${srv.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "patient@example.com", password: "wrong-password" }),
    });
    assert.equal(badLogin.status, 401);
    await badLogin.body?.cancel();

    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const intruder = await srv.connect("patient2@example.com");
    await patient.request("room:join", { roomId: "visit:visit-123" });
    await doctor.request("room:join", { roomId: "visit:visit-123" });
    await patient.request("message:send", { visitId: "visit-123", message: SECRET_TEXT });
    await doctor.request("message:send", { visitId: "visit-123", message: "Let us talk" });
    const history = await doctor.request("message:history", { visitId: "visit-123" });
    assert.equal((history.messages as unknown[]).length, 2);
    await patient.request("room:join", { roomId: "visit:visit-123", since: 1 });
    await patient.request("room:leave", { roomId: "visit:visit-123" });

    const refused = await intruder.request("room:join", { roomId: "visit:visit-123" });
    assert.equal(refused.code, "FORBIDDEN");
    const refusedHistory = await intruder.request("message:history", { visitId: "visit-123" });
    assert.equal(refusedHistory.code, "FORBIDDEN");
    const refusedPost = await intruder.request("message:send", {
      roomId: "topic:general",
      message: SECRET_TEXT,
    });
    assert.equal(refusedPost.code, "FORBIDDEN");

    const call = await doctor.request("call:initiate", {
      recipientId: "patient-1",
      callType: "video",
      visitId: "visit-123",
    });
    await patient.event("call:incoming");
    await patient.request("call:accept", { callId: call.callId });
    await doctor.request("call:end", { callId: call.callId });

    const serviceToken = await srv.login("service-1@example.com");
    const notify = await fetch(`${srv.url}/api/v1/notifications`, {
      method: "POST",
      headers: { authorization: `Bearer ${serviceToken}`, "content-type": "application/json" },
      body: JSON.stringify({ userId: "patient-1", title: "Lab", message: SECRET_TEXT }),
    });
    assert.equal(notify.status, 201);
    await notify.body?.cancel();
    await intruder.close();

    const adminToken = await srv.login("admin-1@example.com");
    const { status, body } = await readAudit(srv, adminToken, "limit=500");
    assert.equal(status, 200);
    const raw = JSON.stringify(body);
    assert.ok(!raw.includes(SECRET_TEXT), "message text in the audit trail");
    assert.ok(!raw.includes(adminToken) && !raw.includes(serviceToken), "a token in the trail");
    assert.ok(!raw.includes("password"), "a password in the trail");

    const has = (pred: (e: AuditEntry) => boolean, what: string) => {
      const found = body.entries.filter(pred);
      assert.ok(found.length > 0, `missing: ${what}`);
      return found;
    };
    has((e) => e.action === "auth.login" && e.outcome === "failure", "failed login");
    has((e) => e.action === "auth.login" && e.actorId === "doctor-1", "doctor login");
    for (const who of ["patient-1", "doctor-1", "patient-2"]) {
      has((e) => e.action === "ws.open" && e.actorId === who && !!e.socketId, `${who} socket open`);
    }
    has((e) => e.action === "ws.close" && e.actorId === "patient-2", "intruder socket close");
    has(
      (e) =>
        e.action === "room.join" && e.actorId === "patient-1" &&
        e.target?.roomId === "visit:visit-123" && e.target?.visitId === "visit-123",
      "patient join",
    );
    has((e) => e.action === "room.leave" && e.actorId === "patient-1", "patient leave");
    const read = has((e) => e.action === "message.history" && e.actorId === "doctor-1", "history");
    assert.deepEqual([read[0].target?.seqFrom, read[0].target?.seqTo], [1, 2]);
    const resume = has((e) => e.action === "room.resume" && e.actorId === "patient-1", "resume");
    assert.deepEqual([resume[0].target?.seqFrom, resume[0].target?.seqTo], [2, 2]);
    const refusals = has(
      (e) => e.action === "refused" && e.actorId === "patient-2" && e.code === "FORBIDDEN",
      "refusals",
    );
    assert.deepEqual(
      refusals.map((e) => `${e.target?.event} ${e.target?.roomId ?? e.target?.visitId}`).sort(),
      ["message:history visit-123", "message:send topic:general", "room:join visit:visit-123"],
    );
    for (const state of ["initiating", "ringing", "accepted", "ended"]) {
      has((e) => e.action === `call.${state}` && e.target?.callId === call.callId, `call ${state}`);
    }
    has(
      (e) =>
        e.action === "notification.create" && e.actorId === "service-1" &&
        e.target?.userId === "patient-1",
      "service notification",
    );
    for (const e of body.entries) {
      assert.ok(e.id && e.at && e.action && e.outcome, `incomplete entry ${JSON.stringify(e)}`);
      if (e.socketId) assert.equal(e.ip, "127.0.0.1");
    }
    // Newest first.
    const ids = body.entries.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort().reverse());

    // Filters: by room, by visit, by user and time, paged.
    const byRoom = await readAudit(srv, adminToken, "roomId=visit:visit-123&limit=500");
    assert.ok(byRoom.body.entries.every((e) => e.target?.roomId === "visit:visit-123"));
    const byVisit = await readAudit(srv, adminToken, "visitId=visit-123&limit=500");
    assert.ok(byVisit.body.entries.some((e) => e.action.startsWith("call.")));
    const page1 = await readAudit(srv, adminToken, "userId=patient-2&limit=2");
    assert.equal(page1.body.entries.length, 2);
    assert.ok(page1.body.nextCursor);
    const page2 = await readAudit(
      srv,
      adminToken,
      `userId=patient-2&limit=2&cursor=${page1.body.nextCursor}`,
    );
    assert.ok(page2.body.entries.length > 0);
    assert.ok(page2.body.entries[0].id < page1.body.entries[1].id);
    const future = new Date(Date.now() + 3600_000).toISOString();
    const none = await readAudit(srv, adminToken, `from=${future}`);
    assert.deepEqual(none.body.entries, []);

    // Only admins read it; the refusal is itself recorded.
    const doctorToken = await srv.login("doctor@example.com");
    assert.equal((await readAudit(srv, doctorToken, "")).status, 403);
    const bad = await readAudit(srv, adminToken, "from=yesterday");
    assert.equal(bad.status, 400);
  } finally {
    await srv.close();
  }
});

Deno.test("deno task audit export writes JSON lines for a time range", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/audit.kv`;
  try {
    const srv = await startServer({ kvPath });
    try {
      const patient = await srv.connect("patient@example.com");
      await patient.request("room:join", { roomId: "visit:visit-123" });
      await srv.app.audit.flush();
    } finally {
      await srv.close();
    }
    const today = new Date().toISOString().slice(0, 10);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "audit", "export", "--from", today, "--to", today],
      env: { KV_PATH: kvPath },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const entries = lines.map((l) => JSON.parse(l) as AuditEntry);
    assert.ok(entries.some((e) => e.action === "room.join" && e.actorId === "patient-1"));
    assert.ok(entries.some((e) => e.action === "ws.close"));
    const ids = entries.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort(), "oldest first");

    const empty = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "audit", "export", "--to", "2001-01-01"],
      env: { KV_PATH: kvPath },
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.equal(empty.code, 0);
    assert.equal(new TextDecoder().decode(empty.stdout), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task users add, disable and enable are audited in the same commit as the change", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/users.kv`;
  try {
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "users", ...args],
        env: { KV_PATH: kvPath, USER_PASSWORD: "a-long-enough-password", USER: "it-admin" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
    for (
      const args of [
        [
          "add",
          "--email",
          "lee@clinic.example",
          "--name",
          "Dr. Lee",
          "--role",
          "doctor",
          "--id",
          "doctor-lee",
        ],
        ["disable", "lee@clinic.example"],
        ["enable", "lee@clinic.example"],
      ]
    ) {
      const out = await run(...args);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    const kv = await Deno.openKv(kvPath);
    try {
      const entries: AuditEntry[] = [];
      for await (const e of kv.list<AuditEntry>({ prefix: ["audit"] })) entries.push(e.value);
      assert.deepEqual(
        entries.map((e) => [e.action, e.target?.userId, e.requestId]),
        [
          ["user.create", "doctor-lee", "cli:it-admin"],
          ["user.disable", "doctor-lee", "cli:it-admin"],
          ["user.enable", "doctor-lee", "cli:it-admin"],
        ],
      );
      assert.ok(!JSON.stringify(entries).includes("lee@clinic.example"));
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
