/**
 * RELIABILITY row 30, with both schedulers: the server is killed with SIGKILL
 * while a call rings; restarted on the same KV file, it still ends the call as
 * missed at its deadline, with exactly one missed-call notification.
 */

import assert from "node:assert/strict";
import { within, WsClient } from "./harness.ts";
import { killAll, ServerProcess } from "./process.ts";

const RING_MS = 2000;

for (const scheduler of ["queue", "deadline"]) {
  Deno.test(`kill -9 while ringing (${scheduler} scheduler): missed at the deadline after restart, one notification`, async () => {
    const dir = await Deno.makeTempDir();
    const env = {
      DEMO_DATA: "true",
      KV_PATH: `${dir}/realtime.kv`,
      CALL_RING_TIMEOUT_MS: String(RING_MS),
      SCHEDULER: scheduler,
    };
    const clients: WsClient[] = [];
    const connect = async (server: ServerProcess, email: string) => {
      const c = await WsClient.open(server.wsUrl);
      clients.push(c);
      assert.equal((await c.auth(await server.login(email))).event, "connected");
      return c;
    };
    let first: ServerProcess | undefined;
    let second: ServerProcess | undefined;
    try {
      first = await ServerProcess.start(env);
      const caller = await connect(first, "doctor@example.com");
      const started = Date.now();
      const ack = await caller.request("call:initiate", {
        recipientId: "patient-1",
        callType: "video",
        visitId: "visit-123",
      });
      assert.equal(ack.status, "ringing");
      first.kill("SIGKILL");
      await first.exited();
      await within(caller.closed, 5000, "socket drop on kill");

      second = await ServerProcess.start(env);
      const patient = await connect(second, "patient@example.com");
      const missed = await patient.event("call:missed", RING_MS + 8000);
      assert.equal(missed.callId, ack.callId);
      assert.ok(Date.now() >= started + RING_MS, "never before the deadline");
      const note = await patient.event("notification:new");
      assert.equal(note.title, "Missed call");

      const late = await patient.request("call:accept", { callId: ack.callId });
      assert.equal(late.code, "CONFLICT");
      const list = await patient.request("notification:list", {});
      const missedNotes = (list.notifications as { title: string }[])
        .filter((n) => n.title === "Missed call");
      assert.equal(missedNotes.length, 1);
      assert.equal((await patient.request("notification:getUnreadCount")).unreadCount, 1);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await killAll(first, second);
      await Deno.remove(dir, { recursive: true });
    }
  });
}
