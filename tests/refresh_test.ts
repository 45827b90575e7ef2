/**
 * Sessions that last a visit (issue 12): a refresh token in an HttpOnly,
 * SameSite=Strict cookie scoped to the refresh route, rotating and single
 * use, with reuse detection that revokes the family; refresh after a
 * disable is refused; the new access token extends a live socket.
 */

import assert from "node:assert/strict";
import { startServer, type TestServer, WsClient } from "./harness.ts";
import { DEMO_PASSWORD } from "../store/demo.ts";
import { setDisabled } from "../store/users.ts";

/** The refresh cookie's value and attributes from a response. */
function cookieOf(res: Response): { value: string; attrs: string } | null {
  const header = res.headers.getSetCookie().find((c) => c.startsWith("th_refresh="));
  if (!header) return null;
  const [pair, ...attrs] = header.split(";").map((s) => s.trim());
  return { value: pair.slice("th_refresh=".length), attrs: attrs.join("; ") };
}

async function login(srv: TestServer, email: string) {
  const res = await fetch(`${srv.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: DEMO_PASSWORD }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  return { body, cookie: cookieOf(res)! };
}

async function refresh(srv: TestServer, cookie: string, method = "POST") {
  const res = await fetch(`${srv.url}/api/v1/auth/refresh`, {
    method,
    headers: { cookie: `th_refresh=${cookie}` },
  });
  return { status: res.status, body: await res.json(), cookie: cookieOf(res) };
}

Deno.test("refresh: an HttpOnly cookie for the refresh route; rotation, single use, reuse revokes the family", async () => {
  const srv = await startServer();
  try {
    const first = await login(srv, "patient@example.com");
    assert.ok(first.cookie.value.length >= 40);
    assert.match(first.cookie.attrs, /HttpOnly/);
    assert.match(first.cookie.attrs, /SameSite=Strict/);
    assert.match(first.cookie.attrs, /Path=\/api\/v1\/auth\/refresh/);
    assert.doesNotMatch(first.cookie.attrs, /Secure/, "plain http on 127.0.0.1");
    assert.ok(!JSON.stringify(first.body).includes(first.cookie.value), "not in the body");

    const second = await refresh(srv, first.cookie.value);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.user.id, "patient-1");
    assert.notEqual(second.cookie!.value, first.cookie.value, "rotated");
    const me = await fetch(`${srv.url}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${second.body.token}` },
    });
    assert.equal(me.status, 200);
    await me.body?.cancel();

    // The spent token again: someone copied it. The whole family ends.
    const reused = await refresh(srv, first.cookie.value);
    assert.equal(reused.status, 401);
    assert.match(reused.body.error, /already used/);
    assert.equal((await refresh(srv, second.cookie!.value)).status, 401, "family revoked");

    // Without a cookie, the token in the body (clients without cookies).
    const other = await login(srv, "doctor@example.com");
    const res = await fetch(`${srv.url}/api/v1/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: other.cookie.value }),
    });
    assert.equal(res.status, 200);
    const next = cookieOf(res)!.value;
    await res.body?.cancel();
    // Signing out of the session ends it.
    assert.equal((await refresh(srv, next, "DELETE")).status, 200);
    assert.equal((await refresh(srv, next)).status, 401);
    assert.equal((await refresh(srv, "garbage")).status, 401);
    // No session presented (a page checking on load): 204, nothing to refresh.
    const none = await fetch(`${srv.url}/api/v1/auth/refresh`, { method: "POST" });
    assert.equal(none.status, 204);
    await none.body?.cancel();
  } finally {
    await srv.close();
  }
});

Deno.test("refresh: refused for a disabled account; a refreshed token extends a live socket with auth:refresh", async () => {
  const srv = await startServer();
  try {
    const { body, cookie } = await login(srv, "patient@example.com");
    const ws = await WsClient.open(srv.wsUrl);
    assert.equal((await ws.auth(body.token)).event, "connected");
    const renewed = await refresh(srv, cookie.value);
    assert.equal(renewed.status, 200);
    const ack = await ws.request("auth:refresh", { token: renewed.body.token });
    assert.equal(ack.success, true, JSON.stringify(ack));
    await ws.close();

    await setDisabled(srv.kv, "patient-1", true, new Date());
    assert.equal((await refresh(srv, renewed.cookie!.value)).status, 401);
  } finally {
    await srv.close();
  }
});
