/**
 * @module
 * notification:read, notification:getUnreadCount and notification:list: a
 * user reads and pages their own notifications. A read is announced to the
 * user's other connections as `notification:read {notificationId,
 * unreadCount}` so every device's badge agrees.
 */

import { z } from "zod";
import { listNotifications, markRead, unreadCount } from "../../store/notifications.ts";
import { idSchema } from "../../store/ids.ts";
import { defineEvent } from "../events.ts";
import { notificationView } from "../notify.ts";
import { int } from "../payload.ts";

export const notificationEvents = {
  "notification:read": defineEvent({
    ack: true,
    schema: z.object({ notificationId: idSchema }),
    async handler(ctx, input) {
      const { kv, clock, emitter } = ctx.services;
      const result = await markRead(kv, ctx.userId, input.notificationId, new Date(clock.now()));
      const data = { notificationId: input.notificationId, unreadCount: result.unreadCount };
      if (result.changed) {
        emitter.emitToUser(ctx.userId, "notification:read", data, { exceptSocket: ctx.socketId });
      }
      return data;
    },
  }),

  "notification:getUnreadCount": defineEvent({
    ack: true,
    schema: z.object({}),
    async handler(ctx) {
      return { unreadCount: await unreadCount(ctx.services.kv, ctx.userId) };
    },
  }),

  "notification:list": defineEvent({
    ack: true,
    schema: z.object({
      before: idSchema.optional(),
      limit: int(1, 100).default(20),
      unreadOnly: z.boolean().default(false),
    }),
    async handler(ctx, input) {
      const page = await listNotifications(ctx.services.kv, ctx.userId, input);
      return { notifications: page.notifications.map(notificationView), hasMore: page.hasMore };
    },
  }),
};
