// @ts-self-types="./client.d.ts"
/**
 * @module
 * A dependency-free browser client for the native protocol of GET /ws (JSON
 * text frames). It owns one socket at a time: authenticates with the first
 * frame, correlates acks, reconnects with backoff and, after a reconnect,
 * re-joins every joined room with `since` = the highest seq seen so nothing
 * is missed. It never touches the DOM.
 *
 * Local events besides the server's: `status` ("connecting" | "open" |
 * "reconnecting" | "unauthorized" | "stopped" | "closed"), `disconnect` ({code, reason}),
 * `halted` ({code, reason, meaning}: a close after which it does not reconnect),
 * `room:resumed` (the ack of an automatic re-join), `frame` ({dir, frame}:
 * every frame in or out, auth tokens redacted, for debugging) and
 * `session:ended` ({reason}: the `refresh` option could not renew the token).
 *
 * Sessions: with a `refresh` function the client renews its token before it
 * expires (at 80 % of its remaining life, read from the JWT's `exp`) with
 * `auth:refresh` on the live socket, and when the server refuses a token
 * (close 4401) it asks for a new one and reconnects, so a call or a chat
 * never drops at expiry. `refresh` returns the new token, or null when the
 * session is over (then `session:ended`); a throw is a passing failure
 * (network, restart), retried with the reconnect backoff.
 *
 * @example
 * const client = connect("/ws", { token });
 * client.on("message:new", (m) => console.log(m.message));
 * const ack = await client.request("room:join", { roomId: "visit:visit-123" });
 */

/** @typedef {{success: boolean, error?: string, code?: string, [key: string]: unknown}} AckData */
/** @typedef {(data: any) => void} Listener */
/** @typedef {{event: string, data: unknown, id?: number}} OutFrame */
/**
 * @typedef {object} ConnectOptions
 * @property {string} token JWT from POST /api/v1/auth/login.
 * @property {number} [minDelayMs] First reconnect delay (default 1000, as socket.io).
 * @property {number} [maxDelayMs] Longest reconnect delay (default 5000, as socket.io).
 * @property {number} [queueLimit] Requests held while disconnected (default 100).
 * @property {boolean} [autoDelivered] Confirm received messages with `message:delivered`
 *   (default true).
 * @property {() => Promise<string | null>} [refresh] A new token (POST /api/v1/auth/refresh,
 *   say), or null when the session is over; see "Sessions" above.
 */

import { CLOSE, CLOSE_CODES, shouldReconnect } from "./protocol.js";

const RESUME_ROUNDS = 10;

/**
 * The `exp` of a JWT in ms, read without checking it (the server checks it), or undefined.
 * @param {string} token
 */
function expiryOf(token) {
  try {
    const part = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    const exp = JSON.parse(atob(part)).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** A request left without an ack; `code` is TIMEOUT, DISCONNECTED, CLOSED or QUEUE_FULL. */
export class ClientError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "ClientError";
    this.code = code;
  }
}

/**
 * Opens a client; it connects at once and keeps reconnecting until `close()`.
 * @param {string} url ws(s):// URL, or an http(s) or relative URL of the endpoint.
 * @param {ConnectOptions} options
 * @returns {RealtimeClient}
 */
export function connect(url, options) {
  return new RealtimeClient(url, options);
}

export class RealtimeClient {
  /** @type {WebSocket | null} */ #ws = null;
  #url;
  #token;
  #opts;
  #nextId = 1;
  #attempt = 0;
  #ready = false;
  #stopped = false;
  /** Refused token: waiting for refreshToken() instead of reconnecting. */
  #halted = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #retryTimer;
  /** @type {Map<number, {resolve: (d: AckData) => void, reject: (e: Error) => void, event: string, timer: ReturnType<typeof setTimeout>}>} */
  #pending = new Map();
  /** @type {OutFrame[]} requests waiting for an authenticated socket */ #queue = [];
  /** @type {Map<string, Set<Listener>>} */ #listeners = new Map();
  /** @type {Set<string>} */ #joined = new Set();
  /** @type {Map<string, number>} highest message seq seen per room */ #seqs = new Map();
  /** @type {Map<string, number>} delivered cursors waiting to be sent, per room */ #toConfirm =
    new Map();
  /** @type {Map<string, number>} delivered cursors sent, per room */ #confirmed = new Map();
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #confirmTimer;
  /** @type {Map<string, number>} unread count per room, as far as this client knows */ #unread =
    new Map();
  /** @type {string | undefined} */ #userId;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #renewTimer;
  /** @type {Promise<void> | null} a renewal under way */ #renewing = null;
  /** Tokens refused in a row (close 4401) without an authenticated socket between them. */
  #refusals = 0;
  /** Sockets in a row that closed before they opened (close 1006: refused or unreachable). */
  #unopened = 0;

  /** @param {string} url @param {ConnectOptions} options */
  constructor(url, options) {
    const u = new URL(url, globalThis.location?.href);
    u.protocol = u.protocol.replace(/^http/, "ws"); // http: -> ws:, https: -> wss:
    this.#url = u.href;
    this.#token = options.token;
    this.#opts = { minDelayMs: 1000, maxDelayMs: 5000, queueLimit: 100, ...options };
    this.#scheduleRenewal();
    // Next microtask: listeners added right after connect() still see the first status.
    queueMicrotask(() => this.#open());
  }

  /** Whether the socket is open and authenticated. */
  get connected() {
    return this.#ready;
  }

  /**
   * Sends an event with an id; resolves with the ack's data (`success: false` on a refusal).
   * While disconnected the frame waits (up to `timeoutMs`) for an authenticated socket;
   * one already sent when the socket drops rejects with DISCONNECTED.
   * @param {string} event
   * @param {unknown} [data]
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<AckData>}
   */
  request(event, data = {}, { timeoutMs = 10_000 } = {}) {
    if (this.#stopped) return Promise.reject(new ClientError("CLOSED", "The client is closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        // Never send a request its caller already gave up on.
        this.#queue = this.#queue.filter((q) => q.id !== id);
        reject(new ClientError("TIMEOUT", `No ack for "${event}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, event, timer });
      if (this.#ready) this.#write({ event, data, id });
      else if (this.#queue.length < this.#opts.queueLimit) this.#queue.push({ event, data, id });
      else this.#settle(id, new ClientError("QUEUE_FULL", "Too many requests while disconnected"));
    });
  }

  /**
   * Sends an event without an ack. While disconnected it waits with the requests (up to
   * `queueLimit`) and goes out once a socket is back; typing indicators, stale by then, are
   * dropped instead. Returns whether it was sent or queued.
   * @param {string} event
   * @param {unknown} [data]
   */
  emit(event, data = {}) {
    if (this.#ready) {
      this.#write({ event, data });
      return true;
    }
    if (this.#stopped || event.startsWith("typing:")) return false;
    if (this.#queue.length >= this.#opts.queueLimit) {
      this.#fire("error", {
        event,
        code: "QUEUE_FULL",
        error: `Not sent: ${this.#opts.queueLimit} events already wait for the connection`,
      });
      return false;
    }
    this.#queue.push({ event, data });
    return true;
  }

  /**
   * Like {@linkcode request}, but a refusal rejects: a `success: false` reply becomes a
   * {@linkcode ClientError} with its `code`, message and `issues`.
   * @param {string} event
   * @param {unknown} [data]
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<AckData>}
   */
  async emitWithAck(event, data = {}, options = {}) {
    const ack = await this.request(event, data, options);
    if (ack.success) return ack;
    const err = new ClientError(String(ack.code ?? "REFUSED"), String(ack.error ?? "Refused"));
    if (ack.issues) /** @type {any} */ (err).issues = ack.issues;
    if (ack.retryable) /** @type {any} */ (err).retryable = true;
    throw err;
  }

  /** @param {string} event @param {Listener} fn @returns {() => void} removes it again */
  on(event, fn) {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(fn);
    return () => this.off(event, fn);
  }

  /** @param {string} event @param {Listener} fn */
  off(event, fn) {
    this.#listeners.get(event)?.delete(fn);
  }

  /**
   * Replaces the token: `auth:refresh` on a live connection; otherwise it is used
   * for the next authentication (and restarts a client stopped by a refused token).
   * @param {string} token
   * @returns {Promise<AckData>}
   */
  refreshToken(token) {
    this.#token = token;
    this.#scheduleRenewal();
    if (this.#ready) return this.request("auth:refresh", { token });
    if (this.#halted && !this.#stopped) this.#open();
    return Promise.resolve({ success: true, deferred: true });
  }

  /** Closes for good: no reconnect; pending requests reject with CLOSED. */
  close() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    clearTimeout(this.#confirmTimer);
    this.#confirmTimer = undefined;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    this.#ws?.close(1000, "Client closed");
    this.#teardown("CLOSED");
    this.#fire("status", "closed");
  }

  #open() {
    this.#retryTimer = undefined;
    this.#halted = false;
    if (this.#stopped) return;
    if (this.#attempt === 0) this.#fire("status", "connecting"); // a retry said "reconnecting"
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.#unopened = 0;
      this.#write({ event: "auth", data: { token: this.#token } });
    };
    ws.onmessage = (e) => this.#onFrame(e.data);
    ws.onclose = (e) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#teardown("DISCONNECTED");
      this.#fire("disconnect", { code: e.code, reason: e.reason });
      if (this.#stopped) return;
      // A refused or expired token: a new one from the session, then reconnect.
      if (e.code === CLOSE.auth && this.#opts.refresh && ++this.#refusals <= 2) {
        // Halted until a token comes: refreshToken() then reconnects.
        this.#halted = true;
        this.#fire("status", "reconnecting");
        return void this.#renew(true);
      }
      // Terminal codes (static/protocol.js): reconnecting cannot help; say why and stop.
      if (!shouldReconnect(e.code)) {
        this.#halted = true;
        // Only a new token restarts it (refreshToken after a 4401): no renewal reopens it.
        if (e.code !== CLOSE.auth) clearTimeout(this.#renewTimer);
        this.#fire("halted", {
          code: e.code,
          reason: e.reason,
          meaning: CLOSE_CODES[e.code]?.meaning,
        });
        this.#fire("status", e.code === CLOSE.auth ? "unauthorized" : "stopped");
        if (e.code === CLOSE.auth && this.#opts.refresh) {
          this.#fire("session:ended", { reason: "The server refused the renewed token" });
        }
        return;
      }
      this.#fire("status", "reconnecting");
      const delay = this.#backoff();
      if (!opened && ++this.#unopened >= 2) return void this.#whyRefused(delay);
      this.#retryTimer = setTimeout(() => this.#open(), delay);
    };
  }

  /**
   * A socket that never opens may be refused at the upgrade: a browser shows that only as close
   * 1006. The endpoint, asked over plain HTTP, says 403 when this page's origin is not allowed
   * (terminal: say so and stop); anything else (down, restarting, rate-limited) is retried.
   * @param {number} delay the reconnect delay to keep to otherwise
   */
  async #whyRefused(delay) {
    const at = Date.now();
    const http = this.#url.replace(/^ws/, "http");
    const res = await fetch(http, { cache: "no-store" }).catch(() => null);
    await res?.body?.cancel().catch(() => {});
    if (this.#stopped || this.#ws) return;
    if (res?.status === 403) {
      this.#halted = true;
      clearTimeout(this.#renewTimer);
      this.#fire("halted", {
        code: 1006,
        reason: "origin refused",
        meaning: `this page's origin is not allowed by the server (its CORS_ORIGINS or PUBLIC_URL)`,
      });
      return this.#fire("status", "stopped");
    }
    this.#retryTimer = setTimeout(() => this.#open(), Math.max(0, delay - (Date.now() - at)));
  }

  /** The next reconnect delay: doubling from minDelayMs up to maxDelayMs, with jitter. */
  #backoff() {
    const base = Math.min(this.#opts.maxDelayMs, this.#opts.minDelayMs * 2 ** this.#attempt++);
    // Jitter spreads the reconnects of many clients after a server restart.
    return base / 2 + Math.random() * base / 2;
  }

  /** Plans the next renewal at 80 % of the token's remaining life (with a `refresh` option). */
  #scheduleRenewal() {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    const exp = expiryOf(this.#token);
    if (!this.#opts?.refresh || exp === undefined || this.#stopped) return;
    const left = exp - Date.now();
    this.#renewTimer = setTimeout(() => void this.#renew(false), Math.max(500, left * 0.8));
  }

  /**
   * Gets a new token from `refresh` and uses it through refreshToken() (one renewal at a time).
   * `refused`: the server closed with 4401, so the client is halted until a token comes.
   * @param {boolean} refused
   */
  #renew(refused) {
    this.#renewing ??= (async () => {
      /** @type {string | null} */
      let token;
      try {
        token = await /** @type {() => Promise<string | null>} */ (this.#opts.refresh)();
      } catch {
        // A passing failure (offline, the server restarting): try again after a backoff.
        if (this.#stopped) return;
        const again = () => void this.#renew(refused);
        this.#renewTimer = setTimeout(again, refused ? this.#backoff() : this.#opts.minDelayMs);
        return;
      }
      if (this.#stopped) return;
      if (!token) {
        clearTimeout(this.#renewTimer);
        if (refused) {
          this.#fire("halted", {
            code: CLOSE.auth,
            reason: "session ended",
            meaning: CLOSE_CODES[CLOSE.auth]?.meaning,
          });
          this.#fire("status", "unauthorized");
        }
        return this.#fire("session:ended", { reason: "The session could not be renewed" });
      }
      // A refused auth:refresh (the socket was busy closing, say) is settled by the close.
      await this.refreshToken(token).catch(() => {});
    })().finally(() => this.#renewing = null);
    return this.#renewing;
  }

  /** @param {unknown} text */
  #onFrame(text) {
    const frame = JSON.parse(String(text)); // the server writes JSON only
    this.#fire("frame", { dir: "in", frame });
    if (typeof frame.ack === "number") return this.#settle(frame.ack, frame.data);
    const { event, data } = frame;
    if (event === "connected") {
      this.#userId = data?.userId;
      this.#onConnected();
    }
    if (event === "room:unread") this.#setUnread(data.roomId, data.unreadCount);
    // The server tells sockets outside a room; a socket in it counts along.
    if (
      event === "message:new" && data?.senderId !== this.#userId && this.#joined.has(data?.roomId)
    ) {
      this.#setUnread(data.roomId, (this.#unread.get(data.roomId) ?? 0) + 1);
    }
    if (event === "message:new" || event === "message:sent") this.#track(data);
    if (event === "message:new") this.#received(data);
    this.#fire(event, data);
  }

  async #onConnected() {
    this.#ready = true;
    this.#attempt = 0;
    this.#refusals = 0;
    // Re-joins go before queued frames so a resumed room is subscribed first.
    const rooms = [...this.#joined];
    const queued = this.#queue.splice(0);
    const resumes = rooms.map((roomId) => this.#resume(roomId));
    for (const frame of queued) this.#write(frame);
    this.#fire("status", "open");
    await Promise.allSettled(resumes);
  }

  /** @param {string} roomId */
  async #resume(roomId) {
    for (let round = 0; round < RESUME_ROUNDS; round++) {
      const since = this.#seqs.get(roomId) ?? 0;
      let ack;
      try {
        ack = await this.request("room:join", { roomId, since });
      } catch {
        return; // The socket dropped again: the next connection resumes this room.
      }
      // A refusal (access revoked, say) is final: stop re-joining the room.
      if (!ack.success) this.#joined.delete(roomId);
      // A cursor the server does not know (its store was reset): count again from its history.
      if (ack.recovered === false) this.#seqs.delete(roomId);
      this.#fire("room:resumed", { ...ack, roomId });
      if (!ack.success || !ack.hasMore) return;
    }
  }

  /** @param {number} id @param {AckData | Error} data */
  #settle(id, data) {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (data instanceof Error) return p.reject(data);
    if (data?.success) {
      this.#track(data.message);
      for (const m of Array.isArray(data.messages) ? data.messages : []) this.#track(m);
      if (p.event === "room:join") {
        this.#joined.add(String(data.roomId));
        // Messages a resume brought were received by this device too.
        const last = Array.isArray(data.messages) ? data.messages.at(-1) : undefined;
        if (last) this.#received(last);
      }
      if (p.event === "room:leave") this.#joined.delete(String(data.roomId));
    }
    p.resolve(data);
  }

  /**
   * Confirms receipt: `message:delivered` with the room's highest seq, sent
   * once for a burst (a quarter second later), never backwards. Off with
   * `autoDelivered: false`.
   * @param {any} message
   */
  #received(message) {
    if (this.#opts.autoDelivered === false) return;
    if (!message || typeof message.roomId !== "string" || typeof message.seq !== "number") return;
    const { roomId, seq } = message;
    if (seq <= Math.max(this.#confirmed.get(roomId) ?? 0, this.#toConfirm.get(roomId) ?? 0)) return;
    this.#toConfirm.set(roomId, seq);
    this.#confirmTimer ??= setTimeout(() => {
      this.#confirmTimer = undefined;
      for (const [room, upTo] of this.#toConfirm) {
        if (!this.emit("message:delivered", { roomId: room, seq: upTo })) continue;
        this.#toConfirm.delete(room);
        this.#confirmed.set(room, upTo);
      }
    }, 250);
  }

  /**
   * Edits one of your messages (within the server's edit window).
   * @param {string} roomId @param {number} seq @param {string} message
   */
  edit(roomId, seq, message) {
    return this.request("message:edit", { roomId, seq, message });
  }

  /**
   * Deletes (redacts) a message: yours within the edit window, any as the
   * visit's clinician or an admin. The room gets `message:updated` with the tombstone.
   * @param {string} roomId @param {number} seq
   */
  delete(roomId, seq) {
    return this.request("message:delete", { roomId, seq });
  }

  /**
   * Unread counts per room: loaded by {@linkcode loadUnread}, kept by `room:unread` and by
   * counting `message:new` in joined rooms; an `unread` event `{roomId, unreadCount}` on change.
   * @returns {Map<string, number>}
   */
  get unread() {
    return new Map(this.#unread);
  }

  /** Loads every room's unread count (room:list); resolves with the counts. */
  async loadUnread() {
    const ack = await this.request("room:list", { limit: 100 });
    if (ack.success) {
      for (const r of /** @type {{roomId: string, unreadCount: number}[]} */ (ack.rooms)) {
        this.#setUnread(r.roomId, r.unreadCount);
      }
    }
    return this.unread;
  }

  /** @param {string} roomId @param {number} count */
  #setUnread(roomId, count) {
    if (typeof roomId !== "string" || typeof count !== "number") return;
    if (this.#unread.get(roomId) === count) return;
    this.#unread.set(roomId, count);
    this.#fire("unread", { roomId, unreadCount: count });
  }

  /** Marks the room read up to `seq` (cursors only move forward). @param {string} roomId @param {number} seq */
  markRead(roomId, seq) {
    return this.request("message:read", { roomId, seq });
  }

  /** @param {any} message */
  #track(message) {
    if (!message || typeof message.roomId !== "string" || typeof message.seq !== "number") return;
    const seen = this.#seqs.get(message.roomId) ?? 0;
    if (message.seq > seen) this.#seqs.set(message.roomId, message.seq);
  }

  /** @param {OutFrame} frame */
  #write(frame) {
    if (this.#ws?.readyState !== WebSocket.OPEN) return;
    this.#ws.send(JSON.stringify(frame));
    const secret = frame.event === "auth" || frame.event === "auth:refresh";
    this.#fire("frame", { dir: "out", frame: secret ? { ...frame, data: "[redacted]" } : frame });
  }

  /**
   * Rejects requests whose ack can no longer come; queued ones survive a disconnect.
   * @param {"DISCONNECTED" | "CLOSED"} code
   */
  #teardown(code) {
    this.#ready = false;
    const queued = new Set(code === "CLOSED" ? [] : this.#queue.map((f) => f.id));
    if (code === "CLOSED") this.#queue.length = 0;
    for (const id of [...this.#pending.keys()]) {
      if (queued.has(id)) continue;
      this.#settle(id, new ClientError(code, "The connection closed before the ack"));
    }
  }

  /** @param {string} event @param {unknown} data */
  #fire(event, data) {
    for (const fn of [...(this.#listeners.get(event) ?? [])]) {
      try {
        fn(data);
      } catch (err) {
        console.error(`listener for "${event}" failed`, err);
      }
    }
  }
}
