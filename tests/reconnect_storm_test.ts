/**
 * RELIABILITY row 33: 500 clients reconnect within a second after a restart.
 * Every one is served (or told to retry, which none needs here) and resumes
 * its room by seq with nothing lost and nothing twice.
 */

import assert from "node:assert/strict";
import { startServer, within, WsClient } from "./harness.ts";

const CLIENTS = 500;
const ROOM = "visit:visit-123";

Deno.test("500 reconnects right after a restart all resume by seq: no loss, no duplicate", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/realtime.kv`;
  const env = { MAX_SOCKETS_PER_USER: "1000", WS_UPGRADES_PER_MIN: "1000", MESSAGE_BURST: "100" };
  try {
    let srv = await startServer({ kvPath, env });
    let tokens: string[];
    try {
      const doctor = await srv.connect("doctor@example.com");
      for (let i = 1; i <= 30; i++) {
        const sent = await doctor.request("message:send", { roomId: ROOM, message: `m${i}` });
        assert.equal(sent.success, true);
      }
      // Tokens outlive the restart (same secret): clients reconnect without logging in again.
      tokens = [await srv.login("patient@example.com"), await srv.login("doctor@example.com")];
    } finally {
      await srv.close();
    }

    srv = await startServer({ kvPath, env, seed: false });
    const clients: WsClient[] = [];
    try {
      const started = Date.now();
      const results = await within(
        Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
          const c = await WsClient.open(srv.wsUrl);
          clients.push(c);
          const hello = await c.auth(tokens[i % 2]);
          if (hello.event !== "connected") return { i, retry: true };
          const since = i % 31; // every cursor from 0 (nothing seen) to 30 (up to date)
          const ack = await c.request("room:join", { roomId: ROOM, since }, 20_000);
          return { i, since, ack };
        })),
        60_000,
        "500 reconnects",
      );
      const elapsed = Date.now() - started;
      for (const r of results) {
        assert.ok(!("retry" in r), `client ${r.i} was refused`);
        const { since, ack } = r as { since: number; ack: Record<string, unknown> };
        assert.equal(ack.success, true, JSON.stringify(ack));
        assert.equal(ack.recovered, true);
        const seqs = (ack.messages as { seq: number }[]).map((m) => m.seq);
        assert.deepEqual(seqs, Array.from({ length: 30 - since }, (_, k) => since + k + 1));
        assert.equal(ack.hasMore, false);
      }
      console.log(`${CLIENTS} reconnects and resumes in ${elapsed} ms`);
    } finally {
      await srv.close();
      await Promise.all(clients.map((c) => c.close()));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
