/**
 * @module
 * A local KV file shared by several processes (or the isolates of
 * `deno serve --parallel`) is one SQLite database with several writers, and
 * a write that meets another's lock fails at once with "database is locked".
 * Nothing of it was written (SQLite rolled the transaction back), so it is
 * safe to run again. {@linkcode retryWhenBusy} makes every write of a
 * `Deno.Kv` that fails that way try again after a short, growing, jittered
 * pause. Other errors, and a lock that outlasts every attempt, reach the
 * caller as before. (Reads are not retried: with SQLite's write-ahead log a
 * reader does not wait for writers.)
 */

const BUSY = /database is locked|SQLITE_BUSY/i;
/** Pauses between attempts (ms, before jitter): about 0.6 s in all. */
const PAUSES = [1, 2, 4, 8, 16, 32, 64, 128, 128, 128, 128];

export function isBusy(err: unknown): boolean {
  return err instanceof Error && BUSY.test(err.message);
}

/** Runs `fn`, again after a pause each time it fails with a locked database. */
export async function whenUnlocked<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isBusy(err) || attempt >= PAUSES.length) throw err;
      const pause = PAUSES[attempt];
      await new Promise((r) => setTimeout(r, pause / 2 + Math.random() * pause));
    }
  }
}

/**
 * `kv` with its writes retried while the database is locked. Patched in
 * place, not proxied: a Proxy's traps on every call cost a quarter of the
 * send path's throughput. An atomic operation keeps its mutations after a
 * failed commit, and committing it again sends the same ones (checked on
 * Deno 2.9.6), so its own `commit` is retried.
 */
export function retryWhenBusy(kv: Deno.Kv): Deno.Kv {
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = () => whenUnlocked(commit);
    return op;
  };
  const set = kv.set.bind(kv);
  kv.set = (key, value, options) => whenUnlocked(() => set(key, value, options));
  const del = kv.delete.bind(kv);
  kv.delete = (key) => whenUnlocked(() => del(key));
  const enqueue = kv.enqueue.bind(kv);
  kv.enqueue = (value, options) => whenUnlocked(() => enqueue(value, options));
  return kv;
}
