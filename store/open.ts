/**
 * @module
 * Opening the KV store: a local SQLite file (its folder is created), `:memory:`
 * for tests, or the platform's KV on Deno Deploy when no path is given there;
 * and the health probe's round trip.
 */

import { dirname } from "node:path";

export async function openKv(path: string): Promise<Deno.Kv> {
  if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
    await Deno.mkdir(dirname(path), { recursive: true });
  }
  return await Deno.openKv(path);
}

/** One read round trip, for health checks: throws when the store does not answer. */
export async function pingKv(kv: Deno.Kv): Promise<void> {
  await kv.get(["health"]);
}
