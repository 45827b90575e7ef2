import assert from "node:assert/strict";
import { AppError } from "../lib/errors.ts";
import {
  createVisit,
  getVisit,
  isVisitParticipant,
  listVisitIds,
  shareVisit,
  type Visit,
  visitParticipants,
} from "./visits.ts";
import { withKv } from "./testing.ts";

function visit(id: string, patientId: string, clinicianIds: string[]): Visit {
  return {
    id,
    patientId,
    clinicianIds,
    title: `Visit ${id}`,
    createdBy: clinicianIds[0] ?? patientId,
    createdAt: "2026-01-01T00:00:00.000Z",
  };
}

Deno.test("createVisit: stores the visit and indexes every participant", async () => {
  await withKv(async (kv) => {
    const v = visit("v1", "patient-1", ["doctor-1", "nurse-1"]);
    assert.deepEqual(await createVisit(kv, v), v);
    assert.deepEqual(await getVisit(kv, "v1"), v);
    assert.equal(await getVisit(kv, "v2"), null);
    assert.deepEqual(await listVisitIds(kv, "patient-1"), ["v1"]);
    assert.deepEqual(await listVisitIds(kv, "doctor-1"), ["v1"]);
    assert.deepEqual(await listVisitIds(kv, "nurse-1"), ["v1"]);
    assert.deepEqual(await listVisitIds(kv, "patient-2"), []);
    // The index stores the id, not a copy of the visit.
    assert.equal((await kv.get(["visits_by_user", "doctor-1", "v1"])).value, "v1");
  });
});

Deno.test("createVisit: a duplicate id is CONFLICT and changes nothing", async () => {
  await withKv(async (kv) => {
    const original = visit("v1", "patient-1", ["doctor-1"]);
    await createVisit(kv, original);
    await assert.rejects(
      createVisit(kv, visit("v1", "patient-2", ["doctor-2"])),
      (err) => err instanceof AppError && err.code === "CONFLICT",
    );
    assert.deepEqual(await getVisit(kv, "v1"), original);
    assert.deepEqual(await listVisitIds(kv, "patient-2"), []);
    assert.deepEqual(await listVisitIds(kv, "doctor-2"), []);
  });
});

Deno.test("listVisitIds: one entry per visit, in id order, up to the limit", async () => {
  await withKv(async (kv) => {
    // A clinician listed twice (or also the patient) is indexed once.
    await createVisit(kv, visit("v2", "patient-1", ["doctor-1", "doctor-1"]));
    await createVisit(kv, visit("v1", "patient-1", ["patient-1"]));
    await createVisit(kv, visit("v3", "patient-2", ["doctor-1"]));
    assert.deepEqual(await listVisitIds(kv, "patient-1"), ["v1", "v2"]);
    assert.deepEqual(await listVisitIds(kv, "doctor-1"), ["v2", "v3"]);
    assert.deepEqual(await listVisitIds(kv, "doctor-1", 1), ["v2"]);
  });
});

Deno.test("shareVisit: true only for two participants of one visit, either order", async () => {
  await withKv(async (kv) => {
    await createVisit(kv, visit("v1", "patient-1", ["doctor-1"]));
    await createVisit(kv, visit("v2", "patient-2", ["doctor-2"]));
    assert.equal(await shareVisit(kv, "patient-1", "doctor-1"), true);
    assert.equal(await shareVisit(kv, "doctor-1", "patient-1"), true);
    assert.equal(await shareVisit(kv, "patient-2", "doctor-1"), false);
    assert.equal(await shareVisit(kv, "patient-1", "patient-2"), false);
    assert.equal(await shareVisit(kv, "patient-1", "nobody"), false);
    assert.equal(await shareVisit(kv, "nobody", "other-nobody"), false);

    await createVisit(kv, visit("v3", "patient-2", ["doctor-1"]));
    assert.equal(await shareVisit(kv, "patient-2", "doctor-1"), true);
    assert.equal(await shareVisit(kv, "patient-1", "patient-2"), false);
  });
});

Deno.test("shareVisit: still true for a clinician with more than 1000 visits", async () => {
  await withKv(async (kv) => {
    // A busy clinician: 1000 earlier visits whose ids sort before the shared one.
    for (let start = 0; start < 1000; start += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const n = String(start + i).padStart(4, "0");
          return createVisit(kv, visit(`v${n}`, `patient-${n}`, ["doctor-1"]));
        }),
      );
    }
    await createVisit(kv, visit("v9999", "patient-late", ["doctor-1"]));
    assert.equal(await shareVisit(kv, "patient-late", "doctor-1"), true);
    assert.equal(await shareVisit(kv, "doctor-1", "patient-late"), true);
  });
});

Deno.test("visitParticipants and isVisitParticipant", () => {
  const v = visit("v1", "patient-1", ["doctor-1", "nurse-1"]);
  assert.deepEqual(visitParticipants(v), ["patient-1", "doctor-1", "nurse-1"]);
  assert.equal(isVisitParticipant(v, "patient-1"), true);
  assert.equal(isVisitParticipant(v, "nurse-1"), true);
  assert.equal(isVisitParticipant(v, "patient-2"), false);
  assert.equal(isVisitParticipant(v, ""), false);
});
