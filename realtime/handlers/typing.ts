/**
 * @module
 * typing:start and typing:stop: relayed to the room's other users as
 * `{roomId, userId, role}`. Ephemeral: nothing is stored, slow sockets skip
 * them, and only sockets that joined the room (and so were authorized) may
 * send them, which keeps this hot path free of KV reads.
 */

import { z } from "zod";
import { forbidden } from "../../lib/errors.ts";
import { requireRoom } from "../access.ts";
import { defineEvent, type EventDef, type HandlerContext } from "../events.ts";
import { text } from "../payload.ts";
import { naming } from "../emit.ts";

const schema = z.object({ roomId: text(200) });

function relay(event: "typing:start" | "typing:stop"): EventDef<typeof schema> {
  return defineEvent({
    ack: false,
    schema,
    handler(ctx: HandlerContext, input) {
      const room = requireRoom(input.roomId);
      if (!ctx.rooms.has(room.id)) throw forbidden(`Join room "${room.id}" before typing in it`);
      ctx.services.emitter.emitToRoom(room.id, event, {
        roomId: room.id,
        userId: ctx.userId,
        role: ctx.role,
      }, {
        exceptUser: ctx.userId,
        ephemeral: true,
        ...naming(ctx),
      });
    },
  });
}

export const typingEvents = {
  "typing:start": relay("typing:start"),
  "typing:stop": relay("typing:stop"),
};
