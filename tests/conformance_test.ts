/**
 * One set of scenarios (chat, presence, notifications, calls, refusals) run
 * over the native protocol (/ws), over socket.io (/socket.io/ with the real
 * socket.io-client) and mixed (the patient on socket.io, the doctor on /ws).
 * Each run records a transcript of every reply and event, with ids and times
 * normalized; the transcripts must be equal: no handler knows which codec a
 * socket uses.
 */

import assert from "node:assert/strict";
import { startServer, type TestServer, type WsClient } from "./harness.ts";
import { type RealtimeClient, SioClient } from "./sio_client.ts";
import { checkServerEvent, isServerEventName } from "../realtime/protocol/server_events.ts";

type Connect = (email: string) => Promise<RealtimeClient>;
type Scenario = (srv: TestServer, connect: Connect) => Promise<unknown[]>;

function native(ws: WsClient): RealtimeClient {
  return {
    protocol: "native",
    event: (name, ms) => ws.event(name, ms),
    request: (event, data, ms) => ws.request(event, data, ms),
    emit: (event, data) => ws.emit(event, data),
    pending: (name) => ws.pending(name),
    sync: () => ws.sync(),
    close: () => ws.close(),
  };
}

/** Every event a scenario awaits must match its payload schema in the protocol vocabulary. */
function validated(client: RealtimeClient): RealtimeClient {
  return {
    ...client,
    protocol: client.protocol,
    async event(name, ms) {
      const data = await client.event(name, ms);
      if (isServerEventName(name)) {
        const check = checkServerEvent(name, data);
        assert.ok(check.ok, `${name} over ${client.protocol}: ${JSON.stringify(check)}`);
      }
      return data;
    },
    request: (event, data, ms) => client.request(event, data, ms),
    emit: (event, data) => client.emit(event, data),
    pending: (name) => client.pending(name),
    sync: () => client.sync(),
    close: () => client.close(),
  };
}

const TIME_KEYS = new Set([
  "timestamp",
  "createdAt",
  "lastSeen",
  "expiresAt",
  "readAt",
  "startedAt",
  "at",
]);

/** Ids and times vary per run: replaced by what they are. */
function normalize(v: unknown, key = ""): unknown {
  if (Array.isArray(v)) return v.map((x) => normalize(x));
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, normalize(x, k)]),
    );
  }
  if (typeof v === "string") {
    if (TIME_KEYS.has(key) && !Number.isNaN(Date.parse(v))) return "<time>";
    if (key === "socketId") return "<socket>";
    return v.replace(/\b(msg|ntf|call)_[0-9A-Z]{26}\b/g, "$1_<id>").replace(
      /\b[0-9A-Z]{26}\b/g,
      "<ulid>",
    );
  }
  if (typeof v === "number" && key === "duration") return "<duration>";
  if (typeof v === "number" && TIME_KEYS.has(key)) return "<time>";
  return v;
}

const chat: Scenario = async (_srv, connect) => {
  const t: unknown[] = [];
  const patient = await connect("patient@example.com");
  const doctor = await connect("doctor@example.com");
  t.push(await patient.request("room:join", { roomId: "visit:visit-123", roomType: "visit" }));
  t.push(await doctor.request("room:join", { roomId: "visit:visit-123" }));
  t.push(await patient.event("room:userJoined"));
  t.push(await patient.request("message:send", { visitId: "visit-123", message: "Hello" }));
  t.push(await doctor.event("message:new"));
  t.push(await patient.event("message:sent").catch(() => "no message:sent"));
  doctor.emit("typing:start", { roomId: "visit:visit-123" });
  t.push(await patient.event("typing:start"));
  t.push(await doctor.request("message:read", { roomId: "visit:visit-123", seq: 1 }));
  t.push(await patient.event("message:status"));
  t.push(await doctor.request("message:history", { visitId: "visit-123" }));
  t.push(await patient.request("room:join", { roomId: "visit:visit-123", since: 0 }));
  t.push(await patient.request("room:leave", { roomId: "visit:visit-123" }));
  t.push(await doctor.event("room:userLeft"));
  return t;
};

const presence: Scenario = async (_srv, connect) => {
  const t: unknown[] = [];
  const doctor = await connect("doctor@example.com");
  t.push(await doctor.request("presence:subscribe", { userIds: ["patient-1"] }));
  const patient = await connect("patient@example.com");
  t.push(await doctor.event("presence:changed"));
  patient.emit("presence:setStatus", { status: "busy", customStatus: "In a meeting" });
  t.push(await doctor.event("presence:changed"));
  t.push(await doctor.request("presence:get", { userIds: ["patient-1", "doctor-1"] }));
  t.push(await patient.request("presence:get", { userIds: ["patient-2"] }));
  await patient.close();
  t.push(await doctor.event("presence:changed"));
  return t;
};

const notifications: Scenario = async (srv, connect) => {
  const t: unknown[] = [];
  const token = await srv.login(await srv.addUser("service-1", "service"));
  const phone = await connect("patient@example.com");
  const laptop = await connect("patient@example.com");
  const res = await fetch(`${srv.url}/api/v1/notifications`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ userId: "patient-1", title: "New Message", message: "You have one" }),
  });
  const { notification } = await res.json();
  t.push(await phone.event("notification:new"), await laptop.event("notification:new"));
  t.push(await phone.request("notification:getUnreadCount"));
  t.push(await phone.request("notification:read", { notificationId: notification.id }));
  t.push(await laptop.event("notification:read"));
  t.push(await laptop.request("notification:read", { notificationId: "ntf_nope" }));
  return t;
};

const calls: Scenario = async (_srv, connect) => {
  const t: unknown[] = [];
  const doctor = await connect("doctor@example.com");
  const patient = await connect("patient@example.com");
  const ring = await doctor.request("call:initiate", {
    recipientId: "patient-1",
    callType: "video",
    visitId: "visit-123",
  });
  t.push(ring, await patient.event("call:incoming"));
  const callId = ring.callId;
  t.push(await patient.request("call:accept", { callId }));
  t.push(await doctor.event("call:accepted"), await patient.event("call:accepted"));
  const offer = { type: "offer", sdp: "v=0\r\n" };
  doctor.emit("call:signal", { callId, type: "offer", payload: offer });
  t.push(await patient.event("call:signal"));
  t.push(await patient.request("call:end", { callId }));
  t.push(await doctor.event("call:ended"));
  t.push(await doctor.request("call:accept", { callId }));
  return t;
};

const refusals: Scenario = async (_srv, connect) => {
  const t: unknown[] = [];
  const patient = await connect("patient@example.com");
  t.push(await patient.request("message:send", { visitId: "visit-123" }));
  t.push(await patient.request("room:join", { roomId: "visit:someone-elses" }));
  t.push(await patient.request("room:join", { roomId: "chat:patient-1:patient-2" }));
  t.push(await patient.request("no:suchEvent", {}));
  t.push(await patient.request("call:initiate", { recipientId: "patient-2", callType: "video" }));
  patient.emit("typing:start", { roomId: "visit:visit-123" });
  t.push(await patient.event("error"));
  return t;
};

const SCENARIOS: Record<string, Scenario> = { chat, presence, notifications, calls, refusals };

type Mode = "native" | "socketio" | "mixed";

async function run(scenario: Scenario, mode: Mode): Promise<unknown[]> {
  const srv = await startServer({ env: { MESSAGE_BURST: "100" } });
  const opened: RealtimeClient[] = [];
  try {
    const connect: Connect = async (email) => {
      const sio = mode === "socketio" || (mode === "mixed" && email.startsWith("patient"));
      const client = sio
        ? await SioClient.connect(srv.url, await srv.login(email), ["websocket"])
        : native(await srv.connect(email));
      opened.push(client);
      return validated(client);
    };
    return normalize(await scenario(srv, connect)) as unknown[];
  } finally {
    await Promise.all(opened.filter((c) => c.protocol === "socketio").map((c) => c.close()));
    await srv.close();
  }
}

for (const [name, scenario] of Object.entries(SCENARIOS)) {
  Deno.test({
    name: `conformance: ${name} gives the same replies and events over /ws, /socket.io/ and mixed`,
    // socket.io-client's own timers and agent sockets outlive close (see socketio_seed_test.ts).
    sanitizeOps: false,
    sanitizeResources: false,
  }, async () => {
    const expected = await run(scenario, "native");
    assert.ok(expected.length > 3);
    assert.deepEqual(await run(scenario, "socketio"), expected, "socket.io");
    assert.deepEqual(await run(scenario, "mixed"), expected, "mixed");
  });
}
