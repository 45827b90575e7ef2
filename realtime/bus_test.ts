import assert from "node:assert/strict";
import { ChannelBus, LocalBus, SeenIds } from "./bus.ts";
import type { Delivery } from "./hub.ts";

function delivery(id: string): Delivery {
  return { id, event: "message:new", data: { text: id, n: [1, 2] }, to: { rooms: ["visit:v1"] } };
}

/** A sink that records deliveries and lets a test await one by id (with a guard timeout). */
function recorder() {
  const got: Delivery[] = [];
  const waiting = new Map<string, () => void>();
  return {
    got,
    ids: () => got.map((d) => d.id),
    sink: (d: Delivery) => {
      got.push(d);
      waiting.get(d.id)?.();
    },
    async until(id: string): Promise<void> {
      if (got.some((d) => d.id === id)) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          new Promise<void>((resolve) => waiting.set(id, resolve)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`delivery ${id} never arrived`)), 5000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        waiting.delete(id);
      }
    },
  };
}

Deno.test("SeenIds: true only the first time an id is offered", () => {
  const seen = new SeenIds();
  assert.equal(seen.add("a"), true);
  assert.equal(seen.add("a"), false);
  assert.equal(seen.add("b"), true);
  assert.equal(seen.add("a"), false);
  assert.equal(seen.add("b"), false);
});

Deno.test("SeenIds: remembers only the last `capacity` ids, oldest forgotten first", () => {
  const seen = new SeenIds(2);
  assert.equal(seen.capacity, 2);
  seen.add("a");
  seen.add("b");
  seen.add("c"); // forgets "a"
  assert.equal(seen.add("c"), false);
  assert.equal(seen.add("b"), false);
  assert.equal(seen.add("a"), true); // forgets "b"
  assert.equal(seen.add("c"), false);
  assert.equal(seen.add("b"), true);
  assert.equal(new SeenIds().capacity, 10_000);
});

Deno.test("LocalBus: hands each delivery to the sink once, synchronously", () => {
  const r = recorder();
  const bus = new LocalBus(r.sink);
  bus.publish(delivery("d1"));
  bus.publish(delivery("d2"));
  assert.deepEqual(r.ids(), ["d1", "d2"]);
  bus.close();
});

Deno.test("ChannelBus: two buses on one channel deliver to each other exactly once", async () => {
  const name = `bus-test-${crypto.randomUUID()}`;
  const a = recorder();
  const b = recorder();
  const busA = new ChannelBus(a.sink, name);
  const busB = new ChannelBus(b.sink, name);
  try {
    busA.publish(delivery("d1"));
    assert.deepEqual(a.ids(), ["d1"]); // local delivery is immediate
    await b.until("d1");
    assert.deepEqual(b.got[0], delivery("d1"));
    assert.notEqual(b.got[0], a.got[0]); // a structured clone, not the same object

    busB.publish(delivery("d2"));
    await a.until("d2");
    // d1 was posted before d2, so an echo of d1 to its publisher would have arrived by now.
    assert.deepEqual(a.ids(), ["d1", "d2"]);
    assert.deepEqual(b.ids(), ["d1", "d2"]);
  } finally {
    busA.close();
    busB.close();
  }
});

Deno.test("ChannelBus: a delivery seen twice on the channel is delivered once", async () => {
  const name = `bus-test-${crypto.randomUUID()}`;
  const a = recorder();
  const b = recorder();
  const busA = new ChannelBus(a.sink, name);
  const busB = new ChannelBus(b.sink, name);
  // Another transport (or a duplicate post) carrying the same ids.
  const raw = new BroadcastChannel(name);
  try {
    busA.publish(delivery("d1"));
    await b.until("d1");
    raw.postMessage(delivery("d1")); // seen by both already
    raw.postMessage(delivery("d3"));
    raw.postMessage(delivery("d3"));
    raw.postMessage(delivery("end"));
    await a.until("end");
    await b.until("end");
    assert.deepEqual(a.ids(), ["d1", "d3", "end"]);
    assert.deepEqual(b.ids(), ["d1", "d3", "end"]);
  } finally {
    raw.close();
    busA.close();
    busB.close();
  }
});

Deno.test("ChannelBus: buses on different channel names do not hear each other", async () => {
  const a = recorder();
  const b = recorder();
  const busA = new ChannelBus(a.sink, `bus-test-${crypto.randomUUID()}`);
  const nameB = `bus-test-${crypto.randomUUID()}`;
  const busB = new ChannelBus(b.sink, nameB);
  const raw = new BroadcastChannel(nameB);
  try {
    busA.publish(delivery("only-a"));
    raw.postMessage(delivery("end"));
    await b.until("end");
    assert.deepEqual(b.ids(), ["end"]);
    assert.deepEqual(a.ids(), ["only-a"]);
  } finally {
    raw.close();
    busA.close();
    busB.close();
  }
});
