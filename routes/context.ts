/**
 * @module
 * What the HTTP routes share: the Hono environment type (the authenticated
 * user on the context), the client's IP and the request id, the bearer-token
 * middleware and the mapping from AppError codes to HTTP statuses, applied
 * once in the app's error handler.
 */

import type { Context, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, type ErrorCode } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import type { TokenService, TokenUser } from "../lib/tokens.ts";
import { type Cidr, clientIp as resolveClientIp, inCidrs, parseIp } from "../lib/client_ip.ts";
import { tokenCurrent } from "../store/sessions.ts";
import { getUser, type Role } from "../store/users.ts";

export interface AuthedUser {
  userId: string;
  role: Role;
  /** The verified bearer token (logout revokes its jti). */
  token: TokenUser;
}

/**
 * `Bindings` is the second argument of `app.fetch`: main passes the peer
 * address and the parsed TRUSTED_PROXIES.
 */
export type AppEnv = {
  Variables: {
    user: AuthedUser;
    clientIp?: string;
    requestId?: string;
    /** Set by the upgrade guard (routes/upgrade_guard.ts): a verified Authorization header. */
    preAuth?: TokenUser;
  };
  Bindings: { remoteAddr?: Deno.Addr; trustedProxies?: readonly Cidr[] };
};

/** The TCP peer's address (never a forwarding header), or "unknown". */
export function peerAddress(c: Context<AppEnv>): string {
  const addr = c.env?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : "unknown";
}

/**
 * The client's IP: the TCP peer, or, when the peer is one of TRUSTED_PROXIES,
 * the address the proxies forwarded (lib/client_ip.ts). Computed once per request.
 */
export function clientIp(c: Context<AppEnv>): string {
  let ip = c.get("clientIp");
  if (ip === undefined) {
    ip = resolveClientIp(peerAddress(c), c.req.raw.headers, c.env?.trustedProxies ?? []);
    c.set("clientIp", ip);
  }
  return ip;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;

/**
 * The request's id for the audit trail and logs: the `X-Request-Id` a trusted
 * proxy sent (so entries match the proxy's access log), else a random one.
 * A client's own header is not taken: it could make entries look related.
 */
export function requestId(c: Context<AppEnv>): string {
  let id = c.get("requestId");
  if (id === undefined) {
    const incoming = c.req.header("x-request-id");
    const peer = parseIp(peerAddress(c));
    const trusted = peer !== null && inCidrs(peer, c.env?.trustedProxies ?? []);
    id = trusted && incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", id);
  }
  return id;
}

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_PAYLOAD: 400,
  UNKNOWN_EVENT: 400,
  RATE_LIMITED: 429,
  CONFLICT: 409,
  BUSY: 409,
  PAYLOAD_TOO_LARGE: 413,
  LIMIT_EXCEEDED: 429,
  INTERNAL: 500,
};

/** The JSON error body every route uses: `{error, code, issues?}`. */
export function errorResponse(c: Context, err: unknown, log: Logger): Response {
  if (err instanceof AppError) {
    const body: Record<string, unknown> = { error: err.message, code: err.code };
    if (err.issues) body.issues = err.issues;
    return c.json(body, STATUS[err.code]);
  }
  log.error("http.failed", {
    path: c.req.path,
    requestId: requestId(c as Context<AppEnv>),
    error: err instanceof Error ? err : String(err),
  });
  return c.json({ error: "Internal error", code: "INTERNAL" }, 500);
}

/** Reads `Authorization: Bearer <token>`; returns the token or null. */
export function bearerToken(header: string | undefined | null): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return m ? m[1] : null;
}

/** Requires a valid bearer token, current for an existing, enabled user (store/sessions.ts). */
export function requireUser(tokens: TokenService, kv: Deno.Kv): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) throw new AppError("UNAUTHENTICATED", "Missing bearer token");
    const result = await tokens.verify(token);
    if (!result.ok) {
      throw result.reason === "expired"
        ? new AppError("TOKEN_EXPIRED", "Token expired")
        : new AppError("UNAUTHENTICATED", "Invalid token");
    }
    const user = await getUser(kv, result.user.userId);
    if (!user || !await tokenCurrent(kv, user, result.user)) {
      throw new AppError("UNAUTHENTICATED", "Invalid token");
    }
    c.set("user", { userId: user.id, role: user.role, token: result.user });
    await next();
  };
}

/** Parses a JSON body; a missing or malformed body is INVALID_PAYLOAD, not a 500. */
export async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new AppError("INVALID_PAYLOAD", "Request body must be JSON");
  }
}

/** The signed-in caller of a route as an audit entry names them. */
export function httpActor(c: Context<AppEnv>) {
  const user = c.get("user");
  return {
    actorId: user?.userId ?? null,
    actorRole: user?.role ?? null,
    ip: clientIp(c),
    requestId: requestId(c),
  };
}
