/**
 * @module
 * What the HTTP routes answer, as zod schemas: the success body of each route
 * and the one error body `{error, code, issues?}` (routes/context.ts
 * `errorResponse`). Read by the OpenAPI document (routes/openapi.ts); the
 * routes do not parse their own answers with them, so tests/openapi_test.ts
 * checks live answers against these. Objects are not strict: a field added
 * later keeps old clients valid. Request bodies are not here: each route
 * module exports the schema it validates with.
 */

import { z } from "zod";
import { ERROR_CODES } from "../lib/errors.ts";
import { roleSchema } from "../store/users.ts";
import {
  id,
  isoTime,
  issueSchema,
  notificationSchema,
} from "../realtime/protocol/server_events.ts";

/** Every error answer of every route (and of `/ws` and `/socket.io/` refusals). */
export const errorBodySchema = z.object({
  error: z.string().meta({ description: "A message safe to show; never patient data" }),
  code: z.enum(ERROR_CODES),
  issues: z.array(issueSchema).max(20).optional()
    .meta({ description: "Validation errors only: which field, and what is wrong" }),
});

/** An Engine.IO error (`/socket.io/` requests refused before socket.io starts). */
export const engineErrorSchema = z.object({
  code: z.number().int().min(0).max(5),
  message: z.string(),
});

/** `{success: true}`. */
export const successSchema = z.object({ success: z.literal(true) });

/** The user as login and refresh answer it. */
const sessionUserSchema = z.object({
  id,
  email: z.string(),
  name: z.string(),
  role: roleSchema,
});

/** POST /api/v1/auth/login and POST /api/v1/auth/refresh. */
export const loginResponseSchema = z.object({
  token: z.string().meta({
    description: "The access token (JWT): `Authorization: Bearer <token>`",
  }),
  expiresAt: isoTime,
  user: sessionUserSchema,
});

/** GET /api/v1/auth/me. */
export const meResponseSchema = z.object({
  user: sessionUserSchema.extend({ createdAt: isoTime }),
});

/** A visit (store/visits.ts `Visit`). */
const visitRecordSchema = z.object({
  id,
  patientId: id,
  clinicianIds: z.array(id),
  title: z.string().optional(),
  scheduledAt: z.string().optional(),
  createdBy: id,
  createdAt: isoTime,
  updatedAt: isoTime.optional(),
});

export const visitResponseSchema = z.object({ visit: visitRecordSchema });

/** A legal hold (store/retention.ts `Hold`): `visitId` or `roomId`. */
const holdRecordSchema = z.object({
  id,
  visitId: id.optional(),
  roomId: id.optional(),
  reason: z.string().optional(),
  createdBy: id,
  createdAt: isoTime,
});

export const holdResponseSchema = z.object({ hold: holdRecordSchema });
export const holdListSchema = z.object({ holds: z.array(holdRecordSchema) });
export const holdDeletedSchema = z.object({ success: z.literal(true), hold: holdRecordSchema });

/** One audit entry (store/audit.ts `AuditEntry`): ids only, never free text. */
const auditEntrySchema = z.object({
  id,
  at: isoTime,
  actorId: id.nullable(),
  actorRole: roleSchema.nullable(),
  action: z.string(),
  target: z.object({
    userId: id.optional(),
    roomId: id.optional(),
    visitId: id.optional(),
    callId: id.optional(),
    notificationId: id.optional(),
    event: z.string().optional(),
    seqFrom: z.number().int().optional(),
    seqTo: z.number().int().optional(),
    status: z.string().optional(),
  }).optional(),
  outcome: z.enum(["success", "failure", "refused"]),
  code: z.string().optional(),
  ip: z.string().optional(),
  socketId: id.optional(),
  requestId: z.string().optional(),
});

/** GET /api/v1/audit. */
export const auditPageSchema = z.object({
  entries: z.array(auditEntrySchema),
  nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page" }),
});

/** GET /health (200 and 503 alike). */
export const healthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  kv: z.enum(["ok", "error"]),
  uptime: z.number().int().min(0).meta({ description: "Seconds since this isolate started" }),
  connections: z.number().int().min(0),
  isolate: z.string(),
});

/** POST /api/v1/notifications. */
export const notificationResponseSchema = z.object({ notification: notificationSchema });

/** GET /api/docs as JSON: the summary built from the live event table (routes/docs.ts). */
export const docsSummarySchema = z.object({
  protocol: z.string(),
  frames: z.record(z.string(), z.string()),
  realtime: z.record(z.string(), z.unknown()),
  endpoints: z.array(z.object({ method: z.string(), path: z.string(), auth: z.string() })),
  events: z.record(
    z.string(),
    z.object({ ack: z.boolean(), rateLimit: z.string(), schema: z.unknown() }),
  ),
  errorCodes: z.array(z.enum(ERROR_CODES)),
  closeCodes: z.record(z.string(), z.string()),
  closeCodesDetail: z.record(
    z.string(),
    z.object({ reconnect: z.boolean(), meaning: z.string() }),
  ),
  serverEvents: z.array(z.string()),
  serverEventSchemas: z.record(z.string(), z.unknown()),
});
