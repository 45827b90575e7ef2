/**
 * Bad input and faults from ../shared/RELIABILITY.md, row by row: every case
 * gets a clear answer, never loses stored data and never takes the server down.
 */

import assert from "node:assert/strict";
import { startServer, type TestServer, waitFor, WsClient } from "./harness.ts";
import { RawWs } from "./raw_ws.ts";

const ROOM = "visit:visit-123";

async function withPatient(
  fn: (srv: TestServer, c: WsClient) => Promise<void>,
  env?: Record<string, string>,
) {
  const srv = await startServer({ env });
  try {
    const client = await srv.connect("patient@example.com");
    await fn(srv, client);
  } finally {
    await srv.close();
  }
}

async function storedCount(srv: TestServer): Promise<number> {
  let n = 0;
  for await (const _ of srv.kv.list({ prefix: ["messages"] })) n++;
  return n;
}

Deno.test("rows 1-3: malformed JSON, non-object JSON and unknown events get codes; the socket stays open", async () => {
  await withPatient(async (_srv, c) => {
    c.sendRaw("{not json");
    assert.equal((await c.event("error")).code, "INVALID_PAYLOAD");
    for (const raw of ["null", "[]", '"x"', "42"]) {
      c.sendRaw(raw);
      const err = await c.event("error");
      assert.equal(err.code, "INVALID_PAYLOAD", raw);
      assert.equal(err.success, false);
      assert.equal(typeof err.error, "string");
    }
    const unknown = await c.request("room:teleport", { roomId: ROOM });
    assert.deepEqual(unknown, {
      success: false,
      error: 'Unknown event "room:teleport"',
      code: "UNKNOWN_EVENT",
    });
    const proto = await c.request("constructor", {});
    assert.equal(proto.code, "UNKNOWN_EVENT");
    await c.sync();
  });
});

Deno.test("row 1: more than 20 protocol errors in 10 s closes 1008", async () => {
  await withPatient(async (_srv, c) => {
    for (let i = 0; i < 21; i++) c.sendRaw("{");
    const closed = await c.closed;
    assert.equal(closed.code, 1008);
  });
});

Deno.test("row 4: wrong field types name the field path and write nothing", async () => {
  await withPatient(async (srv, c) => {
    const ack = await c.request("message:send", { visitId: "visit-123", message: 42 });
    assert.equal(ack.code, "INVALID_PAYLOAD");
    assert.deepEqual((ack.issues as { path: string }[]).map((i) => i.path), ["message"]);
    assert.match(String(ack.error), /message/);
    const nested = await c.request("message:send", {
      visitId: "visit-123",
      message: "x",
      attachments: [{ url: 5 }],
    });
    assert.equal((nested.issues as { path: string }[])[0].path, "attachments.0.url");
    const none = await c.request("message:send", { message: "no target" });
    assert.equal(none.code, "INVALID_PAYLOAD");
    const two = await c.request("message:send", {
      visitId: "visit-123",
      roomId: ROOM,
      message: "x",
    });
    assert.equal(two.code, "INVALID_PAYLOAD");
    assert.equal(await storedCount(srv), 0);
  });
});

Deno.test("row 6: a text frame over MAX_FRAME_BYTES closes 1009 and stores nothing", async () => {
  await withPatient(async (srv, c) => {
    const big = JSON.stringify({
      event: "message:send",
      data: { visitId: "visit-123", message: "a".repeat(5000) },
    });
    c.sendRaw(big);
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
    assert.equal(await storedCount(srv), 0);
    // The byte limit counts UTF-8: 1,500 three-byte characters are 4,500 bytes.
    const again = await srv.connect("patient@example.com");
    again.sendRaw(JSON.stringify({ event: "ping", data: { pad: "€".repeat(1500) } }));
    assert.equal((await again.closed).code, 1009);
  }, { MAX_FRAME_BYTES: "4096" });
});

Deno.test("row 7: a huge message sent as fragments closes 1009 and the server keeps serving", async () => {
  await withPatient(async (srv, c) => {
    const port = Number(new URL(srv.url).port);
    const raw = await RawWs.open(port, await srv.login("patient@example.com"));
    const chunk = new Uint8Array(256 * 1024).fill(0x61);
    await raw.frame(1, chunk, false);
    for (let i = 0; i < 14; i++) await raw.frame(0, chunk, false);
    await raw.frame(0, chunk, true);
    assert.equal(await raw.untilClosed(), 1009);
    raw.close();
    await c.sync();
  }, { MAX_FRAME_BYTES: "65536" });
});

Deno.test("a malformed upgrade handshake gets 400, not a server error", async () => {
  const srv = await startServer();
  try {
    const res = await fetch(`${srv.url}/ws`, {
      headers: { upgrade: "websocket", connection: "Upgrade" }, // no Sec-WebSocket-Key
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, "INVALID_PAYLOAD");
  } finally {
    await srv.close();
  }
});

Deno.test("row 8: binary frames get INVALID_PAYLOAD and the socket stays open", async () => {
  await withPatient(async (_srv, c) => {
    c.sendRaw(new Uint8Array([1, 2, 3]));
    const err = await c.event("error");
    assert.equal(err.code, "INVALID_PAYLOAD");
    await c.sync();
  });
});

Deno.test("row 9: invalid UTF-8 drops only that connection; others are unaffected", async () => {
  await withPatient(async (srv, c) => {
    const port = Number(new URL(srv.url).port);
    const raw = await RawWs.open(port, await srv.login("patient@example.com"));
    await raw.frame(1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    await raw.untilClosed();
    raw.close();
    await c.sync();
    const health = await fetch(`${srv.url}/health`);
    assert.equal((await health.json()).status, "ok");
  });
});

Deno.test("row 10: __proto__ and constructor.prototype keys are rejected and pollute nothing", async () => {
  await withPatient(async (srv, c) => {
    const ack = await c.requestRaw(
      "message:send",
      '{"visitId":"visit-123","message":"x","metadata":{"__proto__":{"polluted":true,"role":"admin"}}}',
    );
    assert.equal(ack.code, "INVALID_PAYLOAD");
    const ctor = await c.requestRaw(
      "message:send",
      '{"visitId":"visit-123","message":"x","metadata":{"constructor":{"prototype":{"polluted":true}}}}',
    );
    assert.equal(ctor.code, "INVALID_PAYLOAD");
    // deno-lint-ignore no-explicit-any
    assert.equal(({} as any).polluted, undefined);
    const top = await c.requestRaw(
      "room:join",
      '{"roomId":"visit:visit-123","__proto__":{"role":"admin"}}',
    );
    assert.equal(top.success, true);
    assert.equal(await storedCount(srv), 0);
  });
});

Deno.test("row 11: lone surrogates and NUL are rejected; limits count UTF-8 bytes; RTL and emoji are kept", async () => {
  await withPatient(async (_srv, c) => {
    for (const bad of ['"\\ud800"', '"a\\u0000b"']) {
      const ack = await c.requestRaw("message:send", `{"visitId":"visit-123","message":${bad}}`);
      assert.equal(ack.code, "INVALID_PAYLOAD", bad);
    }
    const text = "\u202eevil\u202c 👩🏽‍⚕️👨‍👩‍👧‍👦";
    const ok = await c.request("message:send", { visitId: "visit-123", message: text });
    assert.equal((ok.message as { message: string }).message, text);
    const tooMany = await c.request("message:send", {
      visitId: "visit-123",
      message: "😀".repeat(4097),
    });
    assert.equal(tooMany.code, "INVALID_PAYLOAD"); // 16,388 bytes, though only 8,194 UTF-16 units
  });
});

Deno.test("row 12-14: non-finite, unsafe and -0 numbers, duplicate keys and deep nesting", async () => {
  await withPatient(async (_srv, c) => {
    for (const limit of ["1e400", "12345678901234567890", "-0", "0", "101"]) {
      const ack = await c.requestRaw("message:history", `{"visitId":"visit-123","limit":${limit}}`);
      assert.equal(ack.code, "INVALID_PAYLOAD", limit);
    }
    // Duplicate keys: JSON.parse keeps the last, and the same object is authorized and used.
    const dup = await c.requestRaw(
      "message:send",
      '{"visitId":"visit-999","visitId":"visit-123","message":"dup"}',
    );
    assert.equal((dup.message as { visitId: string }).visitId, "visit-123");
    const deep = "[".repeat(20_000) + "]".repeat(20_000);
    const nested = await c.requestRaw(
      "message:send",
      `{"visitId":"visit-123","message":"x","metadata":{"a":${deep}}}`,
    );
    assert.equal(nested.code, "INVALID_PAYLOAD");
    await c.sync();
  });
});

Deno.test("row 15: a flood of sends is rate limited, the excess is not stored, others are unaffected", async () => {
  const srv = await startServer();
  try {
    const flooder = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const acks = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) => flooder.request("message:send", { visitId: "visit-123", message: `m${i}` }),
      ),
    );
    const ok = acks.filter((a) => a.success === true).length;
    const limited = acks.filter((a) => a.code === "RATE_LIMITED");
    assert.ok(limited.length > 0, "expected some RATE_LIMITED acks");
    assert.equal(ok + limited.length, 40);
    assert.equal(limited[0].retryable, true);
    assert.equal(await storedCount(srv), ok);
    const mine = await doctor.request("message:send", {
      visitId: "visit-123",
      message: "still here",
    });
    assert.equal(mine.success, true);
  } finally {
    await srv.close();
  }
});

Deno.test("rows 24-26: other patients' rooms and topic publishing are refused; the socket stays open", async () => {
  await withPatient(async (_srv, c) => {
    const join = await c.request("room:join", { roomId: "topic:appointments", roomType: "topic" });
    assert.equal(join.success, true);
    const publish = await c.request("message:send", {
      roomId: "topic:appointments",
      message: "spam",
    });
    assert.equal(publish.code, "FORBIDDEN");
    const wrongType = await c.request("room:join", { roomId: ROOM, roomType: "chat" });
    assert.equal(wrongType.code, "INVALID_PAYLOAD");
    await c.sync();
  });
});

Deno.test("row 16: a user's socket cap and an IP's upgrade rate are enforced", async () => {
  const srv = await startServer({ env: { MAX_SOCKETS_PER_USER: "2", WS_UPGRADES_PER_MIN: "4" } });
  try {
    await srv.connect("patient@example.com");
    await srv.connect("patient@example.com");
    const third = await WsClient.open(srv.wsUrl);
    const reply = await third.auth(await srv.login("patient@example.com"));
    assert.deepEqual(reply, {
      event: "connect_error",
      data: { message: "Too many connections for this user" },
    });
    assert.equal((await third.closed).code, 4429);
    // Other users are not affected by one user's cap...
    await srv.connect("doctor@example.com");
    // ...but that was the 4th upgrade from this IP within the minute: the 5th is refused.
    const res = await fetch(`${srv.url}/ws`, {
      headers: { upgrade: "websocket", connection: "Upgrade" },
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "60");
    assert.equal((await res.json()).code, "RATE_LIMITED");
  } finally {
    await srv.close();
  }
});

Deno.test("row 17: a consumer that never reads is closed as slow; the server stops buffering for it", async () => {
  await withPatient(async (srv, c) => {
    const port = Number(new URL(srv.url).port);
    const raw = await RawWs.open(port, await srv.login("patient2@example.com"));
    await waitFor(
      () => srv.app.hub.userConnectionCount("patient-2") === 1,
      "raw socket registered",
    );
    // The raw client never reads again: push 100 KB events until the hub gives up on it.
    const chunk = { pad: "x".repeat(100_000) };
    for (let i = 0; i < 2000 && srv.app.hub.userConnectionCount("patient-2") > 0; i++) {
      srv.app.realtime.emitToUser("patient-2", "system:bulk", chunk);
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 0)); // let the socket flush
    }
    assert.equal(srv.app.hub.userConnectionCount("patient-2"), 0, "slow consumer dropped");
    raw.close();
    await c.sync(); // everyone else is fine
  });
});
