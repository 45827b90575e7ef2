import assert from "node:assert/strict";
import { DOMAIN_PREFIXES } from "../static/protocol.js";
import { events } from "../main.ts";
import { ALLOWED_ORIGIN, startServer, type TestServer } from "./harness.ts";

function post(srv: TestServer, path: string, body: unknown, token?: string) {
  return fetch(`${srv.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function get(srv: TestServer, path: string, token?: string) {
  return fetch(`${srv.url}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

Deno.test("login returns {token, expiresAt, user}; /me returns the user", async () => {
  const srv = await startServer();
  try {
    const res = await post(srv, "/api/v1/auth/login", {
      email: "Patient@Example.com ",
      password: "password123",
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(typeof body.token, "string");
    assert.ok(Date.parse(body.expiresAt) > Date.now());
    assert.deepEqual(body.user, {
      id: "patient-1",
      email: "patient@example.com",
      name: "Pat Patient",
      role: "patient",
    });
    const me = await get(srv, "/api/v1/auth/me", body.token);
    assert.equal(me.status, 200);
    assert.equal((await me.json()).user.id, "patient-1");
    const anon = await get(srv, "/api/v1/auth/me");
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
  } finally {
    await srv.close();
  }
});

Deno.test("every bad credential gets the same 401; malformed bodies get 400; nothing secret is logged", async () => {
  const srv = await startServer();
  try {
    const wrong = await post(srv, "/api/v1/auth/login", {
      email: "patient@example.com",
      password: "nope-secret",
    });
    const unknown = await post(srv, "/api/v1/auth/login", {
      email: "nobody@example.com",
      password: "nope-secret",
    });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(await wrong.json(), await unknown.json());
    const malformed = await post(srv, "/api/v1/auth/login", "{oops");
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).code, "INVALID_PAYLOAD");
    const missing = await post(srv, "/api/v1/auth/login", { email: "patient@example.com" });
    assert.equal(missing.status, 400);
    await missing.body?.cancel();
    assert.ok(srv.log.lines.every((l) => !l.includes("nope-secret") && !l.includes("password123")));
  } finally {
    await srv.close();
  }
});

Deno.test("visits: staff create them, participants read them, others are refused", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.login("doctor@example.com");
    const patient = await srv.login("patient@example.com");
    const patient2 = await srv.login("patient2@example.com");

    const created = await post(srv, "/api/v1/visits", {
      id: "visit-200",
      patientId: "patient-2",
      clinicianIds: ["doctor-1"],
      title: "Annual check",
    }, doctor);
    assert.equal(created.status, 201);
    const { visit } = await created.json();
    assert.equal(visit.id, "visit-200");
    assert.equal(visit.createdBy, "doctor-1");

    const dup = await post(srv, "/api/v1/visits", {
      id: "visit-200",
      patientId: "patient-2",
      clinicianIds: ["doctor-1"],
    }, doctor);
    assert.equal(dup.status, 409);
    await dup.body?.cancel();

    const byPatient = await post(srv, "/api/v1/visits", {
      patientId: "patient-1",
      clinicianIds: ["doctor-1"],
    }, patient);
    assert.equal(byPatient.status, 403);
    await byPatient.body?.cancel();

    const notPatient = await post(srv, "/api/v1/visits", {
      patientId: "doctor-1",
      clinicianIds: ["doctor-1"],
    }, doctor);
    assert.equal(notPatient.status, 400);
    await notPatient.body?.cancel();

    const own = await get(srv, "/api/v1/visits/visit-200", patient2);
    assert.equal(own.status, 200);
    await own.body?.cancel();
    for (const path of ["/api/v1/visits/visit-123", "/api/v1/visits/no-such-visit"]) {
      const res = await get(srv, path, patient2);
      assert.equal(res.status, 403, path);
      assert.deepEqual(await res.json(), { error: "Visit access denied", code: "FORBIDDEN" });
    }
    const missing = await get(srv, "/api/v1/visits/visit-200");
    assert.equal(missing.status, 401);
    await missing.body?.cancel();

    // The new visit opens its room to patient-2 at once.
    const ws = await srv.connect("patient2@example.com");
    assert.equal((await ws.request("room:join", { roomId: "visit:visit-200" })).success, true);
  } finally {
    await srv.close();
  }
});

Deno.test("GET /health reports KV, uptime and connections; CORS answers allowed origins only", async () => {
  const srv = await startServer();
  try {
    await srv.connect("patient@example.com");
    const res = await get(srv, "/health");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, "ok");
    assert.equal(body.kv, "ok");
    assert.equal(body.connections, 1);
    assert.equal(typeof body.uptime, "number");

    const pre = await fetch(`${srv.url}/api/v1/auth/login`, {
      method: "OPTIONS",
      headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "POST" },
    });
    assert.equal(pre.headers.get("access-control-allow-origin"), ALLOWED_ORIGIN);
    await pre.body?.cancel();
    const evil = await fetch(`${srv.url}/api/v1/auth/login`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.test", "access-control-request-method": "POST" },
    });
    assert.equal(evil.headers.get("access-control-allow-origin"), null);
    await evil.body?.cancel();
  } finally {
    await srv.close();
  }
});

Deno.test({
  name: "request bodies over 64 KiB are refused with 413, also without Content-Length",
  // The client's streamed upload stays open when the server (rightly) stops reading it early.
  sanitizeResources: false,
}, async () => {
  const srv = await startServer();
  try {
    const big = JSON.stringify({ email: "a@b.c", password: "x".repeat(70_000) });
    const res = await post(srv, "/api/v1/auth/login", big);
    assert.equal(res.status, 413);
    assert.equal((await res.json()).code, "PAYLOAD_TOO_LARGE");
    const stream = new Blob([big]).stream();
    const chunked = await fetch(`${srv.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
    });
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();
  } finally {
    await srv.close();
  }
});

Deno.test("without DEMO_DATA no demo accounts or visit exist", async () => {
  const srv = await startServer({ seed: false });
  try {
    const res = await post(srv, "/api/v1/auth/login", {
      email: "patient@example.com",
      password: "password123",
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    assert.equal((await srv.kv.get(["visits", "visit-123"])).value, null);
  } finally {
    await srv.close();
  }
});

Deno.test("GET /api/docs describes every event from the live table; the protocol document is served", async () => {
  const srv = await startServer();
  try {
    const res = await get(srv, "/api/docs");
    assert.equal(res.status, 200);
    const docs = await res.json();
    const names = Object.keys(docs.events);
    for (
      const name of [
        "room:join",
        "message:send",
        "presence:get",
        "user:profiles",
        "notification:list",
        "call:signal",
      ]
    ) {
      assert.ok(names.includes(name), name);
    }
    assert.equal(names.length, srv.app.events.size);
    const send = docs.events["message:send"];
    assert.equal(send.ack, true);
    assert.equal(send.rateLimit, "message");
    assert.equal(send.schema.type, "object");
    assert.ok("message" in send.schema.properties);
    const profiles = docs.events["user:profiles"];
    assert.equal(profiles.ack, true);
    assert.equal(profiles.schema.properties.userIds.minItems, 1);
    assert.equal(profiles.schema.properties.userIds.maxItems, 100);
    assert.equal(docs.closeCodes["4401"], "authentication failed or token expired");
    assert.equal(docs.closeCodes["4403"], "account disabled");
    assert.ok(docs.errorCodes.includes("LIMIT_EXCEEDED"));
    assert.ok(
      docs.endpoints.some((e: { path: string }) => e.path === "/api/v1/audit"),
      "audit route listed",
    );
    const md = await get(srv, "/api/docs/protocol.md");
    assert.equal(md.status, 200);
    assert.match(md.headers.get("content-type") ?? "", /markdown/);
    assert.match(await md.text(), /wire protocol/);
  } finally {
    await srv.close();
  }
});

Deno.test("GET /api/docs lists close codes with whether to reconnect, and the server's events", async () => {
  const srv = await startServer();
  try {
    const res = await fetch(`${srv.url}/api/docs`);
    const docs = await res.json();
    assert.equal(docs.closeCodes["4403"], "account disabled");
    assert.deepEqual(
      Object.entries(docs.closeCodesDetail as Record<string, { reconnect: boolean }>)
        .filter(([, c]) => !c.reconnect).map(([code]) => code),
      ["4401", "4403", "4429"],
    );
    for (const e of ["message:new", "room:removed", "presence:changed", "call:incoming"]) {
      assert.ok(docs.serverEvents.includes(e), e);
    }
  } finally {
    await srv.close();
  }
});

Deno.test("every client event's domain is reserved from the emit API", () => {
  for (const name of events.keys()) {
    if (name.includes(":")) assert.ok(DOMAIN_PREFIXES.some((p) => name.startsWith(p)), name);
  }
});

Deno.test("TEST_PAGE=false: no test page, the client library stays; demo mode marks the page", async () => {
  const off = await startServer({ env: { TEST_PAGE: "false" } });
  const demo = await startServer({ env: { DEMO_DATA: "true" } });
  try {
    const page = await fetch(`${off.url}/`);
    assert.equal(page.status, 404);
    assert.match(await page.text(), /TEST_PAGE=true/);
    const app = await fetch(`${off.url}/static/app.js`);
    assert.equal(app.status, 404);
    await app.body?.cancel();
    for (const path of ["/client.js", "/protocol.js", "/client.d.ts", "/static/client.js"]) {
      const res = await fetch(`${off.url}${path}`);
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
    const html = await (await fetch(`${demo.url}/`)).text();
    assert.match(html, /<html data-demo lang="en">/);
  } finally {
    await off.close();
    await demo.close();
  }
});

Deno.test("GET /ws without an upgrade says why a refused origin cannot connect, readable by it", async () => {
  const srv = await startServer();
  try {
    const refused = await fetch(`${srv.url}/ws`, { headers: { origin: "https://evil.example" } });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("access-control-allow-origin"), "*");
    assert.equal((await refused.json()).code, "FORBIDDEN");
    const allowed = await fetch(`${srv.url}/ws`, { headers: { origin: ALLOWED_ORIGIN } });
    assert.equal(allowed.status, 426);
    await allowed.body?.cancel();
  } finally {
    await srv.close();
  }
});
