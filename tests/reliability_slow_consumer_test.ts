/**
 * RELIABILITY row 17 over real sockets: a slow consumer that never reads. A
 * raw socket authenticates, joins the visit room and stops reading; the
 * doctor floods the room with ~15 KB messages and typing events. Once the
 * kernel's socket buffers are full, Deno's bufferedAmount grows: past
 * SOFT_BUFFER_LIMIT the hub drops ephemeral events (typing) for that socket,
 * past HARD_BUFFER_LIMIT it closes it 4002 and stops writing. Messages are
 * never skipped, only cut off: what the slow socket got is a gapless prefix,
 * and after reconnecting, room:join with `since` returns the rest.
 */

import assert from "node:assert/strict";
import { HARD_BUFFER_LIMIT, SOFT_BUFFER_LIMIT } from "../realtime/hub.ts";
import { type Frame, startServer } from "./harness.ts";
import { RawWs } from "./raw_ws.ts";
import { closeCode, OP_CLOSE, OP_TEXT, serverFrames } from "./reliability_support.ts";

const ROOM = "visit:visit-123";
/** Close to the 16 KiB message limit: fewer frames to fill the buffers. */
const BODY = "slow consumer test ".repeat(790); // 15,010 bytes
/** Requests in flight from the flooder (the session queues at most 64 frames per socket). */
const WINDOW = 16;
/** Far more than the kernel buffers plus HARD_BUFFER_LIMIT hold: the test fails rather than spin. */
const MAX_MESSAGES = 5000;
const UNLIMITED = "10000";

Deno.test("row 17: a consumer that never reads loses typing first, is closed 4002, and resumes every message by seq", async () => {
  const srv = await startServer({
    env: {
      MESSAGE_RATE_PER_S: UNLIMITED,
      MESSAGE_BURST: UNLIMITED,
      EVENT_RATE_PER_S: UNLIMITED,
      EVENT_BURST: UNLIMITED,
    },
  });
  let raw: RawWs | undefined;
  try {
    const port = Number(new URL(srv.url).port);
    raw = await RawWs.open(port, await srv.login("patient@example.com"));
    await raw.frame(OP_TEXT, json({ event: "room:join", data: { roomId: ROOM }, id: 1 }));
    const frames = serverFrames(raw);
    const texts: Frame[] = [];
    for (let f = (await frames.next()).value;; f = (await frames.next()).value) {
      assert.ok(f, "connection ended before the join ack");
      if (f.opcode !== OP_TEXT) continue;
      const frame = JSON.parse(new TextDecoder().decode(f.payload)) as Frame;
      if (frame.ack === 1) {
        assert.equal(frame.data.success, true);
        break;
      }
    }
    // From here the patient's socket reads nothing until the flood is over.

    const doctor = await srv.connect("doctor@example.com");
    assert.equal((await doctor.request("room:join", { roomId: ROOM })).success, true);
    doctor.onEvent = (f) => f.ack !== undefined; // keep only acks: its own echoes are not the point
    const slowGone = () => srv.app.hub.userConnectionCount("patient-1") === 0;
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    let typingSent = 0;
    const started = performance.now();
    while (!slowGone()) {
      assert.ok(sent < MAX_MESSAGES, `still not closed after ${sent} messages`);
      doctor.emit("typing:start", { roomId: ROOM });
      typingSent++;
      const i = sent++;
      const p = doctor.request("message:send", {
        roomId: ROOM,
        message: BODY,
        clientMessageId: `flood-${i}`,
      }, 10_000).then((ack) => assert.equal(ack.success, true, JSON.stringify(ack)));
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const floodMs = performance.now() - started;
    // Dropped from the hub at once, although its TCP connection is still open and unread.
    assert.equal(srv.app.hub.userConnectionCount("patient-1"), 0);

    // Now the slow socket reads its backlog: everything the server had queued, then the close.
    let code: number | undefined;
    for (let f = (await frames.next()).value; f; f = (await frames.next()).value) {
      if (f.opcode === OP_CLOSE) {
        code = closeCode(f);
        break;
      }
      if (f.opcode === OP_TEXT) texts.push(JSON.parse(new TextDecoder().decode(f.payload)));
    }
    assert.equal(code, 4002, "closed as a slow consumer");
    await raw.frame(OP_CLOSE, new Uint8Array([0x0f, 0xa2])); // answer the close: 4002
    raw.close();
    raw = undefined;

    const seqs = texts.filter((f) => f.event === "message:new").map((f) => f.data.seq as number);
    const typingAt = texts.flatMap((f, i) => f.event === "typing:start" ? [i] : []);
    const lastTyping = typingAt.at(-1) ?? -1;
    const messagesAfterTyping = texts.slice(lastTyping + 1)
      .filter((f) => f.event === "message:new").length;
    const frameBytes = json({ event: "message:new", data: { message: BODY } }).length;
    console.log(
      `row 17: ${sent} messages (${typingSent} typing) in ${
        floodMs.toFixed(0)
      } ms; slow socket got ` +
        `${seqs.length} messages and ${typingAt.length} typing, the last typing before ` +
        `${messagesAfterTyping} messages`,
    );
    // Typing reached it while it kept up, then stopped long before the messages did:
    // between the soft and the hard limit only messages were queued.
    assert.ok(typingAt.length > 0, "typing was delivered while the socket kept up");
    assert.ok(typingAt.length < typingSent, "typing was dropped");
    const between = Math.floor((HARD_BUFFER_LIMIT - SOFT_BUFFER_LIMIT) / frameBytes);
    assert.ok(
      messagesAfterTyping >= between * 0.75,
      `${messagesAfterTyping} messages after the last typing; expected about ${between}`,
    );
    // A gapless prefix: messages are cut off by the close, never skipped.
    assert.ok(seqs.length > 0 && seqs.length < sent, `got ${seqs.length} of ${sent}`);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));

    // Reconnected, it resumes from the last seq it saw and gets every message it missed.
    const patient = await srv.connect("patient@example.com");
    const resumed: number[] = [];
    let since = seqs.at(-1)!;
    for (let more = true; more;) {
      const page = await patient.request("room:join", { roomId: ROOM, since });
      assert.equal(page.recovered, true);
      const messages = page.messages as { seq: number; message: string }[];
      for (const m of messages) assert.equal(m.message, BODY);
      resumed.push(...messages.map((m) => m.seq));
      since = resumed.at(-1) ?? since;
      more = page.hasMore === true;
    }
    assert.deepEqual([...seqs, ...resumed], Array.from({ length: sent }, (_, i) => i + 1));
  } finally {
    raw?.close();
    await srv.close();
  }
});

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
