import assert from "node:assert/strict";
import {
  appendMessage,
  getHead,
  getMessage,
  listHistory,
  listSince,
  type Message,
  type NewMessage,
} from "./messages.ts";
import { withKv } from "./testing.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const ROOM = "visit:visit-123";

function draft(text: string, extra: Partial<NewMessage> = {}): NewMessage {
  return { roomId: ROOM, senderId: "patient-1", message: text, ...extra };
}

/** Appends `count` messages "m1".."mN" to `roomId`, one after another. */
async function fill(kv: Deno.Kv, count: number, roomId = ROOM): Promise<void> {
  for (let i = 1; i <= count; i++) {
    await appendMessage(kv, draft(`m${i}`, { roomId }), { id: `${roomId}-id${i}`, now: NOW });
  }
}

const seqs = (messages: Message[]) => messages.map((m) => m.seq);

Deno.test("appendMessage: the first message of a room gets seq 1 and the stored shape", async () => {
  await withKv(async (kv) => {
    const { message, created } = await appendMessage(kv, draft("hello"), { id: "id1", now: NOW });
    assert.equal(created, true);
    assert.deepEqual(message, {
      id: "id1",
      roomId: ROOM,
      seq: 1,
      senderId: "patient-1",
      message: "hello",
      status: "sent",
      timestamp: "2026-01-01T00:00:00.000Z",
    });
    assert.deepEqual(await getMessage(kv, ROOM, 1), message);
    assert.deepEqual(await getHead(kv, ROOM), { seq: 1, at: "2026-01-01T00:00:00.000Z" });
    assert.equal(await getMessage(kv, ROOM, 2), null);
    assert.equal(await getHead(kv, "visit:empty"), null);
  });
});

Deno.test("appendMessage: sequential appends are gapless and rooms count separately", async () => {
  await withKv(async (kv) => {
    await fill(kv, 5);
    await fill(kv, 2, "chat:doctor-1:patient-1");
    const a = await listSince(kv, ROOM, { since: 0, limit: 100 });
    assert.deepEqual(seqs(a.messages), [1, 2, 3, 4, 5]);
    assert.deepEqual(a.messages.map((m) => m.message), ["m1", "m2", "m3", "m4", "m5"]);
    const b = await listSince(kv, "chat:doctor-1:patient-1", { since: 0, limit: 100 });
    assert.deepEqual(seqs(b.messages), [1, 2]);
    assert.equal((await getHead(kv, ROOM))?.seq, 5);
    assert.equal((await getHead(kv, "chat:doctor-1:patient-1"))?.seq, 2);
  });
});

Deno.test("appendMessage: concurrent appends get distinct seqs 1..N with no gaps", async () => {
  await withKv(async (kv) => {
    const n = 200; // enough to exhaust 40 blind retries if appends in one isolate raced
    const results = await Promise.all(
      Array.from(
        { length: n },
        (_, i) => appendMessage(kv, draft(`c${i}`), { id: `cid${i}`, now: NOW }),
      ),
    );
    assert.ok(results.every((r) => r.created));
    const assigned = results.map((r) => r.message.seq).sort((x, y) => x - y);
    assert.deepEqual(assigned, Array.from({ length: n }, (_, i) => i + 1));
    assert.equal((await getHead(kv, ROOM))?.seq, n);
    // What each caller was told is what was stored under that seq.
    for (const r of results) {
      assert.deepEqual(await getMessage(kv, ROOM, r.message.seq), r.message);
    }
    const all = await listSince(kv, ROOM, { since: 0, limit: 1000 });
    assert.equal(all.messages.length, n);
    assert.equal(new Set(all.messages.map((m) => m.id)).size, n);
  });
});

Deno.test("appendMessage: a repeated clientMessageId returns the stored message once", async () => {
  await withKv(async (kv) => {
    const first = await appendMessage(kv, draft("original", { clientMessageId: "c-1" }), {
      id: "id1",
      now: NOW,
    });
    const again = await appendMessage(
      kv,
      draft("resent with other text", { clientMessageId: "c-1" }),
      {
        id: "id2",
        now: new Date("2026-01-01T00:05:00.000Z"),
      },
    );
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.deepEqual(again.message, first.message);
    assert.equal(again.message.message, "original");
    assert.equal(again.message.clientMessageId, "c-1");
    assert.deepEqual(await getHead(kv, ROOM), { seq: 1, at: "2026-01-01T00:00:00.000Z" });
    const all = await listSince(kv, ROOM, { since: 0, limit: 10 });
    assert.equal(all.messages.length, 1);
  });
});

Deno.test("appendMessage: clientMessageId is scoped to the sender and the room", async () => {
  await withKv(async (kv) => {
    const opts = (id: string) => ({ id, now: NOW });
    await appendMessage(kv, draft("a", { clientMessageId: "same" }), opts("id1"));
    const otherSender = await appendMessage(
      kv,
      draft("b", { clientMessageId: "same", senderId: "doctor-1" }),
      opts("id2"),
    );
    const otherRoom = await appendMessage(
      kv,
      draft("c", { clientMessageId: "same", roomId: "call:visit-123" }),
      opts("id3"),
    );
    const noClientId = await appendMessage(kv, draft("d"), opts("id4"));
    assert.equal(otherSender.created, true);
    assert.equal(otherSender.message.seq, 2);
    assert.equal(otherRoom.created, true);
    assert.equal(otherRoom.message.seq, 1);
    assert.equal(noClientId.created, true);
    assert.equal(noClientId.message.seq, 3);
  });
});

Deno.test("appendMessage: concurrent sends with one clientMessageId store exactly one", async () => {
  await withKv(async (kv) => {
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          appendMessage(kv, draft(`try ${i}`, { clientMessageId: "dup" }), {
            id: `id${i}`,
            now: NOW,
          }),
      ),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    const winner = results.find((r) => r.created)!.message;
    for (const r of results) assert.deepEqual(r.message, winner);
    assert.equal(winner.seq, 1);
    const all = await listSince(kv, ROOM, { since: 0, limit: 100 });
    assert.deepEqual(seqs(all.messages), [1]);
  });
});

Deno.test("listHistory: pages backwards with before/limit, oldest first, with hasMore", async () => {
  await withKv(async (kv) => {
    await fill(kv, 10);
    await fill(kv, 3, "visit:visit-1234"); // a room whose id extends ours must not leak in

    const newest = await listHistory(kv, ROOM, { limit: 3 });
    assert.deepEqual(seqs(newest.messages), [8, 9, 10]);
    assert.equal(newest.hasMore, true);

    const page2 = await listHistory(kv, ROOM, { before: 8, limit: 3 });
    assert.deepEqual(seqs(page2.messages), [5, 6, 7]);
    assert.equal(page2.hasMore, true);

    const page3 = await listHistory(kv, ROOM, { before: 5, limit: 3 });
    assert.deepEqual(seqs(page3.messages), [2, 3, 4]);
    assert.equal(page3.hasMore, true);

    const last = await listHistory(kv, ROOM, { before: 2, limit: 3 });
    assert.deepEqual(seqs(last.messages), [1]);
    assert.equal(last.hasMore, false);

    const exact = await listHistory(kv, ROOM, { before: 4, limit: 3 });
    assert.deepEqual(seqs(exact.messages), [1, 2, 3]);
    assert.equal(exact.hasMore, false);

    const everything = await listHistory(kv, ROOM, { limit: 10 });
    assert.deepEqual(seqs(everything.messages), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(everything.hasMore, false);

    const almost = await listHistory(kv, ROOM, { limit: 9 });
    assert.deepEqual(seqs(almost.messages), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(almost.hasMore, true);

    assert.deepEqual(await listHistory(kv, ROOM, { before: 1, limit: 5 }), {
      messages: [],
      hasMore: false,
    });
    assert.deepEqual(await listHistory(kv, "visit:none", { limit: 5 }), {
      messages: [],
      hasMore: false,
    });
    assert.ok(everything.messages.every((m) => m.roomId === ROOM));
  });
});

Deno.test("listSince: returns what came after a seq, oldest first, with hasMore", async () => {
  await withKv(async (kv) => {
    await fill(kv, 10);
    await fill(kv, 3, "visit:visit-1234");

    const first = await listSince(kv, ROOM, { since: 0, limit: 4 });
    assert.deepEqual(seqs(first.messages), [1, 2, 3, 4]);
    assert.equal(first.hasMore, true);

    const next = await listSince(kv, ROOM, { since: 4, limit: 4 });
    assert.deepEqual(seqs(next.messages), [5, 6, 7, 8]);
    assert.equal(next.hasMore, true);

    const tail = await listSince(kv, ROOM, { since: 8, limit: 4 });
    assert.deepEqual(seqs(tail.messages), [9, 10]);
    assert.equal(tail.hasMore, false);

    const exact = await listSince(kv, ROOM, { since: 4, limit: 6 });
    assert.deepEqual(seqs(exact.messages), [5, 6, 7, 8, 9, 10]);
    assert.equal(exact.hasMore, false);

    assert.deepEqual(await listSince(kv, ROOM, { since: 10, limit: 5 }), {
      messages: [],
      hasMore: false,
    });
    assert.deepEqual(await listSince(kv, ROOM, { since: 99, limit: 5 }), {
      messages: [],
      hasMore: false,
    });
    assert.ok(exact.messages.every((m) => m.roomId === ROOM));
  });
});
