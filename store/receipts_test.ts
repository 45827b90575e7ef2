import assert from "node:assert/strict";
import { markReadUpTo, readCursors } from "./receipts.ts";
import { withKv } from "./testing.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");

Deno.test("markReadUpTo only moves forward, also when receipts race out of order", async () => {
  await withKv(async (kv) => {
    assert.deepEqual(await markReadUpTo(kv, "r", "u", 3, NOW), {
      changed: true,
      cursor: { seq: 3, at: NOW.toISOString() },
    });
    assert.equal((await markReadUpTo(kv, "r", "u", 2, NOW)).changed, false);
    assert.equal((await markReadUpTo(kv, "r", "u", 3, NOW)).changed, false);
    const racing = await Promise.all(
      [9, 4, 7, 5, 8, 6].map((seq) => markReadUpTo(kv, "r", "u", seq, NOW)),
    );
    assert.ok(racing.every((r) => r.cursor.seq <= 9));
    assert.deepEqual(
      await readCursors(kv, "r", ["u", "nobody"]),
      new Map([["u", 9], ["nobody", 0]]),
    );
  });
});

Deno.test("readCursors reads any number of users, ten keys at a time", async () => {
  await withKv(async (kv) => {
    const users = Array.from({ length: 23 }, (_, i) => `u${i}`);
    for (const [i, u] of users.entries()) await markReadUpTo(kv, "r", u, i + 1, NOW);
    const cursors = await readCursors(kv, "r", users);
    assert.equal(cursors.size, 23);
    assert.equal(cursors.get("u22"), 23);
  });
});
