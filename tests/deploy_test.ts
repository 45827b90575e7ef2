/**
 * Deno Deploy, simulated: DENO_DEPLOYMENT_ID set and no KV_PATH. The app must
 * open the platform's KV (`Deno.openKv()` with no path), keep timeouts with
 * the deadline scheduler (Deploy has no KV queues), carry events with the KV
 * bus (instances share KV, not memory) and otherwise run unchanged.
 */

import assert from "node:assert/strict";
import { createApp, runtimeChoices } from "../main.ts";
import { loadConfig } from "../lib/config.ts";
import { memoryLogger } from "../lib/log.ts";
import { KvBus } from "../realtime/kv_bus.ts";
import { openKv } from "../store/open.ts";
import { TEST_SECRET } from "./harness.ts";

Deno.test("on Deno Deploy: the platform's KV, the deadline scheduler, the KV bus, and the app serves", async () => {
  const config = loadConfig({ DENO_DEPLOYMENT_ID: "sim-4f2a", JWT_SECRET: TEST_SECRET });
  const opened: unknown[][] = [];
  const kv = await openKv(config.kvPath, (...args: unknown[]) => {
    opened.push(args);
    return Deno.openKv(":memory:");
  });
  assert.deepEqual(opened, [[]], "Deno.openKv() with no path: the platform's database");
  const app = await createApp({ kv, config, log: memoryLogger() });
  try {
    assert.equal(app.scheduler.kind, "deadline", "no KV queues on Deploy");
    assert.ok(app.bus instanceof KvBus, "events cross instances through KV");
    assert.deepEqual(runtimeChoices(config), {
      kv: "platform (Deno.openKv())",
      deploy: true,
      scheduler: "deadline",
      bus: "kv + broadcastchannel",
      busPollMs: 1000,
    });
    const res = await app.fetch(new Request("http://app.deno.net/health"));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).kv, "ok");
  } finally {
    await app.shutdown();
    kv.close();
    await app.finished;
  }
});

Deno.test("off Deploy: a local file by default, KV Connect with KV_URL", () => {
  const local = loadConfig({ JWT_SECRET: TEST_SECRET });
  assert.equal(runtimeChoices(local).kv, "local file");
  assert.equal(local.scheduler, "queue");
  const connect = loadConfig({ JWT_SECRET: TEST_SECRET, KV_URL: "http://127.0.0.1:4512" });
  assert.equal(runtimeChoices(connect).kv, "KV Connect");
  assert.equal(connect.kvPath, "http://127.0.0.1:4512");
});
