/**
 * @module
 * A local KV file shared by several processes (or the isolates of
 * `deno serve --parallel`) is one SQLite database with several writers, and
 * a write that meets another's lock fails at once with "database is locked".
 * Nothing of it was written (SQLite rolled the transaction back), so it is
 * safe to run again. {@linkcode retryWhenBusy} wraps a `Deno.Kv` so that
 * every write (and read) that fails that way is tried again after a short,
 * growing, jittered pause; an atomic operation is recorded and replayed on a
 * fresh one. Other errors, and a lock that outlasts every attempt, reach the
 * caller as before.
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

type Call = [name: string, args: unknown[]];

/** An atomic operation that records its calls, and commits by replaying them on fresh ones. */
function recordingAtomic(kv: Deno.Kv): Deno.AtomicOperation {
  const calls: Call[] = [];
  const proxy: Deno.AtomicOperation = new Proxy({} as Deno.AtomicOperation, {
    get(_target, name) {
      if (name === "commit") {
        return () =>
          whenUnlocked(() => {
            const op = kv.atomic() as unknown as Record<string, (...a: unknown[]) => unknown>;
            for (const [n, args] of calls) op[n](...args);
            return (op as unknown as Deno.AtomicOperation).commit();
          });
      }
      return (...args: unknown[]) => {
        calls.push([String(name), args]);
        return proxy;
      };
    },
  });
  return proxy;
}

const RETRIED = new Set(["get", "getMany", "set", "delete", "enqueue"]);

/** `kv` with its writes and reads retried while the database is locked. */
export function retryWhenBusy(kv: Deno.Kv): Deno.Kv {
  return new Proxy(kv, {
    get(target, name, receiver) {
      if (name === "atomic") return () => recordingAtomic(target);
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      if (RETRIED.has(String(name))) {
        return (...args: unknown[]) => whenUnlocked(() => value.apply(target, args));
      }
      return value.bind(target);
    },
  });
}
