import assert from "node:assert/strict";
import { VisitCache } from "./visit_cache.ts";
import { createLogger } from "../lib/log.ts";
import { withKv } from "../store/testing.ts";

const visit = (clinicianIds: string[]) => ({
  id: "v1",
  patientId: "p1",
  clinicianIds,
  createdBy: "d1",
  createdAt: "2026-12-01T00:00:00.000Z",
});

Deno.test("VisitCache: a read in flight when the visit is invalidated is not cached", async () => {
  await withKv(async (kv) => {
    await kv.set(["visits", "v1"], visit(["d1", "d2"]));
    const cache = new VisitCache(kv, createLogger("error"));
    const inFlight = cache.get("v1"); // may see the old care team
    cache.invalidate("v1"); // the change lands before that read returns
    await inFlight;
    assert.equal(cache.size, 0, "the read that started before the change is not cached");
    await kv.set(["visits", "v1"], visit(["d1"]));
    assert.deepEqual((await cache.get("v1"))?.visit.clinicianIds, ["d1"], "read again");
    assert.equal(cache.size, 1);
  });
});

Deno.test("VisitCache: a known visit is served from memory; a missing one is never cached", async () => {
  await withKv(async (kv) => {
    await kv.set(["visits", "v1"], visit(["d1"]));
    const cache = new VisitCache(kv, createLogger("error"));
    const first = await cache.get("v1");
    await kv.set(["visits", "v1"], visit(["d9"])); // behind the cache's back
    assert.equal(await cache.get("v1"), first);
    assert.equal(await cache.get("nope"), null);
    assert.equal(cache.size, 1);
  });
});
