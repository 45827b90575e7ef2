/**
 * @module
 * Engine.IO v4 sessions, written against the Engine.IO protocol document (no
 * engine.io package): the transport under the socket.io codec. A session is a
 * {@linkcode Transport} for the connection core, carried by HTTP long-polling
 * (GET waits for packets, POST delivers the client's; packets are joined by
 * U+001E) or by a WebSocket (one packet per frame), and upgraded from polling
 * to a WebSocket (`2probe` / `3probe`, then `5`) without losing or repeating
 * a packet: every packet waits in one queue until exactly one transport takes
 * it.
 *
 * The server pings every `pingIntervalMs`; a client that does not pong within
 * `pingTimeoutMs` (or stops polling) is closed. A session is bounded like a
 * socket: its unsent bytes are its `bufferedAmount` (the hub's slow-consumer
 * limits apply), POST bodies are capped at `maxPayload`, and one GET at a time.
 */

import { CLOSE } from "../static/protocol.js";
import type { Transport, TransportSink } from "./transport.ts";

export interface EngineConfig {
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Advertised in the open packet and enforced per POST body (bytes). */
  maxPayload: number;
  /** A WebSocket probing for an upgrade must send `5` within this. */
  upgradeTimeoutMs: number;
}

/** The packet separator of the HTTP long-polling payload encoding. */
export const SEPARATOR = "\x1e";

/** Engine.IO's error codes on HTTP 400 answers, as the protocol names them. */
export const ENGINE_ERRORS = Object.freeze({
  unknownTransport: { code: 0, message: "Transport unknown" },
  unknownSid: { code: 1, message: "Session ID unknown" },
  badHandshakeMethod: { code: 2, message: "Bad handshake method" },
  badRequest: { code: 3, message: "Bad request" },
  forbidden: { code: 4, message: "Forbidden" },
  unsupportedVersion: { code: 5, message: "Unsupported protocol version" },
});

/** Close codes reported to the core when the client, not the server, ended the session. */
const CLIENT_CLOSED = 1000;
const LOST = 1006;

function newSid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

export type PollResult = { ok: true; body: string } | {
  ok: false;
  error: keyof typeof ENGINE_ERRORS;
};

/** One Engine.IO session: see the module doc. */
export class EngineSession implements Transport {
  readonly sid: string = newSid();
  /** Who opened it (the client address key): polls from elsewhere are refused. */
  readonly owner: string;
  #cfg: EngineConfig;
  #sink?: TransportSink;
  #onEnd: (s: EngineSession) => void;
  #ws?: WebSocket;
  #probe?: WebSocket;
  #upgrading = false;
  #upgradeTimer?: ReturnType<typeof setTimeout>;
  #queue: string[] = [];
  #queuedBytes = 0;
  #poll?: (body: string | null) => void;
  #state: "open" | "closing" | "closed" = "open";
  #pingTimer?: ReturnType<typeof setTimeout>;
  #pongTimer?: ReturnType<typeof setTimeout>;
  #lingerTimer?: ReturnType<typeof setTimeout>;
  /** How the server closed the session, for an upgrade that completes after the close. */
  #closedWith?: { code: number; reason: string };

  constructor(cfg: EngineConfig, owner: string, onEnd: (s: EngineSession) => void) {
    this.#cfg = cfg;
    this.owner = owner;
    this.#onEnd = onEnd;
  }

  get open(): boolean {
    return this.#state === "open";
  }

  get bufferedAmount(): number {
    return this.#queuedBytes + (this.#ws?.bufferedAmount ?? 0);
  }

  /** The open packet: what the client learns first. */
  openPacket(upgrades: string[]): string {
    return "0" + JSON.stringify({
      sid: this.sid,
      upgrades,
      pingInterval: this.#cfg.pingIntervalMs,
      pingTimeout: this.#cfg.pingTimeoutMs,
      maxPayload: this.#cfg.maxPayload,
    });
  }

  /** Starts a polling session: the first GET's body is the open packet. */
  startPolling(sink: TransportSink): string {
    this.#sink = sink;
    this.#schedulePing();
    queueMicrotask(() => sink.opened());
    return this.openPacket(["websocket"]);
  }

  /** Starts a session carried by `ws` from the beginning (no polling, no upgrade). */
  startWebSocket(ws: WebSocket, sink: TransportSink): void {
    this.#sink = sink;
    ws.onopen = () => {
      ws.send(this.openPacket([]));
      this.#useWebSocket(ws);
      this.#schedulePing();
      sink.opened();
    };
    ws.onclose = () => this.#end(LOST);
  }

  send(frame: string): void {
    if (this.#state !== "open") return;
    this.#write(frame);
  }

  close(code: number, reason: string): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#closedWith = { code, reason };
    this.#stopPings();
    // A client that has had 3probe paused its polling and waits to finish the upgrade: the
    // close goes out on the new socket then. Before that, polling still carries it.
    if (!this.#upgrading) this.#probe?.close(1000, "Closing");
    // A slow consumer's backlog is dropped: it resumes by seq after reconnecting.
    if (code === CLOSE.slowConsumer) this.#clearQueue();
    // The core hears of it now: nothing more is written to this session.
    queueMicrotask(() => this.#sink?.closed(code));
    if (this.#ws) {
      try {
        this.#ws.close(code, reason.slice(0, 120));
      } catch {
        // Already closing.
      }
      return this.#finish();
    }
    // Polling: what is queued, then the close packet, go out with the next GET (or now).
    this.#queue.push("1");
    if (!this.#flushPoll()) {
      this.#lingerTimer = setTimeout(() => this.#finish(), this.#cfg.pingTimeoutMs);
    }
  }

  /**
   * A long-polling GET: answered at once with what is queued, else when
   * something is written or the session ends. (A client that goes away while
   * its GET waits stops answering pings and is closed after `pingTimeoutMs`.)
   */
  poll(): Promise<PollResult> {
    if (this.#ws) return Promise.resolve({ ok: false, error: "badRequest" });
    if (this.#poll) {
      // Two GETs at once is a broken client: the session ends, as Engine.IO servers do.
      this.#end(LOST);
      return Promise.resolve({ ok: false, error: "badRequest" });
    }
    if (this.#state === "closed") return Promise.resolve({ ok: false, error: "unknownSid" });
    // Mid-upgrade the client is pausing its polling: never hold its GET.
    if (this.#queue.length === 0 && this.#upgrading) this.#queue.push("6");
    if (this.#queue.length > 0) {
      const body = this.#takeQueue();
      if (this.#state === "closing") this.#finish();
      return Promise.resolve({ ok: true, body });
    }
    return new Promise((resolve) => {
      this.#poll = (body) =>
        resolve(body === null ? { ok: false, error: "unknownSid" } : { ok: true, body });
    });
  }

  /** A POST's body: the client's packets. Returns false when the body is not Engine.IO. */
  post(body: string): boolean {
    if (this.#state === "closed" || this.#ws) return false;
    for (const packet of body.split(SEPARATOR)) {
      if (!this.#packet(packet)) {
        this.#end(CLOSE.policy);
        return false;
      }
    }
    return true;
  }

  /** A WebSocket asking to take over this polling session (`?sid=`): the probe. */
  upgrade(ws: WebSocket): boolean {
    if (this.#state !== "open" || this.#ws || this.#probe) return false;
    this.#probe = ws;
    const drop = () => {
      if (this.#probe !== ws) return;
      this.#probe = undefined;
      this.#upgrading = false;
      clearTimeout(this.#upgradeTimer);
    };
    ws.onopen = () => {
      this.#upgradeTimer = setTimeout(() => {
        drop();
        ws.close(1000, "Upgrade timeout");
      }, this.#cfg.upgradeTimeoutMs);
    };
    ws.onmessage = (e) => {
      if (e.data === "2probe") {
        ws.send("3probe");
        this.#upgrading = true;
        // The client waits for its GET in flight to return before it sends 5.
        if (this.#poll) {
          this.#queue.push("6");
          this.#flushPoll();
        }
      } else if (e.data === "5" && this.#upgrading && this.#state !== "closed") {
        clearTimeout(this.#upgradeTimer);
        this.#probe = undefined;
        this.#upgrading = false;
        const closing = this.#closedWith;
        this.#useWebSocket(ws);
        // Packets queued for polling now go out on the socket, in order, exactly once.
        if (this.#poll) {
          const done = this.#poll;
          this.#poll = undefined;
          done("6");
        }
        const pending = this.#takeQueueList();
        for (const p of pending) ws.send(p);
        // Closed meanwhile: what was queued (the close packet last) went out; now the socket.
        if (this.#state === "closing" && closing) {
          try {
            ws.close(closing.code, closing.reason.slice(0, 120));
          } catch {
            // Already closing.
          }
          this.#finish();
        }
      } else {
        drop();
        ws.close(1008, "Unexpected packet during upgrade");
      }
    };
    ws.onclose = drop;
    return true;
  }

  #useWebSocket(ws: WebSocket): void {
    this.#ws = ws;
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        if (!this.#packet(e.data)) this.#end(CLOSE.policy);
        return;
      }
      const size = e.data instanceof Blob ? e.data.size : (e.data as ArrayBuffer).byteLength;
      if (this.#state === "open") this.#sink?.received({ binaryBytes: size });
    };
    ws.onclose = (e) => this.#end(e.code === 1005 ? CLIENT_CLOSED : e.code);
  }

  /** One client packet; false when it is not an Engine.IO packet a client sends. */
  #packet(p: string): boolean {
    // Closing, the client's own close packet ends the wait; anything else comes too late.
    if (this.#state !== "open") {
      if (p === "1") this.#finish();
      return true;
    }
    switch (p[0]) {
      case "4":
        this.#sink?.received(p.slice(1));
        return true;
      case "3":
        clearTimeout(this.#pongTimer);
        this.#pongTimer = undefined;
        return true;
      case "1":
        this.#end(CLIENT_CLOSED);
        return true;
      case "6":
        return true;
      case "2":
        // A ping from the client (protocol v3 did this): answer it.
        this.#write("3" + p.slice(1));
        return true;
      case "b":
        // Base64 binary message over polling.
        this.#sink?.received({ binaryBytes: Math.floor((p.length - 1) * 3 / 4) });
        return true;
      default:
        return false;
    }
  }

  #write(packet: string): void {
    const ws = this.#ws;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN) ws.send(packet);
      return;
    }
    this.#queue.push(packet);
    this.#queuedBytes += packet.length;
    this.#flushPoll();
  }

  /** Answers the GET waiting, if any, with what is queued; true when that ended the session. */
  #flushPoll(): boolean {
    const done = this.#poll;
    if (!done || this.#queue.length === 0) return false;
    this.#poll = undefined;
    const closing = this.#state === "closing";
    done(this.#takeQueue());
    if (closing) this.#finish();
    return closing;
  }

  #takeQueueList(): string[] {
    const q = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    return q;
  }

  #takeQueue(): string {
    return this.#takeQueueList().join(SEPARATOR);
  }

  #clearQueue(): void {
    this.#takeQueueList();
  }

  #schedulePing(): void {
    this.#pingTimer = setTimeout(() => {
      if (this.#state !== "open") return;
      this.#write("2");
      clearTimeout(this.#pongTimer);
      this.#pongTimer = setTimeout(() => this.#end(LOST), this.#cfg.pingTimeoutMs);
      this.#schedulePing();
    }, this.#cfg.pingIntervalMs);
  }

  #stopPings(): void {
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#pongTimer);
  }

  /** Ends the session now, without waiting for a GET to collect the close packet. */
  terminate(): void {
    if (this.#state === "open") this.close(LOST, "Terminated");
    this.#finish();
  }

  /** The client went away (close packet, socket closed, ping timeout, misuse). */
  #end(code: number): void {
    if (this.#state === "closed") return;
    const wasOpen = this.#state === "open";
    this.#finish();
    if (wasOpen) this.#sink?.closed(code);
  }

  /** Releases everything; the session's sid is unknown from now on. */
  #finish(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#stopPings();
    clearTimeout(this.#lingerTimer);
    clearTimeout(this.#upgradeTimer);
    this.#clearQueue();
    const done = this.#poll;
    this.#poll = undefined;
    done?.(null);
    for (const ws of [this.#ws, this.#probe]) {
      if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
        try {
          ws.close(1000, "Session ended");
        } catch {
          // Already closing.
        }
      }
    }
    this.#probe = undefined;
    this.#onEnd(this);
  }
}

/** This isolate's Engine.IO sessions by sid. */
export class EngineServer {
  readonly config: EngineConfig;
  #sessions = new Map<string, EngineSession>();

  constructor(config: EngineConfig) {
    this.config = config;
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(owner: string): EngineSession {
    const s = new EngineSession(this.config, owner, (ended) => this.#sessions.delete(ended.sid));
    this.#sessions.set(s.sid, s);
    return s;
  }

  get(sid: string): EngineSession | undefined {
    return this.#sessions.get(sid);
  }

  /**
   * Shutdown: every session still open (authenticated ones were closed by the
   * hub) is closed, handing its close packet to a waiting GET, and none waits
   * for a later GET: the server is going.
   */
  closeAll(code: number, reason: string): void {
    for (const s of [...this.#sessions.values()]) {
      s.close(code, reason);
      s.terminate();
    }
  }
}
