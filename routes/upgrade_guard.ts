/**
 * @module
 * The checks every realtime endpoint (GET /ws, /socket.io/) makes before a
 * connection starts, as one Hono middleware: a cross-site Origin (403), too
 * many connection attempts from one address (429), a token in the query
 * string (400: URLs end up in logs), an invalid or no longer current
 * Authorization header (401). A verified header is left on the context as
 * `preAuth`. The per-user socket cap is not checked here: most clients send
 * their token after the upgrade, and the documented answer at the cap is a
 * `connect_error` on the open connection (a browser cannot read an HTTP
 * status of a refused upgrade), so the connection core checks it when the
 * token is known, for every route alike. Refusals are audited through `Audit.refusal`, capped per client
 * address like every refusal, so a flood cannot grow the trail without bound, and each one is
 * logged (`ws.upgrade_refused`, with the reason and the client IP, never the token) and counted.
 */

import type { Context, MiddlewareHandler } from "hono";
import { rateKey } from "../lib/client_ip.ts";
import type { Logger } from "../lib/log.ts";
import type { WindowCounter } from "../lib/rate_limit.ts";
import type { TokenService } from "../lib/tokens.ts";
import { type Audit, refusalKey } from "../realtime/audit.ts";
import type { AppMetrics, AuthOutcome, UpgradeRefusal } from "../realtime/metrics.ts";
import { AUTH_EXPIRED, AUTH_INVALID, notCurrent } from "../realtime/session.ts";
import { tokenCurrent } from "../store/sessions.ts";
import { getUser } from "../store/users.ts";
import { type AppEnv, bearerToken, clientIp, requestId } from "./context.ts";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Query parameters that would carry a token: refused, never read. */
const TOKEN_PARAMS = ["token", "access_token", "auth"];

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

export interface UpgradeGuardDeps {
  tokens: TokenService;
  kv: Deno.Kv;
  audit: Audit;
  corsOrigins: readonly string[];
  /** The server's own origins (PUBLIC_URL); empty allows loopback same-origin pages. */
  publicOrigins: readonly string[];
  /** Connection attempts per client IP (IPv6: per /64) per window. */
  upgrades: WindowCounter;
  log: Logger;
  metrics: AppMetrics;
}

/** The origin check alone, for requests of a connection already started (polling with a sid). */
export function originGuard(deps: UpgradeGuardDeps): (c: Context<AppEnv>) => boolean {
  const allowed = [...deps.corsOrigins, ...deps.publicOrigins];
  const loopbackSameOrigin = deps.publicOrigins.length === 0;
  return (c) =>
    originAllowed(c.req.header("origin"), {
      allowed,
      host: c.req.header("host"),
      loopbackSameOrigin,
    });
}

/**
 * The middleware. `startsConnection(c)` says whether the request opens a new
 * connection (every GET /ws; a socket.io request without a sid): only those
 * count toward the attempt limit and have their Authorization header checked.
 */
export function upgradeGuard(
  deps: UpgradeGuardDeps,
  startsConnection: (c: Context<AppEnv>) => boolean = () => true,
): MiddlewareHandler<AppEnv> {
  const originOk = originGuard(deps);
  const refused = (
    c: Context<AppEnv>,
    why: { reason: UpgradeRefusal; code: string; detail?: AuthOutcome; actorId?: string | null },
  ) => {
    const { reason, code, detail, actorId = null } = why;
    const ip = clientIp(c);
    deps.metrics.upgradeRefused(reason);
    if (reason === "rate") deps.metrics.rateLimited("upgrade");
    if (detail) deps.metrics.auth(detail);
    deps.log.info("ws.upgrade_refused", {
      reason,
      ...(detail ? { detail } : {}),
      ip,
      requestId: requestId(c),
      path: c.req.path,
      ...(actorId ? { userId: actorId } : {}),
    });
    // A token in the query string was never read: the refusal is logged, not audited.
    if (reason === "token_in_query") return;
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
  return async (c, next) => {
    if (!originOk(c)) {
      refused(c, { reason: "origin", code: "FORBIDDEN" });
      return c.json({ error: "Origin not allowed", code: "FORBIDDEN" }, 403);
    }
    if (!startsConnection(c)) return await next();
    if (deps.upgrades.hit(rateKey(clientIp(c)))) {
      refused(c, { reason: "rate", code: "RATE_LIMITED" });
      c.header("retry-after", "60");
      return c.json(
        { error: "Too many connection attempts; retry later", code: "RATE_LIMITED" },
        429,
      );
    }
    const query = new URL(c.req.url).searchParams;
    if (TOKEN_PARAMS.some((p) => query.has(p))) {
      refused(c, { reason: "token_in_query", code: "UNAUTHENTICATED" });
      return c.json({
        error:
          "Tokens in the query string are refused; send an auth frame or an Authorization header",
        code: "UNAUTHENTICATED",
      }, 400);
    }
    const header = c.req.header("authorization");
    if (header !== undefined) {
      const token = bearerToken(header);
      const result = token ? await deps.tokens.verify(token) : null;
      // Disabled, logged out or from before a disable: refused here, not after the upgrade.
      const stored = result?.ok ? await getUser(deps.kv, result.user.userId) : null;
      const current = result?.ok && await tokenCurrent(deps.kv, stored, result.user);
      if (!result?.ok || !current) {
        const expired = result?.ok === false && result.reason === "expired";
        const code = expired ? "TOKEN_EXPIRED" : "UNAUTHENTICATED";
        const detail: AuthOutcome = !result?.ok
          ? (expired ? "expired" : "invalid")
          : notCurrent(stored);
        refused(c, {
          reason: "authorization",
          code,
          detail,
          actorId: result?.ok ? result.user.userId : null,
        });
        return c.json({ error: expired ? AUTH_EXPIRED : AUTH_INVALID, code }, 401);
      }
      c.set("preAuth", result.user);
    }
    await next();
  };
}
