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
