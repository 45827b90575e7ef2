/**
 * Issue 7, finding 10 over real sockets: POST /api/v1/auth/logout kills that
 * token everywhere (HTTP, socket auth, auth:refresh, the upgrade's
 * Authorization header, and live sockets within about a second, closed 4401
 * "Token revoked"); re-enabling an account does not revive tokens issued
 * before it was disabled; far-future exp and iat are refused.
 */

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { listAudit } from "../store/audit.ts";
import { setDisabled } from "../store/users.ts";
import { startServer, TEST_SECRET, type TestServer, within, WsClient } from "./harness.ts";

const INVALID = "Authentication error: Invalid token";

function api(srv: TestServer, method: string, path: string, token: string) {
  return fetch(`${srv.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
}

async function status(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

/** The status of an upgrade carrying `Authorization: Bearer token`. */
function headerUpgrade(srv: TestServer, token: string): Promise<number> {
  return status(fetch(srv.url + "/ws", {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      authorization: `Bearer ${token}`,
    },
  }));
}

async function socketWith(srv: TestServer, token: string): Promise<WsClient> {
  const client = await WsClient.open(srv.wsUrl);
  assert.equal((await client.auth(token)).event, "connected");
  return client;
}

async function refusedOnSocket(srv: TestServer, token: string): Promise<void> {
  const client = await WsClient.open(srv.wsUrl);
  const reply = await client.auth(token);
  assert.deepEqual([reply.event, reply.data.message], ["connect_error", INVALID]);
  assert.equal((await client.closed).code, 4401);
}

Deno.test("logout: that token stops working everywhere; the user's other tokens keep working", async () => {
  const srv = await startServer();
  try {
    const t1 = await srv.login("patient@example.com");
    const t2 = await srv.login("patient@example.com");
    const s1 = await socketWith(srv, t1);
    const s1b = await WsClient.open(srv.wsUrl, { authorization: `Bearer ${t1}` });
    await s1b.event("connected");
    const s2 = await socketWith(srv, t2);
    const refreshed = await socketWith(srv, t2); // will try to refresh with the dead token

    const out = await api(srv, "POST", "/auth/logout", t1);
    assert.equal(out.status, 200);
    assert.deepEqual(await out.json(), { success: true });

    for (const s of [s1, s1b]) {
      const closed = await within(s.closed, 2500, "the logged-out token's sockets close");
      assert.deepEqual([closed.code, closed.reason], [4401, "Token revoked"]);
    }
    await s2.sync(); // another token of the same user is untouched
    assert.equal(await status(api(srv, "GET", "/auth/me", t1)), 401);
    assert.equal(await status(api(srv, "GET", "/auth/me", t2)), 200);
    assert.equal(await status(api(srv, "POST", "/auth/logout", t1)), 401, "already logged out");
    await refusedOnSocket(srv, t1);
    assert.equal(await headerUpgrade(srv, t1), 401);
    // Refreshing to a dead token is refused; the socket keeps the live token it has.
    const dead = await refreshed.request("auth:refresh", { token: t1 });
    assert.deepEqual([dead.success, dead.code], [false, "UNAUTHENTICATED"]);
    await refreshed.sync();

    await srv.app.audit.flush();
    const { entries } = await listAudit(srv.kv, { userId: "patient-1" }, { limit: 50 });
    const actions = entries.map((e) => e.action);
    assert.ok(actions.includes("auth.logout"), JSON.stringify(actions));
  } finally {
    await srv.close();
  }
});

Deno.test("re-enabling an account refuses tokens issued before it was disabled", async () => {
  const srv = await startServer();
  try {
    const old = await srv.login("doctor@example.com");
    await setDisabled(srv.kv, "doctor-1", true, new Date());
    await setDisabled(srv.kv, "doctor-1", false, new Date());
    assert.equal(await status(api(srv, "GET", "/auth/me", old)), 401);
    await refusedOnSocket(srv, old);
    assert.equal(await headerUpgrade(srv, old), 401);

    const fresh = await srv.login("doctor@example.com");
    assert.equal(await status(api(srv, "GET", "/auth/me", fresh)), 200);
    const s = await socketWith(srv, fresh);
    // A live socket cannot switch to the old token either.
    const refused = await s.request("auth:refresh", { token: old });
    assert.deepEqual([refused.success, refused.code], [false, "UNAUTHENTICATED"]);
    await s.sync();
  } finally {
    await srv.close();
  }
});

Deno.test("a token with a 10-year exp or an iat in the future is refused", async () => {
  const srv = await startServer();
  try {
    const nowS = Math.floor(Date.now() / 1000);
    const forge = (iat: number, exp: number) =>
      new SignJWT({ role: "patient" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject("patient-1")
        .setIssuer("telehealth-realtime")
        .setAudience("telehealth-realtime")
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(crypto.randomUUID())
        .sign(new TextEncoder().encode(TEST_SECRET));
    const tenYears = await forge(nowS, nowS + 10 * 365 * 86400);
    const future = await forge(nowS + 3600, nowS + 3600 + 600);
    for (const token of [tenYears, future]) {
      assert.equal(await status(api(srv, "GET", "/auth/me", token)), 401);
      await refusedOnSocket(srv, token);
    }
    // The same secret with sane claims works: the refusals are the claims.
    assert.equal(await status(api(srv, "GET", "/auth/me", await forge(nowS, nowS + 600))), 200);
  } finally {
    await srv.close();
  }
});
