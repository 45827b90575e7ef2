/**
 * static/client.js under Deno (it needs only WebSocket): it confirms what it
 * receives with `message:delivered`, once per burst, and exposes edit and
 * delete.
 */

import assert from "node:assert/strict";
import { connect } from "../static/client.js";
import { ALLOWED_ORIGIN, startServer, within } from "./harness.ts";

const ROOM = "visit:visit-123";

Deno.test("client.js confirms received messages once per burst, and edits and deletes", async () => {
  const srv = await startServer();
  const client = connect(srv.wsUrl, { token: await srv.login("doctor@example.com") });
  try {
    await within(
      new Promise<void>((r) => client.on("status", (s: string) => s === "open" && r())),
      5000,
      "open",
    );
    assert.equal((await client.request("room:join", { roomId: ROOM })).success, true);
    const patient = await srv.connect("patient@example.com");
    await patient.request("room:join", { roomId: ROOM });
    const seqs = [];
    for (const text of ["a", "b", "c"]) {
      const ack = await patient.request("message:send", { roomId: ROOM, message: text });
      seqs.push((ack.message as { seq: number }).seq);
    }
    // One receipt for the burst, at its last seq.
    const status = await patient.event("message:status", 3000);
    assert.deepEqual([status.status, status.userId, status.seq], ["delivered", "doctor-1", 3]);
    await patient.sync();
    assert.equal(patient.pending("message:status").length, 0);
    const history = await patient.request("message:history", { roomId: ROOM });
    assert.deepEqual(
      (history.messages as { status: string }[]).map((m) => m.status),
      ["delivered", "delivered", "delivered"],
    );

    const mine = await client.request("message:send", { roomId: ROOM, message: "typo" });
    const seq = (mine.message as { seq: number }).seq;
    const edited = await client.edit(ROOM, seq, "fixed");
    assert.equal(edited.success, true);
    assert.equal((await patient.event("message:updated")).message, "fixed");
    const deleted = await client.delete(ROOM, seq);
    assert.equal((deleted.message as { deletedBy: string }).deletedBy, "doctor-1");
    assert.equal((await client.markRead(ROOM, seq)).seq, seq);

    // A refusal rejects emitWithAck with the server's code and issues.
    await assert.rejects(
      client.emitWithAck("message:send", { roomId: ROOM }),
      (err: Error & { code?: string; issues?: unknown[] }) =>
        err.code === "INVALID_PAYLOAD" && Array.isArray(err.issues),
    );

    // Unread counts: loaded from room:list, then counted along in a joined room, and zero again
    // after a read (the server pushes room:unread to every device of the reader).
    const loaded = await client.loadUnread();
    assert.equal(loaded.get(ROOM), 0);
    const counted = new Promise<number>((r) =>
      client.on("unread", (u: { roomId: string; unreadCount: number }) => {
        if (u.roomId === ROOM && u.unreadCount > 0) r(u.unreadCount);
      })
    );
    await patient.request("message:send", { roomId: ROOM, message: "d" });
    assert.equal(await within(counted, 3000, "counted"), 1);
    const head = (await patient.request("message:history", { roomId: ROOM })).messages as {
      seq: number;
    }[];
    const zero = new Promise<void>((r) =>
      client.on("unread", (u: { roomId: string; unreadCount: number }) => {
        if (u.roomId === ROOM && u.unreadCount === 0) r();
      })
    );
    await client.markRead(ROOM, head.at(-1)!.seq);
    await within(zero, 3000, "zero after the read");
    assert.equal(client.unread.get(ROOM), 0);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("/client.js and /protocol.js are served, with CORS for CORS_ORIGINS only", async () => {
  const srv = await startServer();
  try {
    const ok = await fetch(`${srv.url}/client.js`, { headers: { origin: ALLOWED_ORIGIN } });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type") ?? "", /javascript/);
    assert.equal(ok.headers.get("access-control-allow-origin"), ALLOWED_ORIGIN);
    assert.match(await ok.text(), /export class RealtimeClient/);
    const proto = await fetch(`${srv.url}/protocol.js`, { headers: { origin: ALLOWED_ORIGIN } });
    assert.equal(proto.headers.get("access-control-allow-origin"), ALLOWED_ORIGIN);
    await proto.body?.cancel();
    const other = await fetch(`${srv.url}/client.js`, {
      headers: { origin: "https://evil.example" },
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    await other.body?.cancel();
    const nope = await fetch(`${srv.url}/app.js`);
    assert.equal(nope.status, 404);
    await nope.body?.cancel();
  } finally {
    await srv.close();
  }
});

/** Resolves with the first `event` the client fires (bounded). */
function next(
  client: { on(e: string, fn: (d: unknown) => void): () => void },
  event: string,
  ms = 8000,
): Promise<unknown> {
  let off = () => {};
  return within(new Promise((resolve) => off = client.on(event, resolve)), ms, event)
    .finally(() => off());
}

Deno.test("client.js `refresh`: renews before expiry on the live socket, never dropping it", async () => {
  const srv = await startServer({ env: { JWT_TTL: "5" } });
  let renewals = 0;
  const client = connect(srv.wsUrl, {
    token: await srv.login("doctor@example.com"),
    refresh: async () => (renewals++, await srv.login("doctor@example.com")),
  });
  const closes: unknown[] = [];
  client.on("disconnect", (d: unknown) => closes.push(d));
  try {
    await next(client, "connected");
    // At 80 % of the 5 s life: auth:refresh on this socket, acknowledged.
    const sent = new Promise<void>((resolve) => {
      client.on("frame", (f: { dir: string; frame: { event?: string } }) => {
        if (f.dir === "out" && f.frame.event === "auth:refresh") resolve();
      });
    });
    await within(sent, 8000, "auth:refresh");
    const ack = await client.request("ping");
    assert.equal(ack.success, true);
    assert.equal(renewals, 1);
    assert.deepEqual(closes, [], "the socket never closed");
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("client.js `refresh`: a refused token is renewed and the client reconnects; null ends the session", async () => {
  const srv = await startServer();
  const good = await srv.login("patient@example.com");
  const statuses: unknown[] = [];
  const client = connect(srv.wsUrl, { token: "not-a-jwt", refresh: () => Promise.resolve(good) });
  client.on("status", (s: unknown) => statuses.push(s));
  // The session is over: no reconnect loop, `session:ended` and a terminal status instead.
  const ended = connect(srv.wsUrl, { token: "not-a-jwt", refresh: () => Promise.resolve(null) });
  const seen: unknown[] = [];
  ended.on("status", (s: unknown) => seen.push(s));
  const halted = next(ended, "halted");
  const over = next(ended, "session:ended");
  try {
    await next(client, "connected");
    assert.deepEqual(statuses, ["connecting", "reconnecting", "connecting", "open"]);
    await over;
    assert.equal(((await halted) as { code: number }).code, 4401);
    assert.deepEqual(seen, ["connecting", "reconnecting", "unauthorized"]);
  } finally {
    client.close();
    ended.close();
    await srv.close();
  }
});

Deno.test("client.js: emit while offline waits up to queueLimit, then says QUEUE_FULL", async () => {
  const srv = await startServer();
  const client = connect(srv.wsUrl, { token: "not-a-jwt", queueLimit: 2 });
  try {
    await next(client, "halted");
    assert.equal(client.emit("presence:setStatus", { status: "away" }), true);
    assert.equal(client.emit("presence:setStatus", { status: "busy" }), true);
    const error = next(client, "error");
    assert.equal(client.emit("presence:setStatus", { status: "online" }), false);
    assert.equal(((await error) as { code: string }).code, "QUEUE_FULL");
    // Typing is stale by the time a socket is back: dropped, not queued.
    assert.equal(client.emit("typing:start", { roomId: ROOM }), false);
  } finally {
    client.close();
    await srv.close();
  }
});
