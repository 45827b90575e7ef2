/**
 * @module
 * `notifyUser`: persists a notification (counted as unread in the same
 * commit) and pushes `notification:new` to every connection of the user, in
 * any isolate, and to sockets that joined `notifications:<userId>`.
 */

import type { ServerEventData } from "./protocol/server_events.ts";
import type { Clock } from "../lib/clock.ts";
import { createNotification, type Notification } from "../store/notifications.ts";
import type { Emitter } from "./emit.ts";
import type { Audit } from "./audit.ts";
import type { AuditInput } from "../store/audit.ts";

export interface NotifyInput {
  title: string;
  message: string;
  type?: string;
  data?: Record<string, unknown>;
}

/** Who caused a notification, for the audit trail (the server itself when absent). */
export type NotifyActor = Pick<
  AuditInput,
  "actorId" | "actorRole" | "ip" | "requestId" | "socketId"
>;

export type NotifyUser = (
  userId: string,
  input: NotifyInput,
  by?: NotifyActor,
) => Promise<Notification>;

/** The wire form of a notification: `{id, title, message, type?, data?, createdAt, readAt?}`. */
export function notificationView(n: Notification): ServerEventData<"notification:new"> {
  const { userId: _user, ...view } = n;
  return view;
}

export function createNotifier(deps: {
  kv: Deno.Kv;
  clock: Clock;
  emitter: Emitter;
  newId: () => string;
  audit: Audit;
}): NotifyUser {
  return async (userId, input, by = { actorId: null, actorRole: null }) => {
    const n = await createNotification(deps.kv, { userId, ...input }, {
      id: `ntf_${deps.newId()}`,
      now: new Date(deps.clock.now()),
      audit: (n) =>
        deps.audit.entry({
          ...by,
          action: "notification.create",
          target: { userId, notificationId: n.id },
          outcome: "success",
        }),
    });
    deps.emitter.emit(
      { users: [userId], rooms: [`notifications:${userId}`] },
      "notification:new",
      notificationView(n),
    );
    return n;
  };
}
