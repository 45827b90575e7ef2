import assert from "node:assert/strict";
import { MessageBatcher, StaleGuardError } from "./message_batch.ts";
import { listHistory, type NewMessage } from "./messages.ts";
import { instrumentedKv, withKv } from "./testing.ts";

const NOW = new Date("2026-06-01T00:00:00Z");

const msg = (roomId: string, text: string, extra: Partial<NewMessage> = {}): NewMessage => ({
  roomId,
  senderId: "doctor-1",
  message: text,
  ...extra,
});

let n = 0;
const ids = () => ({ id: `msg_${++n}`, now: NOW });

Deno.test("group commit: concurrent sends to many rooms share commits; seqs are gapless per room", async () => {
  await withKv(async (raw) => {
    const { kv, commits } = instrumentedKv(raw);
    const batcher = new MessageBatcher(kv);
    const sends = [];
    for (let i = 0; i < 300; i++) {
      sends.push(batcher.append(msg(`visit:v${i % 30}`, `m${i}`), ids()));
    }
    const results = await Promise.all(sends);
    assert.ok(results.every((r) => r.created));
    // 300 messages in far fewer commits than messages (the first goes alone, then batches).
    assert.ok(commits() <= 10, `${commits()} commits`);
    for (let r = 0; r < 30; r++) {
      const { messages } = await listHistory(raw, `visit:v${r}`, { limit: 100 });
      assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: 10 }, (_, i) => i + 1));
      // Queue order is seq order within a room.
      assert.deepEqual(
        messages.map((m) => m.message),
        Array.from({ length: 10 }, (_, i) => `m${r + 30 * i}`),
      );
    }
  });
});

Deno.test("group commit: a clientMessageId repeated in a batch or after it is stored once", async () => {
  await withKv(async (kv) => {
    const batcher = new MessageBatcher(kv);
    const first = batcher.append(msg("visit:v1", "x", { clientMessageId: "c1" }), ids());
    const again = batcher.append(msg("visit:v1", "x", { clientMessageId: "c1" }), ids());
    const other = batcher.append(msg("visit:v1", "y", { clientMessageId: "c2" }), ids());
    const [a, b, c] = await Promise.all([first, again, other]);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.deepEqual(b.message, a.message);
    assert.equal(c.message.seq, 2);
    const later = await batcher.append(msg("visit:v1", "x", { clientMessageId: "c1" }), ids());
    assert.deepEqual([later.created, later.message.seq], [false, 1]);
    assert.equal((await listHistory(kv, "visit:v1", { limit: 10 })).messages.length, 2);
  });
});

Deno.test("group commit: another writer's commit is detected and the batch retried; no seq is reused", async () => {
  await withKv(async (kv) => {
    // Two batchers on one store stand for two isolates or processes, each with its head cache.
    const a = new MessageBatcher(kv);
    const b = new MessageBatcher(kv);
    await a.append(msg("visit:v1", "a1"), ids());
    await b.append(msg("visit:v1", "b1"), ids()); // a's cached head is now stale
    const sends = [];
    for (let i = 0; i < 20; i++) {
      sends.push(a.append(msg("visit:v1", `a${i + 2}`), ids()));
      sends.push(b.append(msg("visit:v1", `b${i + 2}`), ids()));
    }
    await Promise.all(sends);
    const { messages } = await listHistory(kv, "visit:v1", { limit: 100 });
    assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: 42 }, (_, i) => i + 1));
    assert.equal(new Set(messages.map((m) => m.message)).size, 42);
  });
});

Deno.test("group commit: a message too large to store is refused alone; its batch commits", async () => {
  await withKv(async (kv) => {
    const batcher = new MessageBatcher(kv);
    const big = "€".repeat(40_000); // two bytes per character once stored: over 64 KiB
    const ok1 = batcher.append(msg("visit:v1", "before"), ids());
    const tooBig = batcher.append(msg("visit:v1", big), ids());
    const ok2 = batcher.append(msg("visit:v1", "after"), ids());
    await assert.rejects(tooBig, { name: "AppError", message: /too large to store/ });
    assert.deepEqual([(await ok1).message.seq, (await ok2).message.seq], [1, 2]);
  });
});

Deno.test("group commit: a failing commit rejects its batch; the next batch still runs", async () => {
  await withKv(async (raw) => {
    let fail = true;
    const { kv } = instrumentedKv(raw, { fail: () => fail ? new Error("disk I/O error") : null });
    const batcher = new MessageBatcher(kv);
    await assert.rejects(batcher.append(msg("visit:v1", "lost"), ids()), /disk I\/O error/);
    fail = false;
    const { message } = await batcher.append(msg("visit:v1", "kept"), ids());
    assert.equal(message.seq, 1);
  });
});

Deno.test("group commit: a batch of the largest messages stays under KV's 800 KiB per commit", async () => {
  await withKv(async (kv) => {
    const batcher = new MessageBatcher(kv);
    // About 60 KB stored each, mostly in attachments and metadata rather than the text.
    const heavy = (i: number) =>
      msg(`visit:v${i % 5}`, "€".repeat(8000), {
        attachments: Array.from(
          { length: 10 },
          () => ({ url: `https://x.test/${"é".repeat(1000)}` }),
        ),
        metadata: { note: "ü".repeat(2000) },
      });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => batcher.append(heavy(i), ids())),
    );
    assert.equal(results.filter((r) => r.created).length, 40);
  });
});

Deno.test("group commit: a send guarded by a key that changed stores nothing; the rest of its batch commits", async () => {
  await withKv(async (kv) => {
    await kv.set(["visits", "v1"], { id: "v1", rev: 1 });
    await kv.set(["visits", "v2"], { id: "v2", rev: 1 });
    const v1 = await kv.get(["visits", "v1"]);
    const v2 = await kv.get(["visits", "v2"]);
    const batcher = new MessageBatcher(kv);
    // Someone (another process) changes v1 after the senders read it.
    await kv.set(["visits", "v1"], { id: "v1", rev: 2 });
    const guard = (e: Deno.KvEntryMaybe<unknown>) => ({
      key: e.key,
      versionstamp: e.versionstamp!,
    });
    // The first send commits alone; the three below queue behind it and share one batch.
    const first = batcher.append(msg("chat:a:b", "first"), ids());
    const results = await Promise.allSettled([
      batcher.append(msg("visit:v1", "stale"), { ...ids(), guard: guard(v1) }),
      batcher.append(msg("visit:v2", "fresh"), { ...ids(), guard: guard(v2) }),
      batcher.append(msg("visit:v1", "unguarded"), ids()),
    ]);
    await first;
    assert.equal(results[0].status, "rejected");
    assert.ok((results[0] as PromiseRejectedResult).reason instanceof StaleGuardError);
    assert.equal(results[1].status, "fulfilled");
    assert.equal(results[2].status, "fulfilled");
    const v1History = await listHistory(kv, "visit:v1", { limit: 10 });
    assert.deepEqual(v1History.messages.map((m) => [m.seq, m.message]), [[1, "unguarded"]]);
    const v2History = await listHistory(kv, "visit:v2", { limit: 10 });
    assert.deepEqual(v2History.messages.map((m) => [m.seq, m.message]), [[1, "fresh"]]);
  });
});

Deno.test("group commit: overload is shed at once with RATE_LIMITED, by queue length and by wait", async () => {
  await withKv(async (kv) => {
    let now = 0;
    const batcher = new MessageBatcher(kv, { max: 5, maxWaitMs: 100 }, () => now);
    // The first send commits alone; while it does, five queue and the sixth is refused.
    const first = batcher.append(msg("visit:v1", "first"), ids());
    const queued = Array.from(
      { length: 5 },
      (_, i) => batcher.append(msg("visit:v1", `q${i}`), ids()),
    );
    const refused = await batcher.append(msg("visit:v1", "over"), ids()).catch((e) => e);
    assert.equal(refused.code, "RATE_LIMITED");
    assert.equal(refused.retryable, true);
    assert.equal(batcher.queued, 5);
    await Promise.all([first, ...queued]);

    // A queue whose oldest send has waited longer than maxWaitMs takes no more.
    const slow = batcher.append(msg("visit:v1", "slow"), ids());
    const waiting = batcher.append(msg("visit:v1", "waiting"), ids());
    now += 101;
    const late = await batcher.append(msg("visit:v1", "late"), ids()).catch((e) => e);
    assert.equal(late.code, "RATE_LIMITED");
    await Promise.all([slow, waiting]);
    assert.equal(batcher.shed, 2);
    // Nothing refused was stored; everything taken was, in order.
    const { messages } = await listHistory(kv, "visit:v1", { limit: 20 });
    assert.deepEqual(
      messages.map((m) => m.message),
      ["first", "q0", "q1", "q2", "q3", "q4", "slow", "waiting"],
    );
  });
});

Deno.test("group commit: a small batch proves its clientMessageIds new in the commit, with no read first; a retry still finds the stored message", async () => {
  await withKv(async (raw) => {
    let reads = 0;
    const kv = new Proxy(raw, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (prop === "getMany" || prop === "get") {
          return (...args: unknown[]) => {
            reads++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const batcher = new MessageBatcher(kv);
    const first = await batcher.append(msg("visit:v1", "a", { clientMessageId: "c1" }), ids());
    assert.equal(first.created, true);
    const afterFirst = reads;
    const second = await batcher.append(msg("visit:v1", "b", { clientMessageId: "c2" }), ids());
    assert.equal(second.created, true);
    assert.equal(reads, afterFirst, "the head is cached and the id is checked in the commit");
    // The same id again: the optimistic commit fails, the id is read, the stored message returned.
    const retry = await batcher.append(msg("visit:v1", "a", { clientMessageId: "c1" }), ids());
    assert.equal(retry.created, false);
    assert.equal(retry.message.seq, first.message.seq);
    const { messages } = await listHistory(raw, "visit:v1", { limit: 10 });
    assert.deepEqual(messages.map((m) => m.message), ["a", "b"]);
  });
});
