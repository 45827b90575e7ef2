/**
 * @module
 * GET /api/docs: a machine-readable reference built from the live event table
 * (so it cannot drift from what the server accepts): every client event with
 * its ack flag, rate-limit class and JSON Schema, both realtime endpoints
 * (/ws and /socket.io/) with their frames, the HTTP endpoints, and the error
 * and close codes. GET /api/docs/protocol.md serves docs/PROTOCOL.md.
 */

import { Hono } from "hono";
import { CLOSE_CODES, SERVER_EVENTS } from "../static/protocol.js";
import { z } from "zod";
import type { EventMap } from "../realtime/events.ts";
import { serverEventJsonSchemas } from "../realtime/protocol/server_events.ts";
import { ERROR_CODES } from "../lib/errors.ts";
import type { AppEnv } from "./context.ts";

const ENDPOINTS = [
  { method: "POST", path: "/api/v1/auth/login", auth: "none" },
  { method: "GET", path: "/api/v1/auth/me", auth: "bearer" },
  { method: "POST", path: "/api/v1/auth/logout", auth: "bearer" },
  { method: "GET", path: "/api/v1/audit", auth: "bearer (admin)" },
  { method: "POST", path: "/api/v1/holds", auth: "bearer (admin)" },
  { method: "GET", path: "/api/v1/holds", auth: "bearer (admin)" },
  { method: "DELETE", path: "/api/v1/holds/:id", auth: "bearer (admin)" },
  { method: "POST", path: "/api/v1/visits", auth: "bearer (doctor, nurse, admin)" },
  { method: "GET", path: "/api/v1/visits/:id", auth: "bearer (visit participants, admin)" },
  { method: "PATCH", path: "/api/v1/visits/:id", auth: "bearer (visit clinicians, admin)" },
  { method: "POST", path: "/api/v1/notifications", auth: "bearer (admin, service)" },
  { method: "POST", path: "/api/v1/realtime/emit", auth: "bearer (admin, service)" },
  { method: "GET", path: "/health", auth: "none" },
  { method: "GET", path: "/ws", auth: "auth frame or Authorization header" },
  {
    method: "GET, POST",
    path: "/socket.io/",
    auth: "CONNECT auth payload {token}, or Authorization header (extraHeaders)",
  },
];

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
  const app = new Hono<AppEnv>();
  app.get("/", (c) => c.json(reference));
  app.get("/protocol.md", async (c) => {
    protocol ??= Deno.readTextFile(new URL("../docs/PROTOCOL.md", import.meta.url)).catch(() =>
      null
    );
    const text = await protocol;
    if (text === null) return c.json({ error: "Not found", code: "NOT_FOUND" }, 404);
    return c.body(text, 200, { "content-type": "text/markdown; charset=utf-8" });
  });
  return app;
}
