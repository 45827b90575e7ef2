/**
 * @module
 * The access log: one `http.request` line per HTTP request, after its answer,
 * with the method, the path (never the query string: a misbehaving client may
 * put a token there), the status, the time taken, the request id and the
 * client IP; never headers or bodies. The request id (routes/context.ts) is
 * fixed here, before any route runs, so every line and audit entry of the
 * request carries the same one, and it is sent back as `x-request-id`.
 */

import type { MiddlewareHandler } from "hono";
import type { Logger } from "../lib/log.ts";
import type { AppMetrics } from "../realtime/metrics.ts";
import { type AppEnv, clientIp, requestId } from "./context.ts";

/** Paths are logged up to this many characters; anything but printable ASCII becomes "?". */
const MAX_PATH = 200;

/** The middleware; `metrics` also counts requests by method and status. */
export function accessLog(deps: { log: Logger; metrics?: AppMetrics }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const id = requestId(c);
    await next();
    const status = c.res.status;
    // A 101 is the WebSocket upgrade's own response: it cannot be rebuilt with another header.
    if (status !== 101) c.header("x-request-id", id);
    deps.metrics?.httpRequest(c.req.method, status);
    deps.log.info("http.request", {
      method: c.req.method,
      path: c.req.path.slice(0, MAX_PATH).replace(/[^\x20-\x7e]/g, "?"),
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      requestId: id,
      ip: clientIp(c),
    });
  };
}
