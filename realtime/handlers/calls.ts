/**
 * @module
 * call:initiate, call:accept, call:reject, call:end, call:connected and
 * call:signal: validation here, decisions in the call service.
 */

import { z } from "zod";
import { idSchema } from "../../store/ids.ts";
import { defineEvent, type EventDef, type HandlerContext } from "../events.ts";
import { jsonObject, text } from "../payload.ts";
import type { CallActor } from "../calls.ts";

const callId = z.object({ callId: idSchema });

function actor(ctx: HandlerContext): CallActor {
  return { userId: ctx.userId, role: ctx.role, socketId: ctx.socketId, ip: ctx.ip };
}

/** An acknowledged `{callId}` event handled by one CallService action. */
function onCall(action: "accept" | "reject" | "end" | "connected"): EventDef<typeof callId> {
  return defineEvent({
    ack: true,
    schema: callId,
    handler: (ctx, input) => ctx.services.calls[action](actor(ctx), input.callId),
  });
}

export const callEvents = {
  "call:initiate": defineEvent({
    ack: true,
    schema: z.object({
      recipientId: idSchema,
      callType: z.enum(["audio", "video"]),
      visitId: idSchema.optional(),
    }),
    handler: (ctx, input) => ctx.services.calls.initiate(actor(ctx), input),
  }),
  "call:accept": onCall("accept"),
  "call:reject": onCall("reject"),
  "call:end": onCall("end"),
  "call:connected": onCall("connected"),
  "call:signal": defineEvent({
    ack: false,
    schema: z.object({
      callId: idSchema,
      type: z.enum(["offer", "answer", "ice-candidate"]),
      // SDP as a string or an RTCSessionDescriptionInit / RTCIceCandidateInit object.
      payload: z.union([text(32 * 1024), jsonObject(32 * 1024, 4)]),
    }),
    handler: (ctx, input) => ctx.services.calls.signal(actor(ctx), input),
  }),
};
