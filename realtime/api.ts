/**
 * @module
 * The seed's server-side API as plain functions, for code that imports them
 * the way the seed did:
 *
 * ```ts
 * import { broadcast, emitToRoom, emitToUser, notifyUser } from "./realtime/api.ts";
 * emitToUser("user-123", "notification:new", { title: "New Message", message: "…" });
 * broadcast("system:maintenance", { message: "Scheduled maintenance in 10 minutes" });
 * ```
 *
 * They act on the app most recently built by `createApp` in this isolate, and
 * reach sockets in every isolate through the bus. Code that is handed the app
 * (routes, jobs, tests) should prefer `app.realtime`, which is the same API
 * without the module-level state.
 */

import type { Notification } from "../store/notifications.ts";
import type { Emitter } from "./emit.ts";
import type { NotifyInput, NotifyUser } from "./notify.ts";

/**
 * The seed's functions: any event name, with a payload the caller vouches for
 * (inside the server, the typed {@linkcode Emitter} is the way to send the
 * protocol's own events).
 */
export interface RealtimeApi {
  emitToUser(userId: string, event: string, data: unknown): void;
  emitToRoom(roomId: string, event: string, data: unknown): void;
  broadcast: Emitter["broadcast"];
  notifyUser: NotifyUser;
}

let current: RealtimeApi | undefined;

/** Makes `api` the target of the module functions; returns a function that undoes it. */
export function installRealtimeApi(api: RealtimeApi): () => void {
  current = api;
  return () => {
    if (current === api) current = undefined;
  };
}

function api(): RealtimeApi {
  if (!current) throw new Error("The realtime API is not running: createApp() has not been called");
  return current;
}

export function emitToUser(userId: string, event: string, data: unknown): void {
  api().emitToUser(userId, event, data);
}

export function emitToRoom(roomId: string, event: string, data: unknown): void {
  api().emitToRoom(roomId, event, data);
}

export function broadcast(event: string, data: unknown): void {
  api().broadcast(event, data);
}

/** Persists a notification (counted unread) and pushes `notification:new` to the user. */
export function notifyUser(userId: string, input: NotifyInput): Promise<Notification> {
  return api().notifyUser(userId, input);
}
