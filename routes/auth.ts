/**
 * @module
 * POST /api/v1/auth/login, POST /api/v1/auth/logout and GET /api/v1/auth/me.
 * Every bad credential gets the same 401 and message, after the same work
 * (an unknown email is verified against a dummy hash). Logins are throttled
 * per (email, client IP) and per IP with 429 and slowed down per email
 * (lib/login_throttle.ts), before any password work; password hashing runs
 * under a small semaphore, and beyond it the answer is 503 with Retry-After,
 * so a burst of logins costs refusals, never unbounded memory (Argon2id holds
 * 19 MiB per hash). Logins, failures, refusals and logouts are audited with
 * ids only: never the email or the password.
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { AppError, invalid } from "../lib/errors.ts";
import type { Clock } from "../lib/clock.ts";
import { rateKey } from "../lib/client_ip.ts";
import type { Logger } from "../lib/log.ts";
import type { AppMetrics } from "../realtime/metrics.ts";
import { LoginThrottle } from "../lib/login_throttle.ts";
import { Semaphore } from "../lib/semaphore.ts";
import type { TokenService } from "../lib/tokens.ts";
import { type Audit, refusalKey } from "../realtime/audit.ts";
import type { AuditInput, AuditTarget } from "../store/audit.ts";
import { revokeToken } from "../store/sessions.ts";
import { revokeByToken, rotate, startSession } from "../store/refresh.ts";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import {
  authenticate,
  getUser,
  getUserByEmail,
  normalizeEmail,
  toPublic,
  type User,
} from "../store/users.ts";
import { type AppEnv, clientIp, jsonBody, requestId, requireUser } from "./context.ts";
import { zodIssues } from "../realtime/events.ts";

/** The body of POST /login (also read by the OpenAPI table, routes/openapi_routes.ts). */
export const loginSchema = z.object({
  email: z.string().min(3).max(254),
  password: z.string().min(1).max(1024),
});

/**
 * The optional body of POST /refresh, for clients without cookies; a body that does not match is
 * ignored (as if absent), never an error.
 */
export const refreshBodySchema = z.object({ refreshToken: z.string().max(200).optional() });

/** Password hashes computed at once (each Argon2id holds 19 MiB), and logins waiting for one. */
export const HASH_PERMITS = 2;
export const HASH_WAITING = 6;
/** Logins from clean addresses waiting besides those, served first (waiting holds no hash memory). */
export const HASH_PRIORITY_WAITING = 32;

/** The refresh cookie's name and the one path it is sent to. */
export const REFRESH_COOKIE = "th_refresh";
export const REFRESH_PATH = "/api/v1/auth/refresh";
/** Hosts served over plain HTTP in development: the cookie cannot be Secure there. */
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function authRoutes(deps: {
  kv: Deno.Kv;
  tokens: TokenService;
  clock: Clock;
  log: Logger;
  audit: Audit;
  /** Defaults to {@linkcode LoginThrottle} with its documented limits. */
  throttle?: LoginThrottle;
  /** Defaults to {@linkcode HASH_PERMITS} hashes at once, {@linkcode HASH_WAITING} waiting. */
  hashes?: Semaphore;
  /** Refresh token lifetime in seconds (REFRESH_TTL). */
  refreshTtlS?: number;
  /** Counts refused logins (rate_limited_total{kind="login"}). */
  metrics?: AppMetrics;
}): Hono<AppEnv> {
  const { kv, tokens, clock, log, audit } = deps;
  const refreshTtlMs = (deps.refreshTtlS ?? 12 * 3600) * 1000;
  /** The refresh cookie: HttpOnly, SameSite=Strict, only sent to the refresh route. */
  const putCookie = (c: Context<AppEnv>, token: string, expiresAt: number) => {
    const host = new URL(c.req.url).hostname;
    setCookie(c, REFRESH_COOKIE, token, {
      path: REFRESH_PATH,
      httpOnly: true,
      sameSite: "Strict",
      secure: !LOCAL_HOSTS.has(host),
      maxAge: Math.max(1, Math.floor((expiresAt - clock.now()) / 1000)),
    });
  };
  const dropCookie = (c: Context<AppEnv>) =>
    deleteCookie(c, REFRESH_COOKIE, { path: REFRESH_PATH });
  /** An access token for the user, as login and refresh answer it. */
  const grant = async (user: User) => {
    const { token, expiresAt } = await tokens.sign({
      id: user.id,
      role: user.role,
      epoch: user.sessionEpoch ?? 0,
    });
    const { id, email, name, role } = user;
    return { token, expiresAt: expiresAt.toISOString(), user: { id, email, name, role } };
  };

  const throttle = deps.throttle ?? new LoginThrottle({ clock });
  const hashes = deps.hashes ?? new Semaphore(HASH_PERMITS, HASH_WAITING, HASH_PRIORITY_WAITING);
  const app = new Hono<AppEnv>();

  /** A failed or refused login's entry: the account's id if the email is known, never the email. */
  const loginEntry = async (
    c: Context<AppEnv>,
    email: string,
    outcome: "failure" | "refused",
    code: string,
    target?: AuditTarget,
  ): Promise<AuditInput> => {
    const known = await getUserByEmail(kv, email);
    return {
      actorId: known?.id ?? null,
      actorRole: known?.role ?? null,
      action: "auth.login",
      outcome,
      code,
      ...(target ? { target } : {}),
      ip: clientIp(c),
      requestId: requestId(c),
    };
  };

  /** 429 or 503 with Retry-After; audited, capped per client address like every refusal. */
  const refuse = async (c: Context<AppEnv>, email: string, status: 429 | 503, retryS: number) => {
    const ip = clientIp(c);
    deps.metrics?.rateLimited("login");
    log.info("auth.login_refused", { ip, status, requestId: requestId(c) });
    const entry = await loginEntry(c, email, "refused", "RATE_LIMITED", { status: String(status) });
    // Keyed by the caller's address: the account named is the target of the flood, not its source.
    audit.refusal(entry, refusalKey(null, rateKey(ip)));
    const error = status === 429
      ? "Too many login attempts; try again later"
      : "Server busy; try again shortly";
    return c.json({ error, code: "RATE_LIMITED" }, status, { "retry-after": String(retryS) });
  };

  app.post("/login", async (c) => {
    const parsed = loginSchema.safeParse(await jsonBody(c));
    if (!parsed.success) {
      throw invalid("Email and password are required", zodIssues(parsed.error, "body"));
    }
    const email = normalizeEmail(parsed.data.email);
    const ip = clientIp(c);
    const key = rateKey(ip);
    const admission = await throttle.admit(email, key);
    if (!admission.ok) return await refuse(c, email, 429, admission.retryAfterS);
    let user;
    try {
      // A clean address (the account's owner, not a guesser) queues ahead of a flood of guesses.
      const permit = hashes.acquire(admission.priority);
      if (!permit) {
        throttle.cancel(email, key);
        return await refuse(c, email, 503, 1);
      }
      const release = await permit;
      try {
        user = await authenticate(kv, email, parsed.data.password);
      } finally {
        release();
      }
    } finally {
      throttle.finished(key);
    }
    if (!user) {
      // Done for unknown emails and wrong passwords alike, so it adds no timing difference.
      audit.record(await loginEntry(c, email, "failure", "UNAUTHENTICATED"));
      log.info("auth.login_failed", { ip, requestId: requestId(c) });
      throw new AppError("UNAUTHENTICATED", "Invalid email or password");
    }
    throttle.succeeded(email, key);
    const { token, expiresAt } = await tokens.sign({
      id: user.id,
      role: user.role,
      epoch: user.sessionEpoch ?? 0,
    });
    audit.record({
      actorId: user.id,
      actorRole: user.role,
      action: "auth.login",
      outcome: "success",
      ip,
      requestId: requestId(c),
    });
    log.info("auth.login", { userId: user.id, requestId: requestId(c) });
    const { id, email: userEmail, name, role } = user;
    const refresh = await startSession(kv, user.id, clock.now(), refreshTtlMs);
    putCookie(c, refresh.token, refresh.expiresAt);
    return c.json({
      token,
      expiresAt: expiresAt.toISOString(),
      user: { id, email: userEmail, name, role },
    });
  });

  // A new access token for the session in the refresh cookie (or `{refreshToken}` for clients
  // without cookies), and the next refresh token: each is single use.
  app.post("/refresh", async (c) => {
    let presented = getCookie(c, REFRESH_COOKIE);
    if (presented === undefined) {
      const body = refreshBodySchema.safeParse(await c.req.json().catch(() => ({})));
      if (body.success) presented = body.data.refreshToken;
    }
    const refused = (code: string, message: string) => {
      dropCookie(c);
      audit.record({
        actorId: null,
        actorRole: null,
        action: "auth.refresh",
        outcome: "refused",
        code,
        ip: clientIp(c),
        requestId: requestId(c),
      });
      throw new AppError("UNAUTHENTICATED", message);
    };
    // No session at all (a page checking on load): nothing to refresh, and nothing wrong.
    if (presented === undefined) return c.body(null, 204);
    const result = await rotate(kv, presented, clock.now(), refreshTtlMs);
    if (!result.ok) {
      return refused(
        "UNAUTHENTICATED",
        result.reason === "reused"
          ? "Refresh token already used: the session is revoked; sign in again"
          : result.reason === "expired"
          ? "Session expired; sign in again"
          : "Invalid refresh token; sign in again",
      );
    }
    const user = await getUser(kv, result.userId);
    if (!user || user.disabled) {
      await revokeByToken(kv, result.token, clock.now());
      return refused("UNAUTHENTICATED", "Invalid refresh token; sign in again");
    }
    putCookie(c, result.token, result.expiresAt);
    audit.record({
      actorId: user.id,
      actorRole: user.role,
      action: "auth.refresh",
      outcome: "success",
      ip: clientIp(c),
      requestId: requestId(c),
    });
    return c.json(await grant(user));
  });

  // Signing out of the session: the refresh cookie's family ends.
  app.delete("/refresh", async (c) => {
    const presented = getCookie(c, REFRESH_COOKIE);
    if (presented !== undefined) await revokeByToken(kv, presented, clock.now());
    dropCookie(c);
    return c.json({ success: true });
  });

  app.post("/logout", requireUser(tokens, kv), async (c) => {
    const { userId, role, token } = c.get("user");
    const entry = audit.entry({
      actorId: userId,
      actorRole: role,
      action: "auth.logout",
      outcome: "success",
      ip: clientIp(c),
      requestId: requestId(c),
    });
    await revokeToken(kv, token, new Date(clock.now()), entry);
    log.info("auth.logout", { userId, requestId: requestId(c) });
    return c.json({ success: true });
  });

  app.get("/me", requireUser(tokens, kv), async (c) => {
    const user = await getUser(kv, c.get("user").userId);
    if (!user) throw new AppError("UNAUTHENTICATED", "Invalid token");
    const { id, email, name, role, createdAt } = toPublic(user);
    return c.json({ user: { id, email, name, role, createdAt } });
  });

  return app;
}
