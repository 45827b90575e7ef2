/**
 * @module
 * HTTP for other services (admin or service tokens only):
 * - POST /api/v1/realtime/emit `{target: {userId} | {roomId} | {all: true}, event, data?}`
 * - POST /api/v1/notifications `{userId, title, message, type?, data?}`
 *
 * Events of the protocol's own domains (connection frames, room:, message:,
 * typing:, presence:, notification:, call:) cannot be emitted this way: clients
 * trust them to come from the server's logic. A broadcast to everyone must be
 * a `system:*` event.
 *
 * Each emit and notification is audited and logged (`service.emit`,
 * `service.notify`: the event name, the target kind, the caller and request
 * ids, the payload's size; never the payload).
 */

import { Hono, type MiddlewareHandler } from "hono";
import { DOMAIN_PREFIXES, SERVER_EVENTS } from "../static/protocol.js";
import { z } from "zod";
import { AppError, forbidden, invalid, notFound } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import type { TokenService } from "../lib/tokens.ts";
import { idSchema } from "../store/ids.ts";
import { getUser } from "../store/users.ts";
import { parseRoomId } from "../realtime/access.ts";
import type { RealtimeApi } from "../realtime/api.ts";
import { zodIssues } from "../realtime/events.ts";
import { notificationView } from "../realtime/notify.ts";
import { jsonObject, text } from "../realtime/payload.ts";
import { isEventName } from "../realtime/protocol/native.ts";
import { type AppEnv, httpActor, jsonBody, requireUser } from "./context.ts";
import type { Audit } from "../realtime/audit.ts";
import type { AppMetrics } from "../realtime/metrics.ts";

/**
 * Events clients trust to come from the server's own logic: connection frames
 * and every domain the protocol defines. Services notify through POST
 * /api/v1/notifications (stored and counted) rather than a bare notification:new.
 */
const RESERVED_NAMES = new Set<string>([...SERVER_EVENTS, "auth", "ping"]);
const RESERVED_PREFIXES = DOMAIN_PREFIXES;

function reserved(event: string): boolean {
  return RESERVED_NAMES.has(event) || RESERVED_PREFIXES.some((p) => event.startsWith(p));
}

/** The body of POST /api/v1/realtime/emit (also read by routes/openapi_routes.ts). */
export const emitSchema = z.object({
  target: z.union([
    z.object({ userId: idSchema }).strict(),
    z.object({
      roomId: text(200).refine((id) => parseRoomId(id) !== null, "unknown room id format"),
    }).strict(),
    z.object({ all: z.literal(true) }).strict(),
  ], { message: "target must be {userId}, {roomId} or {all: true}" }),
  event: z.string().refine(isEventName, "must be an event name such as system:maintenance")
    .refine((e) => !reserved(e), "is reserved for the server's protocol"),
  data: jsonObject(16 * 1024).default({}),
}).refine((v) => !("all" in v.target) || v.event.startsWith("system:"), {
  message: "a broadcast to everyone must be a system:* event",
  path: ["event"],
});

/**
 * These limits keep a stored notification under about 23 KB however it is
 * spelled (two-byte strings, data of doubles; tests/kv_value_limit_test.ts),
 * well inside KV's 64 KiB value limit: no size check is needed here.
 */
export const notificationSchema = z.object({
  userId: idSchema,
  title: text(200),
  message: text(2000),
  type: text(50).optional(),
  data: jsonObject(8 * 1024).optional(),
});

export function serviceRoutes(deps: {
  kv: Deno.Kv;
  tokens: TokenService;
  realtime: RealtimeApi;
  audit: Audit;
  log?: Logger;
  metrics?: AppMetrics;
}): Hono<AppEnv> {
  const { kv, tokens, realtime, audit, log, metrics } = deps;
  const app = new Hono<AppEnv>();
  // Per route, not app.use("*"): mounted under /api/v1, a wildcard would guard login too.
  const authenticated = requireUser(tokens, kv);
  const serviceOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
    const { role } = c.get("user");
    if (role !== "admin" && role !== "service") {
      throw forbidden("Only admin and service accounts may use this API");
    }
    await next();
  };

  app.post("/realtime/emit", authenticated, serviceOnly, async (c) => {
    const parsed = emitSchema.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalid("Invalid emit request", zodIssues(parsed.error, "body"));
    const { target, event, data } = parsed.data;
    const actor = httpActor(c);
    audit.record({
      ...actor,
      action: "emit.service",
      target: { event, ...("all" in target ? { status: "all" } : target) },
      outcome: "success",
    });
    const kind = "userId" in target ? "user" : "roomId" in target ? "room" : "all";
    metrics?.serviceEmit(kind);
    log?.info("service.emit", {
      event,
      target: kind,
      ...("all" in target ? {} : target),
      dataKeys: Object.keys(data).length,
      actorId: actor.actorId,
      requestId: actor.requestId,
    });
    if ("userId" in target) realtime.emitToUser(target.userId, event, data);
    else if ("roomId" in target) realtime.emitToRoom(target.roomId, event, data);
    else realtime.broadcast(event, data);
    return c.json({ success: true }, 202);
  });

  app.post("/notifications", authenticated, serviceOnly, async (c) => {
    const parsed = notificationSchema.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalid("Invalid notification", zodIssues(parsed.error, "body"));
    const { userId, ...input } = parsed.data;
    const user = await getUser(kv, userId);
    if (!user) throw notFound(`User "${userId}" not found`);
    if (user.disabled) throw new AppError("CONFLICT", `User "${userId}" is disabled`);
    const actor = httpActor(c);
    const n = await realtime.notifyUser(userId, input, actor);
    metrics?.serviceEmit("notification");
    log?.info("service.notify", {
      userId,
      notificationId: n.id,
      dataKeys: input.data ? Object.keys(input.data).length : 0,
      actorId: actor.actorId,
      requestId: actor.requestId,
    });
    return c.json({ notification: notificationView(n) }, 201);
  });

  return app;
}
