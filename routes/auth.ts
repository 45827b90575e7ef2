/**
 * @module
 * POST /api/v1/auth/login and GET /api/v1/auth/me. Every bad credential gets
 * the same 401 and message; repeated failures per email and per IP are
 * throttled with 429 before any password work is done.
 */

import { Hono } from "hono";
import { z } from "zod";
import { AppError, invalid } from "../lib/errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import { WindowCounter } from "../lib/rate_limit.ts";
import type { TokenService } from "../lib/tokens.ts";
import { authenticate, getUser, normalizeEmail, toPublic } from "../store/users.ts";
import { type AppEnv, clientIp, jsonBody, requireUser } from "./context.ts";
import { zodIssues } from "../realtime/events.ts";

const loginSchema = z.object({
  email: z.string().min(3).max(254),
  password: z.string().min(1).max(1024),
});

const WINDOW_MS = 15 * 60 * 1000;

export function authRoutes(deps: {
  kv: Deno.Kv;
  tokens: TokenService;
  clock: Clock;
  log: Logger;
}): Hono<AppEnv> {
  const { kv, tokens, clock, log } = deps;
  const perEmail = new WindowCounter(10, WINDOW_MS, clock);
  const perIp = new WindowCounter(100, WINDOW_MS, clock);
  const app = new Hono<AppEnv>();

  app.post("/login", async (c) => {
    const parsed = loginSchema.safeParse(await jsonBody(c));
    if (!parsed.success) {
      throw invalid("Email and password are required", zodIssues(parsed.error, "body"));
    }
    const email = normalizeEmail(parsed.data.email);
    const ip = clientIp(c);
    // Count the attempt before the slow password check, so parallel guesses cannot all slip past.
    const overEmail = perEmail.hit(email);
    const overIp = perIp.hit(ip);
    if (overEmail || overIp) {
      throw new AppError("RATE_LIMITED", "Too many login attempts; try again later");
    }
    const user = await authenticate(kv, email, parsed.data.password);
    if (!user) {
      log.info("auth.login_failed", { ip });
      throw new AppError("UNAUTHENTICATED", "Invalid email or password");
    }
    perEmail.reset(email);
    perIp.forgive(ip);
    const { token, expiresAt } = await tokens.sign({ id: user.id, role: user.role });
    log.info("auth.login", { userId: user.id });
    const { id, email: userEmail, name, role } = user;
    return c.json({
      token,
      expiresAt: expiresAt.toISOString(),
      user: { id, email: userEmail, name, role },
    });
  });

  app.get("/me", requireUser(tokens, kv), async (c) => {
    const user = await getUser(kv, c.get("user").userId);
    if (!user) throw new AppError("UNAUTHENTICATED", "Invalid token");
    const { id, email, name, role, createdAt } = toPublic(user);
    return c.json({ user: { id, email, name, role, createdAt } });
  });

  return app;
}
