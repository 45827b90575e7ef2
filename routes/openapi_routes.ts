/**
 * @module
 * The table behind /api/openapi.json: every HTTP route the app registers
 * (main.ts), with the schema objects its handler validates with (imported
 * from the route module, never copied), its answers and who may call it.
 * This file has the /api/v1 routes; ./openapi_endpoints.ts the docs, ops,
 * realtime and static ones. A route added to the app without a row fails
 * tests/openapi_test.ts.
 */

import { loginSchema, refreshBodySchema } from "./auth.ts";
import { newVisitSchema, visitPatchSchema } from "./visits.ts";
import { emitSchema, notificationSchema } from "./realtime.ts";
import { auditQuerySchema } from "./audit.ts";
import { holdSchema } from "./holds.ts";
import {
  auditPageSchema,
  holdDeletedSchema,
  holdListSchema,
  holdResponseSchema,
  loginResponseSchema,
  meResponseSchema,
  notificationResponseSchema,
  successSchema,
  visitResponseSchema,
} from "./http_schemas.ts";
import {
  type ApiRoute,
  BEARER,
  forbidden,
  INTERNAL,
  invalid,
  NO_STORE,
  notFound,
  TOO_LARGE,
} from "./openapi.ts";
import { ENDPOINT_ROUTES } from "./openapi_endpoints.ts";

const V1_ROUTES: readonly ApiRoute[] = [
  {
    method: "post",
    path: "/api/v1/auth/login",
    id: "login",
    tag: "auth",
    summary: "Sign in: an access token, and the refresh cookie",
    description: "Every bad credential gets the same 401. Throttled per email and client IP.",
    auth: "none",
    body: {
      schema: loginSchema,
      example: { email: "patient@example.com", password: "password123" },
    },
    responses: {
      200: {
        description: "Signed in",
        body: loginResponseSchema,
        headers: { "set-cookie": "The refresh cookie `th_refresh` (HttpOnly)", ...NO_STORE },
      },
      400: invalid("Email and password are required"),
      401: {
        description: "Wrong email or password",
        codes: ["UNAUTHENTICATED"],
        example: "Invalid email or password",
      },
      413: TOO_LARGE,
      429: {
        description: "Too many failed logins for this email or address",
        codes: ["RATE_LIMITED"],
        example: "Too many login attempts; try again later",
        headers: { "retry-after": "Seconds to wait" },
      },
      503: {
        description: "Password checks are all busy",
        codes: ["RATE_LIMITED"],
        example: "Server busy; try again shortly",
        headers: { "retry-after": "Seconds to wait (1)" },
      },
    },
  },
  {
    method: "post",
    path: "/api/v1/auth/refresh",
    id: "refresh",
    tag: "auth",
    summary: "A new access token for the session in the refresh cookie (single use)",
    description: "Clients without cookies send `{refreshToken}` instead.",
    auth: "refresh",
    body: { schema: refreshBodySchema, required: false },
    responses: {
      200: {
        description: "A new access token, and the next refresh cookie",
        body: loginResponseSchema,
        headers: { "set-cookie": "The next refresh cookie", ...NO_STORE },
      },
      204: { description: "No session at all (no cookie, no token): nothing to refresh" },
      401: {
        description: "Spent (the session is then revoked), expired or unknown refresh token",
        codes: ["UNAUTHENTICATED"],
        example: "Session expired; sign in again",
      },
    },
  },
  {
    method: "delete",
    path: "/api/v1/auth/refresh",
    id: "endSession",
    tag: "auth",
    summary: "Sign out of the session: the refresh cookie's family ends",
    auth: "refresh",
    responses: { 200: { description: "Ended (also when there was none)", body: successSchema } },
  },
  {
    method: "post",
    path: "/api/v1/auth/logout",
    id: "logout",
    tag: "auth",
    summary: "Revoke this access token; its sockets close 4401",
    auth: "bearer",
    responses: { 200: { description: "Revoked", body: successSchema }, 401: BEARER },
  },
  {
    method: "get",
    path: "/api/v1/auth/me",
    id: "me",
    tag: "auth",
    summary: "The signed-in user",
    auth: "bearer",
    responses: { 200: { description: "The user", body: meResponseSchema }, 401: BEARER },
  },
  {
    method: "post",
    path: "/api/v1/visits",
    id: "createVisit",
    tag: "visits",
    summary: "Create a visit",
    auth: "bearer",
    roles: ["doctor", "nurse", "admin"],
    body: {
      schema: newVisitSchema,
      example: { patientId: "patient-1", clinicianIds: ["doctor-1"], title: "Follow-up" },
    },
    responses: {
      201: { description: "Created", body: visitResponseSchema },
      400: invalid('patientId "x" is not a patient'),
      401: BEARER,
      403: forbidden("Only staff may create visits"),
      409: { description: "The id exists", codes: ["CONFLICT"], example: "Visit exists" },
      413: TOO_LARGE,
      500: INTERNAL,
    },
  },
  {
    method: "get",
    path: "/api/v1/visits/{id}",
    id: "getVisit",
    tag: "visits",
    summary: "Read a visit",
    description: "A refused read looks the same whether the visit exists or not.",
    auth: "bearer",
    roles: ["the visit's patient and clinicians", "admin"],
    params: { id: "The visit id" },
    responses: {
      200: { description: "The visit", body: visitResponseSchema },
      401: BEARER,
      403: forbidden("Visit access denied"),
      404: notFound('Visit "visit-9" not found'),
    },
  },
  {
    method: "patch",
    path: "/api/v1/visits/{id}",
    id: "updateVisit",
    tag: "visits",
    summary: "Change a visit's care team, title or time",
    description: "Removed clinicians leave the visit's rooms (room:removed) in every process.",
    auth: "bearer",
    roles: ["the visit's clinicians", "admin"],
    params: { id: "The visit id" },
    body: { schema: visitPatchSchema, example: { clinicianIds: ["doctor-1", "nurse-1"] } },
    responses: {
      200: { description: "The changed visit", body: visitResponseSchema },
      400: invalid("one of clinicianIds, title and scheduledAt is required"),
      401: BEARER,
      403: forbidden("Visit access denied"),
      413: TOO_LARGE,
      500: INTERNAL,
    },
  },
  {
    method: "post",
    path: "/api/v1/realtime/emit",
    id: "emit",
    tag: "services",
    summary: "Emit an event to a user, a room or everyone",
    description: "The protocol's own events and domains are reserved; a broadcast to all must " +
      "be a `system:*` event.",
    auth: "bearer",
    roles: ["admin", "service"],
    body: {
      schema: emitSchema,
      example: { target: { all: true }, event: "system:maintenance", data: { at: "22:00" } },
    },
    responses: {
      202: { description: "Accepted for delivery", body: successSchema },
      400: invalid("Invalid emit request"),
      401: BEARER,
      403: forbidden("Only admin and service accounts may use this API"),
      413: TOO_LARGE,
    },
  },
  {
    method: "post",
    path: "/api/v1/notifications",
    id: "notify",
    tag: "services",
    summary: "Store a notification for a user and push notification:new",
    auth: "bearer",
    roles: ["admin", "service"],
    body: {
      schema: notificationSchema,
      example: { userId: "patient-1", title: "Lab results", message: "Your results are ready" },
    },
    responses: {
      201: { description: "Stored and pushed", body: notificationResponseSchema },
      400: invalid("Invalid notification"),
      401: BEARER,
      403: forbidden("Only admin and service accounts may use this API"),
      404: notFound('User "patient-9" not found'),
      409: {
        description: "The user is disabled",
        codes: ["CONFLICT"],
        example: "User is disabled",
      },
      413: TOO_LARGE,
      500: INTERNAL,
    },
  },
  {
    method: "get",
    path: "/api/v1/audit",
    id: "listAudit",
    tag: "admin",
    summary: "The access audit trail, newest first, paged",
    auth: "bearer",
    roles: ["admin"],
    query: auditQuerySchema,
    responses: {
      200: { description: "A page", body: auditPageSchema, headers: NO_STORE },
      400: invalid("Invalid audit query"),
      401: BEARER,
      403: forbidden("Only admins may read the audit trail"),
    },
  },
  {
    method: "post",
    path: "/api/v1/holds",
    id: "createHold",
    tag: "admin",
    summary: "Put a visit or a room on legal hold",
    auth: "bearer",
    roles: ["admin"],
    body: { schema: holdSchema, example: { visitId: "visit-123", reason: "Case 2026-17" } },
    responses: {
      201: { description: "Held", body: holdResponseSchema },
      400: invalid("exactly one of visitId and roomId is required"),
      401: BEARER,
      403: forbidden("Only admins manage legal holds"),
      413: TOO_LARGE,
    },
  },
  {
    method: "get",
    path: "/api/v1/holds",
    id: "listHolds",
    tag: "admin",
    summary: "Every legal hold",
    auth: "bearer",
    roles: ["admin"],
    responses: {
      200: { description: "The holds", body: holdListSchema },
      401: BEARER,
      403: forbidden("Only admins manage legal holds"),
    },
  },
  {
    method: "delete",
    path: "/api/v1/holds/{id}",
    id: "deleteHold",
    tag: "admin",
    summary: "Lift a legal hold",
    auth: "bearer",
    roles: ["admin"],
    params: { id: "The hold id (`hold_<ulid>`)" },
    responses: {
      200: { description: "Lifted", body: holdDeletedSchema },
      401: BEARER,
      403: forbidden("Only admins manage legal holds"),
      404: notFound('Hold "hold_x" not found'),
    },
  },
];

/** Every route of the app. */
export const API_ROUTES: readonly ApiRoute[] = [...V1_ROUTES, ...ENDPOINT_ROUTES];
