/**
 * @module
 * GET /ws: the native WebSocket endpoint. Before upgrading it refuses a
 * cross-site Origin (403), a token in the query string (400: URLs end up in
 * logs) and an invalid Authorization header (401); then it hands the socket
 * to a realtime Session. The upgrade is Deno's own `Deno.upgradeWebSocket`.
 */

import { Hono } from "hono";
import type { TokenService } from "../lib/tokens.ts";
import { Session, type SessionDeps } from "../realtime/session.ts";
import { type AppEnv, bearerToken, clientIp } from "./context.ts";
import type { WindowCounter } from "../lib/rate_limit.ts";

/**
 * Whether a browser page at `origin` may open a socket here: listed in
 * CORS_ORIGINS, or the server's own origin (the bundled test client). No
 * Origin header means a non-browser client, which Origin cannot protect anyway.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: string[],
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    const u = new URL(origin);
    return u.origin === origin && host !== undefined && u.host === host;
  } catch {
    return false;
  }
}

export function wsRoutes(deps: {
  session: SessionDeps;
  tokens: TokenService;
  corsOrigins: string[];
  idleTimeoutS: number;
  /** Upgrades per client IP per window. */
  upgrades: WindowCounter;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "Expected a WebSocket upgrade", code: "INVALID_PAYLOAD" }, 426);
    }
    if (!originAllowed(c.req.header("origin"), c.req.header("host"), deps.corsOrigins)) {
      return c.json({ error: "Origin not allowed", code: "FORBIDDEN" }, 403);
    }
    if (deps.upgrades.hit(clientIp(c))) {
      c.header("retry-after", "60");
      return c.json(
        { error: "Too many connection attempts; retry later", code: "RATE_LIMITED" },
        429,
      );
    }
    const query = new URL(c.req.url).searchParams;
    if (query.has("token") || query.has("access_token") || query.has("auth")) {
      return c.json({
        error:
          "Tokens in the query string are refused; send an auth frame or an Authorization header",
        code: "UNAUTHENTICATED",
      }, 400);
    }
    let preAuth;
    const header = c.req.header("authorization");
    if (header !== undefined) {
      const token = bearerToken(header);
      const result = token ? await deps.tokens.verify(token) : null;
      if (!result?.ok) {
        const expired = result?.reason === "expired";
        return c.json({
          error: expired
            ? "Authentication error: Token expired"
            : "Authentication error: Invalid token",
          code: expired ? "TOKEN_EXPIRED" : "UNAUTHENTICATED",
        }, 401);
      }
      preAuth = result.user;
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(c.req.raw, { idleTimeout: deps.idleTimeoutS });
    } catch {
      // A malformed handshake (no Sec-WebSocket-Key, wrong version) is the client's error.
      return c.json({ error: "Invalid WebSocket upgrade request", code: "INVALID_PAYLOAD" }, 400);
    }
    new Session(upgraded.socket, deps.session, preAuth);
    return upgraded.response;
  });
  return app;
}
