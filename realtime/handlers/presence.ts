/**
 * @module
 * presence:get, presence:setStatus, presence:subscribe, presence:unsubscribe.
 * Every id passes the presence privacy rule first (patients see their care
 * team, staff see everyone); subscribing joins the hidden hub room
 * `presence:<userId>` where the presence service announces changes.
 */

import { z } from "zod";
import { getPresences } from "../../store/presence.ts";
import { assertMaySeePresence } from "../access.ts";
import { defineEvent } from "../events.ts";
import { presenceRoom } from "../presence.ts";
import { text, userIdsPayload } from "../payload.ts";

export const presenceEvents = {
  "presence:get": defineEvent({
    ack: true,
    schema: userIdsPayload,
    async handler(ctx, input) {
      const { kv, clock } = ctx.services;
      await assertMaySeePresence(kv, ctx, input.userIds);
      return { presences: await getPresences(kv, input.userIds, clock.now()) };
    },
  }),

  "presence:setStatus": defineEvent({
    ack: false,
    schema: z.object({
      status: z.enum(["online", "away", "busy"], {
        message: 'status must be "online", "away" or "busy" (offline is derived from connections)',
      }),
      customStatus: text(100).nullable().optional(),
    }),
    async handler(ctx, input) {
      const status = input.customStatus
        ? { status: input.status, customStatus: input.customStatus }
        : { status: input.status };
      await ctx.services.presence.setStatus(ctx.userId, status);
      return status;
    },
  }),

  "presence:subscribe": defineEvent({
    ack: true,
    schema: userIdsPayload,
    async handler(ctx, input) {
      const { kv, clock } = ctx.services;
      await assertMaySeePresence(kv, ctx, input.userIds);
      const rooms = input.userIds.map(presenceRoom);
      ctx.rooms.reserve(rooms);
      for (const room of rooms) ctx.rooms.join(room, { publish: false });
      // The current state, so a client can render before the first change arrives.
      return { presences: await getPresences(kv, input.userIds, clock.now()) };
    },
  }),

  "presence:unsubscribe": defineEvent({
    ack: true,
    schema: userIdsPayload,
    handler(ctx, input) {
      for (const id of input.userIds) ctx.rooms.leave(presenceRoom(id));
      return { userIds: input.userIds };
    },
  }),
};
