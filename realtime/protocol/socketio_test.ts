import assert from "node:assert/strict";
import { decodePacket, socketIoCodec } from "./socketio.ts";

Deno.test("socket.io decode: CONNECT, EVENT with and without ack id, DISCONNECT, client ACK", () => {
  assert.deepEqual(decodePacket('0{"token":"t"}'), {
    ok: true,
    frame: { event: "auth", data: { token: "t" }, id: undefined },
  });
  assert.deepEqual(decodePacket("0"), {
    ok: true,
    frame: { event: "auth", data: undefined, id: undefined },
  });
  assert.deepEqual(decodePacket('2["typing:start",{"roomId":"visit:v"}]'), {
    ok: true,
    frame: { event: "typing:start", data: { roomId: "visit:v" }, id: undefined },
  });
  assert.deepEqual(decodePacket('212["notification:getUnreadCount"]'), {
    ok: true,
    frame: { event: "notification:getUnreadCount", data: undefined, id: 12 },
  });
  assert.deepEqual(decodePacket("1"), { ok: true, control: "disconnect" });
  assert.deepEqual(decodePacket("33[{}]"), { ok: true, control: "ignore" });
});

Deno.test("socket.io decode: refusals keep the ack id; other namespaces get a CONNECT_ERROR of their own", () => {
  const cases: [string, number | undefined, RegExp][] = [
    ['51-7["message:send",{"_placeholder":true,"num":0}]', 7, /Binary attachments/],
    ['27["a:b",{},{}]', 7, /one data argument/],
    ['27["Bad Name"]', 7, /Invalid event name/],
    ["27[oops", 7, /Malformed JSON/],
    ['27{"event":"x"}', 7, /must be \["event name", data\]/],
    ["9", undefined, /unknown packet type/],
    ["0[1]", undefined, /CONNECT payload/],
    ["2" + "9".repeat(20) + "[]", undefined, /ack id too long/],
  ];
  for (const [text, id, message] of cases) {
    const r = decodePacket(text);
    assert.equal(r.ok, false, text);
    if (r.ok) continue;
    assert.equal(r.error.code, "INVALID_PAYLOAD", text);
    assert.match(r.error.message, message, text);
    assert.equal(r.id, id, text);
  }
  const nsp = decodePacket('0/admin,{"token":"t"}');
  assert.ok(!nsp.ok);
  assert.equal(nsp.reply, '44/admin,{"message":"Invalid namespace"}');
  assert.deepEqual(decodePacket('2/admin,["message:send",{}]'), { ok: true, control: "ignore" });
});

Deno.test("socket.io encode: events, acks, the handshake and the close notice", () => {
  assert.equal(socketIoCodec.event("message:new", { id: "m" }), '42["message:new",{"id":"m"}]');
  assert.equal(socketIoCodec.ack(7, { success: true }), '437[{"success":true}]');
  assert.deepEqual(socketIoCodec.connected({ socketId: "S", userId: "u", role: "patient" }), [
    '40{"sid":"S"}',
    '42["connected",{"socketId":"S","userId":"u","role":"patient"}]',
  ]);
  assert.equal(
    socketIoCodec.connectError("Authentication error: Invalid token"),
    '44{"message":"Authentication error: Invalid token"}',
  );
  const expired = socketIoCodec.closing!(4401, "Authentication error: Token expired");
  assert.equal(expired.length, 2);
  assert.deepEqual(JSON.parse(expired[0].slice(2)), ["error", {
    success: false,
    code: "TOKEN_EXPIRED",
    error: "Authentication error: Token expired",
    closeCode: 4401,
  }]);
  assert.equal(expired[1], "41", "no reconnect after 4401: DISCONNECT");
  assert.equal(
    JSON.parse(socketIoCodec.closing!(4403, "Account disabled")[0].slice(2))[1].code,
    "FORBIDDEN",
  );
  assert.deepEqual(socketIoCodec.closing!(1008, "Too many invalid frames").length, 1);
  assert.deepEqual(socketIoCodec.closing!(1001, "Server shutting down"), []);
  assert.deepEqual(socketIoCodec.closing!(4002, "Slow consumer"), []);
});
