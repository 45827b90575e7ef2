/**
 * @module
 * GET /ws: the native WebSocket endpoint. Before upgrading it refuses a
 * cross-site Origin (403), a token in the query string (400: URLs end up in
 * logs) and an invalid or no longer current Authorization header (401); then
 * it hands the socket to a realtime Session. The upgrade is Deno's own
 * `Deno.upgradeWebSocket`. Refused upgrades are audited through
 * `Audit.refusal`, capped per client address like every refusal, so a flood
 * cannot grow the trail without bound.
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { rateKey } from "../lib/client_ip.ts";
import type { TokenService } from "../lib/tokens.ts";
import { type Audit, refusalKey } from "../realtime/audit.ts";
import { Session, type SessionDeps } from "../realtime/session.ts";
import { tokenCurrent } from "../store/sessions.ts";
import { getUser } from "../store/users.ts";
import { type AppEnv, bearerToken, clientIp, requestId } from "./context.ts";
import { WindowCounter } from "../lib/rate_limit.ts";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Whether a browser page at `origin` may open a socket here: listed in
 * `allowed` (CORS_ORIGINS and PUBLIC_URL). The Host header is never trusted
 * on its own (a DNS-rebinding page sends a matching one); only when no
 * PUBLIC_URL is configured (`deno task dev`, tests) is a same-origin page on a
 * loopback name (localhost, 127.0.0.1, [::1]) accepted, and only when its
 * host and port equal the Host header's. No Origin header means a non-browser
 * client, which Origin cannot protect anyway.
 */
export function originAllowed(
  origin: string | undefined,
  opts: { allowed: readonly string[]; host?: string; loopbackSameOrigin: boolean },
): boolean {
  if (origin === undefined) return true;
  if (opts.allowed.includes(origin)) return true;
  if (!opts.loopbackSameOrigin || opts.host === undefined) return false;
  try {
    const u = new URL(origin);
    // The server speaks plain HTTP: a same-origin page of its own is http://, never https://.
    return u.origin === origin && u.protocol === "http:" && LOOPBACK_HOSTS.has(u.hostname) &&
      u.host === opts.host.toLowerCase();
  } catch {
    return false;
  }
}

export function wsRoutes(deps: {
  session: SessionDeps;
  tokens: TokenService;
  corsOrigins: string[];
  /** The server's own origins (PUBLIC_URL); empty allows loopback same-origin pages. */
  publicOrigins: string[];
  idleTimeoutS: number;
  /** Upgrades per client IP (IPv6: per /64) per window. */
  upgrades: WindowCounter;
  audit: Audit;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const allowed = [...deps.corsOrigins, ...deps.publicOrigins];
  const loopbackSameOrigin = deps.publicOrigins.length === 0;
  const { kv } = deps.session.services;
  const refused = (c: Context<AppEnv>, code: string, actorId: string | null = null) => {
    const ip = clientIp(c);
    // Capped per address like every refusal: an upgrade flood cannot grow the trail.
    deps.audit.refusal({
      actorId,
      actorRole: null,
      action: "ws.upgrade",
      outcome: "refused",
      code,
      ip,
      requestId: requestId(c),
    }, refusalKey(null, rateKey(ip)));
  };
  app.get("/", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "Expected a WebSocket upgrade", code: "INVALID_PAYLOAD" }, 426);
    }
    const origin = c.req.header("origin");
    const host = c.req.header("host");
    if (!originAllowed(origin, { allowed, host, loopbackSameOrigin })) {
      refused(c, "FORBIDDEN");
      return c.json({ error: "Origin not allowed", code: "FORBIDDEN" }, 403);
    }
    if (deps.upgrades.hit(rateKey(clientIp(c)))) {
      refused(c, "RATE_LIMITED");
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
      // Disabled, logged out or from before a disable: refused here, not after the upgrade.
      const current = result?.ok &&
        await tokenCurrent(kv, await getUser(kv, result.user.userId), result.user);
      if (!result?.ok || !current) {
        const expired = result?.ok === false && result.reason === "expired";
        refused(
          c,
          expired ? "TOKEN_EXPIRED" : "UNAUTHENTICATED",
          result?.ok ? result.user.userId : null,
        );
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
    new Session(upgraded.socket, deps.session, preAuth, { ip: clientIp(c) });
    return upgraded.response;
  });
  return app;
}
