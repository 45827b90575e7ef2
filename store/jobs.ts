/**
 * @module
 * Delayed jobs, stored two ways for the two schedulers:
 * - KV queues (`enqueue` with a delay, `listenQueue`) where the KV has them (a local SQLite
 *   file; not Deno Deploy, not a KV Connect server): durable, delivered at least once, in
 *   whichever isolate is listening.
 * - Deadline records where it does not (the new Deno Deploy):
 *   `["jobs_due", dueAt, jobId]` -> {@linkcode Job}, listed by due time and deleted when done.
 */

import { z } from "zod";

export const jobSchema = z.object({
  kind: z.enum(["call:ring_timeout", "call:grace", "call:watch"]),
  callId: z.string().min(1).max(64),
  /** For call:grace, the call socket whose loss started the grace period. */
  socketId: z.string().max(64).optional(),
  dueAt: z.number().int().nonnegative(),
});
export type Job = z.infer<typeof jobSchema>;

/** Marks queue messages as ours, so foreign messages on a shared KV are ignored. */
const ENVELOPE = "telehealth-realtime/job";

export async function enqueueJob(kv: Deno.Kv, job: Job, delayMs: number): Promise<void> {
  await kv.enqueue({ type: ENVELOPE, job }, { delay: Math.max(0, Math.round(delayMs)) });
}

/**
 * Hands queued jobs to `handler` until the KV closes. A handler that throws
 * makes KV redeliver the job later (at least once).
 */
export function listenJobs(kv: Deno.Kv, handler: (job: Job) => Promise<void>): Promise<void> {
  return kv.listenQueue(async (msg: unknown) => {
    const m = msg as { type?: string; job?: unknown };
    if (m?.type !== ENVELOPE) return;
    const job = jobSchema.safeParse(m.job);
    if (job.success) await handler(job.data);
  });
}

export async function putDueJob(kv: Deno.Kv, id: string, job: Job): Promise<Deno.KvKey> {
  const key = ["jobs_due", job.dueAt, id];
  await kv.set(key, job);
  return key;
}

/** Jobs due at or before `now`, oldest first. */
export async function listDueJobs(
  kv: Deno.Kv,
  now: number,
  limit = 500,
): Promise<{ key: Deno.KvKey; job: Job }[]> {
  const out: { key: Deno.KvKey; job: Job }[] = [];
  const iter = kv.list<Job>({ start: ["jobs_due"], end: ["jobs_due", now + 1] }, { limit });
  for await (const e of iter) out.push({ key: e.key, job: e.value });
  return out;
}

export async function deleteJob(kv: Deno.Kv, key: Deno.KvKey): Promise<void> {
  await kv.delete(key);
}
