import assert from "node:assert/strict";
import { type Config, ConfigError, loadConfig } from "./config.ts";

const SECRET = "0123456789abcdef0123456789abcdef"; // exactly 32 bytes

/** Loads a config that must fail and returns its problems. */
function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be refused`);
}

function refuses(env: Record<string, string | undefined>, variable: string): void {
  const found = problems(env);
  assert.ok(
    found.some((p) => p.startsWith(`${variable}: `) || p.startsWith(`${variable}.`)),
    `expected a ${variable} problem for ${JSON.stringify(env)}, got ${JSON.stringify(found)}`,
  );
}

Deno.test("loadConfig: defaults when only JWT_SECRET is set", () => {
  assert.deepEqual(
    loadConfig({ JWT_SECRET: SECRET }),
    {
      port: 8080,
      host: "0.0.0.0",
      kvPath: "./data/realtime.kv",
      broadcastChannel: true,
      kvBus: true,
      messageEditWindowS: 900,
      messageRetentionDays: undefined,
      notificationRetentionDays: undefined,
      busPollMs: 250,
      onDeploy: false,
      jwtSecret: SECRET,
      jwtIssuer: "telehealth-realtime",
      jwtAudience: "telehealth-realtime",
      jwtTtl: 3600,
      refreshTtl: 43200,
      corsOrigins: [],
      trustedProxies: [],
      publicOrigins: [],
      demoData: false,
      testPage: false,
      logLevel: "info",
      logFile: undefined,
      metricsToken: undefined,
      maxFrameBytes: 64 * 1024,
      authTimeoutMs: 10_000,
      wsIdleTimeoutS: 30,
      socketIo: { pingIntervalMs: 25_000, pingTimeoutMs: 20_000 },
      presenceTtlS: 45,
      maxSocketsPerUser: 20,
      rates: {
        message: { burst: 20, perSecond: 10 },
        default: { burst: 60, perSecond: 30 },
      },
      wsUpgradesPerMin: 600,
      sendQueue: { max: 4000, maxWaitMs: 2000 },
      socketLimits: { rooms: 100, presence: 1000 },
      callRates: { perCaller: 20, perPair: 5 },
      auditRetentionDays: 2190,
      callRingTimeoutMs: 30_000,
      callGraceMs: 15_000,
      scheduler: "queue",
    } satisfies Config,
  );
});

Deno.test("loadConfig: every variable is read", () => {
  const config = loadConfig({
    PORT: "9000",
    HOST: "127.0.0.1",
    KV_PATH: ":memory:",
    JWT_SECRET: SECRET,
    JWT_ISSUER: "iss",
    JWT_AUDIENCE: "aud",
    JWT_TTL: "2h",
    CORS_ORIGINS: "https://app.example.com, http://localhost:5173 ,",
    TRUSTED_PROXIES: "10.0.0.0/8, fd00::/8",
    PUBLIC_URL: "https://chat.clinic.example",
    DEMO_DATA: "no",
    LOG_LEVEL: "debug",
    LOG_FILE: "logs/app.log",
    METRICS_TOKEN: "metrics-token-0123456789",
    MAX_FRAME_BYTES: "1024",
    AUTH_TIMEOUT_MS: "100",
    WS_IDLE_TIMEOUT_S: "600",
    PRESENCE_TTL_S: "10",
    MAX_SOCKETS_PER_USER: "3",
    MESSAGE_RATE_PER_S: "5",
    MESSAGE_BURST: "6",
    EVENT_RATE_PER_S: "7",
    EVENT_BURST: "8",
    WS_UPGRADES_PER_MIN: "10",
    SEND_QUEUE_MAX: "50",
    SEND_QUEUE_WAIT_MS: "20",
    ROOMS_PER_SOCKET: "11",
    PRESENCE_SUBSCRIPTIONS_PER_SOCKET: "12",
    CALLS_PER_MIN: "13",
    CALLS_PER_PAIR_PER_MIN: "2",
    AUDIT_RETENTION_DAYS: "30",
    CALL_RING_TIMEOUT_MS: "5000",
    CALL_GRACE_MS: "2000",
    SCHEDULER: "deadline",
    REFRESH_TTL: "1d",
    BROADCAST_CHANNEL: "false",
    KV_BUS: "false",
    MESSAGE_EDIT_WINDOW_S: "60",
    MESSAGE_RETENTION_DAYS: "30",
    NOTIFICATION_RETENTION_DAYS: "90",
    BUS_POLL_MS: "100",
    SOCKETIO_PING_INTERVAL_MS: "1000",
    SOCKETIO_PING_TIMEOUT_MS: "500",
    TEST_PAGE: "true",
    UNRELATED: "ignored",
  });
  assert.deepEqual(config, {
    port: 9000,
    host: "127.0.0.1",
    kvPath: ":memory:",
    broadcastChannel: false,
    kvBus: false,
    messageEditWindowS: 60,
    messageRetentionDays: 30,
    notificationRetentionDays: 90,
    busPollMs: 100,
    onDeploy: false,
    jwtSecret: SECRET,
    jwtIssuer: "iss",
    jwtAudience: "aud",
    jwtTtl: 7200,
    refreshTtl: 86400,
    corsOrigins: ["https://app.example.com", "http://localhost:5173"],
    trustedProxies: ["10.0.0.0/8", "fd00::/8"],
    publicOrigins: ["https://chat.clinic.example"],
    demoData: false,
    testPage: true,
    logLevel: "debug",
    logFile: "logs/app.log",
    metricsToken: "metrics-token-0123456789",
    maxFrameBytes: 1024,
    authTimeoutMs: 100,
    wsIdleTimeoutS: 600,
    socketIo: { pingIntervalMs: 1000, pingTimeoutMs: 500 },
    presenceTtlS: 10,
    maxSocketsPerUser: 3,
    rates: { message: { burst: 6, perSecond: 5 }, default: { burst: 8, perSecond: 7 } },
    wsUpgradesPerMin: 10,
    sendQueue: { max: 50, maxWaitMs: 20 },
    socketLimits: { rooms: 11, presence: 12 },
    callRates: { perCaller: 13, perPair: 2 },
    auditRetentionDays: 30,
    callRingTimeoutMs: 5000,
    callGraceMs: 2000,
    scheduler: "deadline",
  });
});

Deno.test("loadConfig: empty strings count as unset", () => {
  const config = loadConfig({ JWT_SECRET: SECRET, PORT: "", CORS_ORIGINS: "", JWT_TTL: "" });
  assert.equal(config.port, 8080);
  assert.deepEqual(config.corsOrigins, []);
  assert.equal(config.jwtTtl, 3600);
  refuses({ JWT_SECRET: "" }, "JWT_SECRET");
});

Deno.test("loadConfig: JWT_SECRET is required unless DEMO_DATA", () => {
  const found = problems({});
  assert.equal(found.length, 1);
  assert.match(found[0], /^JWT_SECRET: required \(at least 32 bytes\) unless DEMO_DATA=true$/);
  refuses({ DEMO_DATA: "false" }, "JWT_SECRET");
  for (const on of ["true", "1", "yes"]) {
    const demo = loadConfig({ DEMO_DATA: on });
    assert.equal(demo.demoData, true, `DEMO_DATA=${on}`);
    assert.equal(demo.jwtSecret, undefined);
  }
  for (const off of ["false", "0", "no"]) {
    assert.equal(loadConfig({ DEMO_DATA: off, JWT_SECRET: SECRET }).demoData, false);
  }
  refuses({ DEMO_DATA: "maybe", JWT_SECRET: SECRET }, "DEMO_DATA");
  // The test page follows demo mode unless TEST_PAGE says otherwise.
  assert.equal(loadConfig({ DEMO_DATA: "true" }).testPage, true);
  assert.equal(loadConfig({ DEMO_DATA: "true", TEST_PAGE: "false" }).testPage, false);
  assert.equal(loadConfig({ JWT_SECRET: SECRET, TEST_PAGE: "yes" }).testPage, true);
  refuses({ DEMO_DATA: "TRUE" }, "DEMO_DATA");
});

Deno.test("loadConfig: a secret under 32 bytes is refused, also in demo mode", () => {
  const short = SECRET.slice(1);
  refuses({ JWT_SECRET: short }, "JWT_SECRET");
  refuses({ JWT_SECRET: short, DEMO_DATA: "true" }, "JWT_SECRET");
  // The problem never echoes the secret.
  assert.ok(problems({ JWT_SECRET: short }).every((p) => !p.includes(short)));
  // Bytes, not characters: 16 two-byte characters are enough, 31 ASCII are not.
  assert.equal(loadConfig({ JWT_SECRET: "é".repeat(16) }).jwtSecret, "é".repeat(16));
  refuses({ JWT_SECRET: "é".repeat(15) + "a" }, "JWT_SECRET");
});

Deno.test("loadConfig: PORT must be a whole number in 0..65535", () => {
  assert.equal(loadConfig({ JWT_SECRET: SECRET, PORT: "0" }).port, 0);
  assert.equal(loadConfig({ JWT_SECRET: SECRET, PORT: "65535" }).port, 65535);
  for (const bad of ["abc", "-1", "65536", "80.5", "1e3", " 80", "0x50", "99999999999999999999"]) {
    refuses({ JWT_SECRET: SECRET, PORT: bad }, "PORT");
  }
});

Deno.test("loadConfig: CORS_ORIGINS takes bare http(s) origins only", () => {
  const ok = loadConfig({
    JWT_SECRET: SECRET,
    CORS_ORIGINS: "https://app.example.com,https://app.example.com:8443,http://[::1]:3000",
  });
  assert.deepEqual(ok.corsOrigins, [
    "https://app.example.com",
    "https://app.example.com:8443",
    "http://[::1]:3000",
  ]);
  for (
    const bad of [
      "*",
      "null",
      "app.example.com",
      "https://app.example.com/",
      "https://app.example.com/path",
      "https://app.example.com?x=1",
      "https://user@app.example.com",
      "https://APP.example.com",
      "https://app.example.com:443",
      "ftp://app.example.com",
      "javascript:alert(1)",
      "https://ok.example.com,https://bad.example.com/",
    ]
  ) {
    refuses({ JWT_SECRET: SECRET, CORS_ORIGINS: bad }, "CORS_ORIGINS");
  }
});

Deno.test("loadConfig: TRUSTED_PROXIES takes IPv4 and IPv6 CIDRs or addresses", () => {
  const ok = loadConfig({
    JWT_SECRET: SECRET,
    TRUSTED_PROXIES: "10.0.0.0/8,192.168.1.7, ::1 ,2001:db8::/32,",
  });
  assert.deepEqual(ok.trustedProxies, ["10.0.0.0/8", "192.168.1.7", "::1", "2001:db8::/32"]);
  for (const bad of ["*", "10.0.0.0/33", "localhost", "10.0.0.0/8,proxy.internal", "::/129"]) {
    refuses({ JWT_SECRET: SECRET, TRUSTED_PROXIES: bad }, "TRUSTED_PROXIES");
  }
});

Deno.test("loadConfig: PUBLIC_URL keeps the origin of each http(s) URL", () => {
  const ok = loadConfig({
    JWT_SECRET: SECRET,
    PUBLIC_URL: "https://Chat.Clinic.example/app/, http://10.1.2.3:8080",
  });
  assert.deepEqual(ok.publicOrigins, ["https://chat.clinic.example", "http://10.1.2.3:8080"]);
  for (const bad of ["chat.clinic.example", "ftp://chat.clinic.example", "null", "javascript:x"]) {
    refuses({ JWT_SECRET: SECRET, PUBLIC_URL: bad }, "PUBLIC_URL");
  }
});

Deno.test("loadConfig: JWT_TTL accepts seconds or s/m/h/d and stays in 5s..30d", () => {
  const ttl = (v: string) => loadConfig({ JWT_SECRET: SECRET, JWT_TTL: v }).jwtTtl;
  assert.equal(ttl("15m"), 900);
  assert.equal(ttl("90s"), 90);
  assert.equal(ttl("3600"), 3600);
  assert.equal(ttl("12h"), 43_200);
  assert.equal(ttl("7d"), 604_800);
  assert.equal(ttl("60"), 60);
  assert.equal(ttl("5s"), 5);
  assert.equal(ttl("30d"), 2_592_000);
  for (const bad of ["4", "0", "31d", "15 m", "1.5h", "-5m", "15M", "m", "15w", "forever"]) {
    refuses({ JWT_SECRET: SECRET, JWT_TTL: bad }, "JWT_TTL");
  }
});

Deno.test("loadConfig: bounded numbers and LOG_LEVEL", () => {
  refuses({ JWT_SECRET: SECRET, MAX_FRAME_BYTES: "1023" }, "MAX_FRAME_BYTES");
  refuses({ JWT_SECRET: SECRET, MAX_FRAME_BYTES: String(1024 * 1024 + 1) }, "MAX_FRAME_BYTES");
  refuses({ JWT_SECRET: SECRET, AUTH_TIMEOUT_MS: "99" }, "AUTH_TIMEOUT_MS");
  refuses({ JWT_SECRET: SECRET, WS_IDLE_TIMEOUT_S: "601" }, "WS_IDLE_TIMEOUT_S");
  refuses({ JWT_SECRET: SECRET, LOG_LEVEL: "verbose" }, "LOG_LEVEL");
  refuses({ JWT_SECRET: SECRET, METRICS_TOKEN: "short" }, "METRICS_TOKEN");
});

Deno.test("ConfigError: collects every field problem and names each variable", () => {
  try {
    loadConfig({ JWT_SECRET: SECRET, PORT: "x", LOG_LEVEL: "loud", CORS_ORIGINS: "*" });
    assert.fail("expected a ConfigError");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.name, "ConfigError");
    const names = err.problems.map((p) => p.split(":")[0]).sort();
    assert.deepEqual(names, ["CORS_ORIGINS.0", "LOG_LEVEL", "PORT"]);
    assert.match(err.message, /^Invalid configuration:\n {2}- /);
    for (const p of err.problems) assert.ok(err.message.includes(`  - ${p}`));
  }
});

Deno.test("loadConfig: every problem is reported at once, the secret rule included", () => {
  const found = problems({ PORT: "99999", LOG_LEVEL: "loud" });
  assert.equal(found.length, 3, found.join("\n"));
  assert.ok(found.some((p) => p.startsWith("PORT:")));
  assert.ok(found.some((p) => p.startsWith("LOG_LEVEL:")));
  assert.ok(found.some((p) => p.startsWith("JWT_SECRET: required")));
});

Deno.test("loadConfig: on Deno Deploy without KV_PATH, the platform's KV and the deadline scheduler", () => {
  const deploy = loadConfig({ JWT_SECRET: SECRET, DENO_DEPLOYMENT_ID: "abc123" });
  assert.equal(deploy.kvPath, undefined, "Deno.openKv() with no path: the platform's KV");
  assert.equal(deploy.onDeploy, true);
  assert.equal(deploy.scheduler, "deadline", "no KV queues on Deploy");
  // An explicit KV_PATH or KV_URL still wins there; KV_URL wins everywhere.
  assert.equal(
    loadConfig({ JWT_SECRET: SECRET, DENO_DEPLOYMENT_ID: "a", KV_PATH: "./x.kv" }).kvPath,
    "./x.kv",
  );
  const connect = loadConfig({
    JWT_SECRET: SECRET,
    KV_PATH: "./ignored.kv",
    KV_URL: "http://kv.internal:4512",
  });
  assert.equal(connect.kvPath, "http://kv.internal:4512");
  assert.equal(connect.onDeploy, false);
  assert.equal(connect.scheduler, "deadline", "a KV Connect server has no queues");
  assert.throws(() => loadConfig({ JWT_SECRET: SECRET, KV_URL: "ftp://x" }), /KV_URL/);
});
