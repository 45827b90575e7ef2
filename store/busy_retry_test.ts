import assert from "node:assert/strict";
import { isBusy, retryWhenBusy, whenUnlocked } from "./busy_retry.ts";

Deno.test("whenUnlocked: a locked database is retried, other errors are not", async () => {
  let n = 0;
  assert.equal(
    await whenUnlocked(() => {
      if (++n < 3) return Promise.reject(new TypeError("database is locked"));
      return Promise.resolve("done");
    }),
    "done",
  );
  assert.equal(n, 3);
  let other = 0;
  await assert.rejects(
    whenUnlocked(() => {
      other++;
      return Promise.reject(new Error("boom"));
    }),
    /boom/,
  );
  assert.equal(other, 1);
  assert.equal(isBusy(new TypeError("database is locked")), true);
  assert.equal(isBusy(new Error("value too large")), false);
});

Deno.test("retryWhenBusy: an atomic operation is committed again, whole and once, after a lock", async () => {
  const real = await Deno.openKv(":memory:");
  let failures = 1;
  // Fails the first commit the way a shared SQLite file does, with nothing written.
  const atomic = real.atomic.bind(real);
  real.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = () =>
      failures-- > 0 ? Promise.reject(new TypeError("database is locked")) : commit();
    return op;
  };
  const kv = retryWhenBusy(real);
  try {
    const res = await kv.atomic().check({ key: ["a"], versionstamp: null }).set(["a"], 1).sum(
      ["n"],
      2n,
    ).commit();
    assert.equal(res.ok, true);
    assert.equal((await real.get(["a"])).value, 1);
    assert.equal((await real.get<Deno.KvU64>(["n"])).value?.value, 2n, "applied once");
    // A failed check is an answer, not a lock: not retried.
    const again = await kv.atomic().check({ key: ["a"], versionstamp: null }).set(["a"], 2)
      .commit();
    assert.equal(again.ok, false);
    await kv.set(["b"], "x");
    assert.equal((await kv.get(["b"])).value, "x");
  } finally {
    real.close();
  }
});
