/**
 * @module
 * Live room memberships over time (every room a socket joined with
 * `room:join`; the name is from topics, where they began): a socket's
 * memberships are refreshed by a heartbeat while it lives and end when it
 * leaves or closes (or when its process dies and they expire), announcing
 * `room:userLeft` when the user's last socket left, in every process. Events
 * that name a patient go to staff only, so patients in one room never learn
 * of each other.
 */

/** A room with live memberships: everything joined except presence subscriptions. */
const isMembership = (roomId: string) => !roomId.startsWith("presence:");

import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/log.ts";
import { Background } from "../lib/background.ts";
import { inSlice, type Slice, SpreadTimer } from "../lib/spread.ts";
import { leaveTopic, refreshTopics, sweepExpiredTopics } from "../store/topics.ts";
import type { Role } from "../store/users.ts";
import { type Emitter, naming } from "./emit.ts";
import type { Connection } from "./hub.ts";

export interface TopicDeps {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  emitter: Emitter;
  /** How long a membership lives without a heartbeat. */
  ttlMs: number;
  connections: () => Iterable<Connection>;
}

/** Announces that a user joined or left a room, hidden from other patients when a patient. */
export function announceMembership(
  emitter: Emitter,
  event: "room:userJoined" | "room:userLeft",
  member: { roomId: string; userId: string; role: Role },
): void {
  emitter.emitToRoom(member.roomId, event, member, {
    exceptUser: member.userId,
    ...naming(member),
  });
}

export class TopicService {
  #d: TopicDeps;
  #timer?: SpreadTimer;
  #work: Background;

  constructor(deps: TopicDeps) {
    this.#d = deps;
    this.#work = new Background(deps.log, "topics.failed");
  }

  /** When a new membership row expires if not refreshed. */
  expiry(): number {
    return this.#d.clock.now() + this.#d.ttlMs;
  }

  /**
   * Sweeps what a dead process left, then refreshes every membership once per
   * TTL/3, spread over the interval (lib/spread.ts), and sweeps once per interval.
   */
  start(): void {
    this.#work.track(this.sweep());
    this.#timer = new SpreadTimer(
      Math.max(1000, Math.floor(this.#d.ttlMs / 3)),
      (slice) => this.#work.track(this.heartbeat(slice)),
      () => this.#work.track(this.sweep()),
    );
    this.#timer.start();
  }

  /**
   * Deletes memberships whose sockets stopped beating (their process died)
   * and announces `room:userLeft` for users who had no other socket there, so
   * a crash leaves nothing about who was in a topic behind.
   */
  async sweep(): Promise<void> {
    const { kv, clock, emitter } = this.#d;
    for (const m of await sweepExpiredTopics(kv, clock.now())) {
      announceMembership(emitter, "room:userLeft", {
        roomId: m.roomId,
        userId: m.userId,
        role: m.role as Role,
      });
    }
  }

  async stop(): Promise<void> {
    this.#timer?.stop();
    await this.#work.settled();
  }

  /** Extends the topic memberships of this isolate's sockets (those in `slice`, or all). */
  async heartbeat(slice?: Slice): Promise<void> {
    const rows = [];
    for (const c of this.#d.connections()) {
      if (!inSlice(c.id, slice)) continue;
      for (const roomId of c.rooms) {
        if (isMembership(roomId)) rows.push({ roomId, userId: c.userId, socketId: c.id });
      }
    }
    if (rows.length > 0) await refreshTopics(this.#d.kv, rows, this.expiry());
  }

  /** A socket closed: its memberships end now. */
  disconnected(conn: Connection): void {
    this.#end(conn, [...conn.rooms].filter(isMembership));
  }

  /** The server took a socket out of a room (its user lost access): its membership ends. */
  removed(conn: Connection, roomId: string): void {
    this.#end(conn, [roomId]);
  }

  #end(conn: Connection, topics: string[]): void {
    if (topics.length === 0) return;
    this.#work.track(Promise.all(topics.map(async (roomId) => {
      const { kv, clock, emitter } = this.#d;
      const { removed } = await leaveTopic(kv, roomId, conn.userId, conn.id, clock.now());
      if (removed) {
        announceMembership(emitter, "room:userLeft", {
          roomId,
          userId: conn.userId,
          role: conn.role,
        });
      }
    })));
  }

  /** Resolves when every membership write started so far has finished. */
  async idle(): Promise<void> {
    await this.#work.idle();
  }
}
