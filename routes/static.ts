/**
 * @module
 * The bundled test client: GET / (static/index.html) and GET /static/<file>
 * for a fixed list of files, read once and kept in memory. No path from the
 * request ever reaches the file system. The page is served only with
 * TEST_PAGE (on by default in demo mode only); the client library
 * (`/client.js`, `/protocol.js`, `/client.d.ts`, also under /static/) always is.
 * In demo mode the page is marked `data-demo` and shows the demo accounts and
 * the event log; elsewhere they stay hidden (the log also shows with `?debug`).
 */

import { Hono } from "hono";
import type { AppEnv } from "./context.ts";

const FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "client.js": "text/javascript; charset=utf-8",
  "client.d.ts": "text/plain; charset=utf-8",
  "protocol.js": "text/javascript; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "dom.js": "text/javascript; charset=utf-8",
  "session.js": "text/javascript; charset=utf-8",
  "names.js": "text/javascript; charset=utf-8",
  "tabs.js": "text/javascript; charset=utf-8",
  "chat.js": "text/javascript; charset=utf-8",
  "rooms.js": "text/javascript; charset=utf-8",
  "outbox.js": "text/javascript; charset=utf-8",
  "typing.js": "text/javascript; charset=utf-8",
  "presence.js": "text/javascript; charset=utf-8",
  "notifications.js": "text/javascript; charset=utf-8",
  "call.js": "text/javascript; charset=utf-8",
  "call_state.js": "text/javascript; charset=utf-8",
  "call_media.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};

/**
 * The page's headers. Its sockets and fetches go to its own origin ('self' covers ws: and wss:
 * there) or to the server's PUBLIC_URL origins (and their ws:/wss: forms), nowhere else; camera and
 * microphone are for this origin only, every other powerful feature for none.
 */
export function securityHeaders(publicOrigins: readonly string[] = []): Record<string, string> {
  const sockets = publicOrigins.map((o) => o.replace(/^http/, "ws"));
  const connect = ["'self'", ...publicOrigins, ...sockets].join(" ");
  return {
    "content-security-policy": `default-src 'self'; connect-src ${connect}; ` +
      "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " +
      "frame-ancestors 'none'",
    "permissions-policy":
      "camera=(self), microphone=(self), display-capture=(), geolocation=(), payment=(), usb=()",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
}

/**
 * The client library for other origins: `/client.js` and the `/protocol.js` it imports, with
 * CORS for CORS_ORIGINS (module scripts are fetched in CORS mode).
 */
const LIBRARY = new Set(["client.js", "protocol.js", "client.d.ts"]);

export interface StaticOptions {
  corsOrigins?: readonly string[];
  /** Serve the test page (GET / and its files); off: only the client library. */
  testPage?: boolean;
  /** Demo mode: the page shows the demo accounts and the event log. */
  demo?: boolean;
  /** The server's own public origins (PUBLIC_URL), which the page may connect to. */
  publicOrigins?: readonly string[];
}

const PAGE_OFF = "This server does not serve the test page (TEST_PAGE=true turns it on).\n" +
  "The client library is at /client.js; the API is described at /api/docs.\n";

export function staticRoutes(options: StaticOptions = {}): Hono<AppEnv> {
  const { corsOrigins = [], testPage = true, demo = false, publicOrigins = [] } = options;
  const headers = securityHeaders(publicOrigins);
  const cache = new Map<string, Promise<Uint8Array | null>>();
  const load = (name: string) => {
    let p = cache.get(name);
    if (!p) {
      const url = new URL(`../static/${name}`, import.meta.url);
      p = Deno.readFile(url).then(
        (bytes) => name === "index.html" && demo ? markDemo(bytes) : bytes,
        () => null,
      );
      cache.set(name, p);
    }
    return p;
  };
  const serve = async (name: string) => {
    if (!testPage && !LIBRARY.has(name)) {
      return new Response(PAGE_OFF, {
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    const type = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
    const body = type ? await load(name) : null;
    if (!type || !body) return new Response("Not found", { status: 404 });
    return new Response(body as BodyInit, {
      headers: { "content-type": type, ...headers },
    });
  };
  const app = new Hono<AppEnv>();
  app.get("/", () => serve("index.html"));
  app.get("/static/:file", (c) => serve(c.req.param("file")));
  app.get("/:file{(client\\.js|protocol\\.js|client\\.d\\.ts)}", async (c) => {
    const file = c.req.param("file");
    if (!LIBRARY.has(file)) return new Response("Not found", { status: 404 });
    const res = await serve(file);
    const origin = c.req.header("origin");
    if (origin && corsOrigins.includes(origin)) {
      res.headers.set("access-control-allow-origin", origin);
      res.headers.set("vary", "Origin");
    }
    return res;
  });
  return app;
}

/** The page in demo mode: `<html data-demo>`, which shows the demo hints and the event log. */
function markDemo(bytes: Uint8Array): Uint8Array {
  const html = new TextDecoder().decode(bytes);
  return new TextEncoder().encode(html.replace("<html ", "<html data-demo "));
}
