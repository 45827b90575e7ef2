/**
 * One conformance suite for both Scheduler implementations: a job runs once at
 * its time, survives a restart (a new scheduler on the same KV file), and a
 * failing handler gets the job again.
 */

import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { memoryLogger } from "../lib/log.ts";
import { DeadlineScheduler, type Job, QueueScheduler, type Scheduler } from "./scheduler.ts";

type Make = (kv: Deno.Kv) => Scheduler;

const IMPLEMENTATIONS: [string, Make][] = [
  ["queue", (kv) => new QueueScheduler({ kv, clock: systemClock, log: memoryLogger() })],
  [
    "deadline",
    (kv) => new DeadlineScheduler({ kv, clock: systemClock, log: memoryLogger() }, { sweepMs: 50 }),
  ],
];

function job(callId: string, inMs: number): Job {
  return { kind: "call:ring_timeout", callId, dueAt: Date.now() + inMs };
}

/** Collects handled jobs; `next()` resolves with the next one, bounded by a timeout. */
function recorder() {
  const seen: Job[] = [];
  const waiters: ((j: Job) => void)[] = [];
  return {
    seen,
    handler: (j: Job) => {
      seen.push(j);
      waiters.shift()?.(j);
      return Promise.resolve();
    },
    next(ms = 5000): Promise<Job> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("job not delivered in time")), ms);
        waiters.push((j) => {
          clearTimeout(timer);
          resolve(j);
        });
      });
    },
  };
}

async function shutdown(s: Scheduler, kv: Deno.Kv): Promise<void> {
  await s.stop();
  kv.close();
  await s.finished;
}

for (const [name, make] of IMPLEMENTATIONS) {
  Deno.test(`${name} scheduler: a job runs once, not before it is due`, async () => {
    const kv = await Deno.openKv(":memory:");
    const s = make(kv);
    const rec = recorder();
    s.start(rec.handler);
    try {
      const j = job("c1", 150);
      await s.schedule(j);
      const got = await rec.next();
      assert.ok(Date.now() >= j.dueAt - 5, "ran early");
      assert.deepEqual(got, j);
      // Another job proves the first is not delivered again in between.
      await s.schedule(job("c2", 50));
      assert.equal((await rec.next()).callId, "c2");
      assert.deepEqual(rec.seen.map((x) => x.callId), ["c1", "c2"]);
    } finally {
      await shutdown(s, kv);
    }
  });

  Deno.test(`${name} scheduler: a job survives a restart on the same KV file`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      let kv = await Deno.openKv(`${dir}/kv`);
      let s = make(kv);
      const lost = recorder();
      s.start(lost.handler);
      await s.schedule(job("durable", 400));
      await shutdown(s, kv); // the process "dies" before the job is due

      kv = await Deno.openKv(`${dir}/kv`);
      s = make(kv);
      const rec = recorder();
      s.start(rec.handler);
      try {
        assert.equal((await rec.next()).callId, "durable");
        assert.equal(lost.seen.length, 0);
      } finally {
        await shutdown(s, kv);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${name} scheduler: a handler that fails gets the job again`, async () => {
    const kv = await Deno.openKv(":memory:");
    const s = make(kv);
    let attempts = 0;
    let done!: () => void;
    const succeeded = new Promise<void>((r) => done = r);
    s.start((j) => {
      if (j.callId !== "flaky") return Promise.resolve();
      attempts++;
      if (attempts === 1) return Promise.reject(new Error("transient"));
      done();
      return Promise.resolve();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await s.schedule(job("flaky", 10));
      await Promise.race([
        succeeded,
        new Promise((_, reject) => timer = setTimeout(() => reject(new Error("no retry")), 15_000)),
      ]);
      assert.equal(attempts, 2);
    } finally {
      clearTimeout(timer);
      await shutdown(s, kv);
    }
  });
}
