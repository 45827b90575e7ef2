/**
 * @module
 * Configuration from the environment, validated once at start-up. A bad value
 * stops the server with a message naming the variable; nothing reads
 * `Deno.env` after this.
 */

import { z } from "zod";
import { parseCidr } from "./client_ip.ts";

const MIN_SECRET_BYTES = 32;

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .transform((v) => v === "true" || v === "1" || v === "yes");

/** "3600", "90s", "15m", "12h" or "7d" to seconds, at least `min` and at most 30 days. */
const duration = (min: number) =>
  z
    .string()
    .regex(/^\d+[smhd]?$/, "expected seconds or a number with s, m, h or d (e.g. 15m)")
    .transform((v) => {
      const unit = v.at(-1) ?? "";
      const n = Number.parseInt(v, 10);
      const scale: Record<string, number> = { m: 60, h: 3600, d: 86400 };
      return n * (scale[unit] ?? 1);
    })
    .pipe(z.number().int().min(min, `must be at least ${min} seconds`).max(30 * 86400));

const origin = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.origin === v && (u.protocol === "http:" || u.protocol === "https:");
  } catch {
    return false;
  }
}, "each origin must look like https://app.example.com (scheme, host, optional port, no path)");

/** A comma-separated list; blanks and stray commas are ignored. */
const list = z.string().default("").transform((v) =>
  v.split(",").map((s) => s.trim()).filter(Boolean)
);

const cidr = z.string().refine((v) => {
  try {
    parseCidr(v);
    return true;
  } catch {
    return false;
  }
}, "each entry must be an address or a CIDR such as 10.0.0.0/8 or fd00::/8");

/** An http(s) URL; only its origin (scheme, host, port) is kept. */
const publicUrl = z.string().refine((v) => {
  try {
    return ["http:", "https:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, "each URL must look like https://chat.clinic.example").transform((v) => new URL(v).origin);

const intIn = (min: number, max: number) =>
  z.string().regex(/^\d+$/, "expected a whole number").transform(Number).pipe(
    z.number().int().min(min).max(max),
  );

const schema = z.object({
  PORT: intIn(0, 65535).default(8080),
  HOST: z.string().min(1).optional(),
  KV_PATH: z.string().min(1).optional(),
  KV_URL: z.url({ protocol: /^https?$/ }).optional(),
  BROADCAST_CHANNEL: bool.default(true),
  KV_BUS: bool.default(true),
  BUS_POLL_MS: intIn(20, 5000).optional(),
  JWT_SECRET: z.string().optional(),
  JWT_ISSUER: z.string().min(1).default("telehealth-realtime"),
  JWT_AUDIENCE: z.string().min(1).default("telehealth-realtime"),
  // Seconds are allowed for tests and drills of the refresh path; production uses minutes.
  JWT_TTL: duration(5).default(3600),
  REFRESH_TTL: duration(60).default(12 * 3600),
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(origin)),
  TRUSTED_PROXIES: list.pipe(z.array(cidr)),
  PUBLIC_URL: list.pipe(z.array(publicUrl)),
  DEMO_DATA: bool.default(false),
  TEST_PAGE: bool.optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  LOG_FILE: z.string().min(1).optional(),
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters (try: openssl rand -hex 24)")
    .max(512).optional(),
  MAX_FRAME_BYTES: intIn(1024, 1024 * 1024).default(64 * 1024),
  AUTH_TIMEOUT_MS: intIn(100, 60_000).default(10_000),
  WS_IDLE_TIMEOUT_S: intIn(5, 600).default(30),
  SOCKETIO_PING_INTERVAL_MS: intIn(100, 600_000).default(25_000),
  SOCKETIO_PING_TIMEOUT_MS: intIn(100, 600_000).default(20_000),
  PRESENCE_TTL_S: intIn(5, 600).default(45),
  MAX_SOCKETS_PER_USER: intIn(1, 1000).default(20),
  MESSAGE_RATE_PER_S: intIn(1, 10_000).default(10),
  MESSAGE_BURST: intIn(1, 10_000).default(20),
  EVENT_RATE_PER_S: intIn(1, 10_000).default(30),
  EVENT_BURST: intIn(1, 10_000).default(60),
  WS_UPGRADES_PER_MIN: intIn(1, 100_000).default(600),
  SEND_QUEUE_MAX: intIn(10, 1_000_000).default(4000),
  SEND_QUEUE_WAIT_MS: intIn(10, 60_000).default(2000),
  ROOMS_PER_SOCKET: intIn(1, 10_000).default(100),
  PRESENCE_SUBSCRIPTIONS_PER_SOCKET: intIn(1, 100_000).default(1000),
  CALLS_PER_MIN: intIn(1, 10_000).default(20),
  CALLS_PER_PAIR_PER_MIN: intIn(1, 10_000).default(5),
  AUDIT_RETENTION_DAYS: intIn(1, 36_500).default(2190),
  CALL_RING_TIMEOUT_MS: intIn(100, 600_000).default(30_000),
  CALL_GRACE_MS: intIn(100, 600_000).default(15_000),
  MESSAGE_EDIT_WINDOW_S: intIn(0, 2_592_000).default(900),
  MESSAGE_RETENTION_DAYS: intIn(1, 36_500).optional(),
  NOTIFICATION_RETENTION_DAYS: intIn(1, 36_500).optional(),
  SCHEDULER: z.enum(["auto", "queue", "deadline"]).default("auto"),
  // Set by Deno Deploy; read to pick the platform's KV and the scheduler.
  DENO_DEPLOYMENT_ID: z.string().optional(),
});

/** The secret rule spans two variables; checked beside the schema so every problem shows at once. */
function secretProblems(env: Record<string, string>): string[] {
  const secret = env.JWT_SECRET;
  const demo = ["true", "1", "yes"].includes(env.DEMO_DATA ?? "");
  if (secret === undefined) {
    return demo
      ? []
      : [`JWT_SECRET: required (at least ${MIN_SECRET_BYTES} bytes) unless DEMO_DATA=true`];
  }
  if (new TextEncoder().encode(secret).length < MIN_SECRET_BYTES) {
    return [
      `JWT_SECRET: must be at least ${MIN_SECRET_BYTES} bytes (try: openssl rand -base64 48)`,
    ];
  }
  return [];
}

/** The validated configuration. `jwtSecret` is undefined only in demo mode before KV supplies one. */
export interface Config {
  port: number;
  host: string;
  /**
   * Where KV lives: a local file, `:memory:`, or a KV Connect URL (`KV_URL`);
   * undefined on Deno Deploy without KV_PATH: the platform's KV, `Deno.openKv()`.
   */
  kvPath: string | undefined;
  /** Whether the isolates of one process also exchange events over BroadcastChannel. */
  broadcastChannel: boolean;
  /** Whether events reach other processes through KV (off: this process's isolates only). */
  kvBus: boolean;
  /** Seconds after sending during which the sender may edit or delete a message. */
  messageEditWindowS: number;
  /** Messages older than this are deleted (rooms on legal hold excepted); unset: kept forever. */
  messageRetentionDays?: number;
  /** Notifications older than this are deleted (their unread count adjusted); unset: kept. */
  notificationRetentionDays?: number;
  /** How often the KV bus polls other processes' log heads (besides watching them). */
  busPollMs: number;
  /** Running on Deno Deploy (DENO_DEPLOYMENT_ID is set). */
  onDeploy: boolean;
  jwtSecret?: string;
  jwtIssuer: string;
  jwtAudience: string;
  /** Token lifetime in seconds. */
  jwtTtl: number;
  /** Seconds a refresh token (the session cookie) lives; each refresh extends it (30 days at most). */
  refreshTtl: number;
  corsOrigins: string[];
  /** Peers (CIDRs) whose X-Forwarded-For / Forwarded headers are believed; none by default. */
  trustedProxies: string[];
  /**
   * The server's own origins (from PUBLIC_URL) that may open WebSockets. Empty:
   * only loopback same-origin pages (localhost, 127.0.0.1, [::1]) besides CORS_ORIGINS.
   */
  publicOrigins: string[];
  demoData: boolean;
  /** Whether GET / serves the bundled test page (TEST_PAGE; default: on with DEMO_DATA only). */
  testPage: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  /** A file the log lines are also appended to (LOG_FILE); unset: stderr only. */
  logFile?: string;
  /**
   * Bearer token for GET /metrics (METRICS_TOKEN). Unset: /metrics answers
   * loopback peers only (404 to others).
   */
  metricsToken?: string;
  maxFrameBytes: number;
  authTimeoutMs: number;
  wsIdleTimeoutS: number;
  /** Engine.IO heartbeat of /socket.io/: the server pings every interval, a pong is due within the timeout. */
  socketIo: { pingIntervalMs: number; pingTimeoutMs: number };
  /** Sockets one user may hold in one isolate; more are refused (close 4429). */
  maxSocketsPerUser: number;
  /** Per-socket token buckets: message:send, and all other events. */
  rates: Record<"message" | "default", { burst: number; perSecond: number }>;
  /** WebSocket upgrades one IP may make per minute; more get HTTP 429. */
  wsUpgradesPerMin: number;
  /**
   * Overload shedding of message:send (store/message_batch.ts): sends waiting
   * for a commit, at most; and the longest the oldest may wait before new
   * ones are refused with RATE_LIMITED (retryable) instead of queued.
   */
  sendQueue: { max: number; maxWaitMs: number };
  /** Rooms and presence subscriptions one socket may hold; more get LIMIT_EXCEEDED. */
  socketLimits: { rooms: number; presence: number };
  /** call:initiate per caller, and per caller and callee, per minute; more get RATE_LIMITED. */
  callRates: { perCaller: number; perPair: number };
  /** Audit entries older than this many days are deleted. */
  auditRetentionDays: number;
  /** How long a connection's presence entry lives without a heartbeat. */
  presenceTtlS: number;
  callRingTimeoutMs: number;
  /** How long a call survives all of one party's connections dropping. */
  callGraceMs: number;
  /** KV queues where they exist; stored deadlines on Deno Deploy (no queues there). */
  scheduler: "queue" | "deadline";
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Validates environment variables into a {@linkcode Config}.
 * Empty strings count as unset, so `PORT=` in a .env file means the default.
 *
 * @example
 * ```ts
 * const config = loadConfig(Deno.env.toObject());
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = schema.safeParse(present);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues)
      .map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`),
    ...secretProblems(present as Record<string, string>),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const v = parsed.data;
  return {
    port: v.PORT,
    // The demo accounts' passwords are public: a demo server listens on this machine only
    // unless HOST says otherwise.
    host: v.HOST ?? (v.DEMO_DATA ? "127.0.0.1" : "0.0.0.0"),
    kvPath: v.KV_URL ?? v.KV_PATH ??
      (v.DENO_DEPLOYMENT_ID === undefined ? "./data/realtime.kv" : undefined),
    broadcastChannel: v.BROADCAST_CHANNEL,
    kvBus: v.KV_BUS,
    messageEditWindowS: v.MESSAGE_EDIT_WINDOW_S,
    messageRetentionDays: v.MESSAGE_RETENTION_DAYS,
    notificationRetentionDays: v.NOTIFICATION_RETENTION_DAYS,
    // On Deploy a watch sees every instance's writes: the poll is only a backstop there.
    busPollMs: v.BUS_POLL_MS ?? (v.DENO_DEPLOYMENT_ID === undefined ? 250 : 1000),
    onDeploy: v.DENO_DEPLOYMENT_ID !== undefined,
    jwtSecret: v.JWT_SECRET,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    jwtTtl: v.JWT_TTL,
    refreshTtl: v.REFRESH_TTL,
    corsOrigins: v.CORS_ORIGINS,
    trustedProxies: v.TRUSTED_PROXIES,
    publicOrigins: v.PUBLIC_URL,
    demoData: v.DEMO_DATA,
    testPage: v.TEST_PAGE ?? v.DEMO_DATA,
    logLevel: v.LOG_LEVEL,
    logFile: v.LOG_FILE,
    metricsToken: v.METRICS_TOKEN,
    maxFrameBytes: v.MAX_FRAME_BYTES,
    authTimeoutMs: v.AUTH_TIMEOUT_MS,
    wsIdleTimeoutS: v.WS_IDLE_TIMEOUT_S,
    socketIo: {
      pingIntervalMs: v.SOCKETIO_PING_INTERVAL_MS,
      pingTimeoutMs: v.SOCKETIO_PING_TIMEOUT_MS,
    },
    presenceTtlS: v.PRESENCE_TTL_S,
    maxSocketsPerUser: v.MAX_SOCKETS_PER_USER,
    rates: {
      message: { burst: v.MESSAGE_BURST, perSecond: v.MESSAGE_RATE_PER_S },
      default: { burst: v.EVENT_BURST, perSecond: v.EVENT_RATE_PER_S },
    },
    wsUpgradesPerMin: v.WS_UPGRADES_PER_MIN,
    sendQueue: { max: v.SEND_QUEUE_MAX, maxWaitMs: v.SEND_QUEUE_WAIT_MS },
    socketLimits: { rooms: v.ROOMS_PER_SOCKET, presence: v.PRESENCE_SUBSCRIPTIONS_PER_SOCKET },
    callRates: { perCaller: v.CALLS_PER_MIN, perPair: v.CALLS_PER_PAIR_PER_MIN },
    auditRetentionDays: v.AUDIT_RETENTION_DAYS,
    callRingTimeoutMs: v.CALL_RING_TIMEOUT_MS,
    callGraceMs: v.CALL_GRACE_MS,
    // KV queues exist on a local file; Deno Deploy and KV Connect servers have none.
    scheduler: v.SCHEDULER === "auto"
      ? (v.DENO_DEPLOYMENT_ID === undefined && v.KV_URL === undefined ? "queue" : "deadline")
      : v.SCHEDULER,
  };
}
