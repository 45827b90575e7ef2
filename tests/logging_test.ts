/**
 * Logs (issue 13, item 5): a scripted session's lines carry request and
 * socket ids, refusals carry their reason and the client IP, call
 * transitions and service emits are logged with ids only, and nothing
 * secret (tokens, passwords, message text, payloads) is in any line.
 * LOG_FILE appends the same lines to a file that survives copytruncate.
 */

import assert from "node:assert/strict";
import { createApp } from "../main.ts";
import { loadConfig } from "../lib/config.ts";
import { configuredLogger, openLogFile } from "../lib/log_file.ts";
import { LocalBus } from "../realtime/bus.ts";
import { DEMO_PASSWORD } from "../store/demo.ts";
import { loginAt, startServer, TEST_SECRET, waitFor, WsClient } from "./harness.ts";

type Line = Record<string, unknown> & { event: string };

Deno.test("logs: a scripted session has ids on every line, refusals with reason and IP, no secrets", async () => {
  const srv = await startServer();
  const lines = () => srv.log.lines.map((l) => JSON.parse(l) as Line);
  const named = (event: string) => lines().filter((l) => l.event === event);
  try {
    // A login by hand, to read its x-request-id.
    const res = await fetch(`${srv.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "patient@example.com", password: DEMO_PASSWORD }),
    });
    const { token: patientToken } = await res.json();
    const loginId = res.headers.get("x-request-id");
    assert.match(String(loginId), /^[0-9a-f-]{36}$/);
    const login = named("auth.login").find((l) => l.requestId === loginId);
    assert.equal(login?.userId, "patient-1", "the route's line carries the request id");
    const access = named("http.request").find((l) => l.requestId === loginId);
    assert.deepEqual(
      { ...access, t: undefined, ms: undefined },
      {
        t: undefined,
        ms: undefined,
        level: "info",
        event: "http.request",
        method: "POST",
        path: "/api/v1/auth/login",
        status: 200,
        requestId: loginId,
        ip: "127.0.0.1",
      },
    );
    assert.equal(typeof access?.ms, "number");

    const patient = await WsClient.open(srv.wsUrl);
    assert.equal((await patient.auth(patientToken)).event, "connected");
    const doctorToken = await loginAt(srv.url, "doctor@example.com");
    const doctor = await WsClient.open(srv.wsUrl);
    assert.equal((await doctor.auth(doctorToken)).event, "connected");
    for (const c of [patient, doctor]) {
      assert.equal((await c.request("room:join", { roomId: "visit:visit-123" })).success, true);
    }
    const text = "my private symptom description 7f3a";
    const sent = await patient.request("message:send", { visitId: "visit-123", message: text });
    assert.equal(sent.success, true);
    assert.equal((await doctor.event("message:new")).message, text);

    // Refused upgrades: a wrong Origin, and a token in the query string.
    const evil = await fetch(`${srv.url}/ws`, {
      headers: { upgrade: "websocket", connection: "Upgrade", origin: "https://evil.test" },
    });
    assert.equal(evil.status, 403);
    await evil.body?.cancel();
    const queryToken = await fetch(`${srv.url}/ws?token=${doctorToken}`, {
      headers: { upgrade: "websocket", connection: "Upgrade" },
    });
    assert.equal(queryToken.status, 400);
    await queryToken.body?.cancel();
    // A refused authentication.
    const bad = await WsClient.open(srv.wsUrl);
    const badToken = "eyJhbGciOiJIUzI1NiJ9.bogus-token-value.signature";
    assert.equal((await bad.auth(badToken)).event, "connect_error");
    await bad.closed;

    // A call, rejected.
    const ring = await doctor.request("call:initiate", {
      recipientId: "patient-1",
      callType: "video",
      visitId: "visit-123",
    });
    await patient.event("call:incoming");
    assert.equal((await patient.request("call:reject", { callId: ring.callId })).success, true);

    // Service emits, with payloads that must not be logged.
    await srv.addUser("svc-1", "service");
    const svcToken = await loginAt(srv.url, "svc-1@example.com");
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${srv.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${svcToken}` },
        body: JSON.stringify(body),
      });
      await r.body?.cancel();
      return r.status;
    };
    const payloadSecret = "lab result: positive 91c2";
    assert.equal(
      await post("/api/v1/realtime/emit", {
        target: { userId: "patient-1" },
        event: "lab:result",
        data: { summary: payloadSecret },
      }),
      202,
    );
    assert.equal((await patient.event("lab:result")).summary, payloadSecret);
    const noteSecret = "your biopsy is scheduled 4b7e";
    assert.equal(
      await post("/api/v1/notifications", {
        userId: "patient-1",
        title: noteSecret,
        message: noteSecret,
      }),
      201,
    );
    await patient.event("notification:new");
    await patient.close();
    await doctor.close();
    await waitFor(() => named("ws.closed").length >= 2, "both closes logged");

    // Every HTTP request has one access line with an id; its other lines carry the same id.
    const accessLines = named("http.request");
    assert.ok(accessLines.length >= 6);
    const ids = new Set<unknown>();
    for (const l of accessLines) {
      assert.match(String(l.requestId), /^[0-9a-f-]{36}$/);
      assert.equal(l.ip, "127.0.0.1");
      assert.ok(!String(l.path).includes("?"), "never the query string");
      ids.add(l.requestId);
    }
    assert.equal(ids.size, accessLines.length, "one line per request, one id per request");
    for (const l of [...named("auth.login"), ...named("service.emit")]) {
      assert.ok(ids.has(l.requestId), `${l.event} carries its request's id`);
    }
    // Socket lines carry the socket id; the connect line joins it to its upgrade request.
    for (const event of ["ws.connected", "ws.closed", "ws.refused"]) {
      assert.ok(named(event).length > 0, event);
      for (const l of named(event)) assert.match(String(l.socketId), /^[0-9A-Z]{26}$/, event);
    }
    for (const l of named("ws.connected")) assert.ok(ids.has(l.requestId), "upgrade's id");

    // Refusals: the reason and the client IP.
    const upgrades = named("ws.upgrade_refused");
    assert.deepEqual(
      upgrades.map((l) => [l.reason, l.ip, l.path]),
      [["origin", "127.0.0.1", "/ws"], ["token_in_query", "127.0.0.1", "/ws"]],
    );
    for (const l of upgrades) assert.ok(ids.has(l.requestId));
    const refused = named("ws.refused");
    assert.equal(refused.length, 1);
    assert.equal(refused[0].reason, "invalid");
    assert.equal(refused[0].ip, "127.0.0.1");

    // Call transitions, ids only.
    const calls = lines().filter((l) => l.event.startsWith("call."));
    assert.deepEqual(calls.map((l) => l.event), [
      "call.initiated",
      "call.ringing",
      "call.rejected",
    ]);
    for (const l of calls) assert.equal(l.callId, ring.callId);
    assert.equal(calls[2].reason, "rejected");
    assert.equal(calls[2].duration, 0);
    assert.equal(calls[2].by, "patient-1");

    // Service emits: event, target kind and counts, never the payload.
    const [emit] = named("service.emit");
    assert.equal(emit.event, "service.emit");
    assert.deepEqual(
      [emit.target, emit.userId, emit.dataKeys, emit.actorId],
      ["user", "patient-1", 1, "svc-1"],
    );
    const [notify] = named("service.notify");
    assert.equal(notify.userId, "patient-1");
    assert.match(String(notify.notificationId), /^ntf_/);

    // Nothing secret anywhere.
    const all = srv.log.lines.join("\n");
    for (
      const secret of [
        patientToken,
        doctorToken,
        svcToken,
        badToken,
        DEMO_PASSWORD,
        text,
        payloadSecret,
        noteSecret,
      ]
    ) {
      assert.ok(!all.includes(secret), `no line contains ${secret.slice(0, 12)}...`);
    }
  } finally {
    await srv.close();
  }
});

Deno.test("LOG_FILE: lines are appended (folder created), and writing goes on after copytruncate", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/logs/app.log`;
  try {
    const { log, close } = configuredLogger({ logLevel: "info", logFile: path });
    log.info("one", { n: 1 });
    log.debug("below the level", {});
    assert.deepEqual(
      Deno.readTextFileSync(path).trim().split("\n").map((l) => JSON.parse(l).event),
      ["one"],
    );
    // logrotate's copytruncate: the file is copied, then cut to zero while still open.
    Deno.truncateSync(path, 0);
    log.info("two", { password: "hunter2" });
    close();
    close();
    const after = Deno.readTextFileSync(path);
    assert.ok(!after.includes("\0"), "appends at the new end, not at the old offset");
    assert.equal(JSON.parse(after).event, "two");
    assert.equal(JSON.parse(after).password, "[redacted]");
    // A second opener (another isolate) appends to the same file.
    const other = openLogFile(path);
    other.write('{"event":"three"}');
    other.close();
    assert.equal(Deno.readTextFileSync(path).trim().split("\n").length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LOG_FILE: an app built without a logger writes its access lines there", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/app.log`;
  const kv = await Deno.openKv(":memory:");
  const config = loadConfig({ JWT_SECRET: TEST_SECRET, LOG_FILE: path, SCHEDULER: "deadline" });
  const app = await createApp({ kv, config, bus: (sink) => new LocalBus(sink) });
  try {
    const res = await app.fetch(new Request("http://x/health?token=abc"));
    await res.body?.cancel();
    const line = Deno.readTextFileSync(path).trim().split("\n").map((l) => JSON.parse(l))
      .find((l) => l.event === "http.request");
    assert.equal(line?.path, "/health");
    assert.equal(line?.status, 200);
    assert.equal(line?.requestId, res.headers.get("x-request-id"));
  } finally {
    await app.shutdown();
    kv.close();
    await app.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
