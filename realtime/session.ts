/**
 * @module
 * The connection core: one client connection from open to close, whatever
 * carries it (a {@linkcode Transport}: a WebSocket on /ws, an Engine.IO
 * session on /socket.io/) and whatever its wire format (a {@linkcode Codec}).
 * It owns the authentication handshake, token refresh and expiry, frame
 * limits, per-connection rate limits, in-order processing, dispatch through
 * the events table and acks. Frames are handled one at a time per connection
 * (a sender's messages keep their order) and every step is inside try/catch:
 * no frame can crash the process. Every frame it writes goes through the
 * transport, encoded by the codec.
 *
 * Close codes: 1008 too many invalid frames, 1009 frame too big,
 * 4401 authentication failed or token expired, 4408 no authentication in time,
 * 4429 sustained rate-limit abuse.
 */

import { z } from "zod";
import { AppError } from "../lib/errors.ts";
import { TokenBucket, WindowCounter } from "../lib/rate_limit.ts";
import type { TokenService, TokenUser } from "../lib/tokens.ts";
import type { AuditTarget } from "../store/audit.ts";
import { AUDITED_CODES, refusalKey } from "./audit.ts";
import { getUser } from "../store/users.ts";
import { tokenCurrent } from "../store/sessions.ts";
import {
  dispatch,
  errorReply,
  type EventMap,
  type Reply,
  type Services,
  type SocketRooms,
} from "./events.ts";
import { Connection, type Hub } from "./hub.ts";
import type { Codec } from "./protocol/codec.ts";
import { nativeCodec } from "./protocol/native.ts";
import { utf8Length } from "./payload.ts";
import type { Transport, TransportSink } from "./transport.ts";
import type { AuthOutcome } from "./metrics.ts";
import { CLOSE } from "../static/protocol.js";

export { CLOSE } from "../static/protocol.js";

export const AUTH_INVALID = "Authentication error: Invalid token";
export const AUTH_EXPIRED = "Authentication error: Token expired";
export const TOO_MANY_SOCKETS = "Too many connections for this user";

/** Invalid frames tolerated per window before the socket is closed 1008. */
const MAX_ERRORS = 20;
const WINDOW_MS = 10_000;
const PROTOCOL_ERRORS = new Set(["INVALID_PAYLOAD", "UNKNOWN_EVENT", "UNAUTHENTICATED"]);
/** Rate-limited frames tolerated per window before the socket is closed 4429. */
const MAX_LIMITED = 50;
/** A socket being closed for abuse is closed once no frame arrived for this long... */
const DRAIN_QUIET_MS = 100;
/** ...or this long after the decision, whichever comes first. */
const DRAIN_MAX_MS = 2000;
/** Frames waiting for their turn on one socket; more is abuse, not a burst. */
const MAX_QUEUED = 64;

/** What must happen when a socket becomes (or stops being) an authenticated connection. */
export interface Lifecycle {
  /** Before `connected` is sent (presence is written by the time the client hears it). */
  connected(conn: Connection): Promise<void>;
  /** After `connected` was sent: state the client should hear about first thing. */
  opened?(conn: Connection): Promise<void>;
  disconnected(conn: Connection): void;
}

export interface SessionDeps {
  services: Services;
  /** Sockets one user may hold in this isolate. */
  maxSocketsPerUser: number;
  /** Rooms (room:join) and presence subscriptions one socket may hold. */
  limits: SocketLimits;
  /** Token buckets per socket: message:send, and every other event. */
  rates: Record<"message" | "default", { burst: number; perSecond: number }>;
  lifecycle?: Lifecycle;
  hub: Hub;
  events: EventMap;
  tokens: TokenService;
  maxFrameBytes: number;
  authTimeoutMs: number;
}

export interface SocketLimits {
  rooms: number;
  presence: number;
}

/** What the upgrade request told us about the peer, for the audit trail and logs. */
export interface PeerInfo {
  ip?: string;
  /** The upgrade request's id (routes/context.ts): joins the socket's lines to its access log line. */
  requestId?: string;
}

/** The `auth` and `auth:refresh` payload (also in the AsyncAPI document). */
export const authSchema = z.object({ token: z.string().min(1).max(4096) });

/** Strings that look like ids (room, visit, user, call), the only frame data an audit entry keeps. */
const ID_LIKE = /^[A-Za-z0-9_:.\-]{1,140}$/;

function describe(err: unknown): Error | string {
  return err instanceof Error ? err : String(err);
}

/**
 * Drives one socket. `preAuth` is a token already verified from the upgrade's
 * Authorization header; without it the first frame must be `auth`.
 */
export class Session implements TransportSink {
  readonly id: string;
  #transport: Transport;
  /** The wire format (realtime/protocol/codec.ts): every frame in and out goes through it. */
  readonly #codec: Codec;
  #deps: SessionDeps;
  #conn?: Connection;
  #expiresAt = Infinity;
  #publishable = new Set<string>();
  #authTimer?: ReturnType<typeof setTimeout>;
  #expiryTimer?: ReturnType<typeof setTimeout>;
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;
  #closed = false;
  #draining?: { code: number; reason: string; deadline: number };
  #drainTimer?: ReturnType<typeof setTimeout>;
  #peer: PeerInfo;
  #errors: WindowCounter;
  #limited: WindowCounter;
  #buckets: { message: TokenBucket; default: TokenBucket };

  #preAuth?: TokenUser;
  /** When the frame being handled arrived (performance.now()): acks measure from it. */
  #frameAt = 0;

  /** The transport drives it through {@linkcode TransportSink} (see attachWebSocket). */
  constructor(
    transport: Transport,
    deps: SessionDeps,
    preAuth?: TokenUser,
    peer: PeerInfo = {},
    codec: Codec = nativeCodec,
  ) {
    this.#transport = transport;
    this.#preAuth = preAuth;
    this.#codec = codec;
    this.#deps = deps;
    this.#peer = peer;
    this.id = deps.services.newId();
    const { clock } = deps.services;
    this.#errors = new WindowCounter(MAX_ERRORS, WINDOW_MS, clock);
    this.#limited = new WindowCounter(MAX_LIMITED, WINDOW_MS, clock);
    this.#buckets = {
      message: new TokenBucket(deps.rates.message.burst, deps.rates.message.perSecond, clock),
      default: new TokenBucket(deps.rates.default.burst, deps.rates.default.perSecond, clock),
    };
  }

  opened(): void {
    const preAuth = this.#preAuth;
    if (preAuth && !this.#codec.clientSpeaksFirst) this.#enqueue(() => this.#authenticate(preAuth));
    else this.#authTimer = setTimeout(() => this.#onAuthTimeout(), this.#deps.authTimeoutMs);
  }

  #onAuthTimeout(): void {
    if (this.#conn) return;
    this.#refused("timeout");
    this.#close(CLOSE.authTimeout, "Authentication timeout");
  }

  received(data: string | { binaryBytes: number }): void {
    // Shutting down: every socket is closing with 1001; frames that arrive now are not started.
    if (this.#conn?.shuttingDown) return;
    if (this.#draining) return this.#drain();
    try {
      const max = this.#deps.maxFrameBytes;
      if (typeof data !== "string") {
        if (data.binaryBytes > max) return this.#close(CLOSE.tooBig, "Frame too large");
        // Queued like any frame, so the error keeps its place among earlier frames' acks.
        const err = new AppError(
          "INVALID_PAYLOAD",
          "Binary frames are not supported; send JSON text",
        );
        const at = performance.now();
        return this.#enqueue(() => {
          this.#frameAt = at;
          return Promise.resolve(this.#fail(undefined, "binary", err));
        });
      }
      const text = data;
      // UTF-16 length never exceeds UTF-8 bytes: count exactly only when it could matter.
      if (text.length > max || (text.length * 3 > max && utf8Length(text) > max)) {
        return this.#close(CLOSE.tooBig, "Frame too large");
      }
      if (this.#queued >= MAX_QUEUED) {
        // Answer the frame's own ack id, so a client awaiting it is not left waiting forever.
        const decoded = this.#codec.decode(text);
        if (decoded.ok && decoded.control) return this.#control(decoded.control);
        const id = decoded.ok ? decoded.frame.id : decoded.id;
        const event = decoded.ok ? decoded.frame.event : "unknown";
        const err = new AppError("RATE_LIMITED", "Too many frames in flight", { retryable: true });
        this.#deps.services.metrics.rateLimited("in_flight");
        // Answered now, ahead of the frames in the queue: no ack latency to measure.
        this.#answer(id, event, errorReply(err, this.#deps.services.log, {}));
        // A flood of frames is rate-limit abuse like any other: it counts toward the 4429 close.
        if (this.#limited.hit("all")) {
          this.#closeWhenQuiet(CLOSE.rateLimited, "Rate limit exceeded");
        }
        return;
      }
      const at = performance.now();
      this.#enqueue(() => this.#handle(text, at));
    } catch (err) {
      this.#deps.services.log.error("ws.message_failed", {
        socketId: this.id,
        error: describe(err),
      });
    }
  }

  closed(code: number): void {
    // Frames still waiting for their turn are dropped: nobody is left to hear their acks (and at
    // shutdown they are dropped from the moment the close starts, see #onMessage and #enqueue).
    this.#closed = true;
    clearTimeout(this.#drainTimer);
    clearTimeout(this.#authTimer);
    clearTimeout(this.#expiryTimer);
    const { hub, services } = this.#deps;
    if (!this.#conn) return;
    hub.remove(this.#conn);
    this.#deps.lifecycle?.disconnected(this.#conn);
    // Sockets closed by a shutdown were recorded by it, before the audit writer closed.
    if (!hub.closing) {
      services.audit.record({
        ...this.#actor(this.#conn),
        action: "ws.close",
        outcome: "success",
        target: { status: String(code) },
      });
    }
    services.log.info("ws.closed", {
      socketId: this.id,
      userId: this.#conn.userId,
      protocol: this.#codec.name,
      code,
      connections: hub.size,
    });
  }

  /** Runs frames one after another, so a socket's events are handled in the order sent. */
  #enqueue(work: () => Promise<void>): void {
    this.#queued++;
    this.#queue = this.#queue
      .then(() => this.#closed || this.#draining || this.#conn?.shuttingDown ? undefined : work())
      .catch((err) => {
        this.#deps.services.log.error("ws.frame_failed", {
          socketId: this.id,
          error: describe(err),
        });
      })
      .finally(() => this.#queued--);
  }

  async #handle(text: string, at: number): Promise<void> {
    this.#frameAt = at;
    const decoded = this.#codec.decode(text);
    if (!decoded.ok) {
      if (decoded.reply === undefined) return this.#fail(decoded.id, "unknown", decoded.error);
      this.#send(decoded.reply);
      return;
    }
    if (decoded.control) return this.#control(decoded.control);
    const { event, data, id } = decoded.frame;
    const conn = this.#conn;
    if (!conn) return await this.#handleUnauthenticated(event, data, id);
    if (this.#deps.services.clock.now() >= this.#expiresAt) {
      return this.#close(CLOSE.auth, AUTH_EXPIRED);
    }
    const def = this.#deps.events.get(event);
    const limit = def?.limit ?? "default";
    if (!this.#buckets[limit].take()) {
      this.#deps.services.metrics.rateLimited(limit === "message" ? "message" : "event");
      const err = new AppError("RATE_LIMITED", "Too many requests; slow down", { retryable: true });
      this.#reply(id, event, errorReply(err, this.#deps.services.log, {}), data);
      if (this.#limited.hit("all")) this.#closeWhenQuiet(CLOSE.rateLimited, "Rate limit exceeded");
      return;
    }
    if (event === "auth:refresh") return await this.#refresh(conn, data, id);
    try {
      const result = await dispatch(
        this.#deps.events,
        {
          userId: conn.userId,
          role: conn.role,
          socketId: this.id,
          ip: this.#peer.ip,
          services: this.#deps.services,
          rooms: this.#rooms(conn),
        },
        event,
        data,
      );
      this.#reply(id, event, result);
    } catch (err) {
      this.#fail(id, event, err, data);
    }
  }

  /** A control frame of the wire format: the client ends the connection, or nothing to do. */
  #control(control: "disconnect" | "ignore"): void {
    if (control === "disconnect") this.#transport.close(1000, "Client disconnect");
  }

  async #handleUnauthenticated(event: string, data: unknown, id?: number): Promise<void> {
    if (event !== "auth") {
      const hint = 'Authenticate first: {"event":"auth","data":{"token":"..."}}';
      return this.#fail(id, event, new AppError("UNAUTHENTICATED", hint));
    }
    // A handshake without a token of its own uses the Authorization header's (socket.io CONNECT).
    const noToken = data === undefined || (typeof data === "object" && data !== null &&
      (data as Record<string, unknown>).token === undefined);
    const user = this.#preAuth && noToken ? this.#preAuth : await this.#verify(data);
    if (typeof user === "string") {
      return this.#refuse(user, user === AUTH_EXPIRED ? "expired" : "invalid");
    }
    await this.#authenticate(user);
  }

  async #authenticate(user: TokenUser): Promise<void> {
    const { services, hub } = this.#deps;
    const stored = await getUser(services.kv, user.userId);
    if (!stored || !await tokenCurrent(services.kv, stored, user)) {
      return this.#refuse(AUTH_INVALID, notCurrent(stored));
    }
    if (!this.#transport.open) return;
    if (hub.userConnectionCount(stored.id) >= this.#deps.maxSocketsPerUser) {
      this.#refused("too_many_sockets", stored.id);
      this.#send(this.#codec.connectError(TOO_MANY_SOCKETS));
      return this.#close(CLOSE.rateLimited, TOO_MANY_SOCKETS);
    }
    clearTimeout(this.#authTimer);
    this.#conn = new Connection(this.id, stored.id, stored.role, this.#transport, this.#codec);
    this.#conn.tokenId = user.jti;
    hub.add(this.#conn);
    this.#setExpiry(user.exp);
    try {
      await this.#deps.lifecycle?.connected(this.#conn);
    } catch (err) {
      // Presence is best effort: a KV hiccup must not refuse the connection.
      services.log.error("ws.connect_hook_failed", { socketId: this.id, error: describe(err) });
    }
    const connected = { socketId: this.id, userId: stored.id, role: stored.role };
    for (const frame of this.#codec.connected(connected)) this.#send(frame);
    services.metrics.auth("success");
    services.log.info("ws.connected", {
      socketId: this.id,
      userId: stored.id,
      protocol: this.#codec.name,
      requestId: this.#peer.requestId,
      connections: hub.size,
    });
    services.audit.record({ ...this.#actor(this.#conn), action: "ws.open", outcome: "success" });
    await this.#deps.lifecycle?.opened?.(this.#conn).catch((err) => {
      services.log.error("ws.open_hook_failed", { socketId: this.id, error: describe(err) });
    });
  }

  async #refresh(conn: Connection, data: unknown, id?: number): Promise<void> {
    const user = await this.#verify(data);
    if (typeof user === "string" || user.userId !== conn.userId) {
      const code = user === AUTH_EXPIRED ? "TOKEN_EXPIRED" : "UNAUTHENTICATED";
      const message = typeof user === "string" ? user : AUTH_INVALID;
      return this.#fail(id, "auth:refresh", new AppError(code, message));
    }
    // A disabled account cannot extend its session with a token it still holds: the session ends.
    const { kv } = this.#deps.services;
    const stored = await getUser(kv, conn.userId);
    if (!stored || stored.disabled) return this.#refuse(AUTH_INVALID, notCurrent(stored));
    // A dead token (logged out, or from before the account was last disabled) is only refused:
    // the session keeps the token it already has.
    if (!await tokenCurrent(kv, stored, user)) {
      return this.#fail(id, "auth:refresh", new AppError("UNAUTHENTICATED", AUTH_INVALID));
    }
    conn.tokenId = user.jti;
    this.#setExpiry(user.exp);
    this.#reply(id, "auth:refresh", {
      success: true,
      expiresAt: new Date(user.exp * 1000).toISOString(),
    });
  }

  async #verify(data: unknown): Promise<TokenUser | string> {
    const parsed = authSchema.safeParse(data);
    if (!parsed.success) return AUTH_INVALID;
    const result = await this.#deps.tokens.verify(parsed.data.token);
    if (!result.ok) return result.reason === "expired" ? AUTH_EXPIRED : AUTH_INVALID;
    return result.user;
  }

  /** At `exp` (seconds) the socket closes 4401 unless auth:refresh moved it. */
  #setExpiry(exp: number): void {
    clearTimeout(this.#expiryTimer);
    this.#expiresAt = exp * 1000;
    const ms = Math.max(0, this.#expiresAt - this.#deps.services.clock.now());
    this.#expiryTimer = setTimeout(
      () => this.#close(CLOSE.auth, AUTH_EXPIRED),
      Math.min(ms, 2 ** 31 - 1),
    );
  }

  #rooms(conn: Connection): SocketRooms {
    const { hub, limits } = this.#deps;
    const count = (presence: boolean) => {
      let n = 0;
      for (const r of conn.rooms) if (r.startsWith("presence:") === presence) n++;
      return n;
    };
    return {
      has: (roomId) => conn.rooms.has(roomId),
      joined: () => conn.rooms,
      canPublish: (roomId) => this.#publishable.has(roomId),
      reserve: (roomIds) => {
        const presence = roomIds.every((r) => r.startsWith("presence:"));
        const fresh = new Set(roomIds.filter((r) => !conn.rooms.has(r))).size;
        const limit = presence ? limits.presence : limits.rooms;
        if (fresh > 0 && count(presence) + fresh > limit) {
          const what = presence ? "presence subscriptions" : "rooms";
          throw new AppError(
            "LIMIT_EXCEEDED",
            `Too many ${what} on this connection: the limit is ${limit}; leave some first`,
          );
        }
      },
      join: (roomId, grant) => {
        hub.join(conn, roomId);
        if (grant.publish) this.#publishable.add(roomId);
        else this.#publishable.delete(roomId);
      },
      leave: (roomId) => {
        hub.leave(conn, roomId);
        this.#publishable.delete(roomId);
      },
    };
  }

  #actor(conn: Connection) {
    return { actorId: conn.userId, actorRole: conn.role, socketId: this.id, ip: this.#peer.ip };
  }

  /** A refused connection, counted and logged with its reason and the client's address. */
  #refused(outcome: AuthOutcome, userId?: string): void {
    const { metrics, log } = this.#deps.services;
    metrics.auth(outcome);
    log.info("ws.refused", {
      socketId: this.id,
      reason: outcome,
      ip: this.#peer.ip,
      requestId: this.#peer.requestId,
      protocol: this.#codec.name,
      ...(userId ? { userId } : {}),
    });
  }

  #refuse(message: string, outcome: AuthOutcome): void {
    this.#refused(outcome, this.#conn?.userId);
    this.#deps.services.audit.refusal({
      actorId: this.#conn?.userId ?? null,
      actorRole: this.#conn?.role ?? null,
      action: "ws.auth",
      outcome: "refused",
      code: "UNAUTHENTICATED",
      socketId: this.id,
      ip: this.#peer.ip,
    }, refusalKey(this.#conn?.userId ?? null, this.#peer.ip));
    this.#send(this.#codec.connectError(message));
    this.#close(CLOSE.auth, message);
  }

  /**
   * Every frame of this session: once authenticated through its hub
   * connection (acks count toward the slow-consumer limits like deliveries),
   * before that straight to the transport (the handshake replies).
   */
  #send(frame: string): void {
    if (this.#conn) this.#conn.write(frame);
    else if (this.#transport.open) this.#transport.send(frame);
  }

  /**
   * Closes an abusive socket once its flood stops. Deno drops the TCP
   * connection when a data frame arrives after its close frame, and the
   * client then sees 1006 instead of the code. So frames still arriving are
   * dropped unread, and the close goes out after {@linkcode DRAIN_QUIET_MS}
   * without one (at most {@linkcode DRAIN_MAX_MS} after the decision).
   */
  #closeWhenQuiet(code: number, reason: string): void {
    if (this.#draining) return;
    this.#draining = { code, reason, deadline: this.#deps.services.clock.now() + DRAIN_MAX_MS };
    this.#drain();
  }

  #drain(): void {
    const d = this.#draining!;
    clearTimeout(this.#drainTimer);
    const left = d.deadline - this.#deps.services.clock.now();
    if (left <= 0) return this.#close(d.code, d.reason);
    this.#drainTimer = setTimeout(
      () => this.#close(d.code, d.reason),
      Math.min(DRAIN_QUIET_MS, left),
    );
  }

  #close(code: number, reason: string): void {
    if (this.#conn) this.#conn.close(code, reason);
    else this.#transport.close(code, reason);
  }

  /**
   * Answers the frame being handled and measures its ack's latency from the
   * frame's arrival.
   */
  #reply(id: number | undefined, event: string, data: Reply, input?: unknown): void {
    this.#answer(id, event, data, input);
    if (id !== undefined) {
      this.#deps.services.metrics.ackSeconds((performance.now() - this.#frameAt) / 1000);
    }
  }

  /** Acks when the client asked (id); otherwise only failures are reported, as an `error` event. */
  #answer(id: number | undefined, event: string, data: Reply, input?: unknown): void {
    const failed = data.success === false;
    this.#deps.services.metrics.eventIn(event, failed ? data.code as string : "ok");
    if (failed && AUDITED_CODES.has(data.code as string)) {
      this.#auditRefusal(event, data.code as string, input);
    }
    if (id !== undefined) this.#send(this.#codec.ack(id, data));
    else if (failed) this.#send(this.#codec.error({ ...data, event }));
  }

  /** A refused frame, with the event and the ids it named (never any other of its data). */
  #auditRefusal(event: string, code: string, input: unknown): void {
    const target: AuditTarget = { event: ID_LIKE.test(event) ? event : "unknown" };
    if (input && typeof input === "object") {
      const d = input as Record<string, unknown>;
      const id = (v: unknown) => typeof v === "string" && ID_LIKE.test(v) ? v : undefined;
      const roomId = id(d.roomId);
      const visitId = id(d.visitId) ?? (roomId?.match(/^(?:visit|call):(.+)$/)?.[1]);
      const userId = id(d.recipientId) ?? id(d.userId);
      const callId = id(d.callId);
      if (roomId) target.roomId = roomId;
      if (visitId) target.visitId = visitId;
      if (userId) target.userId = userId;
      if (callId) target.callId = callId;
    }
    this.#deps.services.audit.refusal({
      actorId: this.#conn?.userId ?? null,
      actorRole: this.#conn?.role ?? null,
      action: "refused",
      target,
      outcome: "refused",
      code,
      socketId: this.id,
      ip: this.#peer.ip,
    }, refusalKey(this.#conn?.userId ?? null, this.#peer.ip));
  }

  #fail(id: number | undefined, event: string, err: unknown, input?: unknown): void {
    const where = { socketId: this.id, wireEvent: event };
    this.#reply(id, event, errorReply(err, this.#deps.services.log, where), input);
    // Only protocol misuse counts toward the limit: a refused or conflicting request is normal.
    const misuse = err instanceof AppError && PROTOCOL_ERRORS.has(err.code);
    if (misuse && this.#errors.hit("all")) {
      this.#closeWhenQuiet(CLOSE.policy, "Too many invalid frames");
    }
  }
}

/** Why a verified token does not speak for its account (store/sessions.ts tokenCurrent). */
export function notCurrent(stored: { disabled?: boolean } | null): AuthOutcome {
  return !stored ? "unknown_user" : stored.disabled ? "disabled" : "revoked";
}
