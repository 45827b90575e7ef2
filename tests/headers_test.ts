/**
 * Response headers that keep tokens and patient data out of caches and keep
 * the page's powers narrow: `Cache-Control: no-store` on every API answer
 * (successes and refusals), and on the page a CSP whose sockets go to its own
 * origin (plus PUBLIC_URL) only, and a Permissions-Policy giving camera and
 * microphone to this origin alone.
 */

import assert from "node:assert/strict";
import { startServer } from "./harness.ts";

Deno.test("every API answer carrying a token or patient data says Cache-Control: no-store", async () => {
  const srv = await startServer();
  try {
    const login = await fetch(`${srv.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "doctor@example.com", password: "password123" }),
    });
    assert.equal(login.status, 200);
    assert.equal(login.headers.get("cache-control"), "no-store");
    const { token } = await login.json();
    const cookie = login.headers.get("set-cookie")?.split(";")[0] ?? "";
    const auth = { authorization: `Bearer ${token}` };
    const answers = [
      await fetch(`${srv.url}/api/v1/auth/me`, { headers: auth }),
      await fetch(`${srv.url}/api/v1/visits/visit-123`, { headers: auth }),
      await fetch(`${srv.url}/api/v1/auth/refresh`, { method: "POST", headers: { cookie } }),
      // Refusals too: a 401 and a 403 say nothing a cache should keep either.
      await fetch(`${srv.url}/api/v1/auth/me`),
      await fetch(`${srv.url}/api/v1/visits/nope`, { headers: auth }),
      await fetch(`${srv.url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "doctor@example.com", password: "wrong-password" }),
      }),
    ];
    for (const res of answers) {
      await res.body?.cancel();
      assert.equal(res.headers.get("cache-control"), "no-store", `${res.url} ${res.status}`);
    }
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 401, 403, 401]);
  } finally {
    await srv.close();
  }
});

Deno.test("the page: sockets to its own origin only, camera and microphone for self only", async () => {
  const plain = await startServer();
  const pub = await startServer({ env: { PUBLIC_URL: "https://chat.clinic.example" } });
  try {
    for (
      const [srv, extra] of [[plain, ""], [
        pub,
        " https://chat.clinic.example wss://chat.clinic.example",
      ]] as const
    ) {
      const res = await fetch(`${srv.url}/`);
      await res.body?.cancel();
      const csp = res.headers.get("content-security-policy") ?? "";
      const connect = csp.split(";").map((d) => d.trim()).find((d) => d.startsWith("connect-src"));
      assert.equal(connect, `connect-src 'self'${extra}`);
      assert.doesNotMatch(csp, /\bws:|\bwss:(?!\/\/)/, "no scheme-wide socket sources");
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      const policy = res.headers.get("permissions-policy") ?? "";
      assert.match(policy, /(^|, )camera=\(self\)/);
      assert.match(policy, /(^|, )microphone=\(self\)/);
      assert.match(policy, /geolocation=\(\)/);
    }
  } finally {
    await plain.close();
    await pub.close();
  }
});
