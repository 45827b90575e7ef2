/**
 * @module
 * Entry point. `createApp` wires config, KV, clock and logger into the HTTP
 * routes and the realtime layer (tests build the same app on `:memory:`);
 * `serve` runs it with graceful shutdown (`deno task start`). For one app per
 * core, `deno serve --parallel serve.ts` uses serve.ts, which builds the same
 * app in each isolate.
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { type Clock, systemClock } from "./lib/clock.ts";
import { type Config, ConfigError, loadConfig } from "./lib/config.ts";
import { AppError } from "./lib/errors.ts";
import type { Logger } from "./lib/log.ts";
import { configuredLogger } from "./lib/log_file.ts";
import { createTokenService } from "./lib/tokens.ts";
import { WindowCounter } from "./lib/rate_limit.ts";
import { parseCidr } from "./lib/client_ip.ts";
import { ulidFactory } from "./lib/ulid.ts";
import { type Bus, ChannelBus, LocalBus } from "./realtime/bus.ts";
import { KvBus } from "./realtime/kv_bus.ts";
import { createEmitter, type Emitter } from "./realtime/emit.ts";
import { type EventMap, mergeTables } from "./realtime/events.ts";
import { installRealtimeApi, type RealtimeApi } from "./realtime/api.ts";
import { AUDITED_CODES, AuditWriter, refusalKey } from "./realtime/audit.ts";
import { callEvents } from "./realtime/handlers/calls.ts";
import { CallService } from "./realtime/calls.ts";
import { createScheduler, type Scheduler } from "./realtime/scheduler.ts";
import { messageEvents } from "./realtime/handlers/messages.ts";
import { editEvents } from "./realtime/handlers/edits.ts";
import { roomListEvents } from "./realtime/handlers/room_list.ts";
import { UnreadNotifier } from "./realtime/unread.ts";
import { notificationEvents } from "./realtime/handlers/notifications.ts";
import { presenceEvents } from "./realtime/handlers/presence.ts";
import { roomEvents } from "./realtime/handlers/rooms.ts";
import { systemEvents } from "./realtime/handlers/system.ts";
import { typingEvents } from "./realtime/handlers/typing.ts";
import { userEvents } from "./realtime/handlers/users.ts";
import { type Connection, Hub } from "./realtime/hub.ts";
import { RevocationWatcher } from "./realtime/revocations.ts";
import type { Lifecycle } from "./realtime/session.ts";
import { createNotifier } from "./realtime/notify.ts";
import { PresenceService } from "./realtime/presence.ts";
import { TopicService } from "./realtime/topics.ts";
import { dropRemovedMembers, VisitCache } from "./realtime/visit_cache.ts";
import { batcherFor } from "./store/message_batch.ts";
import { groupFor } from "./store/group_commit.ts";
import { AppMetrics } from "./realtime/metrics.ts";
import { accessLog } from "./routes/access_log.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { authRoutes } from "./routes/auth.ts";
import { type AppEnv, errorResponse, httpActor } from "./routes/context.ts";
import { docsRoutes } from "./routes/docs.ts";
import { auditRoutes } from "./routes/audit.ts";
import { holdRoutes } from "./routes/holds.ts";
import { RetentionService } from "./realtime/retention.ts";
import { healthRoutes } from "./routes/health.ts";
import { serviceRoutes } from "./routes/realtime.ts";
import { staticRoutes } from "./routes/static.ts";
import { visitRoutes } from "./routes/visits.ts";
import { wsRoutes } from "./routes/ws.ts";
import { socketIoRoutes } from "./routes/socketio.ts";
import { EngineServer } from "./realtime/engine_io.ts";
import { DEMO_PASSWORD, seedDemoData } from "./store/demo.ts";
import { openKv } from "./store/open.ts";
import { demoJwtSecret } from "./store/settings.ts";

/** Every realtime event, from every domain table; a duplicate name fails here, at start-up. */
export const events = mergeTables(
  systemEvents,
  roomEvents,
  messageEvents,
  editEvents,
  roomListEvents,
  typingEvents,
  presenceEvents,
  userEvents,
  notificationEvents,
  callEvents,
);

export interface AppDeps {
  kv: Deno.Kv;
  config: Config;
  clock?: Clock;
  log?: Logger;
  /** Defaults to a batching writer on `kv`. */
  audit?: AuditWriter;
  /**
   * Defaults to the KV bus (realtime/kv_bus.ts): other processes and instances
   * on the same KV, plus this process's other isolates over BroadcastChannel.
   */
  bus?: (deliver: Hub["deliver"]) => Bus;
}

export interface App {
  fetch: (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  /** The Hono app itself: tests compare its routes with /api/openapi.json. */
  hono: Hono<AppEnv>;
  hub: Hub;
  emitter: Emitter;
  /** The merged event table this app dispatches. */
  events: EventMap;
  /** This app's metrics, as GET /metrics shows them. */
  metrics: AppMetrics;
  presence: PresenceService;
  calls: CallService;
  scheduler: Scheduler;
  /** How deliveries reach other isolates and processes (the KV bus unless a test injects one). */
  bus: Bus;
  /** Message retention (MESSAGE_RETENTION_DAYS): `sweep()` runs one now. */
  retention: RetentionService;
  /** The audit writer (tests flush it before reading KV). */
  audit: AuditWriter;
  topics: TopicService;
  /** Settles when background KV work (the queue listener) has ended, after KV is closed. */
  finished: Promise<void>;
  /** emitToUser / emitToRoom / broadcast / notifyUser for routes, jobs and tests. */
  realtime: RealtimeApi;
  /**
   * Stops timers, closes every socket with 1001 and stops the bus; resolves
   * when in-flight presence writes are done. The caller closes KV after.
   */
  shutdown(): Promise<void>;
}

/** Builds the application around injected dependencies. Serves nothing by itself. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { kv, config } = deps;
  const clock = deps.clock ?? systemClock;
  // deno serve --parallel (serve.ts) passes no logger: this app opens LOG_FILE itself and closes
  // it at the end of its shutdown.
  const ownLog = deps.log ? undefined : configuredLogger(config);
  const log = deps.log ?? ownLog!.log;
  const newId = ulidFactory(clock);
  const secret = config.jwtSecret ?? (config.demoData ? await demoJwtSecret(kv) : undefined);
  if (!secret) throw new ConfigError(["JWT_SECRET: required unless DEMO_DATA=true"]);
  if (config.demoData) await seedDemoData(kv, new Date(clock.now()));

  const tokens = createTokenService({
    secret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttlSeconds: config.jwtTtl,
    clock,
  });
  // Client events outside the table, and the handshake's own, count as "unknown".
  const metrics = new AppMetrics({ eventNames: [...events.keys(), "auth", "auth:refresh"], clock });
  const hub = new Hub(metrics);
  // Assigned once the emitter exists; deliveries that arrive before (at the bus's start) skip it.
  const late: { unread?: UnreadNotifier } = {};
  // By default the KV bus: events reach other processes and instances on the same KV, and the
  // isolates of this process over BroadcastChannel too (BROADCAST_CHANNEL).
  const bus: Bus = (deps.bus ??
    ((deliver: Hub["deliver"]): Bus =>
      !config.kvBus
        ? (config.broadcastChannel ? new ChannelBus(deliver) : new LocalBus(deliver))
        : new KvBus(deliver, {
          kv,
          pid: newId(),
          log,
          clock,
          pollMs: config.busPollMs,
          broadcastChannel: config.broadcastChannel,
          localSockets: (ids) => ids.every((id) => hub.has(id)),
          metrics,
        })))((d) => {
      const n = hub.deliver(d);
      late.unread?.delivered(d);
      return n;
    });
  await bus.start?.();
  const emitter = createEmitter(bus, newId);
  const unread = late.unread = new UnreadNotifier({ kv, hub, emitter, log, newId });
  // Presence entries and topic memberships live as long as this isolate's sockets keep beating.
  const liveness = {
    kv,
    clock,
    log,
    emitter,
    ttlMs: config.presenceTtlS * 1000,
    connections: () => hub.connections(),
  };
  const presence = new PresenceService(liveness);
  const topics = new TopicService(liveness);
  const audit = deps.audit ??
    new AuditWriter({ kv, clock, log, newId, retentionDays: config.auditRetentionDays });
  const notifyUser = createNotifier({ kv, clock, emitter, newId, audit });
  const scheduler = createScheduler(config.scheduler, { kv, clock, log });
  const calls = new CallService({
    kv,
    clock,
    log,
    emitter,
    scheduler,
    newId,
    refreshPresence: (userId) => presence.refresh(userId),
    ringTimeoutMs: config.callRingTimeoutMs,
    graceMs: config.callGraceMs,
    audit,
    rates: config.callRates,
    metrics,
  });
  const visits = new VisitCache(kv, log);
  const batcher = batcherFor(kv, config.sendQueue);
  // The writers are shared by every app on this KV handle: each app counts while it runs.
  const unobserve = [
    batcher.observe((commit) => metrics.committed("messages", commit)),
    groupFor(kv).observe((commit) => metrics.committed("group", commit)),
  ];
  metrics.observe({ connections: () => hub.connections(), shed: () => batcher.shed });
  const services = {
    kv,
    clock,
    log,
    emitter,
    newId,
    presence,
    notifyUser,
    calls,
    audit,
    topics,
    visits,
    messageEditWindowMs: config.messageEditWindowS * 1000,
    unread,
    metrics,
  };
  let stopping = false;
  const lifecycle: Lifecycle = {
    connected: (conn) => presence.connected(conn),
    opened: (conn) => calls.socketOpened(conn),
    disconnected(conn) {
      presence.disconnected(conn);
      topics.disconnected(conn);
      // Sockets closed by our own shutdown start no grace period: KV is about to close.
      if (stopping) return;
      calls.socketClosed(conn).catch((err) => {
        log.error("calls.socket_closed_failed", {
          error: err instanceof Error ? err : String(err),
        });
      });
    },
  };
  const realtime: RealtimeApi = {
    emitToUser: (userId, event, data) => emitter.emitAny({ users: [userId] }, event, data),
    emitToRoom: (roomId, event, data) => emitter.emitAny({ rooms: [roomId] }, event, data),
    broadcast: emitter.broadcast,
    notifyUser,
  };
  const isolateId = newId();
  // Parsed once: every request's client IP is checked against them (routes/context.ts).
  const trustedProxies = config.trustedProxies.map(parseCidr);

  const app = new Hono<AppEnv>();
  app.onError((err, c) => {
    // Every refused HTTP request is in the audit trail; logins record their own outcome.
    if (
      err instanceof AppError && AUDITED_CODES.has(err.code) &&
      !c.req.path.startsWith("/api/v1/auth/login")
    ) {
      const actor = httpActor(c);
      audit.refusal({
        ...actor,
        action: "refused",
        // The path names ids only (routes take no free text in the path); capped all the same.
        target: { event: `${c.req.method} ${c.req.path.replace(/[^\w:./-]/g, "_").slice(0, 140)}` },
        outcome: "refused",
        code: err.code,
      }, refusalKey(actor.actorId, actor.ip));
    }
    return errorResponse(c, err, log);
  });
  app.notFound((c) => c.json({ error: "Not found", code: "NOT_FOUND" }, 404));
  // First: the request id is fixed before any route logs or audits, and every request is logged.
  app.use("*", accessLog({ log, metrics }));
  app.use(
    "/api/*",
    cors({
      origin: config.corsOrigins,
      allowHeaders: ["Authorization", "Content-Type"],
      allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
      maxAge: 600,
    }),
  );
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: () => {
        throw new AppError("PAYLOAD_TOO_LARGE", "Request body too large");
      },
    }),
  );
  // Tokens and patient data: no browser or proxy keeps an answer of the API (errors included).
  app.use("/api/v1/*", async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
  });
  app.route(
    "/api/v1/auth",
    authRoutes({ kv, tokens, clock, log, audit, refreshTtlS: config.refreshTtl, metrics }),
  );
  app.route("/api/v1/visits", visitRoutes({ kv, tokens, clock, newId, audit, visits }));
  app.route("/api/v1", serviceRoutes({ kv, tokens, realtime, audit, log, metrics }));
  app.route("/api/v1/audit", auditRoutes({ kv, tokens, audit }));
  app.route("/api/v1/holds", holdRoutes({ kv, tokens, clock, newId, audit }));
  // /api/docs (HTML or JSON), /api/docs/protocol(.md), /api/openapi.json, /api/asyncapi.json.
  app.route("/api", docsRoutes(events));
  app.route(
    "/health",
    healthRoutes({
      kv,
      clock,
      log,
      startedAt: clock.now(),
      isolateId,
      connections: () => hub.size,
    }),
  );
  app.route("/metrics", metricsRoutes({ metrics, token: config.metricsToken }));
  const sessionDeps = {
    services,
    maxSocketsPerUser: config.maxSocketsPerUser,
    limits: config.socketLimits,
    rates: config.rates,
    lifecycle,
    hub,
    events,
    tokens,
    maxFrameBytes: config.maxFrameBytes,
    authTimeoutMs: config.authTimeoutMs,
  };
  // One guard for both realtime endpoints, sharing the attempt counter: a client cannot double
  // its connection attempts by alternating between them.
  const guard = {
    tokens,
    kv,
    audit,
    corsOrigins: config.corsOrigins,
    publicOrigins: config.publicOrigins,
    upgrades: new WindowCounter(config.wsUpgradesPerMin, 60_000, clock),
    log,
    metrics,
  };
  const engine = new EngineServer({
    ...config.socketIo,
    // A POST carries the client's frames; one frame may use all of MAX_FRAME_BYTES.
    maxPayload: config.maxFrameBytes + 64,
    upgradeTimeoutMs: 10_000,
  });
  app.route("/ws", wsRoutes({ session: sessionDeps, guard, idleTimeoutS: config.wsIdleTimeoutS }));
  const sio = socketIoRoutes({
    session: sessionDeps,
    guard,
    engine,
    idleTimeoutS: config.wsIdleTimeoutS,
  });
  // socket.io-client asks for /socket.io/ (addTrailingSlash); /socket.io is the same endpoint.
  app.route("/socket.io/", sio);
  app.route("/socket.io", sio);
  app.route(
    "/",
    staticRoutes({
      corsOrigins: config.corsOrigins,
      testPage: config.testPage,
      demo: config.demoData,
      publicOrigins: config.publicOrigins,
    }),
  );

  presence.start();
  topics.start();
  audit.start();
  const retention = new RetentionService({
    kv,
    clock,
    log,
    messageRetentionDays: config.messageRetentionDays,
    notificationRetentionDays: config.notificationRetentionDays,
  });
  retention.start();
  scheduler.start((job) => calls.onJob(job));
  calls.startSweeps();
  const revocations = new RevocationWatcher({ kv, hub, log });
  await revocations.start();
  await visits.start((ids) => {
    const left = (conn: Connection, roomId: string) => topics.removed(conn, roomId);
    dropRemovedMembers({ hub, emitter, visits, left }, ids).catch((err) =>
      log.error("visits.drop_members_failed", { error: String(err) })
    );
  });
  const uninstall = installRealtimeApi(realtime);
  return {
    fetch: (req, info) => app.fetch(req, { remoteAddr: info?.remoteAddr, trustedProxies }),
    hono: app,
    hub,
    emitter,
    events,
    metrics,
    presence,
    calls,
    scheduler,
    bus,
    retention,
    audit,
    topics,
    finished: scheduler.finished,
    realtime,
    async shutdown() {
      stopping = true;
      uninstall();
      for (const stop of unobserve) stop();
      const stopped = Promise.all([
        presence.stop(),
        topics.stop(),
        retention.stop(),
        unread.stop(),
        calls.stopSweeps(),
        scheduler.stop(),
        revocations.stop(),
        visits.stop(),
      ]);
      // Sockets closed by the shutdown are recorded now: the writer takes no entries after close.
      for (const c of hub.connections()) {
        audit.record({
          actorId: c.userId,
          actorRole: c.role,
          socketId: c.id,
          action: "ws.close",
          outcome: "success",
          target: { status: "1001" },
        });
      }
      hub.closeAll(1001, "Server shutting down");
      // Engine.IO sessions not authenticated yet, so no long-poll holds the server open.
      engine.closeAll(1001, "Server shutting down");
      await stopped;
      await audit.close();
      await bus.close();
      ownLog?.close();
    },
  };
}

/** What the configuration chose for where it runs, for the start-up log (no secrets). */
export function runtimeChoices(config: Config) {
  const kv = config.kvPath === undefined
    ? "platform (Deno.openKv())"
    : /^https?:\/\//.test(config.kvPath)
    ? "KV Connect"
    : config.kvPath === ":memory:"
    ? "memory"
    : "local file";
  return {
    kv,
    deploy: config.onDeploy,
    scheduler: config.scheduler,
    bus: [config.kvBus && "kv", config.broadcastChannel && "broadcastchannel"].filter(Boolean)
      .join(" + ") || "this isolate only",
    busPollMs: config.busPollMs,
  };
}

/** Loads config from the environment or exits with a message naming the bad variable. */
export function configOrExit(): Config {
  try {
    return loadConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(1);
    }
    throw err;
  }
}

/** Runs the server until SIGINT/SIGTERM, then closes sockets (1001) and KV. */
export async function serve(config: Config): Promise<void> {
  // LOG_FILE, when set, gets the same lines as stderr; closed once everything has been logged.
  const { log, close: closeLog } = configuredLogger(config);
  const kv = await openKv(config.kvPath);
  // One isolate: the KV bus reaches other processes; no BroadcastChannel, as there is no sibling
  // isolate to post to (serve.ts, one app per isolate, keeps BROADCAST_CHANNEL).
  const app = await createApp({ kv, config: { ...config, broadcastChannel: false }, log });
  const ac = new AbortController();
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    signal: ac.signal,
    onListen: ({ hostname, port }) => {
      log.info("server.listening", { url: `http://${hostname}:${port}`, demo: config.demoData });
      log.info("server.runtime", runtimeChoices({ ...config, broadcastChannel: false }));
      if (config.demoData) {
        // One plain line for the person who just typed `deno task dev` (the JSON log is for tools).
        const shown = hostname === "0.0.0.0" || hostname === "::" ? "localhost" : hostname;
        console.log(
          `Open http://${shown}:${port} and sign in as patient@example.com or ` +
            `doctor@example.com, password ${DEMO_PASSWORD} (demo data: never in production)`,
        );
      }
    },
  }, app.fetch);
  let forced: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (forced !== undefined) return;
    log.info("server.stopping", {});
    // Sockets close with 1001 at once and frames not started are dropped; what is committing
    // finishes. A client that never answers the close must not hold the process: exit anyway.
    forced = setTimeout(() => {
      log.warn("server.forced_exit", { afterMs: SHUTDOWN_MAX_MS });
      Deno.exit(0);
    }, SHUTDOWN_MAX_MS);
    app.shutdown().finally(() => ac.abort());
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // A platform without signals (Deno Deploy stops isolates itself).
    }
  }
  await server.finished;
  kv.close();
  await app.finished;
  clearTimeout(forced);
  closeLog();
}

/** After SIGTERM, the process exits within this even if clients hold their sockets open. */
export const SHUTDOWN_MAX_MS = 1800;

if (import.meta.main) {
  await serve(configOrExit());
  // Everything is flushed and KV is closed. Measured under load, the runtime's teardown of the
  // sockets clients had already closed kept the process alive 7-13 s more: end it now.
  Deno.exit(0);
}
