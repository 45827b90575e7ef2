/**
 * Issue 11, first part: delivered receipts and the status they derive, edits
 * and redactions (with versions for staff), and the bad inputs of each.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { startServer, waitFor, type WsClient } from "./harness.ts";

const ROOM = "visit:visit-123";

async function send(c: WsClient, message: string): Promise<{ seq: number; id: string }> {
  const ack = await c.request("message:send", { roomId: ROOM, message });
  assert.equal(ack.success, true, JSON.stringify(ack));
  return ack.message as { seq: number; id: string };
}

async function statuses(c: WsClient): Promise<string[]> {
  const h = await c.request("message:history", { roomId: ROOM });
  return (h.messages as { status: string }[]).map((m) => m.status);
}

Deno.test("delivered receipts: a cursor per user, message:status delivered, and status sent -> delivered -> read", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const phone = await srv.connect("doctor@example.com");
    for (const c of [patient, doctor, phone]) {
      assert.equal((await c.request("room:join", { roomId: ROOM })).success, true);
    }
    await send(patient, "one");
    const two = await send(patient, "two");
    assert.deepEqual(await statuses(patient), ["sent", "sent"]);

    const ack = await doctor.request("message:delivered", { roomId: ROOM, seq: two.seq });
    assert.deepEqual(ack, { success: true, roomId: ROOM, seq: two.seq });
    const status = await patient.event("message:status");
    assert.equal(status.status, "delivered");
    assert.equal(status.userId, "doctor-1");
    assert.equal(status.seq, two.seq);
    // The doctor's other device hears it too; the device that sent it does not.
    assert.equal((await phone.event("message:status")).status, "delivered");
    await doctor.sync();
    assert.equal(doctor.pending("message:status").length, 0);
    assert.deepEqual(await statuses(patient), ["delivered", "delivered"]);
    const history = await patient.request("message:history", { roomId: ROOM });
    assert.equal((history.delivered as Record<string, number>)["doctor-1"], two.seq);

    // Backwards changes nothing (and announces nothing); the future is refused.
    const back = await phone.request("message:delivered", { roomId: ROOM, seq: 1 });
    assert.equal(back.seq, two.seq);
    const future = await phone.request("message:delivered", { roomId: ROOM, seq: 99 });
    assert.equal(future.code, "INVALID_PAYLOAD");
    await patient.sync();
    assert.equal(patient.pending("message:status").length, 0);

    // Read beats delivered, and reading implies receiving.
    await doctor.request("message:read", { roomId: ROOM, seq: 1 });
    assert.deepEqual(await statuses(patient), ["read", "delivered"]);
    const three = await send(patient, "three");
    await doctor.request("message:read", { roomId: ROOM, seq: three.seq });
    assert.deepEqual(await statuses(patient), ["read", "read", "read"]);
    // A room the user may not read is refused.
    const other = await srv.connect("patient2@example.com");
    const refused = await other.request("message:delivered", { roomId: ROOM, seq: 1 });
    assert.equal(refused.code, "FORBIDDEN");
  } finally {
    await srv.close();
  }
});

Deno.test("edit: the sender within the window; message:updated, history and versions for staff; every bad input refused with nothing changed", async () => {
  const clock = new FakeClock(Date.now());
  const srv = await startServer({ clock, env: { MESSAGE_EDIT_WINDOW_S: "900" } });
  try {
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    for (const c of [patient, doctor]) await c.request("room:join", { roomId: ROOM });
    const m = await send(patient, "my dose is 50 mg");
    await doctor.event("message:new");

    const ack = await patient.request("message:edit", {
      roomId: ROOM,
      seq: m.seq,
      message: "my dose is 5 mg",
    });
    assert.equal(ack.success, true, JSON.stringify(ack));
    const edited = ack.message as Record<string, unknown>;
    assert.equal(edited.id, m.id);
    assert.equal(edited.seq, m.seq);
    assert.equal(edited.message, "my dose is 5 mg");
    assert.equal(typeof edited.editedAt, "string");
    assert.deepEqual(await doctor.event("message:updated"), edited);
    const history = await doctor.request("message:history", { roomId: ROOM });
    assert.equal((history.messages as { message: string }[])[0].message, "my dose is 5 mg");
    const resumed = await doctor.request("room:join", { roomId: ROOM, since: 0 });
    assert.equal((resumed.messages as { message: string }[])[0].message, "my dose is 5 mg");

    // Versions: the clinical record keeps what was replaced, for staff only.
    const versions = await doctor.request("message:versions", { roomId: ROOM, seq: m.seq });
    assert.deepEqual(
      (versions.versions as { message: string }[]).map((v) => v.message),
      ["my dose is 50 mg"],
    );
    assert.equal(
      (await patient.request("message:versions", { roomId: ROOM, seq: m.seq })).code,
      "FORBIDDEN",
    );

    // Bad inputs: nothing changes.
    const doctorMessage = await send(doctor, "from the doctor");
    const cases: [WsClient, Record<string, unknown>, string][] = [
      [doctor, { roomId: ROOM, seq: m.seq, message: "x" }, "FORBIDDEN"], // not the sender
      [patient, { roomId: ROOM, seq: doctorMessage.seq, message: "x" }, "FORBIDDEN"],
      [patient, { roomId: ROOM, seq: 999, message: "x" }, "NOT_FOUND"],
      [patient, { roomId: "chat:doctor-1:patient-1", seq: m.seq, message: "x" }, "NOT_FOUND"],
      [patient, { roomId: ROOM, seq: m.seq }, "INVALID_PAYLOAD"],
      [patient, { roomId: ROOM, seq: 0, message: "x" }, "INVALID_PAYLOAD"],
    ];
    for (const [c, data, code] of cases) {
      const r = await c.request("message:edit", data);
      assert.equal(r.code, code, `${JSON.stringify(data)}: ${JSON.stringify(r)}`);
    }
    clock.advance(901_000);
    const late = await patient.request("message:edit", { roomId: ROOM, seq: m.seq, message: "x" });
    assert.equal(late.code, "FORBIDDEN");
    assert.match(String(late.error), /edit window/);
    const after = await doctor.request("message:history", { roomId: ROOM });
    assert.equal((after.messages as { message: string }[])[0].message, "my dose is 5 mg");
    await doctor.sync();
    assert.equal(doctor.pending("message:updated").length, 0, "no event for a refused edit");
  } finally {
    await srv.close();
  }
});

Deno.test("delete is a redaction: the sender in the window, staff and admins any time; the text leaves storage; tombstones cannot be edited", async () => {
  const clock = new FakeClock(Date.now());
  const srv = await startServer({ clock });
  try {
    const patient = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    for (const c of [patient, doctor]) await c.request("room:join", { roomId: ROOM });
    const secret = "SSN 078-05-1120 sent to the wrong room";
    const m = await send(patient, secret);
    await patient.request("message:edit", { roomId: ROOM, seq: m.seq, message: `${secret}!` });
    const kept = await send(patient, "a message that stays");

    // Past the window the patient may no longer delete; the visit's doctor may.
    clock.advance(901_000);
    const own = await patient.request("message:delete", { roomId: ROOM, seq: m.seq });
    assert.equal(own.code, "FORBIDDEN");
    const outsider = await srv.connect("patient2@example.com");
    assert.equal(
      (await outsider.request("message:delete", { roomId: ROOM, seq: m.seq })).code,
      "FORBIDDEN",
    );
    const ack = await doctor.request("message:delete", { roomId: ROOM, seq: m.seq });
    assert.equal(ack.success, true, JSON.stringify(ack));
    const tombstone = ack.message as Record<string, unknown>;
    assert.equal(tombstone.id, m.id);
    assert.equal(tombstone.seq, m.seq);
    assert.equal(tombstone.message, "");
    assert.equal(tombstone.deletedBy, "doctor-1");
    assert.equal(typeof tombstone.deletedAt, "string");
    assert.deepEqual(await patient.event("message:updated"), tombstone);

    // History shows the tombstone in place; seqs and the other message are untouched.
    const history = await patient.request("message:history", { roomId: ROOM });
    const messages = history.messages as Record<string, unknown>[];
    assert.deepEqual(messages.map((x) => x.seq), [m.seq, kept.seq]);
    assert.equal(messages[0].deletedBy, "doctor-1");
    assert.equal(messages[1].message, "a message that stays");

    // The text is gone from storage: no key's value holds it, versions included.
    for await (const e of srv.kv.list({ prefix: [] })) {
      assert.ok(
        !JSON.stringify(e.value, (_k, v) => typeof v === "bigint" ? String(v) : v)
          .includes("078-05-1120"),
        `found in ${JSON.stringify(e.key)}`,
      );
    }
    const versions = await doctor.request("message:versions", { roomId: ROOM, seq: m.seq });
    assert.deepEqual(versions.versions, []);

    // A tombstone is not edited or deleted again.
    assert.equal(
      (await doctor.request("message:delete", { roomId: ROOM, seq: m.seq })).code,
      "CONFLICT",
    );
    clock.advance(-901_000);
    const edit = await patient.request("message:edit", { roomId: ROOM, seq: m.seq, message: "x" });
    assert.equal(edit.code, "CONFLICT");
    // The sender, within the window, deletes their own.
    const mine = await send(patient, "oops");
    assert.equal(
      (await patient.request("message:delete", { roomId: ROOM, seq: mine.seq })).success,
      true,
    );
  } finally {
    await srv.close();
  }
});

Deno.test("participants are users with a live socket; members everyone with access; a closed last tab is one room:userLeft", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const joined = await doctor.request("room:join", { roomId: ROOM });
    assert.deepEqual(joined.participants, [{ userId: "doctor-1", role: "doctor" }]);
    assert.deepEqual(
      (joined.members as { userId: string }[]).map((m) => m.userId).sort(),
      ["doctor-1", "patient-1"],
    );
    const tab1 = await srv.connect("patient@example.com");
    const tab2 = await srv.connect("patient@example.com");
    await tab1.request("room:join", { roomId: ROOM });
    assert.equal((await doctor.event("room:userJoined")).userId, "patient-1");
    const second = await tab2.request("room:join", { roomId: ROOM });
    assert.deepEqual(
      (second.participants as { userId: string }[]).map((p) => p.userId).sort(),
      ["doctor-1", "patient-1"],
    );
    await doctor.sync();
    assert.equal(doctor.pending("room:userJoined").length, 0, "a second tab is not news");

    await tab1.close();
    await waitFor(() => srv.app.hub.userConnectionCount("patient-1") === 1, "tab1 closed");
    await srv.app.topics.idle();
    await doctor.sync();
    assert.equal(doctor.pending("room:userLeft").length, 0, "another tab is still there");
    await tab2.close();
    assert.deepEqual(await doctor.event("room:userLeft"), {
      roomId: ROOM,
      userId: "patient-1",
      role: "patient",
    });
    await srv.app.topics.idle();
    await doctor.sync();
    assert.equal(doctor.pending("room:userLeft").length, 0, "exactly one");
    // Gone from the live list, still a member.
    const again = await (await srv.connect("doctor@example.com")).request("room:join", {
      roomId: ROOM,
    });
    assert.deepEqual(again.participants, [{ userId: "doctor-1", role: "doctor" }]);
    assert.equal((again.members as unknown[]).length, 2);
  } finally {
    await srv.close();
  }
});

Deno.test("unread counts: room:list with last message and cursor, room:unread pushes, exact under concurrent sends and reads from several devices", async () => {
  const srv = await startServer({ env: { MESSAGE_BURST: "1000", MESSAGE_RATE_PER_S: "1000" } });
  try {
    const patient = await srv.connect("patient@example.com");
    const phone = await srv.connect("patient@example.com");
    const doctor = await srv.connect("doctor@example.com");
    const laptop = await srv.connect("doctor@example.com");
    const chat = await doctor.request("message:send", { recipientId: "patient-1", message: "hi" });
    assert.equal(chat.success, true, JSON.stringify(chat));
    // The patient's sockets have not joined the chat: they hear the count.
    const pushed = await patient.event("room:unread");
    assert.deepEqual(pushed, { roomId: "chat:doctor-1:patient-1", unreadCount: 1 });

    const listed = await patient.request("room:list", {});
    const rooms = listed.rooms as {
      roomId: string;
      unreadCount: number;
      readSeq: number;
      lastMessage?: { message: string };
    }[];
    assert.deepEqual(rooms.map((r) => r.roomId), ["chat:doctor-1:patient-1", "visit:visit-123"]);
    assert.equal(rooms[0].unreadCount, 1);
    assert.equal(rooms[0].lastMessage?.message, "hi");
    assert.equal(rooms[1].unreadCount, 0);
    assert.equal(listed.nextOffset, null);
    const paged = await patient.request("room:list", { limit: 1 });
    assert.equal((paged.rooms as unknown[]).length, 1);
    assert.equal(paged.nextOffset, 1);

    // The hammer: both users send from two devices each while the patient reads from two.
    const senders = [patient, phone, doctor, laptop];
    const sends = senders.flatMap((c, i) =>
      Array.from(
        { length: 15 },
        (_, n) => c.request("message:send", { roomId: ROOM, message: `d${i}-${n}` }),
      )
    );
    const reads = Array.from(
      { length: 12 },
      (_, n) =>
        (n % 2 ? phone : patient).request("message:read", { roomId: ROOM, seq: 1 + n * 4 })
          .catch(() => null),
    );
    const acks = await Promise.all(sends);
    assert.ok(acks.every((a) => a.success === true), JSON.stringify(acks.find((a) => !a.success)));
    await Promise.all(reads);
    const history = await patient.request("message:history", { roomId: ROOM, limit: 100 });
    const cursor = (history.reads as Record<string, number>)["patient-1"];
    const expected = (history.messages as { seq: number; senderId: string }[])
      .filter((m) => m.seq > cursor && m.senderId !== "patient-1").length;
    const after = await patient.request("room:list", {});
    const visit = (after.rooms as { roomId: string; unreadCount: number }[])
      .find((r) => r.roomId === ROOM)!;
    assert.equal(visit.unreadCount, expected, `cursor ${cursor}`);
    // Reading everything: zero, pushed to both devices.
    const head = (history.messages as { seq: number }[]).at(-1)!.seq;
    await patient.request("message:read", { roomId: ROOM, seq: head });
    for (const c of [patient, phone]) {
      let u = await c.event("room:unread");
      while (u.roomId !== ROOM || u.unreadCount !== 0) u = await c.event("room:unread");
    }
    const zero = await patient.request("room:list", {});
    assert.equal(
      (zero.rooms as { roomId: string; unreadCount: number }[]).find((r) => r.roomId === ROOM)!
        .unreadCount,
      0,
    );
    // The doctor's count in the visit: the patient's 30 messages after the doctor's cursor (0).
    const doc = await doctor.request("room:list", {});
    assert.equal(
      (doc.rooms as { roomId: string; unreadCount: number }[]).find((r) => r.roomId === ROOM)!
        .unreadCount,
      30,
    );
  } finally {
    await srv.close();
  }
});
