import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { memoryLogger } from "../lib/log.ts";
import { ulidFactory } from "../lib/ulid.ts";
import { listAudit } from "../store/audit.ts";
import { instrumentedKv, withKv } from "../store/testing.ts";
import { AuditWriter, REFUSALS_PER_MIN } from "./audit.ts";

Deno.test("AuditWriter: reads are batched into one commit and flushed within 100 ms", async () => {
  await withKv(async (raw) => {
    const { kv, commits } = instrumentedKv(raw);
    const clock = new FakeClock(Date.parse("2026-06-01T00:00:00Z"));
    const writer = new AuditWriter({ kv, clock, log: memoryLogger(), newId: ulidFactory(clock) });
    for (let i = 0; i < 40; i++) {
      writer.record({
        actorId: "doctor-1",
        actorRole: "doctor",
        action: "message.history",
        target: { roomId: "visit:v1", seqFrom: i, seqTo: i + 10 },
        outcome: "success",
      });
    }
    assert.equal(commits(), 0);
    const started = performance.now();
    // The timer flushes by itself: wait for the entries without calling flush.
    while ((await listAudit(raw, {}, { limit: 100 })).entries.length < 40) {
      assert.ok(performance.now() - started < 2000, "not flushed within 2 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(commits(), 1);
    await writer.close();
    // Closed: nothing more is taken, and no timer is left behind.
    writer.record({ actorId: null, actorRole: null, action: "ws.open", outcome: "success" });
    assert.equal(commits(), 1);
  });
});

Deno.test("AuditWriter: purge enforces the retention period", async () => {
  await withKv(async (kv) => {
    const clock = new FakeClock(Date.parse("2026-06-01T00:00:00Z"));
    const writer = new AuditWriter({
      kv,
      clock,
      log: memoryLogger(),
      newId: ulidFactory(clock),
      retentionDays: 30,
    });
    writer.record({ actorId: "u1", actorRole: "patient", action: "ws.open", outcome: "success" });
    await writer.flush();
    clock.advance(29 * 86_400_000);
    await writer.purge();
    assert.equal((await listAudit(kv, {}, { limit: 10 })).entries.length, 1);
    clock.advance(2 * 86_400_000);
    await writer.purge();
    assert.equal((await listAudit(kv, {}, { limit: 10 })).entries.length, 0);
    await writer.close();
  });
});

Deno.test("AuditWriter: refusals are capped per actor and minute; the rest are counted, not lost", async () => {
  await withKv(async (kv) => {
    const clock = new FakeClock(Date.parse("2026-06-01T00:00:00Z"));
    const writer = new AuditWriter({ kv, clock, log: memoryLogger(), newId: ulidFactory(clock) });
    const refused = (actorId: string) =>
      writer.refusal({
        actorId,
        actorRole: "patient",
        action: "refused",
        target: { event: "room:join", roomId: "visit:v-1" },
        outcome: "refused",
        code: "FORBIDDEN",
      }, `user:${actorId}`);
    for (let i = 0; i < 500; i++) refused("patient-2");
    refused("patient-1");
    await writer.flush();
    const count = async (actorId: string, action: string) =>
      (await listAudit(kv, { userId: actorId }, { limit: 1000 })).entries
        .filter((e) => e.action === action);
    assert.equal((await count("patient-2", "refused")).length, REFUSALS_PER_MIN);
    assert.equal((await count("patient-1", "refused")).length, 1);
    // The next minute summarizes the last one and records again.
    clock.advance(60_000);
    refused("patient-2");
    await writer.flush();
    const summary = await count("patient-2", "refused.suppressed");
    assert.equal(summary.length, 1);
    assert.equal(summary[0].target?.status, String(500 - REFUSALS_PER_MIN));
    assert.equal((await count("patient-2", "refused")).length, REFUSALS_PER_MIN + 1);
    await writer.close();
  });
});
