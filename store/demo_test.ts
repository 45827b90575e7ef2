import assert from "node:assert/strict";
import { DEMO_PASSWORD, DEMO_USERS, DEMO_VISIT_ID, seedDemoData } from "./demo.ts";
import { authenticate, getUser } from "./users.ts";
import { getVisit, listVisitIds } from "./visits.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");

Deno.test("seedDemoData: demo users and visit-123, idempotent and race-safe", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // Two isolates seeding at once: the loser's CONFLICT is ignored.
    await Promise.all([seedDemoData(kv, NOW), seedDemoData(kv, NOW)]);
    for (const u of DEMO_USERS) {
      const stored = await getUser(kv, u.id);
      assert.equal(stored?.email, u.email, u.id);
      assert.equal(stored?.role, u.role, u.id);
    }
    assert.equal((await authenticate(kv, "doctor@example.com", DEMO_PASSWORD))?.id, "doctor-1");
    const visit = await getVisit(kv, DEMO_VISIT_ID);
    assert.equal(visit?.patientId, "patient-1");
    assert.deepEqual(visit?.clinicianIds, ["doctor-1"]);
    assert.deepEqual(await listVisitIds(kv, "patient-2"), []);

    // A later seed leaves existing records alone.
    const before = await getUser(kv, "patient-1");
    await seedDemoData(kv, new Date("2027-01-01T00:00:00.000Z"));
    assert.deepEqual(await getUser(kv, "patient-1"), before);
    assert.equal((await getVisit(kv, DEMO_VISIT_ID))?.createdAt, NOW.toISOString());
  } finally {
    kv.close();
  }
});
