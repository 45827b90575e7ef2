/**
 * @module
 * Entry point for `deno serve --parallel serve.ts`: Deno runs this module in
 * one isolate per core (DENO_JOBS) on a shared port, and each isolate builds
 * its own app on its first request, over the same KV file. Isolates exchange
 * live events over BroadcastChannel (realtime/bus.ts).
 *
 * Kept apart from main.ts because `deno serve` also runs a module's
 * `import.meta.main` block in every worker, where main.ts would start a
 * second server of its own.
 */

import { type App, configOrExit, createApp } from "./main.ts";
import { openKv } from "./store/open.ts";

let app: Promise<App> | undefined;

export default {
  async fetch(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    app ??= (async () => {
      const config = configOrExit();
      return await createApp({ kv: await openKv(config.kvPath), config });
    })();
    return (await app).fetch(req, info);
  },
} satisfies Deno.ServeDefaultExport;
