import assert from "node:assert/strict";
import { addParticipant, listParticipants, type Participant, removeParticipant } from "./rooms.ts";
import { withKv } from "./testing.ts";

const ROOM = "visit:visit-123";
const pat: Participant = { userId: "patient-1", role: "patient", joinedAt: "2026-01-01T00:00:00Z" };
const doc: Participant = { userId: "doctor-1", role: "doctor", joinedAt: "2026-01-01T00:01:00Z" };

Deno.test("addParticipant: adds once; a second join changes nothing", async () => {
  await withKv(async (kv) => {
    assert.deepEqual(await addParticipant(kv, ROOM, pat), { added: true });
    assert.deepEqual(
      await addParticipant(kv, ROOM, { ...pat, joinedAt: "2026-01-02T00:00:00Z" }),
      { added: false },
    );
    assert.deepEqual(await listParticipants(kv, ROOM), [pat]);
    assert.deepEqual(await addParticipant(kv, ROOM, doc), { added: true });
    // Listed in user id order.
    assert.deepEqual(await listParticipants(kv, ROOM), [doc, pat]);
  });
});

Deno.test("removeParticipant: removes once; removing a non-member is a no-op", async () => {
  await withKv(async (kv) => {
    await addParticipant(kv, ROOM, pat);
    await addParticipant(kv, ROOM, doc);
    assert.deepEqual(await removeParticipant(kv, ROOM, "patient-1"), { removed: true });
    assert.deepEqual(await removeParticipant(kv, ROOM, "patient-1"), { removed: false });
    assert.deepEqual(await removeParticipant(kv, ROOM, "nobody"), { removed: false });
    assert.deepEqual(await removeParticipant(kv, "visit:other", "doctor-1"), { removed: false });
    assert.deepEqual(await listParticipants(kv, ROOM), [doc]);
    // Rejoining after leaving works.
    assert.deepEqual(await addParticipant(kv, ROOM, pat), { added: true });
    assert.deepEqual(await listParticipants(kv, ROOM), [doc, pat]);
  });
});

Deno.test("listParticipants: rooms are separate, including rooms whose id extends another", async () => {
  await withKv(async (kv) => {
    await addParticipant(kv, ROOM, pat);
    await addParticipant(kv, "visit:visit-1234", doc);
    assert.deepEqual(await listParticipants(kv, ROOM), [pat]);
    assert.deepEqual(await listParticipants(kv, "visit:visit-1234"), [doc]);
    assert.deepEqual(await listParticipants(kv, "visit:empty"), []);
  });
});
