/**
 * @module
 * The Scheduler: "run this job at that time", surviving restarts, behind one
 * small interface with two implementations (one shared conformance suite):
 *
 * - {@linkcode QueueScheduler}: a KV queue job with a delay. Where KV queues
 *   exist it is the simplest durable timer: whichever isolate is alive gets it,
 *   at least once.
 * - {@linkcode DeadlineScheduler}: a stored deadline plus an in-isolate timer,
 *   and a sweep (at start-up and every `sweepMs`) that runs due jobs left by
 *   isolates that died or by other instances. For the new Deno Deploy, which
 *   has KV but no queues.
 *
 * Both may run a job more than once (redelivery, two isolates sweeping), so
 * handlers are idempotent: they commit only if the state they act on is
 * unchanged.
 */

import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import {
  deleteJob,
  enqueueJob,
  type Job,
  listDueJobs,
  listenJobs,
  putDueJob,
} from "../store/jobs.ts";

export type { Job };
export type JobHandler = (job: Job) => Promise<void>;

export interface Scheduler {
  readonly kind: "queue" | "deadline";
  /** Starts delivering jobs (also ones scheduled before a restart) to `handler`. */
  start(handler: JobHandler): void;
  schedule(job: Job): Promise<void>;
  /** Stops local timers and waits for running jobs. A queue listener ends when KV closes. */
  stop(): Promise<void>;
  /** Settles once the scheduler holds no KV operation any more (after `stop` and KV close). */
  readonly finished: Promise<void>;
}

interface Deps {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
}

function logFailure(log: Logger, job: Job, err: unknown): void {
  log.error("job.failed", {
    kind: job.kind,
    callId: job.callId,
    error: err instanceof Error ? err : String(err),
  });
}

export class QueueScheduler implements Scheduler {
  readonly kind = "queue";
  #deps: Deps;
  #listening?: Promise<void>;
  #running = new Set<Promise<void>>();

  constructor(deps: Deps) {
    this.#deps = deps;
  }

  get finished(): Promise<void> {
    return this.#listening ?? Promise.resolve();
  }

  start(handler: JobHandler): void {
    this.#listening = listenJobs(this.#deps.kv, (job) => {
      const run = handler(job).catch((err) => {
        logFailure(this.#deps.log, job, err);
        throw err; // KV redelivers it later
      });
      this.#running.add(run);
      return run.finally(() => this.#running.delete(run));
    });
  }

  async schedule(job: Job): Promise<void> {
    await enqueueJob(this.#deps.kv, job, job.dueAt - this.#deps.clock.now());
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }
}

export class DeadlineScheduler implements Scheduler {
  readonly kind = "deadline";
  readonly finished: Promise<void>;
  #deps: Deps;
  #sweepMs: number;
  #handler?: JobHandler;
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #sweeper?: ReturnType<typeof setInterval>;
  #running = new Map<string, Promise<void>>();
  #stopped = false;
  #seq = 0;
  #finish!: () => void;

  constructor(deps: Deps, opts: { sweepMs?: number } = {}) {
    this.#deps = deps;
    this.#sweepMs = opts.sweepMs ?? 1000;
    this.finished = new Promise((resolve) => this.#finish = resolve);
  }

  start(handler: JobHandler): void {
    this.#handler = handler;
    this.#track(this.sweep());
    this.#sweeper = setInterval(() => this.#track(this.sweep()), this.#sweepMs);
  }

  async schedule(job: Job): Promise<void> {
    const id = `${crypto.randomUUID()}-${this.#seq++}`;
    const key = await putDueJob(this.#deps.kv, id, job);
    const wait = Math.max(0, job.dueAt - this.#deps.clock.now());
    const name = JSON.stringify(key);
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        this.#track(this.#run(key, job));
      }, Math.min(wait, 2 ** 31 - 1)),
    );
  }

  /** Runs every job that is due, whoever scheduled it. */
  async sweep(): Promise<void> {
    if (this.#stopped) return;
    for (const { key, job } of await listDueJobs(this.#deps.kv, this.#deps.clock.now())) {
      await this.#run(key, job);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#running.values()]);
    this.#finish();
  }

  #run(key: Deno.KvKey, job: Job): Promise<void> {
    const name = JSON.stringify(key);
    const already = this.#running.get(name);
    if (already || this.#stopped || !this.#handler) return already ?? Promise.resolve();
    const handler = this.#handler;
    const run = (async () => {
      await handler(job);
      // Deleted only after the handler succeeded: a crash before this reruns it (at least once).
      await deleteJob(this.#deps.kv, key);
    })().catch((err) => logFailure(this.#deps.log, job, err))
      .finally(() => this.#running.delete(name));
    this.#running.set(name, run);
    return run;
  }

  #track(p: Promise<void>): void {
    p.catch((err) => this.#deps.log.error("scheduler.sweep_failed", { error: String(err) }));
  }
}

export function createScheduler(mode: "queue" | "deadline", deps: Deps): Scheduler {
  return mode === "queue" ? new QueueScheduler(deps) : new DeadlineScheduler(deps);
}
