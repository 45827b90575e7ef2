/**
 * @module
 * What the HTTP routes share: the Hono environment type (the authenticated
 * user on the context), the bearer-token middleware and the mapping from
 * AppError codes to HTTP statuses, applied once in the app's error handler.
 */

import type { Context, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, type ErrorCode } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import type { TokenService } from "../lib/tokens.ts";
import { getUser, type Role } from "../store/users.ts";

export interface AuthedUser {
  userId: string;
  role: Role;
}

/** `Bindings` is the second argument of `app.fetch`: main passes the peer address. */
export type AppEnv = {
  Variables: { user: AuthedUser };
  Bindings: { remoteAddr?: Deno.Addr };
};

/** The client's IP as the socket sees it (behind a proxy, the proxy's). */
export function clientIp(c: Context<AppEnv>): string {
  const addr = c.env?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : "unknown";
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
  INTERNAL: 500,
};

/** The JSON error body every route uses: `{error, code, issues?}`. */
export function errorResponse(c: Context, err: unknown, log: Logger): Response {
  if (err instanceof AppError) {
    const body: Record<string, unknown> = { error: err.message, code: err.code };
    if (err.issues) body.issues = err.issues;
    return c.json(body, STATUS[err.code]);
  }
  log.error("http.failed", { path: c.req.path, error: err instanceof Error ? err : String(err) });
  return c.json({ error: "Internal error", code: "INTERNAL" }, 500);
}

/** Reads `Authorization: Bearer <token>`; returns the token or null. */
export function bearerToken(header: string | undefined | null): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return m ? m[1] : null;
}

/** Requires a valid bearer token for an existing, enabled user. */
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
    if (!user || user.disabled) throw new AppError("UNAUTHENTICATED", "Invalid token");
    c.set("user", { userId: user.id, role: user.role });
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
