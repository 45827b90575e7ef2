import assert from "node:assert/strict";
import { GroupCommitter } from "./group_commit.ts";
import { instrumentedKv, withKv } from "./testing.ts";

Deno.test("group commit of small writes: concurrent operations share commits", async () => {
  await withKv(async (raw) => {
    const { kv, commits } = instrumentedKv(raw);
    const g = new GroupCommitter(kv);
    const results = await Promise.all(
      Array.from(
        { length: 500 },
        (_, i) => g.commit({ mutations: [{ type: "set", key: ["p", i], value: { i } }] }),
      ),
    );
    assert.ok(results.every((r) => r.ok));
    assert.ok(commits() <= 5, `${commits()} commits for 500 writes`);
    const stored = await Array.fromAsync(raw.list({ prefix: ["p"] }));
    assert.equal(stored.length, 500);
  });
});

Deno.test("group commit of small writes: a failed check fails only its own operation", async () => {
  await withKv(async (kv) => {
    await kv.set(["taken"], 1);
    const g = new GroupCommitter(kv);
    // The first commits alone; the next three queue behind it and are tried as one group.
    const first = g.commit({ mutations: [{ type: "set", key: ["a"], value: 1 }] });
    const [free, lost, other] = await Promise.all([
      g.commit({
        checks: [{ key: ["free"], versionstamp: null }],
        mutations: [{ type: "set", key: ["free"], value: 1 }],
      }),
      g.commit({
        checks: [{ key: ["taken"], versionstamp: null }],
        mutations: [{ type: "set", key: ["taken"], value: 2 }],
      }),
      g.commit({ mutations: [{ type: "set", key: ["b"], value: 1 }] }),
    ]);
    assert.equal((await first).ok, true);
    assert.equal(free.ok, true);
    assert.equal(lost.ok, false);
    assert.equal(other.ok, true);
    assert.equal((await kv.get(["taken"])).value, 1, "the failed operation wrote nothing");
    assert.equal((await kv.get(["free"])).value, 1);
  });
});

Deno.test("group commit of small writes: two operations on one key never share a commit, and keep their order", async () => {
  await withKv(async (kv) => {
    const g = new GroupCommitter(kv);
    const ops = [
      g.commit({ mutations: [{ type: "set", key: ["k"], value: 1 }] }),
      g.commit({ mutations: [{ type: "set", key: ["k"], value: 2 }] }),
      g.commit({ mutations: [{ type: "delete", key: ["k"] }] }),
      g.commit({ mutations: [{ type: "set", key: ["k"], value: 4 }] }),
    ];
    const results = await Promise.all(ops);
    assert.ok(results.every((r) => r.ok));
    assert.equal((await kv.get(["k"])).value, 4);
    assert.equal(g.commits, 4);
  });
});

Deno.test("group commit of small writes: a busy key does not hold unrelated operations back", async () => {
  await withKv(async (kv) => {
    const g = new GroupCommitter(kv);
    const first = g.commit({ mutations: [{ type: "set", key: ["warm"], value: 0 }] });
    // Queued behind `first`: three writes of ["a"] and three unrelated keys.
    const ops = [
      g.commit({ mutations: [{ type: "set", key: ["a"], value: 1 }] }),
      g.commit({ mutations: [{ type: "set", key: ["a"], value: 2 }] }),
      g.commit({ mutations: [{ type: "set", key: ["b"], value: 1 }] }),
      g.commit({ mutations: [{ type: "set", key: ["a"], value: 3 }] }),
      g.commit({ mutations: [{ type: "set", key: ["c"], value: 1 }] }),
      g.commit({ mutations: [{ type: "set", key: ["d"], value: 1 }] }),
    ];
    await first;
    const results = await Promise.all(ops);
    assert.ok(results.every((r) => r.ok));
    // warm alone; then {a=1, b, c, d}; then a=2; then a=3.
    assert.equal(g.commits, 4);
    assert.equal((await kv.get(["a"])).value, 3, "writes of one key keep their order");
    assert.equal(results[2].versionstamp, results[0].versionstamp, "b shared a's first commit");
  });
});
