/**
 * @module
 * Legal holds, admins only: POST /api/v1/holds `{visitId}` or `{roomId}`
 * (`reason?`) puts a visit (its `visit:` and `call:` rooms) or one room on
 * hold; GET /api/v1/holds lists them; DELETE /api/v1/holds/:id lifts one. A
 * held room is never swept by retention and its messages are redacted only
 * by an admin. Each change is in the audit trail (ids only).
 */

import { Hono } from "hono";
import { z } from "zod";
import { AppError, forbidden, invalid } from "../lib/errors.ts";
import type { Clock } from "../lib/clock.ts";
import type { TokenService } from "../lib/tokens.ts";
import type { Audit } from "../realtime/audit.ts";
import { zodIssues } from "../realtime/events.ts";
import { text } from "../realtime/payload.ts";
import { parseRoomId } from "../realtime/access.ts";
import { idSchema } from "../store/ids.ts";
import { createHold, deleteHold, type Hold, listHolds } from "../store/retention.ts";
import { type AppEnv, httpActor, jsonBody, requireUser } from "./context.ts";

/** The body of POST /api/v1/holds (also read by routes/openapi_routes.ts). */
export const holdSchema = z.object({
  visitId: idSchema.optional(),
  roomId: text(200).optional(),
  reason: text(500).optional(),
}).strict().refine(
  (v) => (v.visitId === undefined) !== (v.roomId === undefined),
  "exactly one of visitId and roomId is required",
);

export function holdRoutes(deps: {
  kv: Deno.Kv;
  tokens: TokenService;
  clock: Clock;
  newId: () => string;
  audit: Audit;
}): Hono<AppEnv> {
  const { kv, tokens, clock, newId, audit } = deps;
  const app = new Hono<AppEnv>();
  app.use("*", requireUser(tokens, kv));
  app.use("*", async (c, next) => {
    if (c.get("user").role !== "admin") throw forbidden("Only admins manage legal holds");
    await next();
  });

  app.post("/", async (c) => {
    const parsed = holdSchema.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalid("Invalid hold", zodIssues(parsed.error, "body"));
    const input = parsed.data;
    if (input.roomId !== undefined && !parseRoomId(input.roomId)) {
      throw invalid(`"${input.roomId}" is not a room id`, [{
        path: "roomId",
        message: "not a room id",
      }]);
    }
    const hold: Hold = {
      id: `hold_${newId()}`,
      ...(input.visitId !== undefined ? { visitId: input.visitId } : {}),
      ...(input.roomId !== undefined ? { roomId: input.roomId } : {}),
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      createdBy: c.get("user").userId,
      createdAt: new Date(clock.now()).toISOString(),
    };
    await createHold(kv, hold);
    audit.record({
      ...httpActor(c),
      action: "hold.create",
      target: input.visitId !== undefined ? { visitId: input.visitId } : { roomId: input.roomId },
      outcome: "success",
    });
    return c.json({ hold }, 201);
  });

  app.get("/", async (c) => c.json({ holds: await listHolds(kv) }));

  app.delete("/:id", async (c) => {
    const id = c.req.param("id");
    const hold = await deleteHold(kv, id);
    if (!hold) throw new AppError("NOT_FOUND", `Hold "${id}" not found`);
    audit.record({
      ...httpActor(c),
      action: "hold.delete",
      target: hold.visitId !== undefined ? { visitId: hold.visitId } : { roomId: hold.roomId },
      outcome: "success",
    });
    return c.json({ success: true, hold });
  });
  return app;
}
