/**
 * @module
 * GET /api/v1/audit: the access audit trail for admins, newest first, paged.
 * Filters: `userId` (as actor or target), `roomId`, `visitId`, `from` and `to`
 * (ISO 8601 times or ms since the epoch, inclusive), `cursor` (from the
 * previous page) and `limit` (1-500, default 100). Reading the trail is
 * itself recorded.
 */

import { Hono } from "hono";
import { z } from "zod";
import { forbidden, invalid } from "../lib/errors.ts";
import type { TokenService } from "../lib/tokens.ts";
import { listAudit } from "../store/audit.ts";
import { idSchema } from "../store/ids.ts";
import type { Audit } from "../realtime/audit.ts";
import { parseRoomId } from "../realtime/access.ts";
import { zodIssues } from "../realtime/events.ts";
import { type AppEnv, httpActor, requireUser } from "./context.ts";

/** An ISO 8601 time or ms since the epoch, to ms. */
const time = z.string().max(40).transform((v, ctx) => {
  const ms = /^\d{1,16}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: "custom", message: "expected an ISO 8601 time or ms since the epoch" });
    return z.NEVER;
  }
  return ms;
});

/** The query of GET /api/v1/audit (also read by routes/openapi_routes.ts). */
export const auditQuerySchema = z.object({
  userId: idSchema.optional(),
  roomId: z.string().max(200).refine((id) => parseRoomId(id) !== null, "unknown room id format")
    .optional(),
  visitId: idSchema.optional(),
  from: time.optional(),
  to: time.optional(),
  cursor: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, "expected a cursor from a previous page")
    .optional(),
  limit: z.string().regex(/^\d{1,3}$/).transform(Number).pipe(z.number().int().min(1).max(500))
    .default(100),
});

export function auditRoutes(deps: {
  kv: Deno.Kv;
  tokens: TokenService;
  audit: Audit;
}): Hono<AppEnv> {
  const { kv, tokens, audit } = deps;
  const app = new Hono<AppEnv>();
  app.get("/", requireUser(tokens, kv), async (c) => {
    const user = c.get("user");
    if (user.role !== "admin") {
      audit.record({
        ...httpActor(c),
        action: "audit.read",
        outcome: "refused",
        code: "FORBIDDEN",
      });
      throw forbidden("Only admins may read the audit trail");
    }
    const parsed = auditQuerySchema.safeParse(c.req.query());
    if (!parsed.success) throw invalid("Invalid audit query", zodIssues(parsed.error, "query"));
    const { cursor, limit, ...filter } = parsed.data;
    // Entries this isolate still holds in memory are part of the answer.
    await audit.flush();
    const page = await listAudit(kv, filter, { cursor, limit });
    audit.record({
      ...httpActor(c),
      action: "audit.read",
      target: {
        ...(filter.userId ? { userId: filter.userId } : {}),
        ...(filter.roomId ? { roomId: filter.roomId } : {}),
        ...(filter.visitId ? { visitId: filter.visitId } : {}),
      },
      outcome: "success",
    });
    c.header("cache-control", "no-store");
    return c.json({ entries: page.entries, nextCursor: page.cursor });
  });
  return app;
}
