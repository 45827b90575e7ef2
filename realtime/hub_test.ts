import assert from "node:assert/strict";
import type { Role } from "../store/users.ts";
import {
  CLOSE_SLOW_CONSUMER,
  Connection,
  type Delivery,
  HARD_BUFFER_LIMIT,
  Hub,
  SOFT_BUFFER_LIMIT,
} from "./hub.ts";
import { AppMetrics } from "./metrics.ts";
import type { Codec } from "./protocol/codec.ts";
import { nativeCodec } from "./protocol/native.ts";
import { webSocketTransport } from "./transport.ts";

/** Just what the hub touches on a WebSocket. */
class FakeSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  sent: string[] = [];
  closed: { code?: number; reason?: string } | null = null;
  throwOnClose = false;

  send(frame: string): void {
    if (this.readyState !== WebSocket.OPEN) throw new Error("send on a socket that is not open");
    this.sent.push(frame);
  }

  close(code?: number, reason?: string): void {
    if (this.throwOnClose) throw new Error("already closing");
    this.closed = { code, reason };
    this.readyState = WebSocket.CLOSING;
  }
}

function connect(hub: Hub, id: string, userId: string, role: Role = "patient") {
  const socket = new FakeSocket();
  const conn = new Connection(id, userId, role, webSocketTransport(socket as unknown as WebSocket));
  hub.add(conn);
  return { conn, socket };
}

let nextId = 0;
function delivery(to: Delivery["to"], extra: Partial<Delivery> = {}): Delivery {
  return { id: `d${++nextId}`, event: "message:new", data: { n: nextId }, to, ...extra };
}

/** Four sockets: two for patient-1 (s1 in visit:v1, s2 not), doctor-1 (s3 in visit:v1), patient-2. */
function setup() {
  const hub = new Hub();
  const s1 = connect(hub, "s1", "patient-1");
  const s2 = connect(hub, "s2", "patient-1");
  const s3 = connect(hub, "s3", "doctor-1", "doctor");
  const s4 = connect(hub, "s4", "patient-2");
  hub.join(s1.conn, "visit:v1");
  hub.join(s3.conn, "visit:v1");
  return { hub, s1, s2, s3, s4 };
}

const counts = (...sockets: { socket: FakeSocket }[]) => sockets.map((s) => s.socket.sent.length);

Deno.test("Hub: delivers to a user's every socket, encoded as an event frame", () => {
  const { hub, s1, s2, s3, s4 } = setup();
  const d = delivery({ users: ["patient-1"] });
  assert.equal(hub.deliver(d), 2);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 1, 0, 0]);
  assert.deepEqual(JSON.parse(s1.socket.sent[0]), { event: "message:new", data: d.data });
  assert.equal(s2.socket.sent[0], s1.socket.sent[0]);
});

Deno.test("Hub: delivers to a room's subscribed sockets and to named sockets", () => {
  const { hub, s1, s2, s3, s4 } = setup();
  assert.equal(hub.deliver(delivery({ rooms: ["visit:v1"] })), 2);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 0, 1, 0]);
  assert.equal(hub.deliver(delivery({ sockets: ["s4", "no-such-socket"] })), 1);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 0, 1, 1]);
  assert.equal(hub.deliver(delivery({ rooms: ["visit:other"], users: ["nobody"] })), 0);
  assert.equal(hub.deliver(delivery({})), 0);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 0, 1, 1]);
});

Deno.test("Hub: a socket matching several targets gets the event once", () => {
  const { hub, s1, s2, s3, s4 } = setup();
  const sent = hub.deliver(delivery({
    sockets: ["s1", "s3"],
    users: ["patient-1", "doctor-1", "patient-1"],
    rooms: ["visit:v1", "visit:v1"],
  }));
  assert.equal(sent, 3);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 1, 1, 0]);
  assert.equal(hub.deliver(delivery({ all: true, users: ["patient-1"], rooms: ["visit:v1"] })), 4);
  assert.deepEqual(counts(s1, s2, s3, s4), [2, 2, 2, 1]);
});

Deno.test("Hub: exceptSocket skips one socket, exceptUser all of a user's sockets", () => {
  const { hub, s1, s2, s3, s4 } = setup();
  assert.equal(hub.deliver(delivery({ rooms: ["visit:v1"] }, { exceptSocket: "s1" })), 1);
  assert.deepEqual(counts(s1, s2, s3, s4), [0, 0, 1, 0]);
  assert.equal(hub.deliver(delivery({ all: true }, { exceptUser: "patient-1" })), 2);
  assert.deepEqual(counts(s1, s2, s3, s4), [0, 0, 2, 1]);
  assert.equal(
    hub.deliver(delivery({ users: ["patient-1"] }, { exceptSocket: "s2", exceptUser: "doctor-1" })),
    1,
  );
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 0, 2, 1]);
});

Deno.test("Hub: leave and remove stop deliveries and keep the counts right", () => {
  const { hub, s1, s2, s3, s4 } = setup();
  assert.equal(hub.size, 4);
  assert.equal(hub.userConnectionCount("patient-1"), 2);
  hub.leave(s3.conn, "visit:v1");
  assert.equal(s3.conn.rooms.has("visit:v1"), false);
  assert.equal(hub.deliver(delivery({ rooms: ["visit:v1"] })), 1);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 0, 0, 0]);

  hub.remove(s1.conn);
  assert.equal(hub.size, 3);
  assert.equal(hub.userConnectionCount("patient-1"), 1);
  assert.equal(hub.deliver(delivery({ rooms: ["visit:v1"], sockets: ["s1"] })), 0);
  assert.equal(hub.deliver(delivery({ users: ["patient-1"] })), 1);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 1, 0, 0]);

  hub.remove(s2.conn);
  assert.equal(hub.userConnectionCount("patient-1"), 0);
  assert.equal(hub.userConnectionCount("nobody"), 0);
});

Deno.test("Hub: closed sockets are skipped and not counted", () => {
  const { hub, s1, s2 } = setup();
  s1.socket.readyState = WebSocket.CLOSED;
  assert.equal(hub.deliver(delivery({ users: ["patient-1"] })), 1);
  assert.deepEqual(counts(s1, s2), [0, 1]);
});

Deno.test("Hub: slow consumers lose ephemeral events, then get closed", () => {
  const { hub, s1, s2 } = setup();
  s1.socket.bufferedAmount = SOFT_BUFFER_LIMIT + 1;
  assert.equal(hub.deliver(delivery({ users: ["patient-1"] }, { ephemeral: true })), 1);
  assert.deepEqual(counts(s1, s2), [0, 1]);
  assert.equal(hub.deliver(delivery({ users: ["patient-1"] })), 2);
  assert.deepEqual(counts(s1, s2), [1, 2]);
  assert.equal(s1.socket.closed, null);

  s1.socket.bufferedAmount = HARD_BUFFER_LIMIT + 1;
  assert.equal(hub.deliver(delivery({ users: ["patient-1"] })), 1);
  assert.deepEqual(counts(s1, s2), [1, 3]);
  assert.deepEqual(s1.socket.closed, { code: CLOSE_SLOW_CONSUMER, reason: "Slow consumer" });
  assert.equal(CLOSE_SLOW_CONSUMER, 4002);
});

Deno.test("Hub: closeAll closes every socket, even if one throws", () => {
  const { hub, s1, s2, s3, s4 } = setup();
  s2.socket.throwOnClose = true;
  hub.closeAll(1001, "Server shutting down");
  for (const s of [s1, s3, s4]) {
    assert.deepEqual(s.socket.closed, { code: 1001, reason: "Server shutting down" });
  }
  assert.equal(s2.socket.closed, null);
});

Deno.test("Hub: patientsExcept keeps an event about a patient from every other patient", () => {
  const { hub, s1, s2, s3, s4 } = setup();
  hub.join(s4.conn, "topic:general");
  hub.join(s1.conn, "topic:general");
  hub.join(s3.conn, "topic:general");
  const sent = hub.deliver(delivery({ rooms: ["topic:general"], users: ["patient-1"] }, {
    patientsExcept: "patient-1",
  }));
  // patient-1's own sockets and the doctor get it; patient-2 never does.
  assert.equal(sent, 3);
  assert.deepEqual(counts(s1, s2, s3, s4), [1, 1, 1, 0]);
});

Deno.test("Hub: closeToken closes only the user's sockets holding that token", () => {
  const { hub, s1, s2, s3 } = setup();
  s1.conn.tokenId = "jti-a";
  s2.conn.tokenId = "jti-b";
  s3.conn.tokenId = "jti-a"; // another user's socket with the same id must not be touched
  assert.equal(hub.closeToken("patient-1", "jti-a", 4401, "Token revoked"), 1);
  assert.deepEqual(s1.socket.closed, { code: 4401, reason: "Token revoked" });
  assert.equal(s2.socket.closed, null);
  assert.equal(s3.socket.closed, null);
  assert.equal(hub.closeToken("patient-1", "jti-unknown", 4401, "Token revoked"), 0);
});

Deno.test("hub: a delivery is encoded once per codec in use, not once per socket", () => {
  const hub = new Hub();
  let encodes = 0;
  const other: Codec = {
    ...nativeCodec,
    name: "test",
    event: (event, data) => {
      encodes++;
      return `T|${event}|${JSON.stringify(data)}`;
    },
  };
  const native = [connect(hub, "a", "u1"), connect(hub, "b", "u2")];
  const tested = ["c", "d", "e"].map((id) => {
    const socket = new FakeSocket();
    const conn = new Connection(
      id,
      `u-${id}`,
      "doctor",
      webSocketTransport(socket as unknown as WebSocket),
      other,
    );
    hub.add(conn);
    return { conn, socket };
  });
  for (const { conn } of [...native, ...tested]) hub.join(conn, "visit:v1");
  assert.equal(hub.deliver(delivery({ rooms: ["visit:v1"] }, { event: "message:new" })), 5);
  assert.equal(encodes, 1);
  assert.equal(native[0].socket.sent[0], native[1].socket.sent[0]);
  assert.match(native[0].socket.sent[0], /^\{"event":"message:new"/);
  for (const { socket } of tested) assert.match(socket.sent[0], /^T\|message:new\|/);
});

Deno.test("hub: deliveries and slow-consumer closes are counted in its metrics", () => {
  const metrics = new AppMetrics();
  const hub = new Hub(metrics);
  const fast = connect(hub, "a", "u1");
  const slow = connect(hub, "b", "u2");
  for (const { conn } of [fast, slow]) hub.join(conn, "visit:v1");
  assert.equal(hub.deliver(delivery({ rooms: ["visit:v1"] })), 2);
  slow.socket.bufferedAmount = HARD_BUFFER_LIMIT + 1;
  assert.equal(hub.deliver(delivery({ rooms: ["visit:v1"] })), 1);
  // Also when the write that finds it far behind is an ack, not a delivery.
  const acked = connect(hub, "c", "u3");
  acked.socket.bufferedAmount = HARD_BUFFER_LIMIT + 1;
  assert.equal(acked.conn.write("ack"), false);
  const text = metrics.expose();
  assert.match(text, /\ntelehealth_deliveries_total 3\n/);
  assert.match(text, /\ntelehealth_slow_consumer_closes_total 2\n/);
});
