/**
 * @module
 * Visits as the message path needs them: read once, then served from memory.
 * Two things keep the cache honest across isolates and processes:
 *
 * - Every send authorized from a cached visit commits with a check on that
 *   visit's versionstamp (store/message_batch.ts `guard`). If the visit
 *   changed anywhere, the commit fails, the cache entry is dropped and the
 *   send is authorized again on the fresh record; nothing is ever stored on a
 *   stale decision.
 * - Every update writes `["visits_changed"]` (store/visits.ts); each process
 *   watches that one key, and also polls it once a second (on a local SQLite
 *   KV a watch sees only its own process's writes, see realtime/revocations.ts),
 *   drops the visits changed since it last looked, and tells `onChange`, which
 *   takes users no longer on the visit out of its rooms.
 */

import type { Logger } from "../lib/log.ts";
import {
  isVisitParticipant,
  listVisitChanges,
  type Visit,
  VISITS_CHANGED_KEY,
} from "../store/visits.ts";
import type { Emitter } from "./emit.ts";
import type { Connection, Hub } from "./hub.ts";

/** A cached visit and the versionstamp it was read at. */
export interface CachedVisit {
  visit: Visit;
  versionstamp: string;
}

/** Visits remembered per process: a visit is about 1 KB. */
const MAX_VISITS = 20_000;

export class VisitCache {
  #kv: Deno.Kv;
  #log: Logger;
  #visits = new Map<string, CachedVisit>();
  #reads = new Map<string, Promise<CachedVisit | null>>();
  /** Bumped by invalidate(): a read that started before it is not cached. */
  #generation = new Map<string, number>();
  #cursor: string | null = null;
  #watch?: ReadableStreamDefaultReader<Deno.KvEntryMaybe<string>[]>;
  #watching?: Promise<void>;
  #timer?: ReturnType<typeof setInterval>;
  #catching?: Promise<void>;
  #onChange: (visitIds: string[]) => void = () => {};

  constructor(kv: Deno.Kv, log: Logger) {
    this.#kv = kv;
    this.#log = log;
  }

  get size(): number {
    return this.#visits.size;
  }

  /** The visit (from memory when known), or null when there is none (never cached). */
  get(visitId: string): Promise<CachedVisit | null> {
    const hit = this.#visits.get(visitId);
    if (hit) return Promise.resolve(hit);
    // Concurrent misses for one visit share one read.
    let read = this.#reads.get(visitId);
    if (!read) {
      const p = this.#read(visitId).finally(() => {
        if (this.#reads.get(visitId) === p) this.#reads.delete(visitId);
      });
      this.#reads.set(visitId, read = p);
    }
    return read;
  }

  /**
   * Forgets a visit (it changed, or a commit guarded by it failed). A read
   * already in flight may have seen the old record: it is not cached, and
   * later calls read again.
   */
  invalidate(visitId: string): void {
    this.#visits.delete(visitId);
    this.#reads.delete(visitId);
    this.#generation.set(visitId, (this.#generation.get(visitId) ?? 0) + 1);
  }

  /**
   * Follows visit changes made anywhere (watch, and a poll every `pollMs`);
   * `onChange` hears which visits changed.
   */
  async start(onChange: (visitIds: string[]) => void, pollMs = 1000): Promise<void> {
    this.#onChange = onChange;
    this.#cursor = (await this.#kv.get<string>(VISITS_CHANGED_KEY)).value ?? "";
    this.#watch = this.#kv.watch<string[]>([VISITS_CHANGED_KEY]).getReader();
    this.#watching = this.#follow(this.#watch).catch((err) => {
      // KV closed at shutdown ends the stream with an error; anything else is worth a line.
      if (this.#watch) this.#log.error("visits.watch_failed", { error: String(err) });
    });
    this.#timer = setInterval(() => {
      this.#kv.get<string>(VISITS_CHANGED_KEY).then((e) => {
        if (e.value !== null && e.value !== this.#cursor) return this.catchUp();
      }).catch((err) => this.#log.error("visits.poll_failed", { error: String(err) }));
    }, pollMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const watch = this.#watch;
    this.#watch = undefined;
    await watch?.cancel().catch(() => {});
    await this.#watching;
    await this.#catching;
  }

  /**
   * Applies the changes recorded after the cursor: drops those visits and
   * tells `onChange`. Calls never overlap; one that arrives while another runs
   * waits for it and then looks again.
   */
  catchUp(): Promise<void> {
    const run = (this.#catching ?? Promise.resolve()).then(async () => {
      const changes = await listVisitChanges(this.#kv, this.#cursor ?? "");
      if (changes.length === 0) return;
      this.#cursor = changes[changes.length - 1].changeId;
      const ids = [...new Set(changes.map((c) => c.visitId))];
      for (const id of ids) this.invalidate(id);
      this.#onChange(ids);
    });
    this.#catching = run.catch(() => {});
    return run;
  }

  async #follow(reader: ReadableStreamDefaultReader<Deno.KvEntryMaybe<string>[]>): Promise<void> {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      const [entry] = value;
      if (entry.value !== null && entry.value !== this.#cursor) await this.catchUp();
    }
  }

  async #read(visitId: string): Promise<CachedVisit | null> {
    const generation = this.#generation.get(visitId);
    const e = await this.#kv.get<Visit>(["visits", visitId]);
    if (!e.value) return null;
    const cached = { visit: e.value, versionstamp: e.versionstamp };
    if (this.#generation.get(visitId) !== generation) return cached;
    if (this.#visits.size >= MAX_VISITS) this.#visits.delete(this.#visits.keys().next().value!);
    this.#visits.set(visitId, cached);
    return cached;
  }
}

/** Sent to a socket taken out of a visit or call room because its user left the visit. */
export const ROOM_REMOVED = "room:removed";

/**
 * Takes this isolate's sockets out of the rooms of changed visits when their
 * user is no longer on the visit (admins keep theirs: they may read any room),
 * telling each socket `room:removed {roomId, reason: "access_revoked"}`.
 */
export async function dropRemovedMembers(
  deps: {
    hub: Hub;
    emitter: Emitter;
    visits: VisitCache;
    /** Ends the socket's live membership of the room (announcing room:userLeft if it was the last). */
    left?: (conn: Connection, roomId: string) => void;
  },
  visitIds: string[],
): Promise<void> {
  for (const visitId of visitIds) {
    const rooms = [`visit:${visitId}`, `call:${visitId}`];
    const visit = (await deps.visits.get(visitId))?.visit;
    for (const conn of deps.hub.connections()) {
      if (conn.role === "admin" || (visit && isVisitParticipant(visit, conn.userId))) continue;
      for (const roomId of rooms) {
        if (!conn.rooms.has(roomId)) continue;
        deps.hub.leave(conn, roomId);
        deps.left?.(conn, roomId);
        deps.emitter.emit({ sockets: [conn.id] }, ROOM_REMOVED, {
          roomId,
          reason: "access_revoked",
        });
      }
    }
  }
}
