/**
 * RELIABILITY row 31, with both schedulers: kill -9 while ring-timeout jobs
 * run. Many calls ring with deadlines within a few milliseconds of each other,
 * so their timeout jobs run together; the server is SIGKILLed as soon as the
 * first `call:missed` reaches a caller, with the rest of the batch in flight
 * or still queued. Restarted on the same KV file with no client connected
 * (so no read of a call can end it lazily), redelivery (queue) or the
 * start-up sweep (deadline) must end every call as missed, each with exactly
 * one "Missed call" notification.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { systemClock } from "../lib/clock.ts";
import { createTokenService } from "../lib/tokens.ts";
import { type Call, getCall } from "../store/calls.ts";
import { listDueJobs } from "../store/jobs.ts";
import { listNotifications, unreadCount } from "../store/notifications.ts";
import { createUser } from "../store/users.ts";
import { TEST_SECRET, within, WsClient } from "./harness.ts";
import { killAll, ServerProcess } from "./process.ts";
import { pollUntil } from "./reliability_support.ts";

/** Calls ringing at once; each needs two users, as a user is in one call at a time. */
const CALLS = 20;
/** Long enough for every call to be placed before the first deadline. */
const RING_MS = 2000;

const pairs = Array.from({ length: CALLS }, (_, i) => ({
  caller: `ring-caller-${i}`,
  callee: `ring-callee-${i}`,
}));

async function seedUsers(kvPath: string): Promise<void> {
  const kv = await Deno.openKv(kvPath);
  try {
    const now = new Date();
    await Promise.all(
      pairs.flatMap(({ caller, callee }) => [
        { id: caller, role: "doctor" as const },
        { id: callee, role: "nurse" as const },
      ]).map(({ id, role }) =>
        createUser(
          kv,
          { id, email: `${id}@example.com`, name: id, role, password: "unused-pw" },
          now,
        )
      ),
    );
  } finally {
    kv.close();
  }
}

async function readCalls(kvPath: string, ids: string[]): Promise<Call[]> {
  const kv = await Deno.openKv(kvPath);
  try {
    return await Promise.all(ids.map(async (id) => (await getCall(kv, id))!.call));
  } finally {
    kv.close();
  }
}

async function dueJobs(kvPath: string): Promise<number> {
  const kv = await Deno.openKv(kvPath);
  try {
    return (await listDueJobs(kv, Date.now())).length;
  } finally {
    kv.close();
  }
}

/**
 * The KV file's queue tables (Deno's SQLite layout): messages delivered to a
 * handler and not yet finished, with the latest of their deadlines, and
 * messages waiting for their time.
 */
function queueState(kvPath: string): { running: number; runningUntil: number; waiting: number } {
  const db = new DatabaseSync(kvPath, { readOnly: true });
  try {
    const row = (sql: string) => db.prepare(sql).get() as { n: number; d: number | null };
    const running = row("select count(*) as n, max(deadline) as d from queue_running");
    return {
      running: Number(running.n),
      runningUntil: Number(running.d ?? 0),
      waiting: Number(row("select count(*) as n, 0 as d from queue").n),
    };
  } finally {
    db.close();
  }
}

for (const scheduler of ["queue", "deadline"]) {
  Deno.test(`row 31: kill -9 while ring-timeout jobs run (${scheduler} scheduler): every call missed once after restart`, async () => {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/realtime.kv`;
    const env = {
      KV_PATH: kvPath,
      JWT_SECRET: TEST_SECRET,
      CALL_RING_TIMEOUT_MS: String(RING_MS),
      SCHEDULER: scheduler,
    };
    const clients: WsClient[] = [];
    let first: ServerProcess | undefined;
    let second: ServerProcess | undefined;
    try {
      await seedUsers(kvPath);
      const tokens = createTokenService({
        secret: TEST_SECRET,
        issuer: "telehealth-realtime",
        audience: "telehealth-realtime",
        ttlSeconds: 3600,
        clock: systemClock,
      });
      first = await ServerProcess.start(env);
      const server = first;
      const callers = await Promise.all(pairs.map(async ({ caller }) => {
        const c = await WsClient.open(server.wsUrl);
        clients.push(c);
        const { token } = await tokens.sign({ id: caller, role: "doctor" });
        assert.equal((await c.auth(token)).event, "connected");
        return c;
      }));

      // Kill from inside the frame handler: no turn of the event loop between the news and the kill.
      let killed!: Promise<unknown>;
      const firstMissed = new Promise<void>((resolve) => {
        for (const c of callers) {
          c.onEvent = (f) => {
            if (f.event === "call:missed" && !killed) {
              server.kill("SIGKILL");
              killed = server.exited();
              resolve();
            }
            return true;
          };
        }
      });
      const acks = await Promise.all(
        callers.map((c, i) =>
          c.request("call:initiate", { recipientId: pairs[i].callee, callType: "audio" })
        ),
      );
      for (const ack of acks) assert.equal(ack.status, "ringing", JSON.stringify(ack));
      const callIds = acks.map((a) => a.callId as string);
      await within(firstMissed, RING_MS + 10_000, "the first call:missed");
      await killed;
      await Promise.all(callers.map((c) => within(c.closed, 5000, "socket drop on kill")));

      const atKill = await readCalls(kvPath, callIds);
      const doneAtKill = atKill.filter((c) => c.status === "missed").length;
      assert.ok(atKill.every((c) => c.status === "missed" || c.status === "ringing"));

      // Every call still ringing has its job stored; one stored for a call already missed
      // belongs to a handler that committed and died before it could mark the job done.
      const pending = CALLS - doneAtKill;
      let jobs: string;
      if (scheduler === "queue") {
        const queue = queueState(kvPath);
        assert.ok(queue.running + queue.waiting >= pending, JSON.stringify(queue));
        jobs = `KV queue: ${queue.running} delivered and unfinished, ${queue.waiting} waiting`;
        // Deno's KV requeues a dead process's delivered messages when it opens the file only if
        // their deadline (5 s) has passed, else at its next cleanup 54-66 s later. The restart is
        // immediate on purpose: the server's own sweep of live calls (CallService.sweep, at start
        // and every 5 s) must end those calls without waiting for the redelivery.
      } else {
        const due = await dueJobs(kvPath);
        assert.ok(due >= pending, `${due} due jobs for ${pending} ringing calls`);
        jobs = `${due} due jobs stored, ${due - pending} of them for calls already missed`;
      }
      const restarted = performance.now();
      second = await ServerProcess.start(env);
      await pollUntil(
        async () => (await readCalls(kvPath, callIds)).every((c) => c.status !== "ringing"),
        "every call to end after the restart",
        { ms: 20_000 },
      );
      const finishMs = performance.now() - restarted;
      await killAll(second);
      console.log(
        `row 31 (${scheduler}): ${doneAtKill}/${CALLS} calls missed when killed (${jobs}); ` +
          `the rest ended ${finishMs.toFixed(0)} ms after the restart began`,
      );

      const kv = await Deno.openKv(kvPath);
      try {
        for (const [i, id] of callIds.entries()) {
          const call = (await getCall(kv, id))!.call;
          assert.equal(call.status, "missed", id);
          assert.equal(call.endReason, "missed", id);
          const { notifications } = await listNotifications(kv, pairs[i].callee, { limit: 10 });
          const missed = notifications.filter((n) => n.title === "Missed call");
          assert.equal(missed.length, 1, `${id}: ${missed.length} missed-call notifications`);
          assert.equal(missed[0].data?.callId, id);
          assert.equal(await unreadCount(kv, pairs[i].callee), 1);
          const callerNotes = await listNotifications(kv, pairs[i].caller, { limit: 10 });
          assert.equal(callerNotes.notifications.length, 0);
        }
      } finally {
        kv.close();
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await killAll(first, second);
      await Deno.remove(dir, { recursive: true });
    }
  });
}
