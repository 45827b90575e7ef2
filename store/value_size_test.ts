import assert from "node:assert/strict";
import { AppError } from "../lib/errors.ts";
import { assertStorable, isKvLimitError, KV_MAX_VALUE_BYTES, kvValueSize } from "./value_size.ts";
import { withKv } from "./testing.ts";

async function stores(kv: Deno.Kv, value: unknown): Promise<boolean> {
  try {
    await kv.set(["probe"], value);
    return true;
  } catch (err) {
    if (isKvLimitError(err)) return false;
    throw err;
  }
}

/** The largest n for which KV itself accepts `make(n)`, found by asking KV (the ground truth). */
async function kvBoundary(kv: Deno.Kv, make: (n: number) => unknown): Promise<number> {
  let lo = 0;
  let hi = KV_MAX_VALUE_BYTES;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (await stores(kv, make(mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

const message = (text: string) => (n: number) => ({
  id: "msg_01JQ0000000000000000000000",
  roomId: "visit:visit-123",
  seq: 1234,
  senderId: "patient-1",
  recipientId: undefined,
  message: text.repeat(n),
  attachments: [{ url: "https://files.test/é", name: "x-ray €", size: 2 ** 40 }],
  timestamp: "2026-01-01T00:00:00.000Z",
  status: "sent",
  metadata: { nested: { list: [0.5, -1, true, null, "ü"], deep: { at: new Date(0) } } },
});

const SHAPES: [string, (n: number) => unknown][] = [
  ["ASCII string", (n) => "a".repeat(n)],
  ["Latin-1 string", (n) => "é".repeat(n)],
  ["ASCII with one non-Latin-1 character", (n) => "€" + "a".repeat(n)],
  ["BMP string", (n) => "€".repeat(n)],
  ["emoji string", (n) => "😀".repeat(n)],
  ["message with ASCII text", message("a")],
  ["message with two-byte text", message("ж")],
  ["array of doubles", (n) => Array.from({ length: n }, (_, i) => i + 0.5)],
  ["object with many keys", (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [i, i]))],
];

Deno.test("kvValueSize agrees exactly with where Deno KV starts refusing a value", async () => {
  await withKv(async (kv) => {
    for (const [name, make] of SHAPES) {
      const n = await kvBoundary(kv, make);
      assert.ok(n > 0, `${name}: some size stores`);
      assert.ok(kvValueSize(make(n)) <= KV_MAX_VALUE_BYTES, `${name}: largest stored fits`);
      assert.ok(kvValueSize(make(n + 1)) > KV_MAX_VALUE_BYTES, `${name}: next size is over`);
      assert.doesNotThrow(() => assertStorable(make(n), name));
      assert.throws(() => assertStorable(make(n + 1), name), { code: "PAYLOAD_TOO_LARGE" });
    }
  });
});

Deno.test("assertStorable: a value of exactly the limit stores, one byte over is refused clearly", async () => {
  await withKv(async (kv) => {
    // A Latin-1 string serializes as 6 header bytes plus one byte per character.
    const atLimit = "é".repeat(KV_MAX_VALUE_BYTES - 6);
    const over = atLimit + "é";
    assert.equal(kvValueSize(atLimit), KV_MAX_VALUE_BYTES);
    assert.equal(kvValueSize(over), KV_MAX_VALUE_BYTES + 1);

    assertStorable(atLimit, "Note");
    assert.equal((await kv.atomic().set(["note"], atLimit).commit()).ok, true);

    assert.throws(() => assertStorable(over, "Note"), (err) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, "PAYLOAD_TOO_LARGE");
      assert.equal(err.retryable, false);
      assert.equal(err.message, "Note too large to store: 65537 bytes, the limit is 65536 bytes");
      return true;
    });
    await assert.rejects(() => kv.atomic().set(["note"], over).commit(), (err) => {
      assert.ok(err instanceof TypeError);
      assert.equal(err.message, "Value too large (max 65536 bytes)");
      return true;
    });
    assert.equal((await kv.get(["note"])).value, atLimit, "the refused commit changed nothing");
  });
});

Deno.test("kvValueSize: one non-Latin-1 character stores every character in two bytes", () => {
  const ascii = "a".repeat(10_000);
  const latin1 = "é".repeat(10_000); // 20,000 UTF-8 bytes, 10,000 stored
  const mixed = "€" + "a".repeat(9_999); // 10,002 UTF-8 bytes, 20,000 stored
  assert.ok(Math.abs(kvValueSize(ascii) - 10_000) < 8);
  assert.ok(Math.abs(kvValueSize(latin1) - 10_000) < 8);
  assert.ok(Math.abs(kvValueSize(mixed) - 20_000) < 8);
});

Deno.test("kvValueSize: bytes and Deno.KvU64 are counted the way KV stores them", async () => {
  await withKv(async (kv) => {
    const bytes = new Uint8Array(KV_MAX_VALUE_BYTES);
    assert.equal(kvValueSize(bytes), KV_MAX_VALUE_BYTES);
    assert.equal(await stores(kv, bytes), true);
    assert.equal(await stores(kv, new Uint8Array(KV_MAX_VALUE_BYTES + 1)), false);
    assert.equal(kvValueSize(new Deno.KvU64(5n)), 8);
  });
});

Deno.test("isKvLimitError: KV's own refusals only, never a transient failure", async () => {
  await withKv(async (kv) => {
    const caught = async (work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (err) {
        return err;
      }
      throw new Error("expected a rejection");
    };
    const refusals = [
      await caught(() => kv.set(["v"], "a".repeat(KV_MAX_VALUE_BYTES))),
      await caught(() => kv.set(["k".repeat(3000)], 1)),
      await caught(() => kv.get(["k".repeat(3000)])),
      await caught(() => kv.set(["f"], () => 1)),
      await caught(() => kv.enqueue("a".repeat(KV_MAX_VALUE_BYTES))),
      await caught(() => {
        const op = kv.atomic();
        for (let i = 0; i < 20; i++) op.set(["big", i], "a".repeat(60_000));
        return op.commit();
      }),
    ];
    for (const err of refusals) assert.equal(isKvLimitError(err), true, String(err));
  });
  for (
    const err of [
      new Error("database is locked"),
      new TypeError("Cannot read properties of undefined (reading 'seq')"),
      new AppError("PAYLOAD_TOO_LARGE", "Message too large to store"),
      "Value too large (max 65536 bytes)",
    ]
  ) {
    assert.equal(isKvLimitError(err), false, String(err));
  }
});
