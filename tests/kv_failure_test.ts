/**
 * RELIABILITY row 32: a KV commit that fails (injected) gives no ack of
 * success and no broadcast: the sender gets INTERNAL with `retryable: true`,
 * nothing is half-written, and a retry after KV recovers stores it once.
 */

import assert from "node:assert/strict";
import { createApp } from "../main.ts";
import { loadConfig } from "../lib/config.ts";
import { memoryLogger } from "../lib/log.ts";
import { LocalBus } from "../realtime/bus.ts";
import { seedDemoData } from "../store/demo.ts";
import { TEST_SECRET, WsClient } from "./harness.ts";

/** A KV whose atomic commits throw while `failing` is set; everything else is the real KV. */
function flakyKv(kv: Deno.Kv, state: { failing: boolean }): Deno.Kv {
  const wrap = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        if (prop === "commit") {
          return () =>
            state.failing
              ? Promise.reject(new Error("database is locked (injected)"))
              : target.commit();
        }
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        // Builder methods return the operation itself: keep handing out this proxy.
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => wrap(target.atomic());
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("a failing KV commit: INTERNAL retryable, no broadcast, nothing stored; the retry stores once", async () => {
  const real = await Deno.openKv(":memory:");
  await seedDemoData(real, new Date());
  const state = { failing: false };
  const kv = flakyKv(real, state);
  const log = memoryLogger();
  const app = await createApp({
    kv,
    config: loadConfig({ JWT_SECRET: TEST_SECRET }),
    log,
    bus: (sink) => new LocalBus(sink),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const base = `127.0.0.1:${server.addr.port}`;
  const clients: WsClient[] = [];
  const connect = async (email: string) => {
    const res = await fetch(`http://${base}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "password123" }),
    });
    const c = await WsClient.open(`ws://${base}/ws`);
    clients.push(c);
    await c.auth((await res.json()).token);
    return c;
  };
  try {
    const patient = await connect("patient@example.com");
    const doctor = await connect("doctor@example.com");
    await doctor.request("room:join", { roomId: "visit:visit-123" });

    state.failing = true;
    const send = { visitId: "visit-123", message: "during the outage", clientMessageId: "x1" };
    const failed = await patient.request("message:send", send);
    assert.deepEqual(failed, {
      success: false,
      error: "Internal error",
      code: "INTERNAL",
      retryable: true,
    });
    assert.ok(log.lines.some((l) => l.includes("handler.failed")));
    assert.ok(log.lines.every((l) => !l.includes("during the outage")), "no message text in logs");
    await doctor.sync();
    assert.equal(doctor.pending("message:new").length, 0, "no broadcast of an unstored message");
    assert.equal((await real.get(["room_heads", "visit:visit-123"])).value, null);

    state.failing = false;
    const retried = await patient.request("message:send", send);
    assert.equal(retried.success, true);
    assert.equal((retried.message as { seq: number }).seq, 1);
    assert.equal((await doctor.event("message:new")).message, "during the outage");
  } finally {
    await app.shutdown();
    await Promise.all(clients.map((c) => c.close()));
    await server.shutdown();
    real.close();
    await app.finished;
  }
});
