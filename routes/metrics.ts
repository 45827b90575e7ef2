/**
 * @module
 * GET /metrics: the app's metrics (realtime/metrics.ts) in the Prometheus
 * text format 0.0.4. Who may read them ({@linkcode metricsAccess}): with
 * METRICS_TOKEN set, only a request with `Authorization: Bearer <token>`
 * (compared in constant time; 401 otherwise, loopback included); without it,
 * only a loopback TCP peer that forwarded nothing (404 to everyone else, as
 * if the route did not exist). The peer is the socket's address, never a
 * forwarding header: a proxy on the same host makes every request look local,
 * so a request carrying X-Forwarded-For, Forwarded or X-Real-IP is not
 * treated as local even from 127.0.0.1.
 */

import { Hono } from "hono";
import { isLoopback } from "../lib/client_ip.ts";
import { sameSecret } from "../lib/secrets.ts";
import { EXPOSITION_CONTENT_TYPE } from "../lib/metrics.ts";
import type { AppMetrics } from "../realtime/metrics.ts";
import { type AppEnv, bearerToken, peerAddress } from "./context.ts";

type MetricsAccess = "allowed" | "unauthorized" | "not_found";

const FORWARDING_HEADERS = ["x-forwarded-for", "forwarded", "x-real-ip"];

/**
 * Decides a request for /metrics from its TCP peer address, its headers and
 * the configured token.
 */
export async function metricsAccess(
  request: { peer: string | undefined; headers: Headers },
  token: string | undefined,
): Promise<MetricsAccess> {
  if (token !== undefined) {
    const presented = bearerToken(request.headers.get("authorization"));
    return presented !== null && await sameSecret(presented, token) ? "allowed" : "unauthorized";
  }
  const forwarded = FORWARDING_HEADERS.some((h) => request.headers.has(h));
  return !forwarded && isLoopback(request.peer) ? "allowed" : "not_found";
}

export function metricsRoutes(deps: { metrics: AppMetrics; token?: string }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const access = await metricsAccess(
      { peer: peerAddress(c), headers: c.req.raw.headers },
      deps.token,
    );
    c.header("cache-control", "no-store");
    if (access === "not_found") return c.json({ error: "Not found", code: "NOT_FOUND" }, 404);
    if (access === "unauthorized") {
      c.header("www-authenticate", 'Bearer realm="metrics"');
      return c.json({ error: "Missing or wrong bearer token", code: "UNAUTHENTICATED" }, 401);
    }
    return c.body(deps.metrics.expose(), 200, { "content-type": EXPOSITION_CONTENT_TYPE });
  });
  return app;
}
