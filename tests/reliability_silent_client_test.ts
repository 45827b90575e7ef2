/**
 * RELIABILITY row 35 with a live client that goes silent: a raw socket that
 * authenticated and answered a request, then neither reads nor answers pings
 * (what a laptop lid closing or a dead NAT looks like to the server; nothing
 * sends a close frame). Deno's idle timeout pings it and drops it; presence
 * must announce it offline within WS_IDLE_TIMEOUT_S plus a grace, while a
 * client that answers pings (the subscriber) stays connected.
 */

import assert from "node:assert/strict";
import { startServer } from "./harness.ts";
import { RawWs } from "./raw_ws.ts";
import {
  closeCode,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  type ServerFrame,
  serverFrames,
} from "./reliability_support.ts";

/** The smallest idle timeout the config accepts. */
const IDLE_S = 5;
/** Deno closes at most IDLE_S after the last frame it got; this covers the presence write. */
const GRACE_MS = 2000;

Deno.test("row 35: a client that goes silent is offline within WS_IDLE_TIMEOUT_S + grace; live clients stay", async () => {
  const srv = await startServer({ env: { WS_IDLE_TIMEOUT_S: String(IDLE_S) } });
  let raw: RawWs | undefined;
  try {
    const doctor = await srv.connect("doctor@example.com");
    const sub = await doctor.request("presence:subscribe", { userIds: ["patient-1"] });
    assert.deepEqual(sub.presences, [{ userId: "patient-1", status: "offline", lastSeen: null }]);

    raw = await RawWs.open(Number(new URL(srv.url).port), await srv.login("patient@example.com"));
    assert.deepEqual(await doctor.event("presence:changed"), {
      userId: "patient-1",
      status: "online",
    });
    // Live: it sends a request and reads the answer.
    await raw.frame(OP_TEXT, new TextEncoder().encode('{"event":"ping","data":{},"id":1}'));
    const frames = serverFrames(raw);
    const next = async (): Promise<ServerFrame | undefined> => (await frames.next()).value;
    for (let f = await next();; f = await next()) {
      assert.ok(f, "connection ended before the ack");
      if (f.opcode === OP_TEXT && JSON.parse(new TextDecoder().decode(f.payload)).ack === 1) break;
    }
    const silentAt = performance.now();

    // Silent from here: no reads, no pongs, no close frame.
    const offline = await doctor.event("presence:changed", IDLE_S * 1000 + GRACE_MS);
    const elapsed = performance.now() - silentAt;
    assert.deepEqual(offline, { userId: "patient-1", status: "offline" });
    assert.ok(elapsed >= IDLE_S * 1000 - 500, `offline after ${elapsed} ms: before the timeout`);
    assert.equal(srv.app.hub.userConnectionCount("patient-1"), 0);
    console.log(`row 35: offline ${(elapsed / 1000).toFixed(2)} s after going silent`);

    // What the silent client would have read: Deno's ping, unanswered, then its close.
    let pinged = false;
    let code: number | undefined;
    for (let f = await next(); f; f = await next()) {
      if (f.opcode === OP_PING) pinged = true;
      if (f.opcode === OP_CLOSE) {
        code = closeCode(f);
        break;
      }
    }
    assert.ok(pinged, "the server pinged before giving up");
    assert.ok(code === 1001 || code === undefined, `closed with ${code}`);

    // The subscriber was just as idle but answers pings (its WebSocket does): still connected.
    await doctor.sync();
    const me = await doctor.request("presence:get", { userIds: ["doctor-1"] });
    assert.equal((me.presences as { status: string }[])[0].status, "online");
  } finally {
    raw?.close();
    await srv.close();
  }
});
