/**
 * @module
 * GET /ws: the native WebSocket endpoint. The shared upgrade guard
 * (./upgrade_guard.ts) refuses a cross-site Origin, an attempt flood, a token
 * in the query string and a bad Authorization header; then the socket is
 * upgraded with Deno's own `Deno.upgradeWebSocket` and handed to the
 * connection core (realtime/session.ts) with the native JSON codec.
 */

import { Hono } from "hono";
import { Session, type SessionDeps } from "../realtime/session.ts";
import { attachWebSocket, webSocketTransport } from "../realtime/transport.ts";
import { type AppEnv, clientIp, requestId } from "./context.ts";
import { originGuard, upgradeGuard, type UpgradeGuardDeps } from "./upgrade_guard.ts";

export { originAllowed } from "./upgrade_guard.ts";

export function wsRoutes(deps: {
  session: SessionDeps;
  guard: UpgradeGuardDeps;
  idleTimeoutS: number;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { log } = deps.session.services;
  const originOk = originGuard(deps.guard);
  app.get(
    "/",
    (c, next) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        // A browser sees a refused upgrade only as close 1006; the client library then asks
        // here, over plain HTTP, whether its page's origin is the reason (readable by it).
        if (!originOk(c)) {
          c.header("access-control-allow-origin", "*");
          return c.json({ error: "Origin not allowed", code: "FORBIDDEN" }, 403);
        }
        return c.json({ error: "Expected a WebSocket upgrade", code: "INVALID_PAYLOAD" }, 426);
      }
      return next();
    },
    upgradeGuard(deps.guard),
    (c) => {
      let upgraded: { socket: WebSocket; response: Response };
      try {
        upgraded = Deno.upgradeWebSocket(c.req.raw, { idleTimeout: deps.idleTimeoutS });
      } catch {
        // A malformed handshake (no Sec-WebSocket-Key, wrong version) is the client's error.
        return c.json({ error: "Invalid WebSocket upgrade request", code: "INVALID_PAYLOAD" }, 400);
      }
      const { socket } = upgraded;
      const session = new Session(webSocketTransport(socket), deps.session, c.get("preAuth"), {
        ip: clientIp(c),
        requestId: requestId(c),
      });
      attachWebSocket(socket, session, () => log.debug("ws.error", { socketId: session.id }));
      return upgraded.response;
    },
  );
  return app;
}
