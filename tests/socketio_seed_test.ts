// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * The seed's snippets (../shared/seed/websocket-quick-reference.md) run nearly
 * verbatim with the real socket.io-client against /socket.io/, over
 * `['websocket', 'polling']` (the seed's connection code) and over
 * socket.io-client's default order (polling first, then the upgrade).
 * Only the ids are the demo data's (visit-123, patient-1, doctor-1).
 */

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import type { Socket } from "npm:socket.io-client@4.8.1";
import { io } from "npm:socket.io-client@4.8.1";
import { startServer, TEST_SECRET, type TestServer, within } from "./harness.ts";
import { SioClient, type Transports } from "./sio_client.ts";

/**
 * socket.io-client's Node polling transport (xmlhttprequest-ssl) reports an
 * aborted request on a timer of its own, and keeps its HTTP agent's sockets,
 * after the test closed everything: the sanitizers would blame the next test.
 * The server's own timers and sockets are checked with sanitizers on in
 * realtime/engine_io_test.ts and tests/socketio_test.ts.
 */
const CLIENT_TIMERS = { sanitizeOps: false, sanitizeResources: false };

const ORDERS: { name: string; transports: Transports }[] = [
  { name: "['websocket', 'polling']", transports: ["websocket", "polling"] },
  { name: "socket.io-client's default (polling, then upgrade)", transports: undefined },
];

/** Resolves with the first call of `socket.on(event)`. */
function once<T = Record<string, unknown>>(socket: Socket, event: string, ms = 3000): Promise<T> {
  return within(new Promise<T>((resolve) => socket.once(event, resolve)), ms, event);
}

/** The seed's connection code, io(url, { auth: { token }, transports }), one socket per test. */
function seedSocket(srv: TestServer, token: string, transports: Transports): Socket {
  return io(srv.url, {
    auth: { token },
    ...(transports ? { transports } : {}),
    forceNew: true,
    // No pooled keep-alive connections (Node's agent) shared between tests' servers.
    agent: false,
    reconnection: false,
  });
}

async function seedConnect(srv: TestServer, email: string, transports: Transports) {
  const socket = seedSocket(srv, await srv.login(email), transports);
  const data = await once<{ socketId: string; userId: string }>(socket, "connected", 5000);
  return { socket, data };
}

async function closeAll(...sockets: Socket[]) {
  await Promise.all(sockets.map((s) => {
    const engine = s.io.engine;
    const gone = engine.readyState === "closed"
      ? Promise.resolve()
      : new Promise<void>((r) => engine.once("close", () => r()));
    s.close();
    return within(gone, 5000, "close");
  }));
}

for (const { name, transports } of ORDERS) {
  Deno.test({
    name:
      `seed snippets over ${name}: connection, message, room, call, presence, notifications, typing`,
    ...CLIENT_TIMERS,
  }, async () => {
    const srv = await startServer({
      env: { SOCKETIO_PING_INTERVAL_MS: "2000", SOCKETIO_PING_TIMEOUT_MS: "2000" },
    });
    const sockets: Socket[] = [];
    try {
      // 📡 Client Connection
      const { socket, data } = await seedConnect(srv, "patient@example.com", transports);
      sockets.push(socket);
      assert.equal(data.socketId, socket.id, "connected's socketId is socket.id");
      assert.equal(data.userId, "patient-1");
      assert.equal(socket.connected, true);
      const { socket: doctor } = await seedConnect(srv, "doctor@example.com", transports);
      sockets.push(doctor);

      // 🚪 Join Room (the doctor joins the visit room to hear the patient's messages)
      const joinedVisit = await doctor.emitWithAck("room:join", {
        roomId: "visit:visit-123",
        roomType: "visit",
      });
      assert.equal(joinedVisit.success, true);
      const joined = await new Promise<Record<string, unknown>>((resolve) => {
        socket.emit("room:join", {
          roomId: "chat:doctor-1:patient-1",
          roomType: "chat",
          metadata: { visitId: "visit-123" },
        }, (response: Record<string, unknown>) => resolve(response));
      });
      assert.equal(joined.roomId, "chat:doctor-1:patient-1");
      assert.ok(Array.isArray(joined.participants));

      // 💬 Send Message
      const newMessage = once<{ id: string; message: string; status: string }>(
        doctor,
        "message:new",
      );
      const sent = await new Promise<{ success: boolean; message: { id: string } }>((resolve) => {
        socket.emit("message:send", {
          visitId: "visit-123",
          message: "Hello, doctor!",
        }, (response: { success: boolean; message: { id: string } }) => resolve(response));
      });
      assert.equal(sent.success, true);
      assert.match(sent.message.id, /^msg_/);
      const data2 = await newMessage;
      assert.equal(data2.id, sent.message.id);
      assert.equal(data2.message, "Hello, doctor!", "console.log('New message:', data.message)");
      assert.equal(data2.status, "sent");

      // 📞 Video Call: the patient calls the doctor, who accepts; the patient hangs up.
      const incoming = once<{ callId: string; callerId: string; callType: string }>(
        doctor,
        "call:incoming",
      );
      const initiated = await new Promise<{ callId: string }>((resolve) => {
        socket.emit("call:initiate", {
          recipientId: "doctor-1",
          callType: "video",
          visitId: "visit-123",
        }, (response: { callId: string }) => resolve(response));
      });
      const { callId, callerId, callType } = await incoming;
      assert.equal(callId, initiated.callId);
      assert.equal(callerId, "patient-1");
      assert.equal(callType, "video");
      const accepted = once<{ callId: string }>(socket, "call:accepted");
      const acceptReply = await new Promise<Record<string, unknown>>((resolve) => {
        doctor.emit(
          "call:accept",
          { callId },
          (response: Record<string, unknown>) => resolve(response),
        );
      });
      assert.equal(acceptReply.success, true);
      assert.deepEqual(await accepted, { callId });
      const ended = once<{ callId: string; duration: number }>(doctor, "call:ended");
      socket.emit("call:end", { callId });
      const end = await ended;
      assert.equal(end.callId, callId);
      assert.equal(typeof end.duration, "number");

      // 👤 Presence
      const presences = await new Promise<{ presences: { userId: string; status: string }[] }>(
        (resolve) => {
          socket.emit("presence:get", { userIds: ["doctor-1"] }, resolve);
        },
      );
      assert.deepEqual(
        presences.presences.map((p) => `${p.userId}: ${p.status}`),
        ["doctor-1: online"],
      );
      assert.equal(
        (await doctor.emitWithAck("presence:subscribe", { userIds: ["patient-1"] })).success,
        true,
      );
      const changed = once<{ userId: string; status: string }>(doctor, "presence:changed");
      socket.emit("presence:setStatus", { status: "busy", customStatus: "In a meeting" });
      const change = await changed;
      assert.equal(`${change.userId} is now ${change.status}`, "patient-1 is now busy");

      // 🔔 Notifications (sent by a service over the HTTP API, as the seed's emitToUser)
      const notified = once<{ id: string; title: string; message: string }>(
        socket,
        "notification:new",
      );
      const res = await fetch(`${srv.url}/api/v1/notifications`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${await srv.login(await srv.addUser("service-1", "service"))}`,
        },
        body: JSON.stringify({
          userId: "patient-1",
          title: "New Message",
          message: "You have a new message",
        }),
      });
      assert.equal(res.status, 201);
      await res.body?.cancel();
      const notification = await notified;
      assert.equal(
        `${notification.title} ${notification.message}`,
        "New Message You have a new message",
      );
      const before = await new Promise<{ unreadCount: number }>((resolve) => {
        socket.emit(
          "notification:getUnreadCount",
          (response: { unreadCount: number }) => resolve(response),
        );
      });
      assert.equal(before.unreadCount, 1);
      // No callback, as in the seed; frames of one socket are handled in order.
      socket.emit("notification:read", { notificationId: notification.id });
      const after = await new Promise<{ unreadCount: number }>((resolve) => {
        socket.emit(
          "notification:getUnreadCount",
          (response: { unreadCount: number }) => resolve(response),
        );
      });
      assert.equal(after.unreadCount, 0);

      // ⌨️ Typing Indicators
      assert.equal(
        (await doctor.emitWithAck("room:join", { roomId: "chat:doctor-1:patient-1" })).success,
        true,
      );
      const typing = once<{ userId: string }>(doctor, "typing:start");
      socket.emit("typing:start", { roomId: "chat:doctor-1:patient-1" });
      assert.equal(`${(await typing).userId} is typing...`, "patient-1 is typing...");
      const stopped = once<{ userId: string }>(doctor, "typing:stop");
      socket.emit("typing:stop", { roomId: "chat:doctor-1:patient-1" });
      assert.equal((await stopped).userId, "patient-1");

      // 🔥 Request-Response Pattern, and 🚨 event errors via callback
      const refused = await new Promise<Record<string, unknown>>((resolve) => {
        socket.emit("message:send", { visitId: "visit-123" }, resolve);
      });
      assert.equal(refused.success, false);
      assert.equal(refused.code, "INVALID_PAYLOAD");
      assert.equal(typeof refused.error, "string");

      // 🛠️ Utility Functions: on the transport the order promised (the default order upgrades).
      if (transports === undefined) {
        assert.equal(socket.io.engine.transport.name, "websocket", "upgraded to WebSocket");
      }
    } finally {
      await closeAll(...sockets);
      await srv.close();
    }
  });

  Deno.test({
    name: `seed error handling over ${name}: bad and expired tokens, the seed's messages`,
    ...CLIENT_TIMERS,
  }, async () => {
    const srv = await startServer();
    try {
      const messages: string[] = [];
      const key = new TextEncoder().encode(TEST_SECRET);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ role: "patient" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("patient-1")
        .setIssuer("telehealth-realtime")
        .setAudience("telehealth-realtime")
        .setIssuedAt(now - 120)
        .setExpirationTime(now - 60)
        .setJti(crypto.randomUUID())
        .sign(key);
      for (const token of ["your-jwt-token", expired]) {
        const socket = seedSocket(srv, token, transports);
        // What the client saw, should the wait below time out.
        const seen: string[] = [];
        socket.io.on("error", (e: Error) => seen.push(`manager error: ${e.message}`));
        socket.io.on(
          "open",
          () =>
            socket.io.engine.on(
              "packet",
              (p: { type: string; data?: unknown }) =>
                seen.push(`${p.type} ${String(p.data ?? "").slice(0, 80)}`),
            ),
        );
        // 🚨 Error Handling
        const error = await once<Error>(socket, "connect_error", 10_000).catch((err) => {
          throw new Error(`${err.message}; the client saw: ${JSON.stringify(seen)}`);
        });
        if (error.message === "Authentication error: Invalid token") {
          messages.push("invalid");
        } else if (error.message === "Authentication error: Token expired") {
          messages.push("expired");
        }
        assert.equal(socket.connected, false);
        await closeAll(socket);
      }
      assert.deepEqual(messages, ["invalid", "expired"]);
    } finally {
      await srv.close();
    }
  });
}

Deno.test({
  name: "socket.io reconnects after a server restart with its own backoff, then resumes with since",
  ...CLIENT_TIMERS,
}, async () => {
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite" });
  let srv = await startServer({ kvPath });
  const port = Number(new URL(srv.url).port);
  const token = await srv.login("patient@example.com");
  const client = SioClient.create(srv.url, {
    token,
    transports: ["websocket", "polling"],
    reconnection: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
  });
  try {
    await client.event("connected", 5000);
    assert.equal((await client.request("room:join", { roomId: "visit:visit-123" })).success, true);
    const first = await client.request("message:send", { visitId: "visit-123", message: "one" });
    const seq = (first.message as { seq: number }).seq;

    const down = new Promise<string>((r) => client.socket.once("disconnect", r));
    await srv.close();
    assert.equal(await within(down, 5000, "disconnect"), "transport close");

    srv = await startServer({ kvPath, port, seed: false });
    // While the patient is away, the doctor writes.
    const doctor = await srv.connect("doctor@example.com");
    assert.equal(
      (await doctor.request("message:send", { visitId: "visit-123", message: "two" }))
        .success,
      true,
    );

    await client.event("connected", 15_000);
    const resumed = await client.request("room:join", { roomId: "visit:visit-123", since: seq });
    assert.equal(resumed.success, true);
    assert.equal(resumed.recovered, true);
    assert.deepEqual((resumed.messages as { message: string }[]).map((m) => m.message), ["two"]);
  } finally {
    await client.close();
    await srv.close();
    await Deno.remove(kvPath).catch(() => {});
  }
});
