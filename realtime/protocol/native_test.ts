import assert from "node:assert/strict";
import { AppError } from "../../lib/errors.ts";
import { type Decoded, decodeFrame, encodeAck, encodeEvent } from "./native.ts";

/** Asserts an INVALID_PAYLOAD result and returns it. */
function invalidFrame(text: string): Extract<Decoded, { ok: false }> {
  const r = decodeFrame(text);
  assert.equal(r.ok, false, `expected ${JSON.stringify(text.slice(0, 60))} to be refused`);
  if (r.ok) throw new Error("unreachable");
  assert.ok(r.error instanceof AppError);
  assert.equal(r.error.code, "INVALID_PAYLOAD", text.slice(0, 60));
  return r;
}

Deno.test("decodeFrame: a well-formed frame, with and without an ack id", () => {
  assert.deepEqual(decodeFrame('{"event":"message:send","data":{"message":"hi"},"id":7}'), {
    ok: true,
    frame: { event: "message:send", data: { message: "hi" }, id: 7 },
  });
  assert.deepEqual(decodeFrame('{"event":"typing:start","data":{"roomId":"visit:v1"}}'), {
    ok: true,
    frame: { event: "typing:start", data: { roomId: "visit:v1" }, id: undefined },
  });
  assert.deepEqual(decodeFrame('{"event":"ping","id":0}'), {
    ok: true,
    frame: { event: "ping", data: undefined, id: 0 },
  });
  const max = decodeFrame(`{"event":"a:b:c","id":${Number.MAX_SAFE_INTEGER}}`);
  assert.ok(max.ok && max.frame.id === Number.MAX_SAFE_INTEGER && max.frame.event === "a:b:c");
});

Deno.test("decodeFrame: malformed JSON is INVALID_PAYLOAD", () => {
  for (const text of ["", "{", "not json", '{"event":"x",}', "{'event':'x'}", "\uFEFF{}", "NaN"]) {
    const r = invalidFrame(text);
    assert.equal(r.error.message, "Malformed JSON frame");
    assert.equal(r.id, undefined);
  }
});

Deno.test("decodeFrame: JSON that is not an object is INVALID_PAYLOAD", () => {
  for (const text of ["null", "[]", '"x"', "42", "true", '[{"event":"ping","id":1}]']) {
    const r = invalidFrame(text);
    assert.match(r.error.message, /must be a JSON object/);
    assert.equal(r.id, undefined);
  }
});

Deno.test("decodeFrame: a bad ack id is INVALID_PAYLOAD naming id", () => {
  for (const id of ["-1", "1.5", '"7"', "null", "9007199254740992", "1e400", "-0", "{}", "[1]"]) {
    const r = invalidFrame(`{"event":"ping","id":${id}}`);
    assert.equal(r.id, undefined, `id ${id}`);
    assert.deepEqual(r.error.issues?.map((i) => i.path), ["id"], `id ${id}`);
  }
});

Deno.test("decodeFrame: bad event names are INVALID_PAYLOAD, answerable by id", () => {
  const names = [
    undefined,
    42,
    null,
    "",
    "Message:send",
    "message send",
    "message-send",
    "message:",
    ":send",
    "message::send",
    "a:b:c:d",
    "message:send\n",
    "__proto__",
    "1abc",
    "é",
    "a".repeat(65),
  ];
  for (const event of names) {
    const frame = event === undefined ? { id: 3 } : { event, id: 3 };
    const r = invalidFrame(JSON.stringify(frame));
    assert.equal(r.id, 3, `event ${JSON.stringify(event)}`);
    assert.deepEqual(r.error.issues?.map((i) => i.path), ["event"]);
  }
  assert.equal(decodeFrame(JSON.stringify({ event: "a".repeat(64) })).ok, true);
});

Deno.test("decodeFrame: duplicate keys resolve once (last wins) and deep data never throws", () => {
  const dup = decodeFrame('{"event":"ping","event":"message:send","id":1,"id":2}');
  assert.ok(dup.ok);
  assert.equal(dup.frame.event, "message:send");
  assert.equal(dup.frame.id, 2);
  const deep = '{"event":"message:send","data":' + "[".repeat(200_000) + "]".repeat(200_000) + "}";
  const r = decodeFrame(deep);
  assert.ok(r.ok);
  assert.equal(r.frame.event, "message:send");
});

Deno.test("encodeAck and encodeEvent write the documented shapes", () => {
  assert.equal(
    encodeAck(7, { success: true, seq: 3 }),
    '{"ack":7,"data":{"success":true,"seq":3}}',
  );
  assert.equal(
    encodeEvent("message:new", { roomId: "visit:v1", seq: 1 }),
    '{"event":"message:new","data":{"roomId":"visit:v1","seq":1}}',
  );
  // Output is always well-formed, even for an ill-formed string.
  const frame = encodeEvent("x", { text: "\uD800" });
  assert.equal(frame.isWellFormed(), true);
  assert.deepEqual(JSON.parse(frame), { event: "x", data: { text: "\uD800" } });
});
