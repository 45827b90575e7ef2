import assert from "node:assert/strict";
import { AppError } from "../lib/errors.ts";
import { seedDemoData } from "../store/demo.ts";
import { createUser, getUser, type Role } from "../store/users.ts";
import { createVisit } from "../store/visits.ts";
import {
  type Actor,
  assertMayChat,
  authorizeRoom,
  chatRoomId,
  MAX_ROOM_ID_LENGTH,
  parseRoomId,
  requireRoom,
  type RoomAction,
  userVisibility,
} from "./access.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");

Deno.test("parseRoomId: the five documented formats", () => {
  assert.deepEqual(parseRoomId("chat:doctor-1:patient-1"), {
    kind: "chat",
    id: "chat:doctor-1:patient-1",
    users: ["doctor-1", "patient-1"],
  });
  assert.deepEqual(parseRoomId("visit:visit-123"), {
    kind: "visit",
    id: "visit:visit-123",
    visitId: "visit-123",
  });
  assert.deepEqual(parseRoomId("call:visit-123"), {
    kind: "call",
    id: "call:visit-123",
    visitId: "visit-123",
  });
  assert.deepEqual(parseRoomId("notifications:patient-1"), {
    kind: "notifications",
    id: "notifications:patient-1",
    userId: "patient-1",
  });
  assert.deepEqual(parseRoomId("topic:general_news"), {
    kind: "topic",
    id: "topic:general_news",
    topic: "general_news",
  });
  // The longest legal id: two 64-character user ids.
  const longest = `chat:${"a".repeat(64)}:${"b".repeat(64)}`;
  assert.ok(longest.length <= MAX_ROOM_ID_LENGTH);
  assert.equal(parseRoomId(longest)?.kind, "chat");
});

Deno.test("parseRoomId: forged and malformed ids are refused", () => {
  const forged = [
    "chat:b:a",
    "chat:a:a",
    "chat:a:b:c",
    "chat:a",
    "chat::b",
    "visit:../x",
    "visit:..",
    "visit:a/b",
    "visit:%2e%2e",
    "visit:a\0",
    "visit:\0",
    "visit:" + "a".repeat(10 * 1024),
    "visit:" + "a".repeat(65),
    "__proto__",
    "constructor",
    "visit:__proto__",
    "topic:",
    "visit:",
    "notifications:",
    "",
    ":",
    "::",
    "visit",
    "visit:x:y",
    "Visit:x",
    "VISIT:x",
    "unknown:x",
    "visit: x",
    "visit:x ",
    "visit:x\n",
    "visit:-x",
    "visit:_x",
    "visit:visit-123\u202e",
    "visit:vìsit",
  ];
  for (const id of forged) {
    assert.equal(parseRoomId(id), null, `room id ${JSON.stringify(id.slice(0, 40))}`);
  }
});

Deno.test("requireRoom: INVALID_PAYLOAD naming roomId; chatRoomId sorts", () => {
  assert.equal(requireRoom("visit:v1").kind, "visit");
  assert.throws(
    () => requireRoom("chat:b:a"),
    (err) =>
      err instanceof AppError && err.code === "INVALID_PAYLOAD" &&
      err.issues?.[0]?.path === "roomId",
  );
  assert.equal(chatRoomId("patient-1", "doctor-1"), "chat:doctor-1:patient-1");
  assert.equal(chatRoomId("doctor-1", "patient-1"), "chat:doctor-1:patient-1");
  assert.equal(parseRoomId(chatRoomId("zed", "amy"))?.kind, "chat");
});

/** Demo data (patient-1 and doctor-1 on visit-123, patient-2 not) plus a few more users. */
async function seeded(): Promise<Deno.Kv> {
  const kv = await Deno.openKv(":memory:");
  await seedDemoData(kv, NOW);
  const extra: { id: string; role: Role }[] = [
    { id: "admin-1", role: "admin" },
    { id: "nurse-1", role: "nurse" },
    { id: "doctor-2", role: "doctor" },
    { id: "doctor-off", role: "doctor" },
    { id: "svc-1", role: "service" },
  ];
  await Promise.all(
    extra.map((u) =>
      createUser(kv, { ...u, email: `${u.id}@example.com`, name: u.id, password: "pw" }, NOW)
    ),
  );
  const off = (await getUser(kv, "doctor-off"))!;
  await kv.set(["users", "doctor-off"], { ...off, disabled: true });
  return kv;
}

const patient1: Actor = { userId: "patient-1", role: "patient" };
const patient2: Actor = { userId: "patient-2", role: "patient" };
const doctor1: Actor = { userId: "doctor-1", role: "doctor" };
const doctor2: Actor = { userId: "doctor-2", role: "doctor" };
const nurse1: Actor = { userId: "nurse-1", role: "nurse" };
const admin: Actor = { userId: "admin-1", role: "admin" };
const service: Actor = { userId: "svc-1", role: "service" };
const ACTIONS: RoomAction[] = ["join", "read", "publish"];

const denied = (message = "Room access denied") => (err: unknown) =>
  err instanceof AppError && err.code === "FORBIDDEN" && err.message === message;

function authorize(kv: Deno.Kv, actor: Actor, roomId: string, action: RoomAction) {
  return authorizeRoom(kv, actor, requireRoom(roomId), action);
}

// Seeding hashes eight passwords, so the access rules share one seeded store; the step that
// adds a visit runs last.
Deno.test("authorizeRoom and assertMayChat on the demo data", async (t) => {
  const kv = await seeded();
  try {
    await t.step("visit and call rooms belong to the visit's participants", async () => {
      for (const roomId of ["visit:visit-123", "call:visit-123"]) {
        for (const action of ACTIONS) {
          const grant = await authorize(kv, patient1, roomId, action);
          assert.equal(grant.room.id, roomId);
          assert.equal(grant.visit?.id, "visit-123");
          assert.equal(
            (await authorize(kv, doctor1, roomId, action)).visit?.patientId,
            "patient-1",
          );
          await assert.rejects(authorize(kv, patient2, roomId, action), denied(), roomId);
          await assert.rejects(authorize(kv, doctor2, roomId, action), denied(), roomId);
          await assert.rejects(authorize(kv, nurse1, roomId, action), denied(), roomId);
        }
      }
      // A visit that does not exist is refused exactly like one that does.
      for (const actor of [patient1, doctor1, admin]) {
        await assert.rejects(authorize(kv, actor, "visit:no-such-visit", "join"), denied());
        await assert.rejects(authorize(kv, actor, "call:no-such-visit", "join"), denied());
      }
    });

    await t.step("admins may join and read any room but publish only where entitled", async () => {
      for (const action of ["join", "read"] as const) {
        assert.equal(
          (await authorize(kv, admin, "visit:visit-123", action)).visit?.id,
          "visit-123",
        );
        assert.equal((await authorize(kv, admin, "call:visit-123", action)).room.kind, "call");
        assert.equal(
          (await authorize(kv, admin, "chat:patient-1:patient-2", action)).room.kind,
          "chat",
        );
        assert.equal(
          (await authorize(kv, admin, "notifications:patient-1", action)).room.kind,
          "notifications",
        );
      }
      await assert.rejects(authorize(kv, admin, "visit:visit-123", "publish"), denied());
      await assert.rejects(authorize(kv, admin, "chat:doctor-1:patient-1", "publish"), denied());
      await assert.rejects(authorize(kv, admin, "notifications:patient-1", "publish"), denied());
      assert.equal((await authorize(kv, admin, "topic:news", "publish")).room.kind, "topic");
    });

    await t.step("notification rooms are their owner's only", async () => {
      for (const action of ACTIONS) {
        assert.equal(
          (await authorize(kv, patient1, "notifications:patient-1", action)).room.id,
          "notifications:patient-1",
        );
        await assert.rejects(authorize(kv, patient1, "notifications:other", action), denied());
        await assert.rejects(authorize(kv, doctor1, "notifications:patient-1", action), denied());
      }
    });

    await t.step("anyone may join a topic; only staff may publish", async () => {
      for (const actor of [patient1, patient2, doctor1, nurse1, admin, service]) {
        assert.equal((await authorize(kv, actor, "topic:news", "join")).room.kind, "topic");
        assert.equal((await authorize(kv, actor, "topic:news", "read")).room.kind, "topic");
      }
      for (const actor of [doctor1, nurse1, admin]) {
        assert.equal((await authorize(kv, actor, "topic:news", "publish")).room.kind, "topic");
      }
      for (const actor of [patient1, service]) {
        await assert.rejects(
          authorize(kv, actor, "topic:news", "publish"),
          denied("Only staff may publish to topic rooms"),
        );
      }
    });

    await t.step("chats need a shared visit when a patient is involved", async () => {
      // patient-1 and doctor-1 share visit-123.
      for (const action of ACTIONS) {
        assert.equal(
          (await authorize(kv, patient1, "chat:doctor-1:patient-1", action)).room.kind,
          "chat",
        );
        assert.equal(
          (await authorize(kv, doctor1, "chat:doctor-1:patient-1", action)).room.kind,
          "chat",
        );
      }
      // Never patient to patient, and never a third party.
      await assert.rejects(authorize(kv, patient1, "chat:patient-1:patient-2", "join"), denied());
      await assert.rejects(
        authorize(kv, patient2, "chat:patient-1:patient-2", "publish"),
        denied(),
      );
      await assert.rejects(authorize(kv, patient2, "chat:doctor-1:patient-1", "join"), denied());
      await assert.rejects(authorize(kv, doctor2, "chat:doctor-1:patient-1", "read"), denied());
      // No shared visit: refused both ways.
      await assert.rejects(authorize(kv, patient2, "chat:doctor-1:patient-2", "join"), denied());
      await assert.rejects(authorize(kv, doctor1, "chat:doctor-1:patient-2", "join"), denied());
      await assert.rejects(authorize(kv, patient1, "chat:doctor-2:patient-1", "join"), denied());
      // Staff among themselves need no visit.
      assert.equal(
        (await authorize(kv, doctor1, "chat:doctor-1:doctor-2", "publish")).room.kind,
        "chat",
      );
      assert.equal(
        (await authorize(kv, nurse1, "chat:doctor-1:nurse-1", "publish")).room.kind,
        "chat",
      );
      // Unknown, disabled and service users are not chat partners.
      await assert.rejects(authorize(kv, doctor1, "chat:doctor-1:ghost", "join"), denied());
      await assert.rejects(authorize(kv, doctor1, "chat:doctor-1:doctor-off", "join"), denied());
      await assert.rejects(authorize(kv, doctor1, "chat:doctor-1:svc-1", "join"), denied());

      // Once they share a visit, patient-2 and doctor-1 may chat.
      await createVisit(kv, {
        id: "visit-456",
        patientId: "patient-2",
        clinicianIds: ["doctor-1"],
        createdBy: "doctor-1",
        createdAt: NOW.toISOString(),
      });
      assert.equal(
        (await authorize(kv, patient2, "chat:doctor-1:patient-2", "publish")).room.kind,
        "chat",
      );
      await assert.rejects(authorize(kv, patient1, "chat:patient-1:patient-2", "join"), denied());
    });

    await t.step("userVisibility: patients see themselves and their care team only", async () => {
      const ids = ["patient-1", "patient-2", "doctor-1", "doctor-2", "nurse-1", "svc-1", "nobody"];
      const seen = async (actor: Actor) => ids.filter(await userVisibility(kv, actor));
      assert.deepEqual(await seen(patient1), ["patient-1", "doctor-1"]);
      for (const actor of [doctor2, nurse1, admin, service]) {
        assert.deepEqual(await seen(actor), ids);
      }
    });

    await t.step("assertMayChat: chatting with yourself is INVALID_PAYLOAD", async () => {
      await assert.rejects(
        assertMayChat(kv, doctor1, "doctor-1"),
        (err) => err instanceof AppError && err.code === "INVALID_PAYLOAD",
      );
      await assertMayChat(kv, doctor1, "patient-1");
      await assert.rejects(assertMayChat(kv, patient1, "patient-2"), denied());
    });
  } finally {
    kv.close();
  }
});
