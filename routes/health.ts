/**
 * @module
 * GET /health: a KV round trip, uptime and this isolate's connection count.
 * 200 when KV answers, 503 when it does not, for load balancers and monitors.
 */

import { Hono } from "hono";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import { type AppEnv, requestId } from "./context.ts";
import { pingKv } from "../store/open.ts";

export function healthRoutes(deps: {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  startedAt: number;
  isolateId: string;
  connections: () => number;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    let kv = "ok";
    try {
      await pingKv(deps.kv);
    } catch (err) {
      kv = "error";
      deps.log.error("health.kv_failed", {
        requestId: requestId(c),
        error: err instanceof Error ? err : String(err),
      });
    }
    const body = {
      status: kv === "ok" ? "ok" : "degraded",
      kv,
      uptime: Math.round((deps.clock.now() - deps.startedAt) / 1000),
      connections: deps.connections(),
      isolate: deps.isolateId,
    };
    return c.json(body, kv === "ok" ? 200 : 503);
  });
  return app;
}
