import assert from "node:assert/strict";
import { FakeClock, systemClock } from "../lib/clock.ts";
import { memoryLogger } from "../lib/log.ts";
import type { Delivery } from "./hub.ts";
import { KvBus } from "./kv_bus.ts";
import { AppMetrics } from "./metrics.ts";
import { readLog } from "../store/bus_log.ts";
import { waitFor } from "../tests/harness.ts";
import type { Message } from "../store/messages.ts";

/** A bus with a sink that lets a test await what it delivered. */
function node(
  kv: Deno.Kv,
  pid: string,
  clock = systemClock,
  localSockets?: (ids: string[]) => boolean,
) {
  const got: Delivery[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const bus = new KvBus((d) => {
    got.push(d);
    for (const w of waiters.filter((w) => got.length >= w.n)) w.resolve();
  }, { kv, pid, log: memoryLogger(), clock, pollMs: 20, localSockets });
  const until = (n: number, what: string) => {
    if (got.length >= n) return Promise.resolve();
    let timer: ReturnType<typeof setTimeout>;
    return Promise.race([
      new Promise<void>((resolve) => waiters.push({ n, resolve })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out: ${what} (${got.length}/${n})`)),
          3000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  };
  return { bus, got, until };
}

function message(roomId: string, seq: number): Message {
  return {
    id: `msg_${seq}`,
    roomId,
    seq,
    senderId: "doctor-1",
    message: `m${seq}`,
    timestamp: new Date(0).toISOString(),
    status: "sent",
  };
}

const newMessage = (roomId: string, seq: number): Delivery => ({
  id: `m:${roomId}:${seq}`,
  event: "message:new",
  data: message(roomId, seq),
  to: { rooms: [roomId] },
});

Deno.test("KvBus: a delivery reaches the other process once, and is committed before settled()", async () => {
  const kv = await Deno.openKv(":memory:");
  const a = node(kv, "A");
  const b = node(kv, "B");
  try {
    await a.bus.start();
    await b.bus.start();
    // A learns of B through the version it polls.
    await waitFor(() => a.bus.peerCount === 1, "A follows B");
    const d: Delivery = {
      id: "d1",
      event: "call:accepted",
      data: { callId: "c" },
      to: { all: true },
    };
    a.bus.publish(d);
    assert.deepEqual(a.got, [d], "delivered locally at once");
    await a.bus.settled();
    const logged = await readLog(kv, "A", "o", 1, 1);
    assert.equal(logged.length, 1, "committed to A's log before settled() resolved");
    await b.until(1, "B hears A");
    assert.deepEqual(b.got, [d]);
    // Nothing comes back to A, and a second read of the same head delivers nothing new.
    a.bus.publish({ id: "d2", event: "call:rejected", data: { callId: "c" }, to: { all: true } });
    await b.until(2, "B hears the second");
    assert.deepEqual(b.got.map((x) => x.id), ["d1", "d2"]);
    assert.deepEqual(a.got.map((x) => x.id), ["d1", "d2"]);
  } finally {
    await a.bus.close();
    await b.bus.close();
    kv.close();
  }
});

Deno.test("KvBus: what only local sockets get, logged deliveries and lone ephemera are not logged; message:new gaps are filled from the store in seq order", async () => {
  const kv = await Deno.openKv(":memory:");
  const local = new Set(["s1"]);
  const a = node(kv, "A", systemClock, (ids) => ids.every((id) => local.has(id)));
  try {
    await a.bus.start();
    const room = "visit:v1";
    for (const seq of [1, 2, 3, 4]) await kv.set(["messages", room, seq], message(room, seq));
    a.bus.publish({ ...newMessage(room, 1), logged: true });
    a.bus.publish({ id: "x1", event: "message:sent", data: {}, to: { sockets: ["s1"] } });
    a.bus.publish({
      id: "x2",
      event: "typing:start",
      data: {},
      to: { rooms: [room] },
      ephemeral: true,
    });
    a.bus.publish({ id: "x3", event: "call:signal", data: {}, to: { sockets: ["s9"] } });
    await a.bus.settled();
    assert.deepEqual(
      (await readLog(kv, "A", "o", 1, 10)).map((e) => e.entry.d?.id),
      ["x3"],
      "only the signal for a socket elsewhere",
    );
    const messages = () => a.got.filter((d) => d.event === "message:new");
    // 4 arrives before 2 and 3 (another process's path was slower): 2 and 3 come from the store.
    a.bus.publish(newMessage(room, 4));
    await a.until(7, "gap filled");
    assert.deepEqual(messages().map((d) => (d.data as Message).seq), [1, 2, 3, 4]);
    assert.deepEqual(messages().map((d) => d.id), [1, 2, 3, 4].map((s) => `m:${room}:${s}`));
    // 3 arriving late, by any path, is not delivered again.
    a.bus.publish(newMessage(room, 3));
    a.bus.publish(newMessage(room, 5));
    await a.until(8, "next in order");
    assert.deepEqual(messages().map((d) => (d.data as Message).seq), [1, 2, 3, 4, 5]);
  } finally {
    await a.bus.close();
    kv.close();
  }
});

Deno.test("KvBus: a stale ephemeral delivery is dropped by the reader", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const a = node(kv, "A", clock);
  const b = node(kv, "B", clock);
  try {
    await b.bus.start();
    await a.bus.start();
    assert.equal(a.bus.peerCount, 1, "A saw B when it started");
    const typing = (id: string): Delivery => ({
      id,
      event: "typing:start",
      data: { roomId: "visit:v1", userId: "u", role: "doctor" },
      to: { rooms: ["visit:v1"] },
      ephemeral: true,
    });
    a.bus.publish(typing("t1"));
    await a.bus.settled();
    clock.advance(5000);
    a.bus.publish({ id: "d1", event: "call:accepted", data: { callId: "c" }, to: { all: true } });
    await b.until(1, "B hears the durable one");
    assert.deepEqual(b.got.map((d) => d.id), ["d1"], "the typing was 5 s old when read");
  } finally {
    await a.bus.close();
    await b.bus.close();
    kv.close();
  }
});

Deno.test("KvBus: log commits and the cross-process lag (emit to delivery) are measured", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const [ma, mb] = [new AppMetrics(), new AppMetrics()];
  const got: Delivery[] = [];
  const opts = { kv, log: memoryLogger(), clock, pollMs: 20 };
  const a = new KvBus(() => {}, { ...opts, pid: "A", metrics: ma });
  const b = new KvBus((d) => got.push(d), { ...opts, pid: "B", metrics: mb });
  try {
    await b.start();
    await a.start();
    a.publish({ id: "d1", event: "call:accepted", data: { callId: "c" }, to: { all: true } });
    // Read by B only after the commit: by then 300 ms have passed on the clock.
    clock.advance(300);
    await waitFor(() => got.length === 1, "B hears A");
    const text = mb.expose();
    assert.match(text, /\ntelehealth_bus_lag_seconds_count 1\n/);
    assert.match(text, /\ntelehealth_bus_lag_seconds_sum 0\.3\n/);
    assert.match(text, /\ntelehealth_bus_lag_seconds_bucket\{le="0\.256"\} 0\n/);
    assert.match(text, /\ntelehealth_bus_lag_seconds_bucket\{le="0\.512"\} 1\n/);
    await a.settled();
    assert.match(ma.expose(), /\ntelehealth_kv_commit_bus_batch_size_sum 1\n/);
    assert.match(ma.expose(), /\ntelehealth_kv_commit_bus_seconds_count 1\n/);
  } finally {
    await a.close();
    await b.close();
    kv.close();
  }
});
