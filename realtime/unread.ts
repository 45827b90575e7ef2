/**
 * @module
 * `room:unread {roomId, unreadCount}` to a user's devices when their unread
 * count in a room changes (counts: store/unread.ts).
 *
 * - A read moves the count: the process that handled it tells every device of
 *   the reader, through the bus.
 * - A new message moves the count of everyone else in its audience: each
 *   process tells its own sockets, from what reached its hub, coalesced over
 *   a quarter second per room and user. Only users with a socket here that has
 *   not joined the room are told: a socket in the room sees each `message:new`
 *   and counts along (static/client.js does).
 */

import type { Logger } from "../lib/log.ts";
import { unreadCounts } from "../store/unread.ts";
import type { Emitter } from "./emit.ts";
import type { Delivery, Hub } from "./hub.ts";

const COALESCE_MS = 250;

export class UnreadNotifier {
  #kv: Deno.Kv;
  #hub: Hub;
  #emitter: Emitter;
  #log: Logger;
  #newId: () => string;
  #pending = new Map<string, Set<string>>();
  #timer?: ReturnType<typeof setTimeout>;
  #running?: Promise<void>;

  constructor(
    deps: { kv: Deno.Kv; hub: Hub; emitter: Emitter; log: Logger; newId: () => string },
  ) {
    this.#kv = deps.kv;
    this.#hub = deps.hub;
    this.#emitter = deps.emitter;
    this.#log = deps.log;
    this.#newId = deps.newId;
  }

  /** A delivery reached this process's hub: a `message:new` changes its audience's counts. */
  delivered(d: Delivery): void {
    if (d.event !== "message:new") return;
    const m = d.data as { roomId?: unknown; senderId?: unknown } | null;
    if (!m || typeof m.roomId !== "string") return;
    const roomId = m.roomId;
    for (const userId of d.to.users ?? []) {
      if (userId === m.senderId || !this.#hub.hasUnjoinedSocket(userId, roomId)) continue;
      let users = this.#pending.get(roomId);
      if (!users) this.#pending.set(roomId, users = new Set());
      users.add(userId);
    }
    if (this.#pending.size > 0) this.#timer ??= setTimeout(() => this.#flush(), COALESCE_MS);
  }

  /** The user's read cursor moved: every device of theirs hears the new count. */
  async read(userId: string, roomId: string): Promise<void> {
    const [u] = await unreadCounts(this.#kv, userId, [roomId]);
    this.#emitter.emit({ users: [userId] }, "room:unread", {
      roomId,
      unreadCount: u.unreadCount,
    });
  }

  #flush(): void {
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#running = (async () => {
      for (const [roomId, users] of batch) {
        for (const userId of users) {
          const [u] = await unreadCounts(this.#kv, userId, [roomId]);
          // To this process's sockets only: every process tells its own.
          this.#hub.deliver({
            id: this.#newId(),
            event: "room:unread",
            data: { roomId, unreadCount: u.unreadCount },
            to: { users: [userId] },
          });
        }
      }
    })().catch((err) => this.#log.error("unread.push_failed", { error: String(err) }))
      .finally(() => this.#running = undefined);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
