/**
 * @module
 * room:list: the rooms the user takes part in (their visits, their direct
 * chats, and the topics this socket has joined), most recently active first,
 * each with its last message, the user's read cursor and exact unread count
 * (store/unread.ts). Paged by `offset`.
 */

import { z } from "zod";
import { getMessage } from "../../store/messages.ts";
import { listChatRooms, unreadCounts } from "../../store/unread.ts";
import { listVisitIds } from "../../store/visits.ts";
import { defineEvent } from "../events.ts";
import { int } from "../payload.ts";

/** Rooms one list considers at most (a user with more sees the most recent of these). */
const MAX_ROOMS = 1000;

export const roomListEvents = {
  "room:list": defineEvent({
    ack: true,
    schema: z.object({ offset: int(0).optional(), limit: int(1, 100).optional() }),
    async handler(ctx, input) {
      const { kv } = ctx.services;
      const offset = input.offset ?? 0;
      const limit = input.limit ?? 50;
      const ids = new Set<string>();
      for (const v of await listVisitIds(kv, ctx.userId, MAX_ROOMS)) ids.add(`visit:${v}`);
      for (const r of await listChatRooms(kv, ctx.userId, MAX_ROOMS)) ids.add(r);
      for (const r of ctx.rooms.joined()) if (r.startsWith("topic:")) ids.add(r);
      const counts = await unreadCounts(kv, ctx.userId, [...ids]);
      // Most recent activity first; rooms without messages last, by id.
      counts.sort((a, b) =>
        (b.head?.at ?? "").localeCompare(a.head?.at ?? "") || a.roomId.localeCompare(b.roomId)
      );
      const page = counts.slice(offset, offset + limit);
      const rooms = [];
      for (const c of page) {
        const last = c.head ? await getMessage(kv, c.roomId, c.head.seq) : null;
        rooms.push({
          roomId: c.roomId,
          kind: c.roomId.split(":")[0],
          ...(last ? { lastMessage: last } : {}),
          readSeq: c.readSeq,
          unreadCount: c.unreadCount,
        });
      }
      const more = offset + limit < counts.length;
      return { rooms, nextOffset: more ? offset + limit : null };
    },
  }),
};
