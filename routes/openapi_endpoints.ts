/**
 * @module
 * The rows of /api/openapi.json for everything outside /api/v1: the docs,
 * /health and /metrics, the realtime endpoints (/ws, /socket.io/) with their
 * refusals, and the static files. See ./openapi_routes.ts.
 */

import { z } from "zod";
import { docsSummarySchema, healthSchema } from "./http_schemas.ts";
import { type ApiResponse, type ApiRoute, forbidden, NO_STORE, notFound } from "./openapi.ts";

/** The refusals both realtime endpoints share (routes/upgrade_guard.ts). */
const UPGRADE_REFUSALS: Record<number, ApiResponse> = {
  401: {
    description: "An Authorization header that is not a current bearer token",
    codes: ["UNAUTHENTICATED", "TOKEN_EXPIRED"],
    example: "Authentication error: Invalid token",
  },
  403: {
    description: "Origin not allowed (CORS_ORIGINS, PUBLIC_URL); readable by any origin",
    codes: ["FORBIDDEN"],
    example: "Origin not allowed",
    headers: { "access-control-allow-origin": "`*`: the refused page may read why" },
  },
  429: {
    description: "Too many connection attempts from this address (WS_UPGRADES_PER_MIN)",
    codes: ["RATE_LIMITED"],
    example: "Too many connection attempts; retry later",
    headers: { "retry-after": "Seconds (60)" },
  },
};

const EIO_PARAMS = [
  {
    name: "EIO",
    in: "query",
    required: true,
    description: "Engine.IO protocol version: only 4",
    schema: { type: "string", enum: ["4"] },
  },
  {
    name: "transport",
    in: "query",
    required: true,
    description: "polling or websocket",
    schema: { type: "string", enum: ["polling", "websocket"] },
  },
  {
    name: "sid",
    in: "query",
    description: "The Engine.IO session id (from the open packet); absent to open a session",
    schema: { type: "string" },
  },
] as const;

const ENGINE_REFUSAL: ApiResponse = {
  description: "Engine.IO error: unknown transport or sid, bad method, unsupported version; or " +
    "a token in the query string (then the error body, code UNAUTHENTICATED)",
  engine: true,
};

const TEXT_FILE: ApiResponse = { description: "The file", media: "text/javascript" };
const FILE_404: ApiResponse = { description: "Not served", media: "text/plain" };

export const ENDPOINT_ROUTES: readonly ApiRoute[] = [
  {
    method: "get",
    path: "/api/docs",
    id: "docs",
    tag: "docs",
    summary: "The reference: an HTML page for browsers, the JSON summary for everyone else",
    description: "HTML when `Accept` prefers text/html (a browser); JSON otherwise, also with " +
      "no Accept or `*/*`. `?format=json` or `?format=html` chooses explicitly.",
    auth: "none",
    parameters: [{
      name: "format",
      in: "query",
      description: "json or html, overriding Accept",
      schema: { type: "string", enum: ["json", "html"] },
    }],
    responses: {
      200: {
        description: "The summary as JSON (from the live event table), or the HTML page",
        body: docsSummarySchema,
      },
    },
  },
  {
    method: "get",
    path: "/api/docs/protocol",
    id: "protocolHtml",
    tag: "docs",
    summary: "docs/PROTOCOL.md as HTML",
    auth: "none",
    responses: { 200: { description: "The page", media: "text/html" }, 404: notFound("Not found") },
  },
  {
    method: "get",
    path: "/api/docs/protocol.md",
    id: "protocolMarkdown",
    tag: "docs",
    summary: "docs/PROTOCOL.md as markdown",
    auth: "none",
    responses: {
      200: { description: "The document", media: "text/markdown" },
      404: notFound("Not found"),
    },
  },
  {
    method: "get",
    path: "/api/docs/style.css",
    id: "docsStyle",
    tag: "docs",
    summary: "The stylesheet of the docs pages",
    auth: "none",
    responses: { 200: { description: "CSS", media: "text/css" } },
  },
  {
    method: "get",
    path: "/api/openapi.json",
    id: "openapi",
    tag: "docs",
    summary: "This document (OpenAPI 3.1)",
    auth: "none",
    responses: { 200: { description: "OpenAPI 3.1", media: "application/json" } },
  },
  {
    method: "get",
    path: "/api/asyncapi.json",
    id: "asyncapi",
    tag: "docs",
    summary: "The realtime protocol (AsyncAPI 3.0): /ws and /socket.io/, both directions",
    auth: "none",
    responses: { 200: { description: "AsyncAPI 3.0", media: "application/json" } },
  },
  {
    method: "get",
    path: "/health",
    id: "health",
    tag: "ops",
    summary: "A KV round trip, uptime and this isolate's connection count",
    auth: "none",
    responses: {
      200: { description: "KV answers", body: healthSchema },
      503: {
        description: "KV does not answer",
        body: healthSchema,
        example: { status: "degraded", kv: "error", uptime: 60, connections: 0, isolate: "01J" },
      },
    },
  },
  {
    method: "get",
    path: "/metrics",
    id: "metrics",
    tag: "ops",
    summary: "Prometheus metrics (text format 0.0.4)",
    description: "With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>`; without " +
      "it, only a loopback peer that forwarded nothing (everyone else gets 404).",
    auth: "metrics",
    responses: {
      200: { description: "The exposition", media: "text/plain", headers: NO_STORE },
      401: {
        description: "METRICS_TOKEN is set and the request does not carry it",
        codes: ["UNAUTHENTICATED"],
        example: "Missing or wrong bearer token",
        headers: { "www-authenticate": 'Bearer realm="metrics"' },
      },
      404: notFound("Not found"),
    },
  },
  {
    method: "get",
    path: "/ws",
    id: "ws",
    tag: "realtime",
    summary: "The native WebSocket endpoint (see /api/asyncapi.json)",
    description: 'Authenticate with the first frame `{event: "auth", data: {token}}` or an ' +
      "`Authorization: Bearer` header on the upgrade; tokens in the query string are refused.",
    auth: "upgrade",
    parameters: [{
      name: "Upgrade",
      in: "header",
      required: true,
      description: "websocket",
      schema: { type: "string", enum: ["websocket"] },
    }],
    responses: {
      101: { description: "Switching protocols: the socket is open" },
      400: {
        description: "A token in the query string (UNAUTHENTICATED), or a malformed WebSocket " +
          "handshake (INVALID_PAYLOAD)",
        codes: ["UNAUTHENTICATED", "INVALID_PAYLOAD"],
        example: "Tokens in the query string are refused; send an auth frame or an " +
          "Authorization header",
      },
      ...UPGRADE_REFUSALS,
      426: {
        description: "Not a WebSocket upgrade (a plain GET from an allowed origin)",
        codes: ["INVALID_PAYLOAD"],
        example: "Expected a WebSocket upgrade",
      },
    },
  },
  {
    method: "get",
    path: "/socket.io/",
    aliases: ["/socket.io"],
    id: "socketIoGet",
    tag: "realtime",
    summary: "socket.io (Engine.IO 4): open a session, long-poll, or a WebSocket",
    auth: "upgrade",
    parameters: EIO_PARAMS,
    responses: {
      101: { description: "Switching protocols (transport=websocket)" },
      200: {
        description: "Engine.IO packets (the open packet, or queued ones)",
        media: "text/plain",
      },
      400: ENGINE_REFUSAL,
      ...UPGRADE_REFUSALS,
    },
  },
  {
    method: "post",
    path: "/socket.io/",
    aliases: ["/socket.io"],
    id: "socketIoPost",
    tag: "realtime",
    summary: "socket.io long-polling: the client's packets (joined by U+001E)",
    auth: "upgrade",
    parameters: EIO_PARAMS,
    body: { schema: z.string(), media: "text/plain", example: '42["ping",{}]' },
    responses: {
      200: { description: "`ok`", media: "text/plain" },
      400: ENGINE_REFUSAL,
      ...UPGRADE_REFUSALS,
      413: {
        description: "A body over maxPayload: the session closes",
        codes: ["PAYLOAD_TOO_LARGE"],
        example: "Payload too large",
      },
    },
  },
  {
    method: "options",
    path: "/socket.io/",
    aliases: ["/socket.io"],
    id: "socketIoPreflight",
    tag: "realtime",
    summary: "CORS preflight of polling requests with extra headers",
    auth: "none",
    responses: {
      204: { description: "Allowed: the CORS headers for the page's origin" },
      403: forbidden("Origin not allowed"),
    },
  },
  {
    method: "get",
    path: "/",
    id: "testPage",
    tag: "static",
    summary: "The bundled test page (TEST_PAGE; on in demo mode)",
    auth: "none",
    responses: {
      200: { description: "The page", media: "text/html" },
      404: { description: "TEST_PAGE is off", media: "text/plain" },
    },
  },
  {
    method: "get",
    path: "/static/{file}",
    id: "staticFile",
    tag: "static",
    summary: "A file of the test page or the client library (a fixed list)",
    auth: "none",
    params: { file: "A file name such as app.js or style.css" },
    responses: { 200: { description: "The file", media: "text/javascript" }, 404: FILE_404 },
  },
  {
    method: "get",
    path: "/client.js",
    id: "clientJs",
    tag: "static",
    summary: "The client library (an ES module; CORS for CORS_ORIGINS)",
    auth: "none",
    responses: { 200: TEXT_FILE, 404: FILE_404 },
  },
  {
    method: "get",
    path: "/protocol.js",
    id: "protocolJs",
    tag: "static",
    summary: "The protocol vocabulary the client library imports",
    auth: "none",
    responses: { 200: TEXT_FILE, 404: FILE_404 },
  },
  {
    method: "get",
    path: "/client.d.ts",
    id: "clientTypes",
    tag: "static",
    summary: "TypeScript declarations of the client library",
    auth: "none",
    responses: { 200: { description: "The declarations", media: "text/plain" }, 404: FILE_404 },
  },
];
