/**
 * @module
 * The API's documentation, mounted at /api:
 * - GET /api/docs: for JSON clients (no Accept, any type, application/json) a
 *   machine-readable reference built from the live event table (so it cannot
 *   drift from what the server accepts): every client event with its ack flag,
 *   rate-limit class and JSON Schema, both realtime endpoints (/ws and
 *   /socket.io/) with their frames, the HTTP endpoints, and the error and close
 *   codes. For browsers (Accept prefers text/html) an HTML page rendered here
 *   from the two documents below (./docs_page.ts: no script, no CDN).
 * - GET /api/openapi.json (./openapi.ts) and GET /api/asyncapi.json (./asyncapi.ts).
 * - GET /api/docs/protocol.md serves docs/PROTOCOL.md; /api/docs/protocol renders it as HTML.
 */

import { Hono } from "hono";
import { CLOSE_CODES, SERVER_EVENTS } from "../static/protocol.js";
import { z } from "zod";
import type { EventMap } from "../realtime/events.ts";
import { serverEventJsonSchemas } from "../realtime/protocol/server_events.ts";
import { ERROR_CODES } from "../lib/errors.ts";
import type { AppEnv } from "./context.ts";
import type { Context } from "hono";
import { openApiDocument } from "./openapi.ts";
import { API_ROUTES } from "./openapi_routes.ts";
import { asyncApiDocument } from "./asyncapi.ts";
import { renderDocsPage, renderProtocolPage } from "./docs_page.ts";
import { DOCS_CSS } from "./docs_style.ts";

/** The HTML pages run no script and load only our stylesheet. */
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * Whether the request asks for the HTML page: `?format=html`, or an Accept
 * that names text/html (or XHTML) with a higher quality than application/json.
 * No Accept, `*\/*` and application/json get JSON, as every client did before the page existed.
 */
export function wantsHtml(accept: string | undefined, format?: string): boolean {
  if (format === "html" || format === "json") return format === "html";
  let html = 0;
  let json = 0;
  for (const part of (accept ?? "").toLowerCase().split(",")) {
    const [type, ...params] = part.split(";").map((s) => s.trim());
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === "text/html" || type === "application/xhtml+xml") html = Math.max(html, q);
    else if (type === "application/json") json = Math.max(json, q);
  }
  return html > 0 && html > json;
}

/**
 * The HTTP endpoints, from the same route table as /api/openapi.json (which a test keeps equal to
 * the live routes), in this summary's older notation: `:id` paths, auth with its roles.
 */
const ENDPOINTS = API_ROUTES.map((r) => ({
  method: r.method.toUpperCase(),
  path: r.path.replace(/\{(\w+)\}/g, ":$1"),
  auth: r.roles ? `${r.auth} (${r.roles.join(", ")})` : r.auth,
}));

/** The two realtime endpoints: the same events, handlers, rules and errors, two wire formats. */
const REALTIME = {
  native: {
    path: "/ws",
    transport: "WebSocket",
    frames: {
      request: '{"event": string, "data": object, "id"?: integer}',
      ack: '{"ack": integer, "data": {"success": boolean, ...}}',
      event: '{"event": string, "data": object}',
      auth: '{"event": "auth", "data": {"token": string}} as the first frame',
    },
  },
  socketio: {
    path: "/socket.io/",
    engineIo: 4,
    socketIo: 5,
    transports: ["polling", "websocket"],
    upgrades: "polling to websocket",
    namespaces: ["/"],
    binary: "refused (INVALID_PAYLOAD): every payload is JSON",
    frames: {
      connect: '40{"token": string}  ->  40{"sid": socketId}, then 42["connected", {...}]',
      connectError: '44{"message": "Authentication error: Invalid token"}',
      request: '42<id>["event", data]  ->  43<id>[{"success": boolean, ...}]',
      event: '42["event", data]',
      serverClose:
        '42["error", {"success": false, "code", "error", "closeCode"}], then 41 when reconnecting cannot help',
    },
    config: ["SOCKETIO_PING_INTERVAL_MS", "SOCKETIO_PING_TIMEOUT_MS", "MAX_FRAME_BYTES"],
  },
};

export function docsRoutes(events: EventMap): Hono<AppEnv> {
  const reference = {
    protocol: "/api/docs/protocol.md",
    frames: REALTIME.native.frames,
    realtime: REALTIME,
    endpoints: ENDPOINTS,
    events: Object.fromEntries(
      [...events].map(([name, def]) => [name, {
        ack: def.ack,
        rateLimit: def.limit ?? "default",
        schema: z.toJSONSchema(def.schema, { unrepresentable: "any", io: "input" }),
      }]),
    ),
    errorCodes: ERROR_CODES,
    closeCodes: Object.fromEntries(
      Object.entries(CLOSE_CODES).map(([code, c]) => [code, c.meaning]),
    ),
    closeCodesDetail: CLOSE_CODES,
    serverEvents: SERVER_EVENTS,
    /** The payload of each server event, as JSON Schema, from the protocol vocabulary. */
    serverEventSchemas: serverEventJsonSchemas(),
  };
  let protocol: Promise<string | null> | undefined;
  const readProtocol = () =>
    protocol ??= Deno.readTextFile(new URL("../docs/PROTOCOL.md", import.meta.url)).catch(() =>
      null
    );
  // Built on first use (not at start-up), then kept: the table and the schemas do not change.
  let openapi: Record<string, unknown> | undefined;
  let asyncapi: Record<string, unknown> | undefined;
  let page: string | undefined;
  let protocolPage: string | undefined;
  const openApi = () => openapi ??= openApiDocument(API_ROUTES);
  const asyncApi = () => asyncapi ??= asyncApiDocument(events);
  const notFound = (c: Context<AppEnv>) => c.json({ error: "Not found", code: "NOT_FOUND" }, 404);

  const app = new Hono<AppEnv>();
  app.get("/docs", (c) => {
    c.header("vary", "Accept");
    if (!wantsHtml(c.req.header("accept"), c.req.query("format"))) return c.json(reference);
    page ??= renderDocsPage(openApi(), asyncApi());
    return c.body(page, 200, PAGE_HEADERS);
  });
  app.get("/docs/protocol.md", async (c) => {
    const text = await readProtocol();
    if (text === null) return notFound(c);
    return c.body(text, 200, { "content-type": "text/markdown; charset=utf-8" });
  });
  app.get("/docs/protocol", async (c) => {
    const text = await readProtocol();
    if (text === null) return notFound(c);
    protocolPage ??= renderProtocolPage(text);
    return c.body(protocolPage, 200, PAGE_HEADERS);
  });
  app.get("/docs/style.css", (c) =>
    c.body(DOCS_CSS, 200, {
      "content-type": "text/css; charset=utf-8",
      "cache-control": "public, max-age=3600",
      "x-content-type-options": "nosniff",
    }));
  app.get("/openapi.json", (c) => c.json(openApi()));
  app.get("/asyncapi.json", (c) => c.json(asyncApi()));
  return app;
}
