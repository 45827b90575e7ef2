/**
 * `deno serve --parallel serve.ts` with two isolates on one KV file: sockets
 * land on either isolate, and messages, typing and presence still reach
 * everyone (BroadcastChannel between isolates), with one seq order.
 */

import assert from "node:assert/strict";
import { within, WsClient } from "./harness.ts";
import { ServerProcess } from "./process.ts";

const ROOM = "visit:visit-123";

Deno.test("two isolates: events cross between them; the demo data and secret are shared", async () => {
  const dir = await Deno.makeTempDir();
  const server = await ServerProcess.start(
    { DEMO_DATA: "true", KV_PATH: `${dir}/realtime.kv` },
    { isolates: 2 },
  );
  const clients: WsClient[] = [];
  try {
    // Fresh connections are spread over the workers: both isolates answer.
    const isolates = new Set<string>();
    for (let i = 0; i < 40 && isolates.size < 2; i++) {
      const client = Deno.createHttpClient({});
      const res = await fetch(`${server.url}/health`, { client });
      isolates.add((await res.json()).isolate);
      client.close();
    }
    assert.equal(isolates.size, 2, "both isolates serve");

    const tokens = {
      patient: await server.login("patient@example.com"),
      doctor: await server.login("doctor@example.com"),
    };
    for (let i = 0; i < 12; i++) {
      const c = await WsClient.open(server.wsUrl);
      clients.push(c);
      assert.equal((await c.auth(i % 2 ? tokens.doctor : tokens.patient)).event, "connected");
      assert.equal((await c.request("room:join", { roomId: ROOM })).success, true);
    }
    const [sender, ...others] = clients;
    const ack = await sender.request("message:send", { roomId: ROOM, message: "across isolates" });
    assert.equal(ack.success, true);
    for (const c of others) {
      assert.equal((await c.event("message:new", 5000)).message, "across isolates");
    }
    sender.emit("typing:start", { roomId: ROOM });
    for (const c of others.filter((_, i) => i % 2 === 0)) {
      // others[0], [2], … are the doctor's sockets; the typist's own (patient) tabs do not get it.
      assert.equal((await c.event("typing:start", 5000)).userId, "patient-1");
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    server.kill("SIGKILL");
    await within(server.exited(), 10_000, "exit");
    await Deno.remove(dir, { recursive: true });
  }
});
