import assert from "node:assert/strict";
import { type Release, Semaphore } from "./semaphore.ts";

Deno.test("semaphore: permits are granted at once up to the limit", async () => {
  const s = new Semaphore(2, 1);
  const a = await s.acquire();
  const b = await s.acquire();
  assert.ok(a && b);
  assert.equal(s.active, 2);
  assert.equal(s.waiting, 0);
});

Deno.test("semaphore: beyond the limit callers wait in order, and beyond the queue they are refused", async () => {
  const s = new Semaphore(1, 2);
  const first = await s.acquire()!;
  const order: string[] = [];
  const w1 = s.acquire()!.then((r) => (order.push("w1"), r));
  const w2 = s.acquire()!.then((r) => (order.push("w2"), r));
  assert.equal(s.waiting, 2);
  assert.equal(s.acquire(), null, "queue full: refused without waiting");

  first();
  const r1 = await w1;
  assert.deepEqual(order, ["w1"]);
  assert.equal(s.active, 1, "the permit passed to the waiter");
  // A newcomer arriving now queues behind w2 rather than taking a free slot.
  const late = s.acquire();
  assert.ok(late);
  r1();
  const r2 = await w2;
  assert.deepEqual(order, ["w1", "w2"]);
  r2();
  (await late)();
  assert.equal(s.active, 0);
  assert.equal(s.waiting, 0);
});

Deno.test("semaphore: releasing twice gives back one permit", async () => {
  const s = new Semaphore(1, 0);
  const r: Release = await s.acquire()!;
  r();
  r();
  assert.equal(s.active, 0);
  const again = await s.acquire()!;
  assert.equal(s.acquire(), null, "still only one permit");
  again();
});

Deno.test("semaphore: a permit is released when the work throws", async () => {
  const s = new Semaphore(1, 0);
  const run = async () => {
    const release = await s.acquire()!;
    try {
      throw new Error("boom");
    } finally {
      release();
    }
  };
  await assert.rejects(run, /boom/);
  assert.equal(s.active, 0);
});

Deno.test("semaphore: at least one permit", () => {
  assert.throws(() => new Semaphore(0, 1), RangeError);
});

Deno.test("semaphore: priority callers wait in a lane of their own, served first", async () => {
  const s = new Semaphore(1, 2, 1);
  const held = (await s.acquire())!;
  const order: string[] = [];
  const track = (name: string, p: Promise<Release> | null) =>
    p!.then((release) => {
      order.push(name);
      release();
    });
  const a = track("a", s.acquire());
  const b = track("b", s.acquire());
  assert.equal(s.acquire(), null, "the ordinary lane is full");
  const owner = track("owner", s.acquire(true));
  assert.equal(s.acquire(true), null, "the priority lane is full too");
  assert.equal(s.waiting, 3);
  held();
  await Promise.all([a, b, owner]);
  assert.deepEqual(order, ["owner", "a", "b"]);
  assert.equal(s.active, 0);
});
