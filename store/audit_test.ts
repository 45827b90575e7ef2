import assert from "node:assert/strict";
import {
  appendAudit,
  type AuditEntry,
  auditEntry,
  type AuditInput,
  auditMutations,
  exportAudit,
  listAudit,
  purgeAudit,
  ulidMs,
  ulidTime,
} from "./audit.ts";
import { ulidFactory } from "../lib/ulid.ts";
import { FakeClock } from "../lib/clock.ts";
import { withKv } from "./testing.ts";

const T0 = Date.parse("2026-06-01T00:00:00Z");

function maker() {
  const clock = new FakeClock(T0);
  const newId = ulidFactory(clock);
  return {
    clock,
    make(input: Partial<AuditInput> & { action: string }): AuditEntry {
      return auditEntry(
        { actorId: "doctor-1", actorRole: "doctor", outcome: "success", ...input },
        newId(),
        clock.now(),
      );
    },
  };
}

Deno.test("ulidTime and ulidMs round-trip and sort like the ids", () => {
  assert.equal(ulidMs(ulidTime(T0) + "0".repeat(16)), T0);
  assert.ok(ulidTime(T0) < ulidTime(T0 + 1));
});

Deno.test("listAudit: newest first, filtered by user, room and visit, paged by cursor", async () => {
  await withKv(async (kv) => {
    const { clock, make } = maker();
    const entries: AuditEntry[] = [];
    for (let i = 0; i < 7; i++) {
      clock.advance(1000);
      entries.push(make({
        action: "room.join",
        actorId: i % 2 ? "patient-1" : "doctor-1",
        target: { roomId: i < 4 ? "visit:v1" : "topic:t", ...(i < 4 ? { visitId: "v1" } : {}) },
      }));
    }
    clock.advance(1000);
    entries.push(make({ action: "call.ringing", target: { userId: "patient-1", callId: "c1" } }));
    await appendAudit(kv, entries);

    const all = await listAudit(kv, {}, { limit: 100 });
    assert.deepEqual(all.entries.map((e) => e.id), entries.map((e) => e.id).reverse());
    assert.equal(all.cursor, null);

    // A user matches as actor or as target.
    const patient = await listAudit(kv, { userId: "patient-1" }, { limit: 100 });
    assert.deepEqual(patient.entries.map((e) => e.action), [
      "call.ringing",
      "room.join",
      "room.join",
      "room.join",
    ]);
    const room = await listAudit(kv, { roomId: "visit:v1" }, { limit: 100 });
    assert.equal(room.entries.length, 4);
    const visit = await listAudit(kv, { visitId: "v1", userId: "patient-1" }, { limit: 100 });
    assert.deepEqual(visit.entries.map((e) => e.id), [entries[3].id, entries[1].id]);

    const first = await listAudit(kv, {}, { limit: 3 });
    assert.equal(first.entries.length, 3);
    assert.equal(first.cursor, entries[5].id);
    const second = await listAudit(kv, {}, { limit: 3, cursor: first.cursor! });
    assert.deepEqual(second.entries.map((e) => e.id), [4, 3, 2].map((i) => entries[i].id));
    const last = await listAudit(kv, {}, { limit: 3, cursor: second.cursor! });
    assert.deepEqual(last.entries.map((e) => e.id), [1, 0].map((i) => entries[i].id));
    assert.equal(last.cursor, null);

    // from/to are inclusive ms bounds.
    const window = await listAudit(kv, { from: T0 + 2000, to: T0 + 4000 }, { limit: 100 });
    assert.deepEqual(window.entries.map((e) => e.id), [3, 2, 1].map((i) => entries[i].id));
  });
});

Deno.test("auditMutations adds the entry to a caller's own commit", async () => {
  await withKv(async (kv) => {
    const { make } = maker();
    const e = make({ action: "visit.create", target: { visitId: "v9" } });
    const op = kv.atomic().set(["visits", "v9"], { id: "v9" });
    await auditMutations(op, e).commit();
    assert.deepEqual((await listAudit(kv, { visitId: "v9" }, { limit: 10 })).entries, [e]);
  });
});

Deno.test("purgeAudit deletes entries and index keys older than the cutoff; export streams a range", async () => {
  await withKv(async (kv) => {
    const { clock, make } = maker();
    const old = make({ action: "room.join", target: { roomId: "visit:v1", visitId: "v1" } });
    clock.advance(86_400_000);
    const recent = make({ action: "room.join", target: { roomId: "visit:v1", visitId: "v1" } });
    await appendAudit(kv, [old, recent]);
    const exported = [];
    for await (const e of exportAudit(kv, { from: T0 + 1, to: T0 + 86_400_000 })) exported.push(e);
    assert.deepEqual(exported, [recent]);

    assert.equal(await purgeAudit(kv, T0 + 1000), 1);
    assert.deepEqual((await listAudit(kv, {}, { limit: 10 })).entries, [recent]);
    assert.deepEqual((await listAudit(kv, { roomId: "visit:v1" }, { limit: 10 })).entries, [
      recent,
    ]);
    let keys = 0;
    for await (const _ of kv.list({ prefix: [] })) keys++;
    // The recent entry, its actor, room and visit index keys.
    assert.equal(keys, 4);
    assert.equal(await purgeAudit(kv, T0 + 1000), 0);
  });
});
