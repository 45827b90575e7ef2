import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { ALLOWED_ORIGIN, startServer, TEST_SECRET, within, WsClient } from "./harness.ts";

const key = new TextEncoder().encode(TEST_SECRET);
const now = () => Math.floor(Date.now() / 1000);

function forge(
  claims: { sub?: string; aud?: string; iss?: string; exp?: number; iat?: number },
  alg = "HS256",
) {
  const jwt = new SignJWT({ role: "patient" }).setProtectedHeader({ alg });
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  jwt.setIssuer(claims.iss ?? "telehealth-realtime");
  jwt.setAudience(claims.aud ?? "telehealth-realtime");
  jwt.setIssuedAt(claims.iat ?? now());
  jwt.setJti(crypto.randomUUID());
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(key);
}

function b64url(obj: unknown): string {
  return btoa(JSON.stringify(obj)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function expectRefused(srv: { wsUrl: string }, token: string, message: string) {
  const client = await WsClient.open(srv.wsUrl);
  const reply = await client.auth(token);
  assert.equal(reply.event, "connect_error");
  assert.deepEqual(reply.data, { message });
  const closed = await client.closed;
  assert.equal(closed.code, 4401);
  assert.equal(closed.reason, message);
}

Deno.test("auth frame: valid token gets connected {socketId, userId, role}", async () => {
  const srv = await startServer();
  try {
    const client = await WsClient.open(srv.wsUrl);
    const reply = await client.auth(await srv.login("doctor@example.com"));
    assert.equal(reply.event, "connected");
    assert.equal(reply.data.userId, "doctor-1");
    assert.equal(reply.data.role, "doctor");
    assert.equal(typeof reply.data.socketId, "string");
    await client.close();
  } finally {
    await srv.close();
  }
});

Deno.test("auth frame: bad, tampered, expired, wrong-audience and alg:none tokens are refused with the seed's messages", async () => {
  const srv = await startServer();
  try {
    const INVALID = "Authentication error: Invalid token";
    await expectRefused(srv, "not-a-jwt", INVALID);
    const good = await srv.login("patient@example.com");
    const [h, p, s] = good.split(".");
    const claims = JSON.parse(atob(p.replaceAll("-", "+").replaceAll("_", "/")));
    await expectRefused(srv, `${h}.${b64url({ ...claims, role: "admin" })}.${s}`, INVALID);
    await expectRefused(
      srv,
      await forge({ sub: "patient-1", exp: now() - 60, iat: now() - 120 }),
      "Authentication error: Token expired",
    );
    await expectRefused(
      srv,
      await forge({ sub: "patient-1", exp: now() + 600, aud: "another-service" }),
      INVALID,
    );
    await expectRefused(
      srv,
      await forge({ sub: "patient-1", exp: now() + 600, iss: "someone-else" }),
      INVALID,
    );
    await expectRefused(srv, await forge({ sub: "patient-1" }), INVALID); // no exp
    await expectRefused(srv, await forge({ sub: "patient-1", exp: now() + 600 }, "HS512"), INVALID);
    const none = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ ...claims })}.`;
    await expectRefused(srv, none, INVALID);
    // A well-signed token for a user that does not exist.
    await expectRefused(srv, await forge({ sub: "ghost", exp: now() + 600 }), INVALID);
  } finally {
    await srv.close();
  }
});

Deno.test("Authorization header authenticates the upgrade; an invalid one is refused with 401", async () => {
  const srv = await startServer();
  try {
    const token = await srv.login("patient@example.com");
    const client = await WsClient.open(srv.wsUrl, { authorization: `Bearer ${token}` });
    assert.equal((await client.event("connected")).userId, "patient-1");
    await client.close();

    const res = await fetch(srv.wsUrl.replace("ws:", "http:"), {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        authorization: "Bearer nope",
      },
    });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, "Authentication error: Invalid token");
  } finally {
    await srv.close();
  }
});

Deno.test("a token in the query string is refused before the upgrade and never logged", async () => {
  const srv = await startServer();
  try {
    const token = await srv.login("patient@example.com");
    const res = await fetch(`${srv.url}/ws?token=${token}`, {
      headers: { upgrade: "websocket", connection: "Upgrade" },
    });
    assert.equal(res.status, 400);
    await res.body?.cancel();
    assert.ok(srv.log.lines.every((l) => !l.includes(token)), "token found in a log line");
  } finally {
    await srv.close();
  }
});

Deno.test("events before auth are answered UNAUTHENTICATED; no auth within the deadline closes 4408", async () => {
  const srv = await startServer({ env: { AUTH_TIMEOUT_MS: "300" } });
  try {
    const client = await WsClient.open(srv.wsUrl);
    const ack = await client.request("room:join", { roomId: "visit:visit-123" });
    assert.equal(ack.success, false);
    assert.equal(ack.code, "UNAUTHENTICATED");
    const closed = await client.closed;
    assert.equal(closed.code, 4408);
  } finally {
    await srv.close();
  }
});

Deno.test("a token that expires mid-connection closes 4401 'Token expired'; auth:refresh extends it", async () => {
  const srv = await startServer();
  try {
    const short = await forge({ sub: "patient-1", exp: now() + 2 });
    const client = await WsClient.open(srv.wsUrl);
    assert.equal((await client.auth(short)).event, "connected");
    const closed = await within(client.closed, 6000, "close at token expiry");
    assert.equal(closed.code, 4401);
    assert.equal(closed.reason, "Authentication error: Token expired");

    const refreshed = await WsClient.open(srv.wsUrl);
    assert.equal(
      (await refreshed.auth(await forge({ sub: "patient-1", exp: now() + 2 }))).event,
      "connected",
    );
    const other = await forge({ sub: "doctor-1", exp: now() + 600 });
    const wrongUser = await refreshed.request("auth:refresh", { token: other });
    assert.equal(wrongUser.success, false);
    assert.equal(wrongUser.code, "UNAUTHENTICATED");
    const ack = await refreshed.request("auth:refresh", {
      token: await srv.login("patient@example.com"),
    });
    assert.equal(ack.success, true);
    assert.ok(Date.parse(String(ack.expiresAt)) > Date.now() + 60_000);
    // Past the first token's expiry the socket still works.
    await passExpiry(now() + 3);
    await refreshed.sync();
    await refreshed.close();
  } finally {
    await srv.close();
  }
});

Deno.test("cross-site Origin, Origin: null and look-alike hosts are refused with 403 before the upgrade", async () => {
  const srv = await startServer();
  try {
    const host = new URL(srv.url).host;
    for (
      const origin of [
        "https://evil.test",
        "null",
        `http://${host}.evil.test`,
        "http://allowed.test.evil",
      ]
    ) {
      const res = await fetch(`${srv.url}/ws`, {
        headers: { upgrade: "websocket", connection: "Upgrade", origin },
      });
      assert.equal(res.status, 403, origin);
      await res.body?.cancel();
    }
    for (const origin of [ALLOWED_ORIGIN, srv.url]) {
      const client = await WsClient.open(srv.wsUrl, { origin });
      await client.close();
    }
  } finally {
    await srv.close();
  }
});

/**
 * Token expiry is wall-clock time (exp is in seconds), so this test has to let
 * real time pass the first token's exp before checking the socket survived.
 */
function passExpiry(epochSeconds: number): Promise<void> {
  const ms = Math.max(0, epochSeconds * 1000 - Date.now() + 100);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
