/**
 * @module
 * This isolate's sockets, indexed by user and by room, and local delivery.
 * The hub is the only code that writes to sockets: it encodes each delivery
 * once and writes it to every matching connection, skipping ephemeral events
 * for connections that are not keeping up and closing those far behind.
 */

import { CLOSE } from "../static/protocol.js";
import type { Role } from "../store/users.ts";
import type { Codec } from "./protocol/codec.ts";
import { nativeCodec } from "./protocol/native.ts";
import { AppMetrics } from "./metrics.ts";
import type { Transport } from "./transport.ts";

/** Who a delivery is for. Targets are unioned; a socket matching several gets it once. */
export interface Target {
  sockets?: string[];
  users?: string[];
  rooms?: string[];
  all?: boolean;
}

/** One event on its way to sockets, in this isolate or (through the bus) in others. */
export interface Delivery {
  /** Unique per delivery, so a receiver seeing it twice (bus + watch) delivers once. */
  id: string;
  event: string;
  data: unknown;
  to: Target;
  exceptSocket?: string;
  exceptUser?: string;
  /**
   * Set when the event names a patient (their join, typing or read receipt):
   * patients' sockets get it only if they belong to this user, so a patient
   * never learns that another patient exists. Staff and services get it.
   */
  patientsExcept?: string;
  /** Typing and the like: dropped for slow consumers rather than queued. */
  ephemeral?: boolean;
  /**
   * Already in this process's bus log, committed with its fact (a stored
   * message's `message:new`): the KV bus does not log it again.
   */
  logged?: boolean;
}

/** Buffered bytes above which ephemeral events are dropped for a socket. */
export const SOFT_BUFFER_LIMIT = 1 << 20;
/** Buffered bytes above which a socket is closed as a slow consumer (it resumes by seq). */
export const HARD_BUFFER_LIMIT = 8 << 20;
export const CLOSE_SLOW_CONSUMER: number = CLOSE.slowConsumer;

export interface ConnectionInfo {
  id: string;
  userId: string;
  role: Role;
}

/** A live, authenticated socket as the hub sees it. */
export class Connection implements ConnectionInfo {
  readonly rooms = new Set<string>();
  constructor(
    readonly id: string,
    readonly userId: string,
    readonly role: Role,
    readonly transport: Transport,
    /** The wire format of this socket: what the hub encodes its deliveries with. */
    readonly codec: Codec = nativeCodec,
  ) {}

  /** Set once the socket fell too far behind; the hub stops writing to it. */
  slow = false;

  /** Set when the server closed it for shutdown: frames that arrive after this are not started. */
  shuttingDown = false;

  /** The jti of the token the socket authenticated (or last refreshed) with: what logout closes. */
  tokenId?: string;

  /** Set by the hub that holds it: told once when the socket is closed as a slow consumer. */
  onSlow?: () => void;

  /**
   * Writes a frame unless the socket is closed or, for ephemeral frames, backed
   * up. Far behind, the socket is closed 4002 and marked slow: it resumes by
   * seq after reconnecting, and its unsent backlog stops growing here.
   */
  write(frame: string, ephemeral = false): boolean {
    if (this.slow || !this.transport.open) return false;
    const buffered = this.transport.bufferedAmount;
    if (buffered > HARD_BUFFER_LIMIT) {
      this.slow = true;
      this.onSlow?.();
      this.transport.close(CLOSE_SLOW_CONSUMER, "Slow consumer");
      return false;
    }
    if (ephemeral && buffered > SOFT_BUFFER_LIMIT) return false;
    this.transport.send(frame);
    return true;
  }

  /**
   * Closes the connection with `code`, first writing what the codec says
   * before a close (socket.io: an `error` notice and a DISCONNECT, since its
   * transports carry no close code). Never throws.
   */
  close(code: number, reason: string): void {
    try {
      if (!this.slow && this.transport.open) {
        for (const f of this.codec.closing?.(code, reason) ?? []) this.transport.send(f);
      }
      this.transport.close(code, reason);
    } catch {
      // Already closing.
    }
  }
}

export class Hub {
  #byId = new Map<string, Connection>();
  #byUser = new Map<string, Set<Connection>>();
  #byRoom = new Map<string, Set<Connection>>();
  readonly #metrics: AppMetrics;
  readonly #onSlow: () => void;

  /** `metrics` counts deliveries and slow-consumer closes (a private set by default). */
  constructor(metrics: AppMetrics = new AppMetrics()) {
    this.#metrics = metrics;
    this.#onSlow = () => metrics.slowConsumerClosed();
  }

  get size(): number {
    return this.#byId.size;
  }

  add(conn: Connection): void {
    conn.onSlow = this.#onSlow;
    this.#byId.set(conn.id, conn);
    addTo(this.#byUser, conn.userId, conn);
  }

  remove(conn: Connection): void {
    this.#byId.delete(conn.id);
    removeFrom(this.#byUser, conn.userId, conn);
    // conn.rooms is kept: the close handlers read it to end the socket's topic memberships.
    for (const room of conn.rooms) removeFrom(this.#byRoom, room, conn);
  }

  /** Subscribes a registered connection; one that already closed (a handler outlived it) is ignored. */
  join(conn: Connection, roomId: string): void {
    if (this.#byId.get(conn.id) !== conn) return;
    conn.rooms.add(roomId);
    addTo(this.#byRoom, roomId, conn);
  }

  leave(conn: Connection, roomId: string): void {
    conn.rooms.delete(roomId);
    removeFrom(this.#byRoom, roomId, conn);
  }

  /** Every live connection of this isolate. */
  connections(): Iterable<Connection> {
    return this.#byId.values();
  }

  /** Whether the socket is one of this isolate's. */
  has(socketId: string): boolean {
    return this.#byId.has(socketId);
  }

  /** Whether one of the user's sockets here has not joined the room. */
  hasUnjoinedSocket(userId: string, roomId: string): boolean {
    for (const c of this.#byUser.get(userId) ?? []) if (!c.rooms.has(roomId)) return true;
    return false;
  }

  /** How many of this isolate's sockets belong to the user. */
  userConnectionCount(userId: string): number {
    return this.#byUser.get(userId)?.size ?? 0;
  }

  /** Writes the delivery to every matching local socket; returns how many got it. */
  deliver(d: Delivery): number {
    const targets = new Set<Connection>();
    if (d.to.all) { for (const c of this.#byId.values()) targets.add(c); }
    for (const id of d.to.sockets ?? []) {
      const c = this.#byId.get(id);
      if (c) targets.add(c);
    }
    for (const u of d.to.users ?? []) for (const c of this.#byUser.get(u) ?? []) targets.add(c);
    for (const r of d.to.rooms ?? []) for (const c of this.#byRoom.get(r) ?? []) targets.add(c);
    if (targets.size === 0) return 0;
    // Encoded once per codec in use (most deliveries: one), not once per socket.
    let codec: Codec | undefined;
    let frame = "";
    let others: Map<Codec, string> | undefined;
    let sent = 0;
    for (const c of targets) {
      if (c.id === d.exceptSocket || c.userId === d.exceptUser) continue;
      if (d.patientsExcept !== undefined && c.role === "patient" && c.userId !== d.patientsExcept) {
        continue;
      }
      let f: string;
      if (codec === undefined) {
        codec = c.codec;
        f = frame = codec.event(d.event, d.data);
      } else if (c.codec === codec) {
        f = frame;
      } else {
        others ??= new Map();
        let o = others.get(c.codec);
        if (o === undefined) others.set(c.codec, o = c.codec.event(d.event, d.data));
        f = o;
      }
      if (c.write(f, d.ephemeral)) sent++;
      // A peer that stopped reading may not finish the close handshake for a long time:
      // drop it from the indexes now rather than when its close event finally arrives.
      else if (c.slow) this.remove(c);
    }
    this.#metrics.delivered(sent);
    return sent;
  }

  /** Closes every socket of one user in this isolate; returns how many. */
  closeUser(userId: string, code: number, reason: string): number {
    const conns = [...this.#byUser.get(userId) ?? []];
    for (const c of conns) c.close(code, reason);
    return conns.length;
  }

  /** Set by {@linkcode closeAll}: the server is shutting down. */
  closing = false;

  /** Closes the user's sockets in this isolate that hold the token `jti`; returns how many. */
  closeToken(userId: string, jti: string, code: number, reason: string): number {
    const conns = [...this.#byUser.get(userId) ?? []].filter((c) => c.tokenId === jti);
    for (const c of conns) c.close(code, reason);
    return conns.length;
  }

  /** Closes every socket (shutdown: 1001, clients reconnect and resume). */
  closeAll(code: number, reason: string): void {
    this.closing = true;
    for (const c of this.#byId.values()) {
      c.shuttingDown = true;
      c.close(code, reason);
    }
  }
}

function addTo<K>(map: Map<K, Set<Connection>>, key: K, conn: Connection): void {
  let set = map.get(key);
  if (!set) map.set(key, set = new Set());
  set.add(conn);
}

function removeFrom<K>(map: Map<K, Set<Connection>>, key: K, conn: Connection): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(conn);
  if (set.size === 0) map.delete(key);
}
