/**
 * @module
 * Integration harness: serves the real app on 127.0.0.1:0 with an in-memory
 * (or given) KV and the demo accounts, and drives real WebSocket clients.
 * Helpers await a specific frame with a bounded timeout; nothing sleeps.
 */

import { createApp } from "../main.ts";
import type { App } from "../main.ts";
import { loadConfig } from "../lib/config.ts";
import { memoryLogger } from "../lib/log.ts";
import { LocalBus } from "../realtime/bus.ts";
import { DEMO_PASSWORD, seedDemoData } from "../store/demo.ts";
import { createUser, type Role } from "../store/users.ts";
import type { Clock } from "../lib/clock.ts";

export const TEST_SECRET = "test-secret-test-secret-test-secret-0123456789";
export const ALLOWED_ORIGIN = "http://allowed.test";

export interface TestServer {
  url: string;
  wsUrl: string;
  kv: Deno.Kv;
  app: App;
  log: ReturnType<typeof memoryLogger>;
  /** Logs in through the HTTP API and returns the token. */
  login(email: string, password?: string): Promise<string>;
  /** Creates an account (password `password123`, email `<id>@example.com` unless given). */
  addUser(id: string, role: Role, email?: string): Promise<string>;
  /** Connects, authenticates with the auth frame and awaits `connected`. */
  connect(email: string): Promise<WsClient>;
  close(): Promise<void>;
}

/** Starts the app on a free port. `env` overrides the test configuration. */
export async function startServer(
  opts: {
    env?: Record<string, string>;
    kvPath?: string;
    seed?: boolean;
    clock?: Clock;
    /** A fixed port (a restart on the same address); a free one by default. */
    port?: number;
  } = {},
): Promise<TestServer> {
  const kv = await Deno.openKv(opts.kvPath ?? ":memory:");
  const config = loadConfig({
    JWT_SECRET: TEST_SECRET,
    CORS_ORIGINS: ALLOWED_ORIGIN,
    LOG_LEVEL: "debug",
    TEST_PAGE: "true",
    ...opts.env,
  });
  if (opts.seed !== false) await seedDemoData(kv, new Date());
  const log = memoryLogger();
  const app = await createApp({
    kv,
    config,
    log,
    clock: opts.clock,
    bus: (sink) => new LocalBus(sink),
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: opts.port ?? 0, onListen() {} },
    app.fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const clients: WsClient[] = [];
  const login = (email: string, password?: string) => loginAt(url, email, password);
  return {
    url,
    wsUrl: `ws://127.0.0.1:${server.addr.port}/ws`,
    kv,
    app,
    log,
    login,
    async addUser(id, role, email = `${id}@example.com`) {
      await createUser(kv, { id, email, name: id, role, password: DEMO_PASSWORD }, new Date());
      return email;
    },
    async connect(email) {
      const client = await WsClient.open(`ws://127.0.0.1:${server.addr.port}/ws`);
      clients.push(client);
      const connected = await client.auth(await login(email));
      if (connected.event !== "connected") {
        throw new Error(`connect ${email}: ${JSON.stringify(connected)}`);
      }
      return client;
    },
    async close() {
      await app.shutdown();
      await Promise.all(clients.map((c) => c.close()));
      await server.shutdown();
      kv.close();
      await app.finished;
    },
  };
}

/** Logs in at a server's HTTP API and returns the token; throws with the status otherwise. */
export async function loginAt(url: string, email: string, password = DEMO_PASSWORD) {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`login ${email} failed: ${res.status} ${JSON.stringify(body)}`);
  return body.token as string;
}

export interface Frame {
  event?: string;
  ack?: number;
  data: Record<string, unknown>;
}

type Waiter = { match: (f: Frame) => boolean; resolve: (f: Frame) => void };

/** Rejects after `ms` unless `promise` settles first; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `condition()` holds, checking after each turn of the event
 * loop, for server-side state that has no event of its own (a socket's close
 * being processed). Rejects after `ms`.
 */
export async function waitFor(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  let gaveUp = false;
  try {
    await within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (condition()) resolve();
          else if (!gaveUp) setTimeout(check, 1);
        };
        check();
      }),
      ms,
      what,
    );
  } finally {
    gaveUp = true;
  }
}

/** A WebSocket client that records every frame and lets tests await specific ones. */
export class WsClient {
  readonly frames: Frame[] = [];
  /** Sees every frame first; returning false drops it (long runs that must not keep frames). */
  onEvent?: (frame: Frame) => boolean;
  readonly closed: Promise<CloseEvent>;
  #ws: WebSocket;
  #waiters: Waiter[] = [];
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    ws.addEventListener("message", (e) => {
      const frame = JSON.parse(String(e.data)) as Frame;
      if (this.onEvent?.(frame) === false) return;
      this.frames.push(frame);
      for (const w of [...this.#waiters]) {
        if (w.match(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(frame);
          return;
        }
      }
    });
  }

  /** Opens a socket; resolves once open, rejects if the upgrade is refused. */
  static async open(url: string, headers?: Record<string, string>): Promise<WsClient> {
    const ws = new WebSocket(url, headers ? { headers } : undefined);
    const client = new WsClient(ws);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve());
        ws.addEventListener("error", () => reject(new Error("WebSocket upgrade failed")));
      }),
      5000,
      "open",
    );
    return client;
  }

  /** Sends the auth frame; resolves with `connected` or `connect_error`. */
  auth(token: string): Promise<Frame> {
    const reply = this.next((f) => f.event === "connected" || f.event === "connect_error", "auth");
    this.sendRaw(JSON.stringify({ event: "auth", data: { token } }));
    return reply;
  }

  /** Awaits the first frame (already received or future) matching. Received frames are consumed. */
  next(match: ((f: Frame) => boolean) | string, what?: string, ms = 3000): Promise<Frame> {
    const fn = typeof match === "string" ? (f: Frame) => f.event === match : match;
    const i = this.frames.findIndex(fn);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    const label = what ?? (typeof match === "string" ? match : "frame");
    return within(
      new Promise<Frame>((resolve) => {
        this.#waiters.push({
          match: fn,
          resolve: (f) => {
            this.frames.splice(this.frames.indexOf(f), 1);
            resolve(f);
          },
        });
      }),
      ms,
      label,
    );
  }

  /** Awaits the next event of this name and returns its data. */
  async event(name: string, ms = 3000): Promise<Record<string, unknown>> {
    return (await this.next(name, name, ms)).data;
  }

  /** Sends an event with an id and resolves with the ack's data. */
  async request(event: string, data?: unknown, ms = 5000): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const reply = this.next((f) => f.ack === id, `ack of ${event}`, ms);
    this.sendRaw(JSON.stringify({ event, data, id }));
    return (await reply).data;
  }

  /** Like request, with `data` given as raw JSON text (for numbers JSON.stringify cannot write). */
  async requestRaw(event: string, dataJson: string, ms = 5000): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const reply = this.next((f) => f.ack === id, `ack of ${event}`, ms);
    this.sendRaw(`{"event":${JSON.stringify(event)},"data":${dataJson},"id":${id}}`);
    return (await reply).data;
  }

  /** Sends an event without an id (no ack). */
  emit(event: string, data?: unknown): void {
    this.sendRaw(JSON.stringify({ event, data }));
  }

  sendRaw(data: string | Uint8Array): void {
    this.#ws.send(data as string);
  }

  /** Round trip: every frame the server wrote before this ack has arrived. */
  async sync(): Promise<void> {
    const r = await this.request("ping", {});
    if (r.success !== true) throw new Error(`ping failed: ${JSON.stringify(r)}`);
  }

  /** Events of this name received and not yet consumed. */
  pending(name: string): Frame[] {
    return this.frames.filter((f) => f.event === name);
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    if (this.#ws.readyState !== WebSocket.CLOSING) this.#ws.close(1000);
    await within(this.closed, 5000, "close");
  }
}
