/**
 * @module
 * Helpers for optimistic commits on hot keys (a room's head, a user's unread
 * count): run the writers of one key one at a time within this isolate, so
 * they stop racing each other for the same versionstamp, and back off with
 * jitter when a writer in another isolate wins.
 */

const tails = new WeakMap<Deno.Kv, Map<string, Promise<unknown>>>();

/** Runs `work` after every earlier call with the same `kv` and `key` has settled. */
export function oneAtATime<T>(kv: Deno.Kv, key: string, work: () => Promise<T>): Promise<T> {
  let byKey = tails.get(kv);
  if (!byKey) tails.set(kv, byKey = new Map());
  const run = (byKey.get(key) ?? Promise.resolve()).then(work, work);
  const tail = run.then(() => {}, () => {});
  byKey.set(key, tail);
  tail.then(() => {
    if (byKey.get(key) === tail) byKey.delete(key);
  });
  return run;
}

/** A short random pause after a lost commit race, growing with the attempt (at most 50 ms). */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
