/**
 * @module
 * Test support for store/ and the modules above it: a fresh in-memory KV per
 * test, always closed (Deno's resource sanitizer is on).
 */

/** Runs `fn` with a new `:memory:` KV and closes it afterwards, whatever happens. */
export async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

/**
 * Wraps a KV handle so its atomic commits can be counted and made to fail:
 * `commits()` is how many were attempted; while `fail` returns an error,
 * commits reject with it (an injected disk or network fault).
 */
export function instrumentedKv(
  kv: Deno.Kv,
  opts: { fail?: () => Error | null } = {},
): { kv: Deno.Kv; commits: () => number } {
  let commits = 0;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            commits++;
            const err = opts.fail?.() ?? null;
            return err ? Promise.reject(err) : commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: proxy, commits: () => commits };
}
