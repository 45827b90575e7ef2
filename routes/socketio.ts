/**
 * @module
 * `/socket.io/`: the socket.io endpoint, for frontends written against the
 * seed's socket.io server (socket.io-client 3 and 4). Engine.IO v4 over HTTP
 * long-polling and WebSocket, with the upgrade from one to the other
 * (realtime/engine_io.ts), carrying the socket.io v5 codec
 * (realtime/protocol/socketio.ts) into the same connection core as /ws: the
 * same events, handlers, access rules, limits and errors.
 *
 * - `GET ?EIO=4&transport=polling` opens a session (the body is the open packet)
 * - `GET ?EIO=4&transport=polling&sid=...` long-polls, `POST` the same sends packets
 * - `GET ?EIO=4&transport=websocket[&sid=...]` opens a session on a WebSocket, or upgrades one
 *
 * Every request passes the shared upgrade guard (./upgrade_guard.ts); only
 * requests without a sid count as connection attempts. A sid is only
 * accepted from the client address that opened it. Polling answers carry
 * CORS headers for CORS_ORIGINS (with credentials, as socket.io-client sends
 * them with `withCredentials`).
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { rateKey } from "../lib/client_ip.ts";
import { ENGINE_ERRORS, type EngineServer, type EngineSession } from "../realtime/engine_io.ts";
import { socketIoCodec } from "../realtime/protocol/socketio.ts";
import { Session, type SessionDeps } from "../realtime/session.ts";
import { type AppEnv, clientIp, requestId } from "./context.ts";
import { originAllowed, upgradeGuard, type UpgradeGuardDeps } from "./upgrade_guard.ts";

export function socketIoRoutes(deps: {
  session: SessionDeps;
  guard: UpgradeGuardDeps;
  engine: EngineServer;
  idleTimeoutS: number;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { engine } = deps;
  const allowed = [...deps.guard.corsOrigins, ...deps.guard.publicOrigins];

  /** CORS for polling answers: the page's origin, when it may connect at all (the guard ran). */
  const cors = (c: Context<AppEnv>) => {
    const origin = c.req.header("origin");
    if (origin === undefined) return;
    const loopbackSameOrigin = deps.guard.publicOrigins.length === 0;
    if (!originAllowed(origin, { allowed, host: c.req.header("host"), loopbackSameOrigin })) return;
    c.header("access-control-allow-origin", origin);
    c.header("access-control-allow-credentials", "true");
    c.header("vary", "Origin");
  };
  const engineError = (c: Context<AppEnv>, which: keyof typeof ENGINE_ERRORS) => {
    cors(c);
    c.header("cache-control", "no-store");
    return c.json(ENGINE_ERRORS[which], which === "forbidden" ? 403 : 400);
  };
  const text = (c: Context<AppEnv>, body: string) => {
    cors(c);
    c.header("cache-control", "no-store");
    c.header("content-type", "text/plain; charset=UTF-8");
    return c.body(body, 200);
  };
  const newSession = (c: Context<AppEnv>, s: EngineSession) =>
    new Session(
      s,
      deps.session,
      c.get("preAuth"),
      { ip: clientIp(c), requestId: requestId(c) },
      socketIoCodec,
    );

  // Preflight of a polling request that carries extra headers (extraHeaders, Authorization).
  app.options("/", (c) => {
    const origin = c.req.header("origin");
    const loopbackSameOrigin = deps.guard.publicOrigins.length === 0;
    if (!originAllowed(origin, { allowed, host: c.req.header("host"), loopbackSameOrigin })) {
      return c.json({ error: "Origin not allowed", code: "FORBIDDEN" }, 403);
    }
    cors(c);
    c.header("access-control-allow-methods", "GET, POST, OPTIONS");
    c.header("access-control-allow-headers", "Authorization, Content-Type");
    c.header("access-control-max-age", "600");
    return c.body(null, 204);
  });

  const guard = upgradeGuard(deps.guard, (c) => c.req.query("sid") === undefined);
  app.on(
    ["GET", "POST"],
    "/",
    (c, next) => {
      if (c.req.query("EIO") !== "4") return engineError(c, "unsupportedVersion");
      const transport = c.req.query("transport");
      if (transport !== "polling" && transport !== "websocket") {
        return engineError(c, "unknownTransport");
      }
      return next();
    },
    guard,
    async (c) => {
      const transport = c.req.query("transport");
      const sid = c.req.query("sid");
      const owner = rateKey(clientIp(c));
      const isUpgrade = c.req.header("upgrade")?.toLowerCase() === "websocket";

      if (transport === "websocket") {
        if (!isUpgrade || c.req.method !== "GET") return engineError(c, "badRequest");
        let existing: EngineSession | undefined;
        if (sid !== undefined) {
          existing = engine.get(sid);
          if (!existing || existing.owner !== owner) return engineError(c, "unknownSid");
        }
        let upgraded: { socket: WebSocket; response: Response };
        try {
          upgraded = Deno.upgradeWebSocket(c.req.raw, { idleTimeout: deps.idleTimeoutS });
        } catch {
          return engineError(c, "badRequest");
        }
        if (existing) {
          if (!existing.upgrade(upgraded.socket)) {
            upgraded.socket.onopen = () => upgraded.socket.close();
          }
        } else {
          const s = engine.create(owner);
          s.startWebSocket(upgraded.socket, newSession(c, s));
        }
        return upgraded.response;
      }

      // Long-polling.
      if (sid === undefined) {
        if (c.req.method !== "GET") return engineError(c, "badHandshakeMethod");
        const s = engine.create(owner);
        return text(c, s.startPolling(newSession(c, s)));
      }
      const s = engine.get(sid);
      if (!s || s.owner !== owner) return engineError(c, "unknownSid");
      if (c.req.method === "GET") {
        const result = await s.poll();
        return result.ok ? text(c, result.body) : engineError(c, result.error);
      }
      const body = await readCapped(c.req.raw, engine.config.maxPayload);
      if (body === null) {
        s.close(1009, "Payload too large");
        cors(c);
        return c.json({ error: "Payload too large", code: "PAYLOAD_TOO_LARGE" }, 413);
      }
      return s.post(body) ? text(c, "ok") : engineError(c, "badRequest");
    },
  );
  return app;
}

/** The body as text, or null when it is larger than `max` bytes (reading stops there). */
async function readCapped(req: Request, max: number): Promise<string | null> {
  const length = Number(req.headers.get("content-length") ?? NaN);
  if (length > max) return null;
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const ch of chunks) {
    all.set(ch, at);
    at += ch.byteLength;
  }
  return new TextDecoder().decode(all);
}
