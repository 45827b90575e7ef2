/**
 * What store/messages.ts keeps bounded: a message's stored size (one KV
 * value) and the life of its clientMessageId index entry. The rest of the
 * module's tests are in messages_test.ts.
 */

import assert from "node:assert/strict";
import {
  appendMessage,
  CLIENT_MESSAGE_ID_TTL_MS,
  getHead,
  getMessage,
  type NewMessage,
} from "./messages.ts";
import { withKv } from "./testing.ts";
import { KV_MAX_VALUE_BYTES, kvValueSize } from "./value_size.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const ROOM = "visit:visit-123";

/** ASCII text with one "€": V8 then stores every character in two bytes. */
function draft(chars: number, extra: Partial<NewMessage> = {}): NewMessage {
  return { roomId: ROOM, senderId: "patient-1", message: "€" + "a".repeat(chars), ...extra };
}

/** The value appendMessage stores for `input` as the room's first message. */
function stored(input: NewMessage) {
  return { id: "id1", seq: 1, status: "sent", timestamp: NOW.toISOString(), ...input };
}

Deno.test("appendMessage: the largest message KV takes stores; one character more is refused", async () => {
  await withKv(async (kv) => {
    let n = 0;
    while (kvValueSize(stored(draft(n + 1))) <= KV_MAX_VALUE_BYTES) n += 1024;
    while (kvValueSize(stored(draft(n))) > KV_MAX_VALUE_BYTES) n--;

    const size = kvValueSize(stored(draft(n + 1)));
    await assert.rejects(() => appendMessage(kv, draft(n + 1), { id: "id1", now: NOW }), {
      code: "PAYLOAD_TOO_LARGE",
      retryable: false,
      message: `Message too large to store: ${size} bytes, the limit is 65536 bytes`,
    });
    assert.equal(await getHead(kv, ROOM), null, "a refused message takes no seq");

    const { message } = await appendMessage(kv, draft(n), { id: "id1", now: NOW });
    assert.equal(message.seq, 1);
    assert.equal((await getMessage(kv, ROOM, 1))?.message.length, n + 1);
  });
});

Deno.test("appendMessage: a refused message with a clientMessageId leaves no index entry", async () => {
  await withKv(async (kv) => {
    const big = draft(40_000, { clientMessageId: "c-big" });
    await assert.rejects(() => appendMessage(kv, big, { id: "id1", now: NOW }), {
      code: "PAYLOAD_TOO_LARGE",
    });
    const key = ["messages_by_client_id", ROOM, "patient-1", "c-big"];
    assert.equal((await kv.get(key)).versionstamp, null);
    // The client shortens it and resends with the same id: stored as new.
    const small = draft(10, { clientMessageId: "c-big" });
    const { created, message } = await appendMessage(kv, small, { id: "id2", now: NOW });
    assert.deepEqual([created, message.seq], [true, 1]);
  });
});

/** A KV that records the options of every atomic set; everything else is the real KV. */
function recordingKv(kv: Deno.Kv, sets: { key: Deno.KvKey; options?: unknown }[]): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop !== "atomic") {
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const op = target.atomic();
        const set = op.set.bind(op);
        op.set = (key, value, options) => {
          sets.push({ key, options });
          return set(key, value, options);
        };
        return op;
      };
    },
  });
}

Deno.test("appendMessage: the clientMessageId index entry expires after 7 days", async () => {
  await withKv(async (kv) => {
    assert.equal(CLIENT_MESSAGE_ID_TTL_MS, 7 * 24 * 60 * 60 * 1000);
    const sets: { key: Deno.KvKey; options?: unknown }[] = [];
    await appendMessage(recordingKv(kv, sets), draft(1, { clientMessageId: "c-1" }), {
      id: "id1",
      now: NOW,
    });
    const index = sets.find((s) => s.key[0] === "messages_by_client_id");
    assert.deepEqual(index, {
      key: ["messages_by_client_id", ROOM, "patient-1", "c-1"],
      options: { expireIn: CLIENT_MESSAGE_ID_TTL_MS },
    });
    const others = sets.filter((s) => s !== index);
    assert.ok(others.every((s) => s.options === undefined), "messages and heads never expire");
  });
});

Deno.test("appendMessage: an index entry naming some other message is replaced, never returned", async () => {
  await withKv(async (kv) => {
    await appendMessage(kv, draft(1, { clientMessageId: "other" }), { id: "id1", now: NOW });
    // A stale entry (say, from a restored backup) that points at message 1 under another id.
    await kv.set(["messages_by_client_id", ROOM, "patient-1", "c-1"], 1);
    const { created, message } = await appendMessage(
      kv,
      draft(2, { clientMessageId: "c-1" }),
      { id: "id2", now: NOW },
    );
    assert.deepEqual([created, message.seq, message.clientMessageId], [true, 2, "c-1"]);
    assert.equal((await kv.get(["messages_by_client_id", ROOM, "patient-1", "c-1"])).value, 2);
    const again = await appendMessage(kv, draft(2, { clientMessageId: "c-1" }), {
      id: "id3",
      now: NOW,
    });
    assert.deepEqual([again.created, again.message.id], [false, "id2"]);
  });
});
