/**
 * RELIABILITY row 37: kill -9 during a send storm from 50 clients. After a
 * restart on the same KV file every acknowledged message is in history
 * exactly once, seqs have no gaps, and resending the unacknowledged ones with
 * their clientMessageId stores each at most once.
 */

import assert from "node:assert/strict";
import { within, WsClient } from "./harness.ts";
import { killAll, ServerProcess } from "./process.ts";

const ROOM = "visit:visit-123";
const CLIENTS = 50;

Deno.test("kill -9 during a send storm: acked messages survive exactly once, retries do not duplicate", async () => {
  const dir = await Deno.makeTempDir();
  const env = {
    DEMO_DATA: "true",
    KV_PATH: `${dir}/realtime.kv`,
    MAX_SOCKETS_PER_USER: "100",
    WS_UPGRADES_PER_MIN: "1000",
    // The retries below come from one socket per user, faster than the default send rate.
    MESSAGE_BURST: "1000",
    MESSAGE_RATE_PER_S: "1000",
  };
  const clients: WsClient[] = [];
  let first: ServerProcess | undefined;
  let second: ServerProcess | undefined;
  try {
    first = await ServerProcess.start(env);
    const tokens = {
      patient: await first.login("patient@example.com"),
      doctor: await first.login("doctor@example.com"),
    };
    for (let i = 0; i < CLIENTS; i++) {
      const c = await WsClient.open(first.wsUrl);
      await c.auth(i % 2 ? tokens.doctor : tokens.patient);
      clients.push(c);
    }
    const acked = new Set<string>();
    const attempted: { id: string; sender: "patient" | "doctor" }[] = [];
    let ackCount = 0;
    let enoughAcks!: () => void;
    const storming = new Promise<void>((r) => enoughAcks = r);
    const senders = clients.map(async (c, i) => {
      for (let m = 0;; m++) {
        const clientMessageId = `c${i}-m${m}`;
        attempted.push({ id: clientMessageId, sender: i % 2 ? "doctor" : "patient" });
        let ack;
        try {
          ack = await c.request("message:send", {
            roomId: ROOM,
            message: `storm ${i}/${m}`,
            clientMessageId,
          }, 5000);
        } catch {
          return; // the server died under us
        }
        if (ack.success === true) {
          acked.add(clientMessageId);
          if (++ackCount === 200) enoughAcks();
        }
      }
    });
    await within(storming, 30_000, "200 acked messages");
    first.kill("SIGKILL");
    await first.exited();
    await Promise.all(senders);
    await Promise.all(clients.map((c) => within(c.closed, 5000, "drop")));

    second = await ServerProcess.start(env);
    const reader = await WsClient.open(second.wsUrl);
    clients.push(reader);
    await reader.auth(await second.login("doctor@example.com"));
    const history = async () => {
      const all: { seq: number; clientMessageId: string }[] = [];
      let before: number | undefined;
      while (true) {
        const page = await reader.request("message:history", { roomId: ROOM, limit: 100, before });
        const msgs = page.messages as { seq: number; clientMessageId: string }[];
        all.unshift(...msgs);
        if (!page.hasMore) return all;
        before = msgs[0].seq;
      }
    };
    const stored = await history();
    const ids = stored.map((m) => m.clientMessageId);
    assert.equal(new Set(ids).size, ids.length, "no message stored twice");
    assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), "seqs 1..N, no gaps");
    for (const id of acked) assert.ok(ids.includes(id), `acked ${id} lost`);

    // Clients retry what they never saw acknowledged, with the same clientMessageId.
    const retry = {
      patient: await WsClient.open(second.wsUrl),
      doctor: await WsClient.open(second.wsUrl),
    };
    clients.push(retry.patient, retry.doctor);
    await retry.patient.auth(await second.login("patient@example.com"));
    await retry.doctor.auth(await second.login("doctor@example.com"));
    for (const { id, sender } of attempted.filter((a) => !acked.has(a.id))) {
      const ack = await retry[sender].request("message:send", {
        roomId: ROOM,
        message: "retry",
        clientMessageId: id,
      });
      assert.equal(ack.success, true, JSON.stringify(ack));
      assert.equal(ack.duplicate, ids.includes(id), `${id}: stored before the crash?`);
    }
    const after = (await history()).map((m) => m.clientMessageId);
    assert.equal(new Set(after).size, after.length, "still no duplicates after retries");
    assert.equal(after.length, new Set(attempted.map((a) => a.id)).size);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await killAll(first, second);
    await Deno.remove(dir, { recursive: true });
  }
});
