import assert from "node:assert/strict";
import { setDisabled } from "../store/users.ts";
import { startServer, type TestServer, within } from "./harness.ts";

const PAT = { userId: "patient-1", name: "Pat Patient", role: "patient" };
const SAM = { userId: "patient-2", name: "Sam Second", role: "patient" };
const DANA = { userId: "doctor-1", name: "Dr. Dana Doctor", role: "doctor" };

/**
 * The raw text of the ack to each request, sent one after another with the
 * same frame id on one fresh socket, so two answers can be compared byte for byte.
 */
async function rawAcks(srv: TestServer, email: string, payloads: unknown[]): Promise<string[]> {
  const token = await srv.login(email);
  const ws = new WebSocket(srv.wsUrl);
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  const inbox: string[] = [];
  let wake = () => {};
  ws.addEventListener("message", (e) => {
    inbox.push(String(e.data));
    wake();
  });
  const next = async (match: (text: string) => boolean): Promise<string> => {
    for (;;) {
      const i = inbox.findIndex(match);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await within(new Promise<void>((resolve) => (wake = resolve)), 3000, "a frame");
    }
  };
  try {
    await within(
      new Promise((resolve) => ws.addEventListener("open", resolve)),
      3000,
      "open",
    );
    ws.send(JSON.stringify({ event: "auth", data: { token } }));
    await next((t) => t.includes('"event":"connected"'));
    const acks: string[] = [];
    for (const data of payloads) {
      ws.send(JSON.stringify({ event: "user:profiles", data, id: 1 }));
      acks.push(await next((t) => t.startsWith('{"ack":1,')));
    }
    return acks;
  } finally {
    ws.close(1000);
    await within(closed, 3000, "close");
  }
}

Deno.test("user:profiles: a patient sees their own name and their clinician's, in the order asked", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    assert.deepEqual(
      await patient.request("user:profiles", { userIds: ["doctor-1", "patient-1"] }),
      { success: true, users: [DANA, PAT] },
    );
    assert.deepEqual(
      await patient.request("user:profiles", { userIds: ["patient-1"] }),
      { success: true, users: [PAT] },
    );
  } finally {
    await srv.close();
  }
});

Deno.test("user:profiles: another patient and an id nobody has are omitted alike, byte for byte", async () => {
  const srv = await startServer();
  try {
    await srv.addUser("nurse-1", "nurse");
    const patient = await srv.connect("patient@example.com");
    assert.deepEqual(
      await patient.request("user:profiles", {
        userIds: ["patient-2", "doctor-1", "nobody-9", "nurse-1", "patient-1"],
      }),
      { success: true, users: [DANA, PAT] },
      "other patients, unknown ids and staff outside the patient's visits are left out",
    );

    const [otherPatient, nobody] = await rawAcks(srv, "patient@example.com", [
      { userIds: ["patient-2"] },
      { userIds: ["nobody-9"] },
    ]);
    assert.equal(otherPatient, '{"ack":1,"data":{"success":true,"users":[]}}');
    assert.equal(nobody, otherPatient);

    // A clinician the patient shares no visit with is invisible too.
    const second = await srv.connect("patient2@example.com");
    assert.deepEqual(
      await second.request("user:profiles", { userIds: ["doctor-1", "patient-1", "patient-2"] }),
      { success: true, users: [SAM] },
    );
  } finally {
    await srv.close();
  }
});

Deno.test("user:profiles: staff see every existing user, services and disabled accounts included", async () => {
  const srv = await startServer();
  try {
    await srv.addUser("svc-1", "service");
    await srv.addUser("nurse-off", "nurse");
    await setDisabled(srv.kv, "nurse-off", true, new Date());
    const doctor = await srv.connect("doctor@example.com");
    const got = await doctor.request("user:profiles", {
      userIds: ["patient-2", "nobody-9", "patient-1", "svc-1", "nurse-off", "doctor-1"],
    });
    assert.deepEqual(got, {
      success: true,
      users: [
        SAM,
        PAT,
        { userId: "svc-1", name: "svc-1", role: "service" },
        { userId: "nurse-off", name: "nurse-off", role: "nurse" },
        DANA,
      ],
    });
    const text = JSON.stringify(got);
    for (const secret of ["email", "passwordHash", "disabled", "createdAt", "sessionEpoch"]) {
      assert.ok(!text.includes(secret), `${secret} must not be sent`);
    }
    for (const user of got.users as Record<string, unknown>[]) {
      assert.deepEqual(Object.keys(user), ["userId", "name", "role"]);
    }
  } finally {
    await srv.close();
  }
});

Deno.test("user:profiles: malformed requests are INVALID_PAYLOAD", async () => {
  const srv = await startServer();
  try {
    const patient = await srv.connect("patient@example.com");
    const ids = Array.from({ length: 101 }, (_, i) => `user-${i}`);
    const cases: [unknown, string][] = [
      [{ userIds: [] }, "userIds: Too small: expected array to have >=1 items"],
      [{ userIds: ids }, "userIds: Too big: expected array to have <=100 items"],
      [{ userIds: ["patient-1", "doctor-1", "patient-1"] }, "userIds: must not repeat an id"],
      [
        { userIds: ["patient-1", 42] },
        "userIds.1: Invalid input: expected string, received number",
      ],
      [{ userIds: ["bad id!"] }, "userIds.0: must be 1-64 letters"],
      [{}, "userIds: Invalid input: expected array, received undefined"],
    ];
    for (const [data, message] of cases) {
      const reply = await patient.request("user:profiles", data);
      assert.equal(reply.success, false, JSON.stringify(data));
      assert.equal(reply.code, "INVALID_PAYLOAD", JSON.stringify(data));
      assert.ok(
        String(reply.error).startsWith(`Invalid payload for "user:profiles": ${message}`),
        `${JSON.stringify(reply.error)} for ${JSON.stringify(data).slice(0, 60)}`,
      );
      assert.equal(reply.users, undefined);
    }
    // 100 distinct ids are fine (all unknown: nothing to show).
    assert.deepEqual(
      await patient.request("user:profiles", { userIds: ids.slice(0, 100) }),
      { success: true, users: [] },
    );
  } finally {
    await srv.close();
  }
});
