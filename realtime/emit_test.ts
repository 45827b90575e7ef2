import assert from "node:assert/strict";
import { LocalBus } from "./bus.ts";
import { createEmitter } from "./emit.ts";
import type { Delivery } from "./hub.ts";

function setup() {
  const published: Delivery[] = [];
  let n = 0;
  const emitter = createEmitter(new LocalBus((d) => published.push(d)), () => `id${++n}`);
  return { emitter, published };
}

Deno.test("createEmitter: each call is one delivery with a fresh id", () => {
  const { emitter, published } = setup();
  emitter.emitAny({ users: ["patient-1"] }, "notification:new", { a: 1 });
  emitter.emitAny({ rooms: ["visit:v1"] }, "typing:start", { userId: "doctor-1" }, {
    exceptUser: "doctor-1",
    ephemeral: true,
  });
  emitter.broadcast("system:notice", { text: "maintenance" });
  emitter.emitAny({ users: ["a"], rooms: ["visit:v1"] }, "message:new", 1, { exceptSocket: "s1" });
  assert.deepEqual(published, [
    { id: "id1", event: "notification:new", data: { a: 1 }, to: { users: ["patient-1"] } },
    {
      id: "id2",
      event: "typing:start",
      data: { userId: "doctor-1" },
      to: { rooms: ["visit:v1"] },
      exceptUser: "doctor-1",
      ephemeral: true,
    },
    { id: "id3", event: "system:notice", data: { text: "maintenance" }, to: { all: true } },
    {
      id: "id4",
      event: "message:new",
      data: 1,
      to: { users: ["a"], rooms: ["visit:v1"] },
      exceptSocket: "s1",
    },
  ]);
});

Deno.test("createEmitter: the protocol's events are typed by their payload schema", () => {
  const { emitter, published } = setup();
  emitter.emitToUser("patient-1", "call:accepted", { callId: "call_1" });
  emitter.emitToRoom("presence:doctor-1", "presence:changed", {
    userId: "doctor-1",
    status: "busy",
  });
  // @ts-expect-error: call:ended needs duration and reason
  emitter.emitToUser("patient-1", "call:ended", { callId: "call_1" });
  // @ts-expect-error: not an event of the protocol (those go through emitAny)
  emitter.emit({ all: true }, "appointment:reminder", {});
  assert.deepEqual(published.map((d) => [d.event, d.to]), [
    ["call:accepted", { users: ["patient-1"] }],
    ["presence:changed", { rooms: ["presence:doctor-1"] }],
    ["call:ended", { users: ["patient-1"] }],
    ["appointment:reminder", { all: true }],
  ]);
});
