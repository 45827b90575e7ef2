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

import type { ServerEventData } from "./protocol/server_events.ts";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import { Background } from "../lib/background.ts";
import { inSlice, type Slice, SpreadTimer } from "../lib/spread.ts";
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
  #timer?: SpreadTimer;
  #work: Background;
  #connecting = new Map<string, Promise<void>>();
  #reconciling = new Map<string, { again: boolean; done: Promise<void> }>();
  #stopping = false;

  constructor(deps: PresenceDeps) {
    this.#deps = deps;
    this.#work = new Background(deps.log, "presence.failed");
  }

  /**
   * After one sweep for what a dead process left, refreshes every connection
   * once per TTL/3, spread over that interval (one slice of the connections
   * every 250 ms, so no heartbeat burst delays messages), and sweeps once per
   * interval.
   */
  start(): void {
    this.#work.track(this.sweep());
    this.#timer = new SpreadTimer(
      Math.max(1000, Math.floor(this.#deps.ttlMs / 3)),
      (slice) => this.#work.track(this.heartbeat(slice)),
      () => this.#work.track(this.sweep()),
      // Four slices a second: at 5,000 sockets a commit of about 80 entries, short enough not
      // to hold up the message commits queued behind it.
      { tickMs: 250 },
    );
    this.#timer.start();
  }

  /**
   * Stops the timers and waits for in-flight writes. Connections closed after
   * this (a shutdown closing every socket) keep their entries: if the server is
   * back before they expire, clients reconnect and nobody flaps offline.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#timer?.stop();
    await this.#work.settled();
  }

  /** Resolves when every presence write started so far has finished. */
  async idle(): Promise<void> {
    await this.#work.idle();
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
    this.#work.track(
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

  /** Extends the expiry of this isolate's connections (those in `slice`, or all of them). */
  async heartbeat(slice?: Slice): Promise<void> {
    const { kv, clock, ttlMs } = this.#deps;
    const now = clock.now();
    const conns = [];
    for (const c of this.#deps.connections()) {
      if (inSlice(c.id, slice)) conns.push({ userId: c.userId, socketId: c.id });
    }
    if (conns.length > 0) await refreshConnections(kv, conns, now + ttlMs, now);
  }

  /**
   * Re-derives every user published as present whose entries may have all
   * expired; those go offline. A user with a socket on this isolate is alive
   * (that socket's entry is kept fresh here), and every other change of their
   * state is reconciled when it happens, so they are skipped: a single
   * process sweeps with one scan and no per-user reads.
   */
  async sweep(): Promise<void> {
    const local = new Set<string>();
    for (const c of this.#deps.connections()) local.add(c.userId);
    for (const userId of await listOnline(this.#deps.kv)) {
      if (!local.has(userId)) await this.#reconcile(userId);
    }
  }

  /**
   * Re-derives one user's state. Calls for a user already being reconciled
   * are folded into one more run after the current one (which sees their
   * change), so 250 tabs of one user reconnecting at once cost two
   * reconciles, not 250 racing commits.
   */
  #reconcile(userId: string): Promise<void> {
    const running = this.#reconciling.get(userId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const { kv, clock, emitter } = this.#deps;
    const state = { again: false, done: Promise.resolve() };
    state.done = (async () => {
      try {
        do {
          state.again = false;
          const changed = await reconcile(kv, userId, clock.now());
          if (changed) announce(emitter, userId, changed);
        } while (state.again);
      } finally {
        this.#reconciling.delete(userId);
      }
    })();
    this.#reconciling.set(userId, state);
    return state.done;
  }
}

function announce(emitter: Emitter, userId: string, state: PresenceState): void {
  const data: ServerEventData<"presence:changed"> = { userId, status: state.status };
  if (state.customStatus) data.customStatus = state.customStatus;
  emitter.emitToRoom(presenceRoom(userId), "presence:changed", data);
}
