import assert from "node:assert/strict";
import { Hono } from "hono";
import { parseCidr } from "../lib/client_ip.ts";
import { type AppEnv, clientIp, requestId } from "./context.ts";

/** An app that echoes what the helpers see, served with a chosen peer and trusted proxies. */
function probe(peer: string, trusted: string[]) {
  const app = new Hono<AppEnv>();
  app.get("/", (c) => c.json({ ip: clientIp(c), id: requestId(c), again: requestId(c) }));
  const env = {
    remoteAddr: { transport: "tcp" as const, hostname: peer, port: 1234 },
    trustedProxies: trusted.map(parseCidr),
  };
  return async (headers: Record<string, string> = {}) => {
    const res = await app.fetch(new Request("http://x.test/", { headers }), env);
    return await res.json() as { ip: string; id: string; again: string };
  };
}

Deno.test("clientIp: the peer unless it is a trusted proxy", async () => {
  const forged = { "x-forwarded-for": "198.51.100.7" };
  assert.equal((await probe("203.0.113.9", [])(forged)).ip, "203.0.113.9");
  assert.equal((await probe("203.0.113.9", ["10.0.0.0/8"])(forged)).ip, "203.0.113.9");
  assert.equal((await probe("10.0.0.2", ["10.0.0.0/8"])(forged)).ip, "198.51.100.7");
});

Deno.test("requestId: one per request; an incoming X-Request-Id only from a trusted proxy", async () => {
  const header = { "x-request-id": "proxy-req-0001" };
  const direct = await probe("203.0.113.9", ["10.0.0.0/8"])(header);
  assert.notEqual(direct.id, "proxy-req-0001");
  assert.equal(direct.id, direct.again, "stable within a request");
  assert.equal((await probe("10.0.0.2", ["10.0.0.0/8"])(header)).id, "proxy-req-0001");
  const junk = await probe("10.0.0.2", ["10.0.0.0/8"])({ "x-request-id": "not an id; <script>" });
  assert.match(junk.id, /^[0-9a-f-]{36}$/);
  const a = await probe("203.0.113.9", [])();
  const b = await probe("203.0.113.9", [])();
  assert.notEqual(a.id, b.id);
});
