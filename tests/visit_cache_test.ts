/**
 * Visit access is cached on the send path (realtime/visit_cache.ts). These
 * tests change a visit and check that no send is authorized on the old
 * record: through the API (this process applies it before answering), and
 * behind the cache's back (as another process would, before any watch or
 * poll could tell this one).
 */
import assert from "node:assert/strict";
import { startServer, type TestServer } from "./harness.ts";
import { updateVisit } from "../store/visits.ts";
import { listHistory } from "../store/messages.ts";

const ROOM = "visit:visit-123";

function patch(srv: TestServer, id: string, body: unknown, token: string) {
  return fetch(`${srv.url}/api/v1/visits/${id}`, {
    method: "PATCH",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

async function setup() {
  const srv = await startServer();
  await srv.addUser("doctor-2", "doctor");
  const doctorToken = await srv.login("doctor@example.com");
  // doctor-2 joins the demo visit's care team.
  const added = await patch(
    srv,
    "visit-123",
    { clinicianIds: ["doctor-1", "doctor-2"] },
    doctorToken,
  );
  assert.equal(added.status, 200);
  assert.deepEqual((await added.json()).visit.clinicianIds, ["doctor-1", "doctor-2"]);
  return { srv, doctorToken };
}

Deno.test("visit change through the API: a removed clinician leaves the rooms and cannot send", async () => {
  const { srv, doctorToken } = await setup();
  try {
    const second = await srv.connect("doctor-2@example.com");
    const patient = await srv.connect("patient@example.com");
    assert.equal((await second.request("room:join", { roomId: ROOM })).success, true);
    assert.equal((await patient.request("room:join", { roomId: ROOM })).success, true);
    // A first send fills the cache with the visit as it is now.
    const first = await second.request("message:send", { visitId: "visit-123", message: "hi" });
    assert.equal(first.success, true);
    await patient.event("message:new");

    const removed = await patch(srv, "visit-123", { clinicianIds: ["doctor-1"] }, doctorToken);
    assert.equal(removed.status, 200);
    await removed.body?.cancel();
    assert.deepEqual(await second.event("room:removed"), {
      roomId: ROOM,
      reason: "access_revoked",
    });
    const refused = await second.request("message:send", { visitId: "visit-123", message: "x" });
    assert.equal(refused.success, false);
    assert.equal(refused.code, "FORBIDDEN");
    // The patient still sends, and the removed clinician no longer hears the room.
    const ok = await patient.request("message:send", { visitId: "visit-123", message: "still" });
    assert.equal(ok.success, true);
    await second.sync();
    assert.equal(second.pending("message:new").length, 0);
    const { messages } = await listHistory(srv.kv, ROOM, { limit: 10 });
    assert.deepEqual(messages.map((m) => m.message), ["hi", "still"]);
  } finally {
    await srv.close();
  }
});

Deno.test("visit changed by another process: the next send is decided on the new record", async () => {
  const { srv } = await setup();
  try {
    const second = await srv.connect("doctor-2@example.com");
    const sent = await second.request("message:send", { visitId: "visit-123", message: "one" });
    assert.equal(sent.success, true);
    // Written straight to KV, as another process would. Whether this process hears of it first
    // (watch) or not, the send commits only against the visit as stored (the batch guard).
    const changed = await updateVisit(srv.kv, "visit-123", { clinicianIds: ["doctor-1"] }, {
      changeId: "00000000000000000000000000",
      now: Date.now(),
    });
    assert.ok(changed);
    const refused = await second.request("message:send", { visitId: "visit-123", message: "two" });
    assert.equal(refused.success, false);
    assert.equal(refused.code, "FORBIDDEN");
    const { messages } = await listHistory(srv.kv, ROOM, { limit: 10 });
    assert.deepEqual(messages.map((m) => m.message), ["one"], "nothing stored on the stale grant");
  } finally {
    await srv.close();
  }
});

Deno.test("visit PATCH: only its clinicians and admins; bad input is refused with the field named", async () => {
  const { srv, doctorToken } = await setup();
  try {
    const patientToken = await srv.login("patient@example.com");
    const byPatient = await patch(srv, "visit-123", { title: "mine" }, patientToken);
    assert.equal(byPatient.status, 403);
    const unknown = await patch(srv, "visit-999", { title: "x" }, doctorToken);
    assert.equal(unknown.status, 403);
    assert.deepEqual(await byPatient.json(), await unknown.json(), "same refusal either way");
    const notStaff = await patch(srv, "visit-123", { clinicianIds: ["patient-2"] }, doctorToken);
    assert.equal(notStaff.status, 400);
    assert.equal((await notStaff.json()).code, "INVALID_PAYLOAD");
    const empty = await patch(srv, "visit-123", {}, doctorToken);
    assert.equal(empty.status, 400);
    await empty.body?.cancel();
    const patientChange = await patch(srv, "visit-123", { patientId: "patient-2" }, doctorToken);
    assert.equal(patientChange.status, 400, "the patient of a visit never changes");
    await patientChange.body?.cancel();
    const titled = await patch(srv, "visit-123", { title: "Follow-up" }, doctorToken);
    assert.equal((await titled.json()).visit.title, "Follow-up");
  } finally {
    await srv.close();
  }
});
