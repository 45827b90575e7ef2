/**
 * GET /metrics (issue 13, item 4): scraped with a Prometheus text-format
 * parser before and after real traffic, and its access rules.
 */

import assert from "node:assert/strict";
import { type Family, parseExposition } from "./prometheus_text.ts";
import { metricsAccess } from "../routes/metrics.ts";
import { startServer, type TestServer, WsClient } from "./harness.ts";
import { SioClient } from "./sio_client.ts";

type Scrape = Map<string, Family>;

async function scrape(srv: TestServer): Promise<Scrape> {
  const res = await fetch(`${srv.url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const families = parseExposition(await res.text());
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of the series with exactly these labels (0 when it does not exist yet). */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const family = s.get(name);
  assert.ok(family, `${name} is exposed`);
  const m = family.metrics.find((m) =>
    JSON.stringify(Object.entries(m.labels ?? {}).sort()) ===
      JSON.stringify(Object.entries(labels).sort())
  );
  return m ? Number(m.value ?? m.count) : 0;
}

/** A histogram's count and sum, after checking its buckets are cumulative and end at +Inf. */
function histogram(s: Scrape, name: string): { count: number; sum: number } {
  const family = s.get(name);
  assert.equal(family?.type, "HISTOGRAM", name);
  assert.equal(family.metrics.length, 1, `${name} has one series`);
  const [m] = family.metrics;
  const counts = Object.values(m.buckets!).map(Number);
  for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], name);
  assert.equal(m.buckets!["+Inf"], m.count, `${name}: +Inf equals _count`);
  return { count: Number(m.count), sum: Number(m.sum) };
}

const moved = (before: Scrape, after: Scrape, name: string, labels?: Record<string, string>) =>
  value(after, name, labels) - value(before, name, labels);

Deno.test("metrics: counters and histograms move with traffic", async () => {
  const srv = await startServer({ env: { CALLS_PER_PAIR_PER_MIN: "1" } });
  try {
    const before = await scrape(srv);
    for (
      const [name, type] of [
        ["telehealth_sockets_open", "GAUGE"],
        ["telehealth_socket_authentications_total", "COUNTER"],
        ["telehealth_events_total", "COUNTER"],
        ["telehealth_deliveries_total", "COUNTER"],
        ["telehealth_ack_seconds", "HISTOGRAM"],
        ["telehealth_kv_commit_messages_seconds", "HISTOGRAM"],
        ["telehealth_kv_commit_messages_batch_size", "HISTOGRAM"],
        ["telehealth_kv_commit_group_seconds", "HISTOGRAM"],
        ["telehealth_kv_commit_group_batch_size", "HISTOGRAM"],
        ["telehealth_kv_commit_bus_seconds", "HISTOGRAM"],
        ["telehealth_kv_commit_bus_batch_size", "HISTOGRAM"],
        ["telehealth_bus_lag_seconds", "HISTOGRAM"],
        ["telehealth_rate_limited_total", "COUNTER"],
        ["telehealth_upgrades_refused_total", "COUNTER"],
        ["telehealth_slow_consumer_closes_total", "COUNTER"],
        ["telehealth_calls_started_total", "COUNTER"],
        ["telehealth_calls_ended_total", "COUNTER"],
        ["telehealth_process_memory_bytes", "GAUGE"],
        ["telehealth_process_uptime_seconds", "GAUGE"],
      ]
    ) {
      assert.equal(before.get(name)?.type, type, name);
    }
    assert.equal(value(before, "telehealth_sockets_open", { protocol: "native" }), 0);
    assert.equal(value(before, "telehealth_sockets_open", { protocol: "socketio" }), 0);

    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    for (const c of [patient, doctor]) {
      assert.equal((await c.request("room:join", { roomId: "visit:visit-123" })).success, true);
    }
    for (const text of ["first", "second"]) {
      const ack = await patient.request("message:send", { visitId: "visit-123", message: text });
      assert.equal(ack.success, true);
      await doctor.event("message:new");
    }
    // Refused events: an unknown name, and a room the user may not join.
    assert.equal((await doctor.request("nosuch:event", {})).code, "UNKNOWN_EVENT");
    // patient2 over socket.io: the same counters, another protocol label.
    const other = await SioClient.connect(srv.url, await srv.login("patient2@example.com"));
    assert.equal(
      (await other.request("room:join", { roomId: "visit:visit-123" })).code,
      "FORBIDDEN",
    );
    // A refused authentication and a refused upgrade.
    const bad = await WsClient.open(srv.wsUrl);
    assert.equal((await bad.auth("not-a-token")).event, "connect_error");
    await bad.closed;
    const evil = await fetch(`${srv.url}/ws`, {
      headers: { upgrade: "websocket", connection: "Upgrade", origin: "https://evil.test" },
    });
    assert.equal(evil.status, 403);
    await evil.body?.cancel();
    // A rejected call, then one more ring of the same person: over CALLS_PER_PAIR_PER_MIN.
    const call = { recipientId: "patient-1", callType: "audio", visitId: "visit-123" };
    const ring = await doctor.request("call:initiate", call);
    assert.equal(ring.success, true, JSON.stringify(ring));
    await patient.event("call:incoming");
    assert.equal((await patient.request("call:reject", { callId: ring.callId })).success, true);
    assert.equal((await doctor.request("call:initiate", call)).code, "RATE_LIMITED");

    const after = await scrape(srv);
    await other.close();
    assert.equal(value(after, "telehealth_sockets_open", { protocol: "native" }), 2);
    assert.equal(value(after, "telehealth_sockets_open", { protocol: "socketio" }), 1);
    const auth = (outcome: string) =>
      moved(before, after, "telehealth_socket_authentications_total", { outcome });
    assert.equal(auth("success"), 3);
    assert.equal(auth("invalid"), 1);
    const events = (event: string, code: string) =>
      moved(before, after, "telehealth_events_total", { event, code });
    assert.equal(events("room:join", "ok"), 2);
    assert.equal(events("room:join", "FORBIDDEN"), 1);
    assert.equal(events("message:send", "ok"), 2);
    assert.equal(events("unknown", "UNKNOWN_EVENT"), 1, "unknown names collapse");
    assert.equal(events("call:initiate", "ok"), 1);
    assert.equal(events("call:initiate", "RATE_LIMITED"), 1);
    assert.equal(events("call:reject", "ok"), 1);
    assert.ok(
      !after.get("telehealth_events_total")!.metrics.some((m) =>
        m.labels?.event === "nosuch:event"
      ),
    );
    // message:new and message:sent twice each, call:incoming, call:rejected, call:ended...
    assert.ok(moved(before, after, "telehealth_deliveries_total") >= 6);
    const delta = (name: string) => {
      const [a, b] = [histogram(after, name), histogram(before, name)];
      return { count: a.count - b.count, sum: a.sum - b.sum };
    };
    assert.equal(delta("telehealth_ack_seconds").count, 9, "one observation per ack");
    const commits = delta("telehealth_kv_commit_messages_seconds").count;
    assert.ok(commits >= 2, "each sequential send is its own batch");
    const batches = delta("telehealth_kv_commit_messages_batch_size");
    assert.equal(batches.count, commits);
    assert.equal(batches.sum, 2, "the batch sizes add up to the messages committed");
    assert.ok(delta("telehealth_kv_commit_group_seconds").count >= 1, "presence writes");
    assert.equal(moved(before, after, "telehealth_rate_limited_total", { kind: "call" }), 1);
    assert.equal(
      moved(before, after, "telehealth_upgrades_refused_total", { reason: "origin" }),
      1,
    );
    assert.equal(moved(before, after, "telehealth_calls_started_total"), 1);
    assert.equal(
      moved(before, after, "telehealth_calls_ended_total", {
        status: "rejected",
        reason: "rejected",
      }),
      1,
    );
    // HTTP: three logins (srv.connect and srv.login) and the refused upgrade.
    const http = (method: string, status: string) =>
      moved(before, after, "telehealth_http_requests_total", { method, status });
    assert.ok(http("POST", "200") >= 3, "logins count by method and status");
    assert.equal(http("GET", "403"), 1);
    assert.ok(value(after, "telehealth_process_memory_bytes", { type: "rss" }) > 0);
    assert.ok(value(after, "telehealth_process_memory_bytes", { type: "heap_used" }) > 0);
    assert.ok(value(after, "telehealth_process_uptime_seconds") >= 0);
  } finally {
    await srv.close();
  }
});

Deno.test("metrics: a per-socket bucket refusal counts by kind", async () => {
  const srv = await startServer({ env: { EVENT_BURST: "1", EVENT_RATE_PER_S: "1" } });
  try {
    const c = await srv.connect("doctor@example.com");
    assert.equal((await c.request("ping", {})).success, true);
    assert.equal((await c.request("ping", {})).code, "RATE_LIMITED");
    const after = await scrape(srv);
    assert.equal(value(after, "telehealth_rate_limited_total", { kind: "event" }), 1);
    assert.equal(
      value(after, "telehealth_events_total", { event: "ping", code: "RATE_LIMITED" }),
      1,
    );
  } finally {
    await srv.close();
  }
});

Deno.test("metrics: a missed call counts as ended missed", async () => {
  const srv = await startServer({ env: { CALL_RING_TIMEOUT_MS: "200" } });
  try {
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const ring = await doctor.request("call:initiate", {
      recipientId: "patient-1",
      callType: "video",
      visitId: "visit-123",
    });
    assert.equal(ring.success, true);
    assert.equal((await patient.event("call:missed")).callId, ring.callId);
    const after = await scrape(srv);
    assert.equal(
      value(after, "telehealth_calls_ended_total", { status: "missed", reason: "missed" }),
      1,
    );
  } finally {
    await srv.close();
  }
});

Deno.test("metrics: with METRICS_TOKEN, only the right bearer token reads them", async () => {
  const token = "metrics-secret-0123456789";
  const srv = await startServer({ env: { METRICS_TOKEN: token } });
  try {
    const get = async (authorization?: string) => {
      const res = await fetch(`${srv.url}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await get(), 401, "loopback is not enough once a token is set");
    assert.equal(await get("Bearer wrong-token-0123456789"), 401);
    assert.equal(await get(`Bearer ${token}x`), 401);
    assert.equal(await get(`Basic ${btoa(`x:${token}`)}`), 401);
    assert.equal(await get(`Bearer ${token}`), 200);
  } finally {
    await srv.close();
  }
});

Deno.test("metrics: without a token, a forwarded request from loopback is not local", async () => {
  const srv = await startServer();
  try {
    // The route exists and answers loopback: a 404 below is the refusal, not a missing route.
    const plain = await fetch(`${srv.url}/metrics`);
    await plain.body?.cancel();
    assert.equal(plain.status, 200);
    for (const h of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
      const res = await fetch(`${srv.url}/metrics`, { headers: { [h]: "127.0.0.1" } });
      await res.body?.cancel();
      assert.equal(res.status, 404, h);
    }
  } finally {
    await srv.close();
  }
});

Deno.test("metricsAccess: loopback peers only without a token; the bearer token with one", async () => {
  const none = new Headers();
  const access = (peer: string | undefined, headers = none, token?: string) =>
    metricsAccess({ peer, headers }, token);
  for (const peer of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(await access(peer), "allowed", peer);
  }
  for (const peer of ["203.0.113.7", "10.0.0.1", "2001:db8::1", "0.0.0.0", "unknown", undefined]) {
    assert.equal(await access(peer), "not_found", String(peer));
  }
  const forwarded = new Headers({ "x-forwarded-for": "127.0.0.1" });
  assert.equal(await access("127.0.0.1", forwarded), "not_found");
  const token = "metrics-secret-0123456789";
  const bearer = new Headers({ authorization: `Bearer ${token}` });
  assert.equal(await access("203.0.113.7", bearer, token), "allowed");
  assert.equal(await access("127.0.0.1", none, token), "unauthorized");
  assert.equal(
    await access("127.0.0.1", new Headers({ authorization: "Bearer nope" }), token),
    "unauthorized",
  );
});
