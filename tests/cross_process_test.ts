/**
 * Events across processes (issue 10): two `deno run main.ts` processes on one
 * KV file, and `deno serve --parallel` with two isolates and the
 * BroadcastChannel off, so the KV bus is the only way across. The seed's
 * events (messages, read receipts, typing, presence, notifications, calls with
 * a ring timeout, a service broadcast) must reach the other side exactly once,
 * in order, within a second; and after a kill -9 of one process in a send
 * storm, every acknowledged message still reaches the other process's sockets
 * exactly once, and a client moving over resumes with `since`.
 */

import assert from "node:assert/strict";
import { type Frame, waitFor, WsClient } from "./harness.ts";
import { killAll, ServerProcess } from "./process.ts";

const ROOM = "visit:visit-123";
/** The bound is 1 s; the waits allow for a loaded CI machine, the delays are asserted. */
const CROSS_MS = 1000;

async function connect(url: string, token: string): Promise<WsClient> {
  const c = await WsClient.open(url);
  const r = await c.auth(token);
  if (r.event !== "connected") throw new Error(JSON.stringify(r));
  return c;
}

/** A service account, added with the users CLI on the shared KV file, and its token. */
async function serviceToken(server: ServerProcess, kvPath: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--unstable-kv",
      new URL("../scripts/users.ts", import.meta.url).pathname,
      "add",
      "--email",
      "service@clinic.test",
      "--name",
      "Scheduling",
      "--role",
      "service",
    ],
    env: { KV_PATH: kvPath, USER_PASSWORD: "service-password-123", NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return await server.login("service@clinic.test", "service-password-123");
}

/** Awaits `name` on `c` and returns it with how long it took. */
async function timed(c: WsClient, name: string): Promise<{ data: Frame["data"]; ms: number }> {
  const t0 = performance.now();
  const data = await c.event(name, 5000);
  return { data, ms: performance.now() - t0 };
}

/**
 * The seed's events, sent on one side and awaited on the other. `a` and `b`
 * are the two servers' WebSocket URLs (the same URL for two isolates).
 */
async function scenario(
  servers: { a: string; b: string; http: ServerProcess; kvPath: string; isolates: boolean },
): Promise<number[]> {
  const delays: number[] = [];
  const { http } = servers;
  const tokens = {
    patient: await http.login("patient@example.com"),
    doctor: await http.login("doctor@example.com"),
  };
  const clients: WsClient[] = [];
  try {
    // With isolates, connections land where the kernel puts them: open several of each so that
    // some pair is split; every socket must see everything anyway.
    const per = servers.isolates ? 4 : 1;
    const patients: WsClient[] = [];
    const doctors: WsClient[] = [];
    for (let i = 0; i < per; i++) {
      patients.push(await connect(servers.a, tokens.patient));
      doctors.push(await connect(servers.b, tokens.doctor));
    }
    clients.push(...patients, ...doctors);
    for (const c of clients) {
      assert.equal((await c.request("room:join", { roomId: ROOM })).success, true);
    }
    for (const d of doctors) {
      assert.equal(
        (await d.request("presence:subscribe", { userIds: ["patient-1"] })).success,
        true,
      );
    }
    const [patient] = patients;
    const [doctor] = doctors;

    // Messages: 20 in a row, each seen once and in seq order by every doctor socket.
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const ack = await patient.request("message:send", { roomId: ROOM, message: `p${i}` });
      assert.equal(ack.success, true, JSON.stringify(ack));
      seqs.push((ack.message as { seq: number }).seq);
    }
    // Every socket but the sender's: the doctor's, and the patient's other tabs.
    for (const d of [...doctors, ...patients.slice(1)]) {
      for (const seq of seqs) {
        const m = await timed(d, "message:new");
        assert.equal(m.data.seq, seq, "in seq order, no gap, no repeat");
        delays.push(m.ms);
      }
    }
    // The other direction, to the patient's other tabs too.
    const back = await doctor.request("message:send", { roomId: ROOM, message: "from b" });
    for (const c of [...patients, ...doctors.slice(1)]) {
      assert.equal((await timed(c, "message:new")).data.message, "from b");
    }

    // Read receipt.
    const last = (back.message as { seq: number }).seq;
    assert.equal((await doctor.request("message:read", { roomId: ROOM, seq: last })).success, true);
    const status = await timed(patient, "message:status");
    assert.deepEqual([status.data.userId, status.data.seq], ["doctor-1", last]);
    delays.push(status.ms);

    // Typing (best effort, but on an idle machine it arrives).
    patient.emit("typing:start", { roomId: ROOM });
    const typing = await timed(doctor, "typing:start");
    assert.equal(typing.data.userId, "patient-1");
    delays.push(typing.ms);

    // Presence.
    patient.emit("presence:setStatus", { status: "busy" });
    for (const d of doctors) {
      let change = await timed(d, "presence:changed");
      // The patient's own sockets connecting may come first.
      while (change.data.status !== "busy") change = await timed(d, "presence:changed");
      delays.push(change.ms);
    }

    // A notification created over HTTP on one process, for the doctor.
    const service = await serviceToken(http, servers.kvPath);
    const res = await fetch(`${http.url}/api/v1/notifications`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${service}` },
      body: JSON.stringify({ userId: "doctor-1", title: "Lab results", message: "Ready" }),
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    for (const d of doctors) {
      const n = await timed(d, "notification:new");
      assert.equal(n.data.title, "Lab results");
      delays.push(n.ms);
    }

    // A service broadcast.
    const emit = await fetch(`${http.url}/api/v1/realtime/emit`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${service}` },
      body: JSON.stringify({
        target: { all: true },
        event: "system:maintenance",
        data: { message: "Scheduled maintenance in 10 minutes" },
      }),
    });
    assert.equal(emit.status, 202);
    await emit.body?.cancel();
    for (const c of clients) delays.push((await timed(c, "system:maintenance")).ms);

    // A call: ring, accept, end.
    const ring = await doctor.request("call:initiate", {
      recipientId: "patient-1",
      callType: "video",
      visitId: "visit-123",
    });
    assert.equal(ring.success, true, JSON.stringify(ring));
    const callId = ring.callId;
    for (const p of patients) {
      const incoming = await timed(p, "call:incoming");
      assert.equal(incoming.data.callId, callId);
      delays.push(incoming.ms);
    }
    assert.equal((await patient.request("call:accept", { callId })).success, true);
    const accepted = await timed(doctor, "call:accepted");
    assert.equal(accepted.data.callId, callId);
    delays.push(accepted.ms);
    assert.equal((await patient.request("call:end", { callId })).success, true);
    const ended = await timed(doctor, "call:ended");
    assert.equal(ended.data.callId, callId);
    delays.push(ended.ms);

    // A ring nobody answers: the timeout fires in whichever process runs the job.
    const unanswered = await doctor.request("call:initiate", {
      recipientId: "patient-1",
      callType: "audio",
      visitId: "visit-123",
    });
    assert.equal(unanswered.success, true, JSON.stringify(unanswered));
    for (const c of [...patients, ...doctors]) {
      const missed = await c.event("call:missed", 10_000);
      assert.equal(missed.callId, unanswered.callId);
    }

    // Exactly once: nothing more of any of these arrived anywhere.
    for (const c of clients) await c.sync();
    for (const c of clients) {
      for (const name of ["message:new", "system:maintenance", "call:missed"]) {
        assert.equal(c.pending(name).length, 0, `a second ${name}`);
      }
      // The patient also gets the missed call's own notification; the lab results came once.
      const lab = c.pending("notification:new").filter((f) => f.data.title === "Lab results");
      assert.equal(lab.length, 0, "a second notification:new");
    }
    return delays;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

function p99(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

const ENV = { DEMO_DATA: "true", CALL_RING_TIMEOUT_MS: "1500", MESSAGE_BURST: "100" };

Deno.test("two processes on one KV file: every event of the seed crosses, once, in order, within 1 s", async () => {
  const dir = await Deno.makeTempDir();
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  try {
    const env = { ...ENV, KV_PATH: `${dir}/realtime.kv` };
    a = await ServerProcess.start(env);
    b = await ServerProcess.start(env);
    const delays = await scenario({
      a: a.wsUrl,
      b: b.wsUrl,
      http: a,
      kvPath: env.KV_PATH,
      isolates: false,
    });
    assert.ok(p99(delays) <= CROSS_MS, `p99 ${p99(delays).toFixed(0)} ms`);
  } finally {
    await killAll(a, b);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno serve --parallel, two isolates, BROADCAST_CHANNEL=false: the KV bus alone carries every event", async () => {
  const dir = await Deno.makeTempDir();
  let server: ServerProcess | undefined;
  try {
    server = await ServerProcess.start(
      { ...ENV, KV_PATH: `${dir}/realtime.kv`, BROADCAST_CHANNEL: "false" },
      { isolates: 2 },
    );
    const delays = await scenario({
      a: server.wsUrl,
      b: server.wsUrl,
      http: server,
      kvPath: `${dir}/realtime.kv`,
      isolates: true,
    });
    assert.ok(p99(delays) <= CROSS_MS, `p99 ${p99(delays).toFixed(0)} ms`);
  } finally {
    await killAll(server);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kill -9 of one process in a send storm: the other's sockets get every acknowledged message once; the sender resumes there with since", async () => {
  const dir = await Deno.makeTempDir();
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  const clients: WsClient[] = [];
  try {
    const env = {
      ...ENV,
      KV_PATH: `${dir}/realtime.kv`,
      MESSAGE_BURST: "1000",
      MESSAGE_RATE_PER_S: "1000",
    };
    a = await ServerProcess.start(env);
    b = await ServerProcess.start(env);
    const patientToken = await a.login("patient@example.com");
    const doctor = await connect(b.wsUrl, await b.login("doctor@example.com"));
    clients.push(doctor);
    assert.equal((await doctor.request("room:join", { roomId: ROOM })).success, true);
    const senders = [];
    for (let i = 0; i < 4; i++) senders.push(await connect(a.wsUrl, patientToken));
    const acked: number[] = [];
    let stop = false;
    const storm = senders.map(async (s, i) => {
      for (let n = 0; !stop; n++) {
        const r = await s.request("message:send", {
          roomId: ROOM,
          message: `s${i}-${n}`,
          clientMessageId: `s${i}-${n}`,
        }, 3000).catch(() => null);
        if (!r) return; // the process is gone
        if (r.success) acked.push((r.message as { seq: number }).seq);
      }
    });
    // Kill once the doctor has seen a good part of the storm.
    await waitFor(() => doctor.pending("message:new").length >= 60, "storm under way", 20_000);
    a.kill("SIGKILL");
    await a.exited();
    stop = true;
    await Promise.all(storm);
    assert.ok(acked.length >= 60, `acked ${acked.length}`);

    // Every acknowledged message reaches the doctor on the surviving process, exactly once.
    const seen = () => doctor.pending("message:new").map((f) => f.data.seq as number);
    await waitFor(
      () => acked.every((seq) => seen().includes(seq)),
      "every acknowledged message at the doctor",
      5000,
    ).catch(() => {
      const missing = acked.filter((seq) => !seen().includes(seq));
      throw new Error(`acked but never delivered: ${missing.join(",")}`);
    });
    await doctor.sync();
    const delivered = seen();
    assert.equal(new Set(delivered).size, delivered.length, "delivered twice");
    assert.deepEqual(delivered, [...delivered].sort((x, y) => x - y), "in seq order");
    assert.deepEqual(
      delivered,
      Array.from({ length: delivered.length }, (_, i) => delivered[0] + i),
      "no gap",
    );

    // The patient moves to the surviving process and resumes from the last seq it was acked.
    const lastAcked = Math.max(...acked);
    const moved = await connect(b.wsUrl, patientToken);
    clients.push(moved);
    const resumed = await moved.request("room:join", { roomId: ROOM, since: lastAcked - 5 });
    assert.equal(resumed.recovered, true);
    const resumedSeqs = (resumed.messages as { seq: number }[]).map((m) => m.seq);
    assert.deepEqual(resumedSeqs.slice(0, 5), [1, 2, 3, 4, 5].map((k) => lastAcked - 5 + k));
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await killAll(a, b);
    await Deno.remove(dir, { recursive: true });
  }
});
