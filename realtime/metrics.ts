/**
 * @module
 * The server's metrics (GET /metrics, routes/metrics.ts): one
 * {@linkcode AppMetrics} per app, made in main.ts and handed to the session,
 * hub, bus, calls, upgrade guard and routes through their deps, so each test
 * app counts on its own. The methods on the frame path (`eventIn`,
 * `ackSeconds`, `delivered`) touch series looked up once and kept: no
 * allocation, no await, no KV. State (sockets open, memory, uptime) is read
 * at scrape time only. Label values are bounded: event names outside the
 * events table count as `unknown`, codes outside the protocol's list as
 * `other`. Histograms carry no labels (one family per writer instead): common
 * text-format parsers (parse-prometheus-text-format) lose the `_sum` and
 * `_count` of labelled histograms.
 */

import { type Clock, systemClock } from "../lib/clock.ts";
import { ERROR_CODES } from "../lib/errors.ts";
import {
  type Counter,
  exponentialBuckets,
  type HistogramSample,
  Registry,
  type Sample,
} from "../lib/metrics.ts";

/** How a socket's authentication ended (the handshake's auth frame or its Authorization header). */
export type AuthOutcome =
  | "success"
  | "invalid"
  | "expired"
  | "unknown_user"
  | "disabled"
  | "revoked"
  | "too_many_sockets"
  | "timeout";

/** Why an upgrade (GET /ws, a new /socket.io/ session) was refused before it started. */
export type UpgradeRefusal = "origin" | "rate" | "token_in_query" | "authorization";

/** Which limiter refused: per-socket buckets, frames in flight, upgrades, logins, calls, the send queue. */
export type RateLimitKind =
  | "message"
  | "event"
  | "in_flight"
  | "upgrade"
  | "login"
  | "call"
  | "send_queue";

/** Which writer committed: the message batch, the small-write group commit, the bus log. */
export type CommitWriter = "messages" | "group" | "bus";

const PREFIX = "telehealth_";
const CODES = new Set<string>(ERROR_CODES);
/** 0.5 ms to about 8 s. */
const LATENCY_BUCKETS = exponentialBuckets(0.0005, 2, 15);
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
/** 1 ms to about 16 s: a poll interval (250 ms) is the normal cross-process lag. */
const LAG_BUCKETS = exponentialBuckets(0.001, 2, 15);
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export interface AppMetricsOptions {
  /** The client events the dispatcher knows; other names count as `unknown`. */
  eventNames?: Iterable<string>;
  clock?: Clock;
}

/** Where scrape-time state comes from: the hub's connections, the send queue's shed count. */
export interface MetricSources {
  connections(): Iterable<{ codec: { name: string } }>;
  /** Sends refused by the message batch's overload shedding since it started. */
  shed?(): number;
}

interface EventRow {
  name: string;
  byCode: Map<string, Sample>;
}

export class AppMetrics {
  readonly registry: Registry = new Registry();
  readonly #startedAt: number;
  readonly #clock: Clock;
  #sources?: MetricSources;

  readonly #sockets = this.registry.gauge(
    `${PREFIX}sockets_open`,
    "Authenticated connections open in this process, by protocol (native /ws, socketio).",
    ["protocol"],
  );
  readonly #auth = this.registry.counter(
    `${PREFIX}socket_authentications_total`,
    "Socket authentications by outcome (success, invalid, expired, unknown_user, disabled, " +
      "revoked, too_many_sockets, timeout).",
    ["outcome"],
  );
  readonly #events = this.registry.counter(
    `${PREFIX}events_total`,
    'Client events handled, by event name ("unknown" outside the protocol) and outcome code ' +
      '("ok" or the error code).',
    ["event", "code"],
  );
  readonly #ack: HistogramSample;
  readonly #deliveries: Sample;
  readonly #commit: Record<CommitWriter, HistogramSample>;
  readonly #batch: Record<CommitWriter, HistogramSample>;
  readonly #lag: HistogramSample;
  readonly #rateLimited: Counter;
  readonly #upgrades: Counter;
  readonly #slow: Sample;
  readonly #callsStarted: Sample;
  readonly #callsEnded: Counter;
  readonly #serviceEmits: Counter;
  readonly #http: Counter;
  readonly #rows = new Map<string, EventRow>();
  readonly #unknownRow: EventRow = { name: "unknown", byCode: new Map() };

  constructor(opts: AppMetricsOptions = {}) {
    const r = this.registry;
    this.#clock = opts.clock ?? systemClock;
    this.#startedAt = this.#clock.now();
    for (const name of opts.eventNames ?? []) this.#rows.set(name, { name, byCode: new Map() });
    this.#ack = r.histogram(
      `${PREFIX}ack_seconds`,
      "Time from a client frame's arrival to its ack being written, seconds.",
      { bounds: LATENCY_BUCKETS },
    ).series();
    this.#deliveries = r.counter(
      `${PREFIX}deliveries_total`,
      "Event frames the hub wrote to sockets (one per socket reached).",
    ).series();
    const writers: Record<CommitWriter, string> = {
      messages: "the message batch (store/message_batch.ts): messages per commit",
      group: "the small-write group commit (store/group_commit.ts, presence and memberships): " +
        "operations per commit",
      bus: "the KV bus log writer (realtime/kv_bus.ts): entries per commit",
    };
    const commit = {} as Record<CommitWriter, HistogramSample>;
    const batch = {} as Record<CommitWriter, HistogramSample>;
    for (const [writer, what] of Object.entries(writers) as [CommitWriter, string][]) {
      commit[writer] = r.histogram(
        `${PREFIX}kv_commit_${writer}_seconds`,
        `Duration of one KV atomic commit of ${what.split(":")[0]}, seconds.`,
        { bounds: LATENCY_BUCKETS },
      ).series();
      batch[writer] = r.histogram(
        `${PREFIX}kv_commit_${writer}_batch_size`,
        `Batch sizes of ${what}.`,
        { bounds: BATCH_BUCKETS },
      ).series();
    }
    this.#commit = commit;
    this.#batch = batch;
    this.#lag = r.histogram(
      `${PREFIX}bus_lag_seconds`,
      "Time from an event's emit in another process to its delivery here (KV bus), seconds.",
      { bounds: LAG_BUCKETS },
    ).series();
    this.#rateLimited = r.counter(
      `${PREFIX}rate_limited_total`,
      "Requests refused by a rate limit or overload shedding, by kind (message, event, " +
        "in_flight, upgrade, login, call, send_queue).",
      ["kind"],
    );
    this.#upgrades = r.counter(
      `${PREFIX}upgrades_refused_total`,
      "Realtime connections refused before they started, by reason (origin, rate, " +
        "token_in_query, authorization).",
      ["reason"],
    );
    this.#slow = r.counter(
      `${PREFIX}slow_consumer_closes_total`,
      "Sockets closed 4002 because they fell too far behind.",
    ).series();
    this.#callsStarted = r.counter(`${PREFIX}calls_started_total`, "Calls initiated.").series();
    this.#callsEnded = r.counter(
      `${PREFIX}calls_ended_total`,
      "Calls that left the live states, by final status (ended, rejected, missed, failed) and " +
        "reason (hangup, cancelled, declined, rejected, missed, connection_lost).",
      ["status", "reason"],
    );
    this.#serviceEmits = r.counter(
      `${PREFIX}service_emits_total`,
      "Service API emits (POST /api/v1/realtime/emit, /api/v1/notifications), by target kind.",
      ["target"],
    );
    this.#http = r.counter(
      `${PREFIX}http_requests_total`,
      "HTTP requests answered, by method and status.",
      ["method", "status"],
    );
    const memory = r.gauge(
      `${PREFIX}process_memory_bytes`,
      "Process memory (Deno.memoryUsage), by type: rss, heap_used, heap_total, external.",
      ["type"],
    );
    const uptime = r.gauge(`${PREFIX}process_uptime_seconds`, "Seconds since this app started.")
      .series();
    const started = r.gauge(
      `${PREFIX}process_start_time_seconds`,
      "When this app started, seconds since the epoch.",
    ).series();
    r.onCollect(() => {
      const m = Deno.memoryUsage();
      memory.series("rss").set(m.rss);
      memory.series("heap_used").set(m.heapUsed);
      memory.series("heap_total").set(m.heapTotal);
      memory.series("external").set(m.external);
      const now = this.#clock.now();
      uptime.set(Math.max(0, (now - this.#startedAt) / 1000));
      started.set(this.#startedAt / 1000);
      const sources = this.#sources;
      if (!sources) return;
      // Both protocols are always shown, so a dashboard's series exist at zero.
      const byProtocol = new Map<string, number>([["native", 0], ["socketio", 0]]);
      for (const c of sources.connections()) {
        byProtocol.set(c.codec.name, (byProtocol.get(c.codec.name) ?? 0) + 1);
      }
      this.#sockets.clear();
      for (const [protocol, n] of byProtocol) this.#sockets.series(protocol).set(n);
      if (sources.shed) this.#rateLimited.series("send_queue").set(sources.shed());
    });
  }

  /** Where sockets and the send queue's refusals are read from at scrape time. */
  observe(sources: MetricSources): void {
    this.#sources = sources;
  }

  /** The exposition text of every metric. */
  expose(): string {
    return this.registry.expose();
  }

  // ------------------------------------------------------------ frame path

  /** A client frame answered: `code` is "ok" or the error code. */
  eventIn(event: string, code: string): void {
    const row = this.#rows.get(event) ?? this.#unknownRow;
    let s = row.byCode.get(code);
    if (s === undefined) {
      s = this.#events.series(row.name, code === "ok" || CODES.has(code) ? code : "other");
      row.byCode.set(code, s);
    }
    s.value++;
  }

  ackSeconds(seconds: number): void {
    this.#ack.observe(seconds);
  }

  delivered(n: number): void {
    this.#deliveries.value += n;
  }

  // ------------------------------------------------------------ the rest

  auth(outcome: AuthOutcome): void {
    this.#auth.series(outcome).inc();
  }

  upgradeRefused(reason: UpgradeRefusal): void {
    this.#upgrades.series(reason).inc();
  }

  rateLimited(kind: RateLimitKind): void {
    this.#rateLimited.series(kind).inc();
  }

  slowConsumerClosed(): void {
    this.#slow.value++;
  }

  /** One KV commit of `size` operations that took `seconds`. */
  committed(writer: CommitWriter, commit: { size: number; seconds: number }): void {
    this.#commit[writer].observe(commit.seconds);
    this.#batch[writer].observe(commit.size);
  }

  busLag(seconds: number): void {
    this.#lag.observe(Math.max(0, seconds));
  }

  callStarted(): void {
    this.#callsStarted.value++;
  }

  callEnded(status: string, reason: string): void {
    this.#callsEnded.series(status, reason).inc();
  }

  serviceEmit(target: "user" | "room" | "all" | "notification"): void {
    this.#serviceEmits.series(target).inc();
  }

  httpRequest(method: string, status: number): void {
    this.#http.series(METHODS.has(method) ? method : "other", String(status)).inc();
  }
}
