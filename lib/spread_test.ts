import assert from "node:assert/strict";
import { inSlice, type Slice, sliceOf, SpreadTimer } from "./spread.ts";

Deno.test("sliceOf: stable, in range, and spreads ids evenly", () => {
  assert.equal(sliceOf("sock_abc", 15), sliceOf("sock_abc", 15));
  const counts = new Array(15).fill(0);
  for (let i = 0; i < 15_000; i++) counts[sliceOf(`sock_${i}`, 15)]++;
  for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven bucket: ${c}`);
});

Deno.test("inSlice: every id is in exactly one slice of a round", () => {
  for (const id of ["a", "b", "conn-1", "conn-2", "x".repeat(40)]) {
    const hits = [0, 1, 2, 3].filter((index) => inSlice(id, { index, count: 4 }));
    assert.equal(hits.length, 1);
  }
  assert.ok(inSlice("anything"));
  assert.ok(inSlice("anything", { index: 0, count: 1 }));
});

Deno.test("SpreadTimer: cycles through the slices and wraps after each round", async () => {
  const seen: Slice[] = [];
  let wraps = 0;
  const done = Promise.withResolvers<void>();
  const timer: SpreadTimer = new SpreadTimer(6, (slice) => {
    seen.push(slice);
    return Promise.resolve();
  }, () => {
    wraps++;
    if (wraps === 2) {
      timer.stop();
      done.resolve();
    }
    return Promise.resolve();
  }, { tickMs: 2 });
  timer.start();
  await done.promise;
  assert.equal(timer.count, 3);
  assert.deepEqual(seen.map((s) => s.index), [0, 1, 2, 0, 1, 2]);
});
