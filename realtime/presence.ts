/**
 * @module
 * The presence service: records this isolate's connections in KV, refreshes
 * them with heartbeats, sweeps users whose connections expired (a crashed
 * process or isolate), and announces each real transition as
 * `presence:changed {userId, status, customStatus?}` to the sockets that
 * subscribed to that user (hub room `presence:<userId>`, which clients cannot
 * join directly).
 *
 * Bounds: a client that closes goes offline at once; one that vanishes goes
 * when the WebSocket idle timeout drops it; a process that dies takes its
 * users offline within PRESENCE_TTL_S, announced by the next sweep of any
 * live isolate (every TTL/3).
 */

import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import {
  type ExplicitStatus,
  listOnline,
  type PresenceState,
  putConnection,
  reconcile,
  refreshConnections,
  removeConnection,
  setExplicitStatus,
} from "../store/presence.ts";
import type { Emitter } from "./emit.ts";
import type { ConnectionInfo } from "./hub.ts";

/** The hub room whose sockets hear about one user's presence. */
export function presenceRoom(userId: string): string {
  return `presence:${userId}`;
}

export interface PresenceDeps {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  emitter: Emitter;
  ttlMs: number;
  /** This isolate's live connections, for heartbeats. */
  connections: () => Iterable<ConnectionInfo>;
}

export class PresenceService {
  #deps: PresenceDeps;
  #timer?: ReturnType<typeof setInterval>;
  #pending = new Set<Promise<unknown>>();
  #connecting = new Map<string, Promise<void>>();
  #stopping = false;

  constructor(deps: PresenceDeps) {
    this.#deps = deps;
  }

  /** Starts heartbeats and sweeps (every TTL/3), after one sweep for what a dead process left. */
  start(): void {
    this.#track(this.sweep());
    this.#timer = setInterval(() => {
      this.#track(this.heartbeat().then(() => this.sweep()));
    }, Math.max(1000, Math.floor(this.#deps.ttlMs / 3)));
  }

  /**
   * Stops the timers and waits for in-flight writes. Connections closed after
   * this (a shutdown closing every socket) keep their entries: if the server is
   * back before they expire, clients reconnect and nobody flaps offline.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#pending]);
  }

  /** Resolves when every presence write started so far has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  connected(conn: ConnectionInfo): Promise<void> {
    const { kv, clock, ttlMs } = this.#deps;
    const work = (async () => {
      const now = clock.now();
      await putConnection(kv, conn.userId, conn.id, now + ttlMs, now);
      await this.#reconcile(conn.userId);
    })();
    this.#connecting.set(conn.id, work);
    return work.finally(() => this.#connecting.delete(conn.id));
  }

  disconnected(conn: ConnectionInfo): void {
    if (this.#stopping) return;
    // A socket that closes while its entry is being written: remove it only after the write.
    const after = this.#connecting.get(conn.id) ?? Promise.resolve();
    this.#track(
      after.catch(() => {}).then(async () => {
        await removeConnection(this.#deps.kv, conn.userId, conn.id, this.#deps.clock.now());
        await this.#reconcile(conn.userId);
      }),
    );
  }

  async setStatus(userId: string, status: ExplicitStatus): Promise<void> {
    await setExplicitStatus(this.#deps.kv, userId, status);
    await this.#reconcile(userId);
  }

  /** Re-derives a user's presence after another input changed (a call started or ended). */
  refresh(userId: string): Promise<void> {
    return this.#reconcile(userId);
  }

  /** Extends the expiry of every connection of this isolate. */
  async heartbeat(): Promise<void> {
    const { kv, clock, ttlMs } = this.#deps;
    const now = clock.now();
    const conns = [...this.#deps.connections()].map((c) => ({ userId: c.userId, socketId: c.id }));
    if (conns.length > 0) await refreshConnections(kv, conns, now + ttlMs, now);
  }

  /** Re-derives every user published as present; those whose entries all expired go offline. */
  async sweep(): Promise<void> {
    for (const userId of await listOnline(this.#deps.kv)) await this.#reconcile(userId);
  }

  async #reconcile(userId: string): Promise<void> {
    const { kv, clock, emitter } = this.#deps;
    const changed = await reconcile(kv, userId, clock.now());
    if (changed) announce(emitter, userId, changed);
  }

  #track(p: Promise<unknown>): void {
    const guarded = p.catch((err) => {
      this.#deps.log.error("presence.failed", { error: err instanceof Error ? err : String(err) });
    });
    this.#pending.add(guarded);
    guarded.finally(() => this.#pending.delete(guarded));
  }
}

function announce(emitter: Emitter, userId: string, state: PresenceState): void {
  const data: Record<string, unknown> = { userId, status: state.status };
  if (state.customStatus) data.customStatus = state.customStatus;
  emitter.emitToRoom(presenceRoom(userId), "presence:changed", data);
}
