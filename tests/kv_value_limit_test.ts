/**
 * RELIABILITY row 32, the "value over 64 KiB" half (issue 7, finding 7): a
 * frame well under MAX_FRAME_BYTES whose fields each pass their limits can
 * still be too large for one KV value, because V8 stores a string holding a
 * single non-Latin-1 character at two bytes per character. Such a send is
 * refused before the commit with PAYLOAD_TOO_LARGE naming the limit, without
 * `retryable` (a retry fails the same way), nothing is stored or broadcast,
 * and the socket stays usable. Notifications: the HTTP route's limits keep
 * every notification storable; in-server callers are refused the same way.
 */

import assert from "node:assert/strict";
import { createUser } from "../store/users.ts";
import { listNotifications, unreadCount } from "../store/notifications.ts";
import { KV_MAX_VALUE_BYTES, kvValueSize } from "../store/value_size.ts";
import { startServer, type TestServer } from "./harness.ts";

const ROOM = "visit:visit-123";
const TOO_LARGE = /^Message too large to store: (\d+) bytes, the limit is 65536 bytes$/;

/** ~45 KB of JSON: every field within its limit, with "€", "ж" and emoji throughout. */
function oversizedSend(clientMessageId: string) {
  return {
    visitId: "visit-123",
    clientMessageId,
    message: "Résumé € " + "a".repeat(16_000),
    attachments: Array.from({ length: 10 }, (_, i) => ({
      url: `https://files.test/€/${i}/` + "b".repeat(2_000),
      name: `снимок-${i}-😀` + "c".repeat(200),
      type: "image/png",
      size: 1_000_000 + i,
    })),
    metadata: { note: "примечание € " + "d".repeat(3_900) },
  };
}

Deno.test("row 32, value over 64 KiB: a 45 KB multi-byte message:send is PAYLOAD_TOO_LARGE, stores nothing, keeps the socket", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    assert.equal((await doctor.request("room:join", { roomId: ROOM })).success, true);
    assert.equal((await patient.request("room:join", { roomId: ROOM })).success, true);

    const data = oversizedSend("big-1");
    const frameBytes = new TextEncoder().encode(JSON.stringify({ event: "message:send", data }))
      .length;
    assert.ok(frameBytes > 40_000 && frameBytes < 50_000, `frame is ${frameBytes} bytes`);

    const reply = await patient.request("message:send", data);
    assert.equal(reply.success, false);
    assert.equal(reply.code, "PAYLOAD_TOO_LARGE");
    const size = Number(TOO_LARGE.exec(String(reply.error))?.[1]);
    assert.ok(size > KV_MAX_VALUE_BYTES, `named size ${size} in "${reply.error}"`);
    assert.equal("retryable" in reply, false, "a retry cannot succeed");

    // Nothing stored, nothing delivered.
    await doctor.sync();
    await patient.sync();
    assert.equal(doctor.pending("message:new").length, 0);
    assert.equal(patient.pending("message:sent").length, 0);
    assert.equal((await srv.kv.get(["room_heads", ROOM])).value, null, "room head unchanged");
    const history = await doctor.request("message:history", { roomId: ROOM });
    assert.deepEqual(history.messages, []);
    const index = ["messages_by_client_id", ROOM, "patient-1", "big-1"];
    assert.equal((await srv.kv.get(index)).versionstamp, null);

    // The same socket goes on; the next message takes seq 1, as if the refused one never was.
    const ok = await patient.request("message:send", {
      visitId: "visit-123",
      message: "Résumé € shorter",
      clientMessageId: "big-1",
    });
    assert.equal(ok.success, true);
    assert.equal((ok.message as { seq: number }).seq, 1);
    assert.equal((await doctor.event("message:new")).message, "Résumé € shorter");
  } finally {
    await srv.close();
  }
});

async function serviceToken(srv: TestServer): Promise<string> {
  await createUser(srv.kv, {
    id: "service-1",
    email: "service@clinic.test",
    name: "scheduling",
    role: "service",
    password: "service-password-123",
  }, new Date());
  return await srv.login("service@clinic.test", "service-password-123");
}

Deno.test("row 32, value over 64 KiB: notifications at every limit of the HTTP route store; larger ones from the server are refused", async () => {
  const srv = await startServer();
  try {
    const token = await serviceToken(srv);
    const patient = await srv.connect("patient@example.com");
    // The most stored bytes the route admits: two-byte strings at their UTF-8 limits, and
    // data made of doubles (9 stored bytes for 4 bytes of JSON).
    const doubles: number[] = [];
    while (JSON.stringify({ d: [...doubles, 0.5] }).length <= 8 * 1024) doubles.push(0.5);
    const body = {
      userId: "patient-1",
      title: "€" + "t".repeat(197),
      message: "€" + "m".repeat(1_997),
      type: "€" + "y".repeat(47),
      data: { d: doubles },
    };
    const res = await fetch(`${srv.url}/api/v1/notifications`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201);
    const { notification } = await res.json();
    assert.equal((await patient.event("notification:new")).id, notification.id);
    const [stored] = (await listNotifications(srv.kv, "patient-1", { limit: 1 })).notifications;
    const size = kvValueSize(stored);
    assert.ok(size > 20_000 && size < KV_MAX_VALUE_BYTES / 2, `worst case stores ${size} bytes`);

    // In-server callers of notifyUser have no schema: the store refuses, nothing is pushed.
    const before = await unreadCount(srv.kv, "patient-1");
    await assert.rejects(
      () =>
        srv.app.realtime.notifyUser("patient-1", {
          title: "Lab results",
          message: "€" + "r".repeat(40_000),
        }),
      {
        code: "PAYLOAD_TOO_LARGE",
        retryable: false,
        message: /^Notification too large to store: \d+ bytes, the limit is 65536 bytes$/,
      },
    );
    await patient.sync();
    assert.equal(patient.pending("notification:new").length, 0);
    assert.equal(await unreadCount(srv.kv, "patient-1"), before);
  } finally {
    await srv.close();
  }
});
