import assert from "node:assert/strict";
import {
  getPresences,
  listOnline,
  putConnection,
  reconcile,
  refreshConnections,
  removeConnection,
  setExplicitStatus,
} from "./presence.ts";
import { withKv } from "./testing.ts";

const T0 = Date.UTC(2026, 0, 1);
const TTL = 45_000;

Deno.test("reconcile announces each real transition once, whatever the number of connections", async () => {
  await withKv(async (kv) => {
    assert.equal(await reconcile(kv, "u1", T0), null, "never seen: nothing to announce");
    await putConnection(kv, "u1", "s1", T0 + TTL, T0);
    assert.deepEqual(await reconcile(kv, "u1", T0), { status: "online" });
    assert.equal(await reconcile(kv, "u1", T0), null, "same state twice: once");
    await putConnection(kv, "u1", "s2", T0 + TTL, T0);
    assert.equal(await reconcile(kv, "u1", T0), null, "second connection is not news");
    await removeConnection(kv, "u1", "s1", T0);
    assert.equal(await reconcile(kv, "u1", T0), null, "one of two closing is not news");
    await removeConnection(kv, "u1", "s2", T0 + 5);
    assert.deepEqual(await reconcile(kv, "u1", T0 + 5), { status: "offline" });
    assert.deepEqual(await listOnline(kv), []);
  });
});

Deno.test("racing reconcilers publish a transition exactly once", async () => {
  await withKv(async (kv) => {
    await putConnection(kv, "u1", "s1", T0 + TTL, T0);
    const results = await Promise.all(Array.from({ length: 10 }, () => reconcile(kv, "u1", T0)));
    assert.equal(results.filter((r) => r !== null).length, 1);
  });
});

Deno.test("expiresAt is checked on read and by reconcile; heartbeats extend it", async () => {
  await withKv(async (kv) => {
    await putConnection(kv, "u1", "s1", T0 + TTL, T0);
    await putConnection(kv, "u2", "s2", T0 + TTL, T0);
    await reconcile(kv, "u1", T0);
    await reconcile(kv, "u2", T0);
    assert.deepEqual((await listOnline(kv)).sort(), ["u1", "u2"]);
    await refreshConnections(
      kv,
      [{ userId: "u2", socketId: "s2" }],
      T0 + 30_000 + TTL,
      T0 + 30_000,
    );
    const later = T0 + TTL + 1;
    const [p1, p2] = await getPresences(kv, ["u1", "u2"], later);
    assert.equal(p1.status, "offline");
    assert.equal(p2.status, "online");
    assert.deepEqual(await reconcile(kv, "u1", later), { status: "offline" });
    assert.equal(
      (await kv.get(["presence_conn", "u1", "s1"])).value,
      null,
      "expired entry removed",
    );
    assert.equal(await reconcile(kv, "u2", later), null);
    assert.deepEqual(await listOnline(kv), ["u2"]);
    const [seen] = await getPresences(kv, ["u1"], later);
    assert.equal(seen.lastSeen, new Date(T0).toISOString(), "its last heartbeat, not the sweep");
  });
});

Deno.test("an explicit status applies only while connected and survives reconnects", async () => {
  await withKv(async (kv) => {
    await setExplicitStatus(kv, "u1", { status: "away", customStatus: "lunch" });
    assert.equal(await reconcile(kv, "u1", T0), null, "offline users announce nothing");
    await putConnection(kv, "u1", "s1", T0 + TTL, T0);
    assert.deepEqual(await reconcile(kv, "u1", T0), { status: "away", customStatus: "lunch" });
    await removeConnection(kv, "u1", "s1", T0);
    await reconcile(kv, "u1", T0);
    await putConnection(kv, "u1", "s9", T0 + TTL, T0);
    const [p] = await getPresences(kv, ["u1"], T0);
    assert.equal(p.status, "away");
    assert.equal(p.customStatus, "lunch");
  });
});
